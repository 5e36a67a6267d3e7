import * as vscode from 'vscode';
import { CommandNotFoundError, resolveExecutable } from '../core/runs/processes';
import type { Config } from './config';

/**
 * The part of the Python extension's API (ms-python.python, `exports.environments`) Joules uses.
 * Typed by hand: the extension is optional, and its package is not a dependency.
 */
interface PythonEnvironmentsApi {
  getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
  resolveEnvironment(environment: { id: string; path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
}

const PYTHON_EXTENSION_ID = 'ms-python.python';

/** Where the interpreter came from, for the log and the error text. */
export interface Interpreter {
  command: string;
  source: 'setting' | 'python extension' | 'PATH';
}

/**
 * The interpreter for a Python run: the `joules.python.path` override, else the Python
 * extension's selected environment, else python3/python from PATH.
 *
 * In Restricted Mode the Python extension is not asked: its selection may be a virtual environment
 * inside the workspace, i.e. an executable the workspace provides. The setting is read without its
 * workspace value there (Config does that).
 */
export async function pythonInterpreter(config: Config, resource: vscode.Uri | undefined, cwd: string): Promise<Interpreter> {
  const configured = config.pythonPath;
  if (configured) return { command: configured, source: 'setting' };
  if (vscode.workspace.isTrusted) {
    const fromExtension = await fromPythonExtension(resource);
    if (fromExtension) return { command: fromExtension, source: 'python extension' };
  }
  for (const candidate of process.platform === 'win32' ? ['python', 'py', 'python3'] : ['python3', 'python']) {
    try {
      resolveExecutable(candidate, cwd, process.env);
      return { command: candidate, source: 'PATH' };
    } catch (e) {
      if (!(e instanceof CommandNotFoundError)) throw e;
    }
  }
  throw new CommandNotFoundError('python3', 'no Python interpreter on PATH; install Python, select one in the Python extension, or set joules.python.path');
}

async function fromPythonExtension(resource: vscode.Uri | undefined): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<unknown>(PYTHON_EXTENSION_ID);
  if (!extension) return undefined;
  try {
    const exports = extension.isActive ? extension.exports : await extension.activate();
    const environments = isObject(exports) ? exports.environments : undefined;
    if (!isEnvironmentsApi(environments)) return undefined;
    const active = environments.getActiveEnvironmentPath(resource);
    const resolved = await environments.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? (active.path || undefined);
  } catch {
    // A broken or older Python extension: fall back to PATH rather than block the run.
    return undefined;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function isEnvironmentsApi(x: unknown): x is PythonEnvironmentsApi {
  return isObject(x) && typeof x.getActiveEnvironmentPath === 'function' && typeof x.resolveEnvironment === 'function';
}
