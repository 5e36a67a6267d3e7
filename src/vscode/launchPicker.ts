import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CommandLineError, parseCommandLine } from '../core/runs/commandLine';
import type { Config } from './config';
import type { LaunchRequest } from './launch';
import { commandLineLaunch, LaunchError, pythonLaunch } from './launch';
import { pythonInterpreter } from './pythonInterpreter';
import { TASK_TYPE } from './taskProvider';

/** What the Start Monitored Run picker settled on. */
export type PickedLaunch = { kind: 'launch'; request: LaunchRequest } | { kind: 'task'; task: vscode.Task } | { kind: 'demo' };

const ARGS_KEY = 'joules.scriptArgs';
const LINE_KEY = 'joules.lastCommandLine';
const KEPT_SCRIPT_ARGS = 50;
const EXCLUDE = '**/{node_modules,.git,.venv,venv,env,__pycache__,site-packages,.tox,.mypy_cache}/**';

type Choice = vscode.QuickPickItem & { action?: 'rerun' | 'active' | 'script' | 'line' | 'shell' | 'demo'; task?: vscode.Task };

/**
 * Start Monitored Run: the active Python file, a script in the workspace, a typed command line
 * (optionally through the shell), a `joules` task, or the demo; then arguments and working folder.
 * Undefined when the user cancels at any step.
 */
export async function pickLaunch(config: Config, state: vscode.Memento, lastLaunch: LaunchRequest | undefined): Promise<PickedLaunch | undefined> {
  const qp = vscode.window.createQuickPick<Choice>();
  qp.title = 'Joules: Start Monitored Run';
  qp.placeholder = vscode.workspace.isTrusted ? 'What should run under measurement?' : 'What should run? (Restricted Mode: workspace tasks are not offered)';
  const base: Choice[] = [];
  if (lastLaunch) base.push({ label: `$(debug-rerun) Re-run: ${lastLaunch.label}`, description: 'last launch', action: 'rerun' });
  const active = activePythonFile();
  if (active) base.push({ label: `$(file-code) ${path.basename(active.fsPath)}`, description: 'the active Python file', action: 'active' });
  base.push(
    { label: '$(search) Python script in the workspace…', action: 'script' },
    { label: '$(terminal) Command line…', description: 'run without a shell unless it uses |, &&, > …', action: 'line' },
    { label: '$(terminal-bash) Command line in a shell…', description: 'pipes, redirections and variables work', action: 'shell' },
    { label: '$(play) Replay the demo run', description: 'a recorded H200 trace; no GPU needed', action: 'demo' },
  );
  qp.items = base;
  if (vscode.workspace.isTrusted) {
    qp.busy = true;
    void vscode.tasks.fetchTasks({ type: TASK_TYPE }).then(
      (tasks) => {
        qp.busy = false;
        if (!tasks.length) return;
        qp.items = [
          ...base,
          { label: 'Tasks', kind: vscode.QuickPickItemKind.Separator },
          ...tasks.map((task): Choice => ({ label: `$(tasklist) ${task.name}`, description: task.source === TASK_TYPE ? 'joules task' : task.source, ...(task.detail ? { detail: task.detail } : {}), task })),
        ];
      },
      () => (qp.busy = false),
    );
  }
  const choice = await new Promise<Choice | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  if (!choice) return undefined;
  if (choice.task) return { kind: 'task', task: choice.task };
  switch (choice.action) {
    case 'rerun':
      return lastLaunch ? { kind: 'launch', request: lastLaunch } : undefined;
    case 'active':
      return active ? launchScript(config, state, active, true) : undefined;
    case 'script': {
      const file = await pickScript();
      return file ? launchScript(config, state, file, true) : undefined;
    }
    case 'line':
    case 'shell':
      return launchCommandLine(state, choice.action === 'shell');
    case 'demo':
      return { kind: 'demo' };
    case undefined:
      return undefined;
  }
}

/** Run Current File with Joules: the active Python file, no questions asked. */
export async function launchActiveFile(config: Config, state: vscode.Memento, file?: vscode.Uri): Promise<PickedLaunch | undefined> {
  const target = file ?? activePythonFile();
  if (!target) throw new LaunchError('no Python file is open in the editor');
  return launchScript(config, state, target, false);
}

function activePythonFile(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  if (!doc || (doc.languageId !== 'python' && !doc.fileName.endsWith('.py'))) return undefined;
  return doc.uri;
}

