/**
 * The CPU smoke run: each corpus script runs a few steps on CPU (PyTorch CPU wheels in a virtualenv
 * made by scripts/setup-python.sh, cached outside the repository), before and after `joules fix
 * --apply`'s safe fixes, and each fixed file byte-compiles. JOULES_SKIP_PY_SMOKE=1 skips it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { loadPythonParser } from '../../../src/core/analysis/pythonParser';
import type { PythonParser } from '../../../src/core/analysis/pythonParser';
import { applyEdits, quickFixesFor } from '../../../src/core/analysis/quickFixes';
import type { CorpusCase } from './corpus';
import { testPython } from '../../support/testPython';
import { applySafeFixes, caseFiles, caseFindings, CORPUS_WORKERS, corpusCases } from './corpus';


function runPython(python: string, cwd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(python, args, { cwd, timeout: 120_000, env: { ...process.env, JOULES_SMOKE_STEPS: '3', CUDA_VISIBLE_DEVICES: '' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Writes a case's files (original or fixed) into a fresh folder. */
function materialize(c: CorpusCase, files: { path: string; text: string }[]): string {
  const dir = mkdtempSync(join(tmpdir(), `joules-smoke-${c.name}-`));
  for (const f of files) {
    const p = join(dir, relative(c.dir, f.path));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.text);
  }
  return dir;
}

describe('fixture corpus: CPU smoke run of the fixed scripts', function () {
  this.timeout(30 * 60_000);
  let python = '';
  let parser: PythonParser;
  const dirs: string[] = [];
  const cases = corpusCases().filter((c) => c.smoke);

  before(async function () {
    if (process.env.JOULES_SKIP_PY_SMOKE === '1') this.skip();
    parser = await loadPythonParser();
    python = testPython();
  });

  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const c of cases) {
    it(`${c.name}: runs before and after its safe fixes, and every fixed file compiles`, async () => {
      const files = caseFiles(c.dir);
      const before = materialize(c, files);
      dirs.push(before);
      const base = await runPython(python, before, ['main.py']);
      assert.equal(base.code, 0, `original ${c.name} failed:\n${base.out.slice(-2000)}`);
      const { files: fixed, applied } = applySafeFixes(parser, c, files);
      const expectedSafe = c.sites.filter((s) => s.safe.length > 0).length;
      assert.ok(applied.length >= Math.min(1, expectedSafe), `${c.name}: no safe fix applied`);
      const after = materialize(c, fixed);
      dirs.push(after);
      const compiled = await runPython(python, after, ['-m', 'py_compile', ...fixed.map((f) => relative(c.dir, f.path))]);
      assert.equal(compiled.code, 0, `fixed ${c.name} does not compile:\n${compiled.out}`);
      const run = await runPython(python, after, ['main.py']);
      assert.equal(run.code, 0, `fixed ${c.name} (${applied.join('; ')}) failed:\n${run.out.slice(-2000)}`);
    });
  }

  it('fixes held back for review compile, and the bf16-to-numpy one really breaks (why it is held back)', async () => {
    const c = corpusCases().find((x) => x.name === 'infer_numpy');
    assert.ok(c !== undefined);
    const files = caseFiles(c.dir);
    const main = files.find((f) => f.path.endsWith('main.py'));
    const finding = caseFindings(parser, files, join(c.dir, 'main.py')).find((f) => f.code === 'no-autocast');
    const fix = finding === undefined || main === undefined ? undefined : quickFixesFor(finding, main.text, parser, { numWorkers: CORPUS_WORKERS })[0];
    assert.ok(fix?.review !== undefined && /numpy/.test(fix.review), 'the autocast fix is held back because of .numpy()');
    const dir = materialize(c, files.map((f) => (f === main ? { path: f.path, text: applyEdits(f.text, fix.edits) } : f)));
    dirs.push(dir);
    assert.equal((await runPython(python, dir, ['-m', 'py_compile', 'main.py'])).code, 0);
    const run = await runPython(python, dir, ['main.py']);
    assert.notEqual(run.code, 0);
    assert.match(run.out, /BFloat16/);
  });

  it('workers over the unsharded IterableDataset would duplicate the data (why no fix is offered)', async () => {
    const c = corpusCases().find((x) => x.name === 'iterable_dataset');
    assert.ok(c !== undefined);
    const files = caseFiles(c.dir);
    const withWorkers = files.map((f) => ({ path: f.path, text: f.text.replace('batch_size=4)', 'batch_size=4, num_workers=2)') }));
    const one = materialize(c, files);
    const two = materialize(c, withWorkers);
    dirs.push(one, two);
    const seen = async (d: string): Promise<number> => Number(/samples (\d+)/.exec((await runPython(python, d, ['main.py'])).out)?.[1]);
    const [a, b] = [await seen(one), await seen(two)];
    assert.equal(b, 2 * a, `samples without workers ${a}, with 2 workers ${b}`);
  });
});
