import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hasSyntaxErrors, loadPythonParser } from '../../../src/core/analysis/pythonParser';
import type { PythonParser } from '../../../src/core/analysis/pythonParser';
import { applyEdits, quickFixesFor } from '../../../src/core/analysis/quickFixes';
import { actualSites, caseFiles, caseFindings, CORPUS_WORKERS, corpusCases } from './corpus';

describe('fixture corpus: findings and fixes as data (test/fixtures/python/corpus)', () => {
  let parser: PythonParser;
  const cases = corpusCases();

  before(async () => {
    parser = await loadPythonParser();
  });

  it('has a case for each pattern of issue 15', () => {
    assert.ok(cases.length >= 15, `${cases.length} cases`);
    for (const c of cases) assert.ok(c.description.length > 20, `${c.name} says what it covers`);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.description}`, () => {
      const actual = actualSites(parser, c);
      assert.deepEqual(actual, c.sites);
      for (const code of c.absent) assert.ok(!actual.some((s) => s.code === code), `${code} must not be found`);
    });
  }

  it('every fix of every case, safe or for review, leaves each file parseable and changed', () => {
    let fixes = 0;
    for (const c of cases) {
      const files = caseFiles(c.dir);
      for (const f of caseFindings(parser, files, join(c.dir, 'main.py'), c.launchArgs === undefined ? {} : { launchArgs: c.launchArgs })) {
        const text = files.find((x) => x.path === f.file)?.text ?? '';
        for (const fix of quickFixesFor(f, text, parser, { numWorkers: CORPUS_WORKERS })) {
          fixes++;
          const fixed = applyEdits(text, fix.edits);
          assert.notEqual(fixed, text, `${c.name}: ${fix.title}`);
          assert.equal(hasSyntaxErrors(parser.parse(fixed)), false, `${c.name}: ${fix.title}`);
        }
      }
    }
    assert.ok(fixes >= 20, `${fixes} fixes`);
  });
});
