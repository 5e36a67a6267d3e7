import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Config } from './config';
import type { JoulesTaskDefinition } from './launch';
import { LaunchError, taskLaunch } from './launch';
import { pythonInterpreter } from './pythonInterpreter';
import type { RunManager } from './runManager';
import { RunTerminal } from './runTerminal';

export const TASK_TYPE = 'joules';
/** Scripts offered in the Run Task list per folder (top level only: the list must stay short). */
const MAX_PROVIDED_SCRIPTS = 20;

/**
 * The `joules` task type: a task runs a Python script or command line under measurement, in a
 * CustomExecution whose terminal is the run's. Tasks come from tasks.json (the workspace's own
 * configuration), so in Restricted Mode none is provided and none starts.
 */
export class JoulesTaskProvider implements vscode.TaskProvider {
  constructor(
    private readonly config: Config,
    private readonly runs: RunManager,
    /** Shows why a run could not start (the same messages as the commands'). */
    private readonly onStartFailure: (e: unknown) => void,
  ) {}

  async provideTasks(token: vscode.CancellationToken): Promise<vscode.Task[]> {
    if (!vscode.workspace.isTrusted) return [];
    const tasks: vscode.Task[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '*.py'), undefined, MAX_PROVIDED_SCRIPTS, token);
      for (const file of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
        const script = path.basename(file.fsPath);
        tasks.push(this.task({ type: TASK_TYPE, script }, folder, script));
      }
    }
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as Partial<JoulesTaskDefinition>;
    if (def.type !== TASK_TYPE) return undefined;
    return this.task(def as JoulesTaskDefinition, task.scope, task.name);
  }

  /**
   * The terminal a `joules` task runs in: it starts the run when the task system opens it. Public
   * so the integration tests can drive it without the task system's UI.
   */
  createTaskTerminal(definition: JoulesTaskDefinition, folder: string | undefined): RunTerminal {
    const pty: RunTerminal = new RunTerminal(
      {
        stop: (force) => void this.runs.stop(undefined, force),
        onOpen: (terminal) => void this.startTask(terminal, definition, folder),
      },
      true,
    );
    return pty;
  }

  private task(def: JoulesTaskDefinition, scope: vscode.Task['scope'], name: string): vscode.Task {
    const folder = scope !== undefined && typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const execution = new vscode.CustomExecution(async (resolved) => this.createTaskTerminal(resolved as JoulesTaskDefinition, folder));
    const task = new vscode.Task(def, scope ?? vscode.TaskScope.Workspace, name, TASK_TYPE, execution);
    task.detail = def.script ? `Run ${def.script} and measure its GPU energy` : def.command ? `Measure: ${def.command}` : undefined;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
    return task;
  }

  private async startTask(terminal: RunTerminal, def: JoulesTaskDefinition, folder: string | undefined): Promise<void> {
    try {
      if (!vscode.workspace.isTrusted) {
        terminal.fail('this workspace is in Restricted Mode: joules tasks come from the workspace and do not run until you trust it.');
        return;
      }
      const cwd = def.cwd ? path.resolve(folder ?? process.cwd(), def.cwd) : (folder ?? process.cwd());
      // The interpreter is only needed (and only looked up) for a script.
      const interpreter = def.script ? (await pythonInterpreter(this.config, folder ? vscode.Uri.file(folder) : undefined, cwd)).command : '';
      const request = taskLaunch(def, folder, () => interpreter);
      await this.runs.start(request, terminal);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      terminal.fail(message);
      if (!(e instanceof LaunchError)) this.onStartFailure(e);
    }
  }
}
