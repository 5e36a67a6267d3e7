import * as fs from 'node:fs';
import * as path from 'node:path';

/** A run's folder in the store at `root`; throws for an id that is not a plain folder name. */
export function runFolder(root: string, id: string): string {
  // Ids come from users (CLI arguments, webview messages): never let one escape the store.
  if (!/^[A-Za-z0-9._-]+$/.test(id) || id === '.' || id === '..') throw new Error(`invalid run id: ${JSON.stringify(id)}`);
  return path.join(root, id);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 1));
}

/**
 * Replace `file` with `data` so that it is either the old or the new content, never a truncated
 * mix: write a temporary file beside it, then rename it over. On failure (e.g. a full disk) the
 * original is untouched and the temporary file removed. The file's mode is kept.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  // Through a symlink, replace its target, not the link.
  let target = file;
  let mode: number | undefined;
  try {
    target = fs.realpathSync(file);
    mode = fs.statSync(target).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    if (mode !== undefined) fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * `mkdir -p`, one level at a time: Node 20's `mkdirSync(dir, { recursive: true })` never returns
 * for a folder under /proc (it retries ENOENT forever), which hung `joules run --store /proc/x`.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    missing.push(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) fs.mkdirSync(m);
}

/** `ENOSPC: no space left on device`-style text for an fs error. */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${describeErrno(err)}` : String((e as Error).message ?? e);
}

/** The OS's words for an errno, without Node's "syscall path" suffix. */
function describeErrno(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
  return m ? m[1]! : e.message;
}

/** Bytes of the files directly in `dir` (a run folder has no subfolders). */
export function dirSize(dir: string): number {
  let total = 0;
  try {
    for (const f of fs.readdirSync(dir)) total += fs.statSync(path.join(dir, f)).size;
  } catch {
    return total;
  }
  return total;
}
