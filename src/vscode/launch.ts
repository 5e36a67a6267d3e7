/**
 * What to launch, in the forms the extension receives it (a Python file, a typed command line, a
 * `joules` task, a command argument), turned into the core's LaunchSpec. Pure: no `vscode` import.
 */
import * as path from 'node:path';
import { CommandLineError, commandWithArgs, joinCommandLine, needsShell, parseCommandLine } from '../core/runs/commandLine';
import type { LaunchSpec } from '../core/runs/types';

/**
 * Who chose what runs. `workspace`: the workspace's own configuration (tasks.json, workspace
 * settings); refused in Restricted Mode. `user`: typed or picked by the user in this window.
 */
export type LaunchOrigin = 'user' | 'workspace';

export type LaunchRequest =
  | { kind: 'process'; spec: LaunchSpec; origin: LaunchOrigin; label: string }
  | { kind: 'replay'; tracePath: string; speed: number; origin: 'user'; label: string }
  /**
   * A process Joules did not launch, measured from now on (the GPU Processes view's Attach); with
   * `container` (its full id), every process of that container, `pid` being its init.
   */
  | { kind: 'attach'; pid: number; spec: LaunchSpec; origin: 'user'; label: string; container?: string };

/** The `joules` task type (package.json `taskDefinitions`). */
export interface JoulesTaskDefinition {
  type: 'joules';
  /** A Python script, run with the selected interpreter. */
  script?: string;
  /** A command line instead of a script (split into argv unless it needs a shell). */
  command?: string;
  args?: string[];
  cwd?: string;
  /** Run `command` through the shell even without shell operators. */
  shell?: boolean;
  name?: string;
  env?: Record<string, string>;
}

/** The run's name as the history will show it: the script's file name, else the command's. */
export function launchName(request: LaunchRequest): string {
  if (request.kind === 'replay') return 'demo (replay)';
  const { spec } = request;
  if (spec.name) return spec.name;
  if (spec.scriptPath) return path.basename(spec.scriptPath);
  const first = spec.shell ? (spec.command.trim().split(/\s+/)[0] ?? spec.command) : spec.command;
  return path.basename(first);
}

/** A launch the user could not have meant: shown as is. */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
}

/** `python3 train.py --epochs 3` */
export function pythonLaunch(interpreter: string, scriptPath: string, args: string[], cwd: string, origin: LaunchOrigin): LaunchRequest {
  const spec: LaunchSpec = { command: interpreter, args: [scriptPath, ...args], cwd, scriptPath, name: path.basename(scriptPath) };
  return { kind: 'process', spec, origin, label: `${path.basename(scriptPath)}${args.length ? ` ${joinCommandLine(args)}` : ''}` };
}

/**
 * A typed command line: split into argv and run without a shell, unless it uses shell features
 * (pipes, redirections, variables...) or the user asked for a shell.
 */
export function commandLineLaunch(line: string, cwd: string, forceShell: boolean, origin: LaunchOrigin): LaunchRequest {
  const trimmed = line.trim();
  if (!trimmed) throw new LaunchError('the command line is empty');
  let argv: string[];
  let shell = forceShell;
  try {
    const parsed = parseCommandLine(trimmed);
    argv = parsed.argv;
    shell ||= parsed.needsShell;
  } catch (e) {
    if (!(e instanceof CommandLineError)) throw e;
    // A line escaped for cmd.exe (quoteForCmd) need not split by the C runtime's rules: the shell runs it.
    if (!forceShell || process.platform !== 'win32') {
      // A shell would reject it too, with a less helpful message.
      throw new LaunchError(`cannot split the command line: ${e.message} (at character ${e.offset + 1})`);
    }
    argv = [];
  }
  if (!argv.length && !shell) throw new LaunchError('the command line is empty');
  const script = argv.find((a) => a.endsWith('.py'));
  const spec: LaunchSpec = shell
    ? { command: trimmed, args: [], cwd, shell: true }
    : { command: argv[0]!, args: argv.slice(1), cwd };
  if (script) spec.scriptPath = path.resolve(cwd, script);
  return { kind: 'process', spec, origin, label: trimmed };
}