async function pickScript(): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles('**/*.py', EXCLUDE, 2000);
  if (!files.length) {
    void vscode.window.showInformationMessage('Joules: no Python files in this workspace.');
    return undefined;
  }
  const items = files
    .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri, true), uri }))
    .sort((a, b) => a.description.localeCompare(b.description));
  const picked = await vscode.window.showQuickPick(items, { title: 'Joules: Python script to run', matchOnDescription: true });
  return picked?.uri;
}

async function launchScript(config: Config, state: vscode.Memento, file: vscode.Uri, ask: boolean): Promise<PickedLaunch | undefined> {
  if (file.scheme !== 'file') throw new LaunchError(`${file.toString()} is not a file on disk; save it first`);
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
  // The run reads the file from disk: unsaved edits would not be what runs.
  if (doc?.isDirty && !(await doc.save())) throw new LaunchError(`${path.basename(file.fsPath)} has unsaved changes that could not be saved`);
  const folder = vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? path.dirname(file.fsPath);
  let args: string[] = [];
  let cwd = folder;
  if (ask) {
    const remembered = state.get<Record<string, string>>(ARGS_KEY, {});
    const line = await vscode.window.showInputBox({
      title: `Joules: arguments for ${path.basename(file.fsPath)}`,
      prompt: 'Arguments, quoted as in a shell (Enter for none)',
      value: remembered[file.fsPath] ?? '',
      validateInput: (v) => splitError(v),
    });
    if (line === undefined) return undefined;
    args = parseCommandLine(line).argv;
    const picked = await pickFolder([folder, path.dirname(file.fsPath)]);
    if (!picked) return undefined;
    cwd = picked;
    const next = { ...remembered, [file.fsPath]: line };
    const keys = Object.keys(next);
    for (const k of keys.slice(0, Math.max(0, keys.length - KEPT_SCRIPT_ARGS))) delete next[k];
    void state.update(ARGS_KEY, next);
  }
  const interpreter = await pythonInterpreter(config, file, cwd);
  return { kind: 'launch', request: pythonLaunch(interpreter.command, file.fsPath, args, cwd, 'user') };
}

async function launchCommandLine(state: vscode.Memento, shell: boolean): Promise<PickedLaunch | undefined> {
  const line = await vscode.window.showInputBox({
    title: shell ? 'Joules: command line to run in a shell' : 'Joules: command line to run',
    prompt: shell ? 'Runs through the shell' : 'Quoted as in a shell; runs without one unless it uses |, &&, >, $VAR …',
    value: state.get<string>(LINE_KEY, ''),
    placeHolder: 'python3 train.py --epochs 3',
    validateInput: (v) => {
      if (!v.trim()) return 'Type a command line';
      if (shell) return undefined;
      try {
        const p = parseCommandLine(v);
        return p.needsShell ? { message: `Will run through the shell (uses ${p.shellFeatures.join(' ')})`, severity: vscode.InputBoxValidationSeverity.Info } : undefined;
      } catch (e) {
        return e instanceof CommandLineError ? e.message : String(e);
      }
    },
  });
  if (line === undefined) return undefined;
  void state.update(LINE_KEY, line);
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const cwd = await pickFolder(folders.length ? folders : [os.homedir()]);
  if (!cwd) return undefined;
  return { kind: 'launch', request: commandLineLaunch(line, cwd, shell, 'user') };
}

function splitError(v: string): string | undefined {
  try {
    parseCommandLine(v);
    return undefined;
  } catch (e) {
    return e instanceof CommandLineError ? e.message : String(e);
  }
}

/** Working folder: the candidates (first = default), or one chosen in a dialog. */
async function pickFolder(candidates: string[]): Promise<string | undefined> {
  const unique = [...new Set(candidates)];
  const items: Array<vscode.QuickPickItem & { dir?: string }> = unique.map((dir, i) => ({
    label: `$(folder) ${vscode.workspace.asRelativePath(dir, true) || dir}`,
    description: i === 0 ? 'default' : dir,
    dir,
  }));
  items.push({ label: '$(folder-opened) Choose a folder…' });
  const picked = await vscode.window.showQuickPick(items, { title: 'Joules: working folder of the run' });
  if (!picked) return undefined;
  if (picked.dir) return picked.dir;
  const chosen = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Run Here' });
  return chosen?.[0]?.fsPath;
}
