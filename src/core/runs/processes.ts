import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The command to launch does not exist or cannot be executed. */
export class CommandNotFoundError extends Error {
  override readonly name = 'CommandNotFoundError';
  constructor(readonly command: string, detail: string) {
    super(`command not found: ${command}${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * Resolve an executable the way the OS will when spawning without a shell, so a typo gets one clear
 * error before anything starts (Node's spawn would only report ENOENT asynchronously).
 */
export function resolveExecutable(command: string, cwd: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string {
  if (!command) throw new CommandNotFoundError('""', 'empty command');
  const isWin = platform === 'win32';
  const exts = isWin ? (env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').map((e) => e.toLowerCase()) : [''];
  const candidatesFor = (base: string): string[] => (isWin && !path.extname(base) ? exts.map((e) => base + e) : [base]);
  const executable = (p: string): boolean => {
    try {
      const st = fs.statSync(p);
      if (!st.isFile()) return false;
      if (isWin) return true;
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/') || (isWin && command.includes('\\'))) {
    const abs = path.resolve(cwd, command);
    for (const c of candidatesFor(abs)) if (executable(c)) return c;
    if (fs.existsSync(abs)) throw new CommandNotFoundError(command, 'not executable');
    throw new CommandNotFoundError(command, 'no such file');
  }
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    for (const c of candidatesFor(path.join(dir, command))) if (executable(c)) return c;
  }
  throw new CommandNotFoundError(command, 'not on PATH');
}

/** All descendants of `rootPid` (Linux: from /proc), including the root when it still lives. */
export function processTree(rootPid: number): number[] {
  if (process.platform !== 'linux') return [rootPid];
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [rootPid];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // Field 4 is the ppid; the command name (field 2) may contain spaces, so split after its ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(rest[1]);
      const pid = Number(e);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  const out = [rootPid];
  for (let i = 0; i < out.length; i++) for (const c of children.get(out[i]!) ?? []) out.push(c);
  return out;
}

/**
 * Whether `pid` is `rootPid` or one of its descendants, by walking the parent chain in /proc
 * (a few reads, unlike listing every process). Linux only; elsewhere only the root itself matches.
 */
export function descendsFrom(pid: number, rootPid: number): boolean {
  if (pid === rootPid) return true;
  if (process.platform !== 'linux') return false;
  let current = pid;
  for (let depth = 0; depth < 64 && current > 1; depth++) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${current}/stat`, 'utf8');
    } catch {
      return false;
    }
    current = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (current === rootPid) return true;
  }
  return false;
}

/** Signal a whole process group (POSIX) or tree (Windows, via taskkill). Missing processes are fine. */
export function signalTree(pid: number, signal: NodeJS.Signals, extraPids: number[] = []): void {
  if (process.platform === 'win32') {
    spawnSync('taskkill', ['/PID', String(pid), '/T', ...(signal === 'SIGKILL' ? ['/F'] : [])], { stdio: 'ignore' });
    return;
  }
  const attempt = (fn: () => void): void => {
    try {
      fn();
    } catch {
      // ESRCH: already gone.
    }
  };
  // The child leads its own process group (spawned detached), so -pid reaches every member.
  attempt(() => process.kill(-pid, signal));
  // Descendants that left the group (setsid) are signalled one by one.
  for (const p of extraPids) if (p !== pid) attempt(() => process.kill(p, signal));
}

/**
 * Stop a process tree: SIGINT (what Ctrl-C sends, so Python can clean up), then SIGTERM, then
 * SIGKILL, `graceMs` apart; each later signal only while `ended` has not settled. Resolves once
 * the last signal is sent or `ended` settled.
 */
export async function stopTree(pid: number, o: { graceMs: number; ended: Promise<unknown> }): Promise<void> {
  signalTree(pid, 'SIGINT', liveTree(pid));
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const ended = await Promise.race([o.ended.then(() => true), delay(o.graceMs).then(() => false)]);
    if (!ended) signalTree(pid, signal, liveTree(pid));
  }
}

/** SIGKILL the whole tree now, descendants that left the group included. */
export function killTree(pid: number): void {
  signalTree(pid, 'SIGKILL', liveTree(pid));
}

/** Descendants that left the group are found in /proc (Linux); elsewhere the group (or taskkill /T) must do. */
function liveTree(pid: number): number[] {
  return process.platform === 'linux' ? processTree(pid) : [];
}

/** A wait that never keeps the process alive by itself (unref'd). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** True while `pid` runs. A zombie (exited, not yet reaped by its parent or init) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }
  return true;
}