/** A `joules` task (tasks.json or provided). `folder`: the task's workspace folder, for relative paths. */
export function taskLaunch(def: JoulesTaskDefinition, folder: string | undefined, interpreter: () => string): LaunchRequest {
  const base = folder ?? process.cwd();
  const cwd = def.cwd ? path.resolve(base, def.cwd) : base;
  const args = Array.isArray(def.args) ? def.args.map(String) : [];
  if (def.script && def.command) throw new LaunchError('a joules task takes either "script" or "command", not both');
  let request: LaunchRequest;
  if (def.script) {
    request = pythonLaunch(interpreter(), path.resolve(cwd, def.script), args, cwd, 'workspace');
  } else if (def.command) {
    // Arguments are quoted for cmd.exe when it runs the line (Windows), else so the line needs no shell.
    const shell = def.shell === true || needsShell(def.command);
    request = commandLineLaunch(commandWithArgs(def.command, args, shell), cwd, shell, 'workspace');
  } else {
    throw new LaunchError('a joules task needs "script" (a Python file) or "command" (a command line)');
  }
  if (request.kind === 'process') {
    if (def.name) request.spec.name = def.name;
    if (def.env && typeof def.env === 'object') {
      request.spec.env = Object.fromEntries(Object.entries(def.env).filter(([, v]) => typeof v === 'string'));
    }
  }
  return request;
}

/** A command argument (e.g. `executeCommand('joules.startRun', { command, args, cwd })`) as a launch. */
export function launchFromArgument(arg: unknown, defaultCwd: string): LaunchRequest | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const o = arg as Record<string, unknown>;
  if (typeof o.command !== 'string' || !o.command) return undefined;
  const cwd = typeof o.cwd === 'string' && o.cwd ? o.cwd : defaultCwd;
  const args = Array.isArray(o.args) ? o.args.filter((a): a is string => typeof a === 'string') : undefined;
  const shell = o.shell === true;
  let request: LaunchRequest;
  if (args !== undefined && !shell) {
    const spec: LaunchSpec = { command: o.command, args, cwd };
    const script = args.find((a) => a.endsWith('.py'));
    if (script) spec.scriptPath = path.resolve(cwd, script);
    request = { kind: 'process', spec, origin: 'user', label: joinCommandLine([o.command, ...args]) };
  } else {
    const viaShell = shell || needsShell(o.command);
    request = commandLineLaunch(commandWithArgs(o.command, args ?? [], viaShell), cwd, viaShell, 'user');
  }
  if (request.kind === 'process' && typeof o.name === 'string' && o.name) request.spec.name = o.name;
  return request;
}

/** A LaunchRequest read back from storage, or undefined when it is not one (older or damaged). */
export function parseStoredLaunch(x: unknown): LaunchRequest | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const o = x as Record<string, unknown>;
  if (typeof o.label !== 'string') return undefined;
  if (o.kind === 'replay') {
    if (typeof o.tracePath !== 'string' || typeof o.speed !== 'number' || !(o.speed > 0)) return undefined;
    return { kind: 'replay', tracePath: o.tracePath, speed: o.speed, origin: 'user', label: o.label };
  }
  if (o.kind !== 'process' || (o.origin !== 'user' && o.origin !== 'workspace')) return undefined;
  const s = o.spec as Record<string, unknown> | undefined;
  if (!s || typeof s.command !== 'string' || typeof s.cwd !== 'string' || !Array.isArray(s.args) || !s.args.every((a) => typeof a === 'string')) return undefined;
  const spec: LaunchSpec = { command: s.command, args: s.args as string[], cwd: s.cwd };
  if (s.shell === true) spec.shell = true;
  if (typeof s.name === 'string') spec.name = s.name;
  if (typeof s.scriptPath === 'string') spec.scriptPath = s.scriptPath;
  if (typeof s.env === 'object' && s.env !== null) {
    spec.env = Object.fromEntries(Object.entries(s.env as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  return { kind: 'process', spec, origin: o.origin, label: o.label };
}

/** A stored run's command as a launch (re-run from history): argv as recorded, a lone shell line through the shell. */
export function launchFromHistory(command: string[], cwd: string, name: string): LaunchRequest {
  const [first, ...rest] = command;
  if (first === undefined) throw new LaunchError('the run has no recorded command');
  // A lone element is either a plain executable (possibly a path with spaces) or a command line
  // that went through the shell: the record keeps no flag, so tell them apart by their look.
  if (rest.length === 0 && (needsShell(first) || (/\s/.test(first) && !path.isAbsolute(first)))) {
    const r = commandLineLaunch(first, cwd, false, 'user');
    if (r.kind === 'process') r.spec.name = name;
    return r;
  }
  const spec: LaunchSpec = { command: first, args: rest, cwd, name };
  const script = rest.find((a) => a.endsWith('.py'));
  if (script) spec.scriptPath = path.resolve(cwd, script);
  return { kind: 'process', spec, origin: 'user', label: joinCommandLine(command) };
}
