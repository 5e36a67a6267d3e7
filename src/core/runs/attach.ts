/**
 * Measuring a process Joules did not launch (`joules attach <pid>`): what it is, read from /proc,
 * and when it ends. The session itself is a RunSession without a child (RunSession.attach).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlive } from './processes';
import type { LaunchSpec } from './types';

/** The process cannot be attached to (gone, not readable, not Linux). */
export class AttachError extends Error {
  override readonly name = 'AttachError';
}

/**
 * The process as a LaunchSpec: its command line, working directory, the Python script it runs (for
 * the source findings) and its CUDA_VISIBLE_DEVICES (for the GPUs it may use), all from /proc.
 */
export function attachSpec(pid: number, name?: string): LaunchSpec {
  if (process.platform !== 'linux') throw new AttachError('attaching to a running process needs Linux (/proc)');
  if (!Number.isInteger(pid) || pid <= 0) throw new AttachError(`not a process id: ${pid}`);
  if (pid === process.pid) throw new AttachError('a process cannot attach to itself');
  if (!isAlive(pid)) throw new AttachError(`no process ${pid}`);
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  } catch (e) {
    throw new AttachError(`cannot read process ${pid}'s command line: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!argv.length) throw new AttachError(`process ${pid} has no command line (a kernel thread or a zombie)`);
  let cwd = '/';
  try {
    cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // Another user's process: its cwd is not readable; the script path stays as given.
  }
  const env = readEnv(pid);
  const script = argv.slice(1).find((a) => a.endsWith('.py'));
  return {
    command: argv[0]!,
    args: argv.slice(1),
    cwd,
    ...(env.CUDA_VISIBLE_DEVICES !== undefined ? { env: { CUDA_VISIBLE_DEVICES: env.CUDA_VISIBLE_DEVICES } } : {}),
    ...(name ? { name } : {}),
    ...(script ? { scriptPath: path.resolve(cwd, script) } : {}),
  };
}

/** The process' environment where readable (same user or root); empty otherwise. */
export function readEnv(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return out;
  }
  for (const kv of text.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** How often an attached process is checked for its end (it is not our child: no exit event). */
const EXIT_POLL_MS = 250;

/** Call `onExit` once `pid` has ended; returns a function that stops watching. */
export function watchExit(pid: number, onExit: () => void): () => void {
  const timer = setInterval(() => {
    if (isAlive(pid)) return;
    clearInterval(timer);
    onExit();
  }, EXIT_POLL_MS);
  return () => clearInterval(timer);
}
