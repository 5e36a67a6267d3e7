import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SCENARIOS } from '../support/fakeNvml';

export const ROOT = path.join(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'joules.js');

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment that points the CLI at a copy of the fake NVML library running `scenario`. */
export function nvmlEnv(lib: string, scenario: string): NodeJS.ProcessEnv {
  return { JOULES_NVML_LIBRARY: lib, FAKE_NVML_SCENARIO: path.isAbsolute(scenario) ? scenario : path.join(SCENARIOS, scenario), FAKE_NVML_SPEED: '1' };
}

/** Run the built CLI the way a user does (`npx joules ...` runs bin/joules.js) and wait for it. */
export function joules(args: string[], env: NodeJS.ProcessEnv = {}, opts: { cwd?: string; stdio?: SpawnOptions['stdio'] } = {}): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
    ...(opts.stdio ? { stdio: opts.stdio } : {}),
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Start the CLI without waiting; the caller reads its pipes. */
export function startJoules(args: string[], env: NodeJS.ProcessEnv = {}, stdio: SpawnOptions['stdio'] = 'pipe'): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio });
}

/** Resolves with the exit code (or 128 + signal) once `child` has exited. */
export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
}

export async function waitFor(what: string, test: () => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A stack trace line of Node (`    at fn (file.js:12:3)`): never shown to a user. */
export const STACK_TRACE = /^\s+at .*(\.js|\.ts|node:internal)/m;

export function tempDir(prefix = 'joules-faults-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A real small filesystem: a tmpfs of `sizeKib` (needs root, as on the CI machine). Undefined
 * where mounting is not permitted, so the test says it was skipped rather than faking a pass.
 */
export function smallDisk(sizeKib: number): { dir: string; unmount: () => void } | undefined {
  if (process.platform !== 'linux') return undefined;
  const dir = tempDir('joules-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKib}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fill the filesystem holding `dir` until it refuses more (ENOSPC). */
export function fillDisk(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  const block = Buffer.alloc(4096, 120);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  // Partial blocks: fill the last bytes too.
  const fd2 = fs.openSync(path.join(dir, 'filler2'), 'w');
  try {
    for (;;) fs.writeSync(fd2, Buffer.alloc(64, 120));
  } catch {
    // full
  } finally {
    fs.closeSync(fd2);
  }
}
