/**
 * The fixture corpus (test/fixtures/python/corpus): one folder per pattern, `main.py` the launched
 * script, `expected.json` the findings and fixes it must get, as data.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { correlate } from '../../../src/core/analysis/correlate';
import type { Finding } from '../../../src/core/analysis/findings';
import type { PythonParser } from '../../../src/core/analysis/pythonParser';
import { analyzePythonSource } from '../../../src/core/analysis/pythonSource';
import type { SourceAnalysisOptions } from '../../../src/core/analysis/pythonSource';
import { applyEdits, quickFixesFor } from '../../../src/core/analysis/quickFixes';
import { FIXTURES } from './pythonFixtures';

export const CORPUS = join(FIXTURES, 'corpus');
/** Workers the fixes insert in the corpus (the run's machine decides in real use). */
export const CORPUS_WORKERS = 2;

/** One expected finding: where, and which fixes (titles) are safe, need review, or none at all. */
export interface ExpectedSite {
  code: string;
  file: string;
  /** 1-based, as editors show it. */
  line: number;
  safe: string[];
  review: string[];
  /** A phrase of the reason when no fix is safe (policy 'none'). */
  noFix?: string;
}

export interface CorpusCase {
  name: string;
  dir: string;
  description: string;
  /** Run on CPU before and after the safe fixes (needs only torch and numpy). */
  smoke: boolean;
  launchArgs?: string[];
  /** Codes that must not appear (the point of the case). */
  absent: string[];
  sites: ExpectedSite[];
}

export function corpusCases(): CorpusCase[] {
  return readdirSync(CORPUS)
    .filter((d) => statSync(join(CORPUS, d)).isDirectory())
    .sort()
    .map((name) => {
      const dir = join(CORPUS, name);
      const data = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Omit<CorpusCase, 'name' | 'dir'>;
      return { ...data, name, dir, absent: data.absent ?? [] };
    });
}

export function caseFiles(dir: string, root = dir): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === '__pycache__' ? [] : caseFiles(p, root);
    return name.endsWith('.py') ? [{ path: p, text: readFileSync(p, 'utf8') }] : [];
  });
}

/** The static findings of a case's files (as `joules check` sees them). */
export function caseFindings(parser: PythonParser, files: { path: string; text: string }[], entry: string, options: SourceAnalysisOptions = {}): Finding[] {
  return correlate([], analyzePythonSource(files, entry, parser, options), true);
}

/** What the analysis gives, in the shape of `expected.json`. */
export function actualSites(parser: PythonParser, c: CorpusCase, files = caseFiles(c.dir)): ExpectedSite[] {
  const texts = new Map(files.map((f) => [f.path, f.text]));
  return caseFindings(parser, files, join(c.dir, 'main.py'), c.launchArgs === undefined ? {} : { launchArgs: c.launchArgs }).map((f) => {
    const fixes = quickFixesFor(f, texts.get(f.file ?? '') ?? '', parser, { numWorkers: CORPUS_WORKERS });
    const site: ExpectedSite = {
      code: f.code,
      file: relative(c.dir, f.file ?? ''),
      line: (f.range?.startLine ?? 0) + 1,
      safe: fixes.filter((x) => x.review === undefined).map((x) => x.title),
      review: fixes.filter((x) => x.review !== undefined).map((x) => x.title),
    };
    if (f.fixPolicy?.kind === 'none') site.noFix = f.fixPolicy.reason;
    return site;
  });
}

/**
 * Applies safe fixes one at a time, re-analysing after each (as `joules fix --apply` does), to the
 * in-memory files; returns the fixed files and the titles applied.
 */
export function applySafeFixes(parser: PythonParser, c: CorpusCase, files: { path: string; text: string }[]): { files: { path: string; text: string }[]; applied: string[] } {
  let current = files.map((f) => ({ ...f }));
  const applied: string[] = [];
  const done = new Set<string>();
  for (let round = 0; round < 20; round++) {
    const findings = caseFindings(parser, current, join(c.dir, 'main.py'), c.launchArgs === undefined ? {} : { launchArgs: c.launchArgs });
    let next: { path: string; text: string; title: string } | undefined;
    for (const f of findings) {
      if (f.file === undefined || f.range === undefined) continue;
      const key = `${f.code}:${f.file}:${f.range.startLine}`;
      if (done.has(key)) continue;
      done.add(key);
      const file = current.find((x) => x.path === f.file);
      const fix = quickFixesFor(f, file?.text ?? '', parser, { numWorkers: CORPUS_WORKERS }).find((x) => x.review === undefined);
      if (file === undefined || fix === undefined) continue;
      next = { path: file.path, text: applyEdits(file.text, fix.edits), title: fix.title };
      break;
    }
    if (next === undefined) break;
    const n = next;
    current = current.map((x) => (x.path === n.path ? { path: x.path, text: n.text } : x));
    applied.push(`${relative(c.dir, n.path)}: ${n.title}`);
  }
  return { files: current, applied };
}
