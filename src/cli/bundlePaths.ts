import * as fs from 'node:fs';
import * as path from 'node:path';

// This module stays in src/cli: its __dirname is dist/ in the bundle and src/cli/ from sources,
// the two places the paths below are relative to.

/** dist/cli.js and dist/samplerWorker.js sit side by side; media/ is one level up. */
export function workerFile(): string | undefined {
  const bundled = path.join(__dirname, 'samplerWorker.js');
  return fs.existsSync(bundled) ? bundled : undefined;
}

/** The recorded H200 trace `joules demo` replays, from the bundle or from sources. */
export function bundledTrace(): string {
  for (const base of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    const p = path.join(base, 'media', 'traces', 'h200-phased-load.jsonl');
    if (fs.existsSync(p)) return p;
  }
  return path.join(__dirname, '..', 'media', 'traces', 'h200-phased-load.jsonl');
}

/** The notebook runner `joules notebook` starts (media/joules_nbrun.py), from the bundle or from sources. */
export function notebookRunner(): string {
  for (const base of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    const p = path.join(base, 'media', 'joules_nbrun.py');
    if (fs.existsSync(p)) return p;
  }
  return path.join(__dirname, '..', 'media', 'joules_nbrun.py');
}

/** The folder holding the `joules` Python package: `python/` beside dist/ (bundle) or the repository's. */
export function pythonPackageDir(): string | undefined {
  for (const base of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    const p = path.join(base, 'python');
    if (fs.existsSync(path.join(p, 'joules', '__init__.py'))) return p;
  }
  return undefined;
}
