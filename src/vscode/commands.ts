import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { CommandNotFoundError } from '../core/runs/processes';
import type { RunSummary } from '../core/runs/types';
import type { Config } from './config';
import { GpuUnavailableError } from './gpuAvailability';
import { exportRuns } from './historyActions';
import type { LaunchRequest } from './launch';
import { launchFromArgument, launchFromHistory, LaunchError } from './launch';
import type { PickedLaunch } from './launchPicker';
import { launchActiveFile, pickLaunch } from './launchPicker';
import type { Notifier } from './notifier';
import type { RunManager } from './runManager';
import { RestrictedModeError, RunInProgressError } from './runManager';
import type { RunItem } from './runsTree';
import type { RunsTreeProvider } from './runsTree';
import { summaryLine } from './runText';

/** The panel as the commands see it (PanelHost, created on first use). */
export interface PanelCommands {
  show(): void;
  showLive(): Promise<void>;
  showRun(runId: string): Promise<void>;
  compare(runIds: string[]): Promise<void>;
}

export interface CommandDeps {
  config: Config;
  runs: RunManager;
  notifier: Notifier;
  tree: RunsTreeProvider;
  /** workspaceState (launch memory). */
  state: vscode.Memento;
  panel: () => PanelCommands;
  demoTracePath: string;
}

/** Replay speed of the demo when the command gets none (real time: 30 s). */
const DEMO_SPEED = 1;

/**
 * Every `joules.*` command. Handlers return the started run's id (or undefined) so other
 * extensions and the tests can follow what they started; failures become messages, never throws.
 */
export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const start = async (request: LaunchRequest): Promise<string | undefined> => {
    try {
      return (await d.runs.start(request)).id;
    } catch (e) {
      reportStartFailure(d, e);
      return undefined;
    }
  };

  const startPicked = async (picked: PickedLaunch | undefined): Promise<string | undefined> => {
    if (!picked) return undefined;
    switch (picked.kind) {
      case 'launch':
        return start(picked.request);
      case 'task':
        await vscode.tasks.executeTask(picked.task);
        return undefined;
      case 'demo':
        return replayDemo(undefined);
    }
  };

  const replayDemo = (arg: unknown): Promise<string | undefined> => {
    const speed = typeof arg === 'object' && arg !== null && typeof (arg as { speed?: unknown }).speed === 'number' ? (arg as { speed: number }).speed : DEMO_SPEED;
    if (!(speed > 0)) return Promise.resolve(undefined);
    if (!fs.existsSync(d.demoTracePath)) {
      void d.notifier.error(`Joules: the demo trace is missing from the extension (${d.demoTracePath}).`);
      return Promise.resolve(undefined);
    }
    return start({ kind: 'replay', tracePath: d.demoTracePath, speed, origin: 'user', label: 'demo: recorded H200 phased load' });
  };

  const selection = (item: RunItem | undefined, items: readonly RunItem[] | undefined): RunItem[] => {
    if (items?.length) return [...items];
    return item ? [item] : [];
  };

  const guard =
    <A extends unknown[]>(what: string, fn: (...args: A) => unknown) =>
    async (...args: A): Promise<unknown> => {
      try {
        return await fn(...args);
      } catch (e) {
        if (e instanceof LaunchError) void d.notifier.error(`Joules: ${e.message}`);
        else reportStartFailure(d, e, what);
        return undefined;
      }
    };

  const register = (id: string, fn: (...args: never[]) => unknown): vscode.Disposable => vscode.commands.registerCommand(id, fn as (...args: unknown[]) => unknown);

  return [
    register(
      'joules.startRun',
      guard('could not start the run', async (arg?: unknown) => {
        const direct = launchFromArgument(arg, defaultCwd());
        if (direct) return start(direct);
        return startPicked(await pickLaunch(d.config, d.state, d.runs.lastLaunch));
      }),
    ),
    register(
      'joules.runCurrentFile',
      guard('could not start the run', async (uri?: vscode.Uri) => startPicked(await launchActiveFile(d.config, d.state, uri instanceof vscode.Uri ? uri : undefined))),
    ),
    register(
      'joules.rerunLast',
      guard('could not re-run', async () => {
        const last = d.runs.lastLaunch;
        if (last) return start(last);
        return startPicked(await pickLaunch(d.config, d.state, undefined));
      }),
    ),
    register('joules.stopRun', async () => {
      if (!d.runs.current) {
        void d.notifier.info('Joules: no run is being measured.');
        return undefined;
      }
      return d.runs.stop();
    }),
    // `{ live: true }` (the wattmeter during a run): the live run, not what the panel showed last.
    register('joules.showPanel', (arg?: unknown) => (isLiveArg(arg) ? d.panel().showLive() : d.panel().show())),
    register('joules.showHistory', () => vscode.commands.executeCommand('joules.runs.focus')),
    register('joules.replayDemo', guard('could not replay the demo', replayDemo)),
    register('joules.runs.refresh', () => d.tree.refresh()),
    register(
      'joules.runs.open',
      guard('could not open the run', async (item?: RunItem) => {
        const id = item?.run.id ?? d.runs.finished[0]?.id;
        if (id) await d.panel().showRun(id);
      }),
    ),
    register(
      'joules.runs.rerun',
      guard('could not re-run', async (item?: RunItem) => {
        if (!item) return undefined;
        const r = item.run;
        if (r.replay) return replayDemo(undefined);
        return start(launchFromHistory(r.command, r.cwd, r.name));
      }),
    ),
    register('joules.runs.stop', async (item?: RunItem) => d.runs.stop(item?.run.id)),
    register(
      'joules.runs.compare',
      guard('could not compare', async (item?: RunItem, items?: RunItem[]) => {
        const ids = selection(item, items).map((i) => i.run.id);
        if (ids.length < 2) {
          void d.notifier.info('Joules: select two or more runs in the Runs view (Ctrl/Cmd+click) to compare them.');
          return;
        }
        await d.panel().compare(ids);
      }),
    ),
    register(
      'joules.runs.export',
      guard('export failed', async (item?: RunItem, items?: RunItem[]) => {
        const ids = selection(item, items).map((i) => i.run.id);
        await d.runs.ready;
        const written = await exportRuns(d.runs.store, ids);
        if (written) void d.notifier.info(`Joules: exported ${ids.length === 1 ? 'the run' : `${ids.length} runs`} to ${written.fsPath}.`);
      }),
    ),
    register(
      'joules.runs.delete',
      guard('delete failed', async (item?: RunItem, items?: RunItem[]) => {
        const runs = selection(item, items).filter((i) => i.run.status !== 'running');
        if (!runs.length) return;
        const what = runs.length === 1 ? `the run "${runs[0]!.run.name}"` : `${runs.length} runs`;
        const answer = await vscode.window.showWarningMessage(
          `Delete ${what} from the history?`,
          { modal: true, detail: `Its samples and output are removed from ${d.runs.store.root}. This cannot be undone.` },
          'Delete',
        );
        if (answer === 'Delete') d.runs.delete(runs.map((i) => i.run.id));
      }),
    ),
  ];
}

/** The message for a run that could not start, with the action that helps. */
export function reportStartFailure(d: Pick<CommandDeps, 'notifier'>, e: unknown, context = 'could not start the run'): void {
  const n = d.notifier;
  if (e instanceof GpuUnavailableError) {
    void n.error(`Joules cannot measure a run: ${e.message}. Joules measures real GPUs only; the demo replays a recorded one.`, 'Replay Demo Run').then((a) => {
      if (a) void vscode.commands.executeCommand('joules.replayDemo');
    });
  } else if (e instanceof RunInProgressError) {
    void n.warn(`Joules: ${e.message}.`, 'Stop Run').then((a) => {
      if (a) void vscode.commands.executeCommand('joules.stopRun');
    });
  } else if (e instanceof RestrictedModeError) {
    void n.error(`Joules: ${e.message}`, 'Manage Workspace Trust').then((a) => {
      if (a) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  } else if (e instanceof CommandNotFoundError || e instanceof LaunchError) {
    void n.error(`Joules: ${e.message}`);
  } else {
    n.failure(context, e);
  }
}

/** The one-line summary when a run ends, with Open / Re-run. */
export function announceEnd(d: Pick<CommandDeps, 'notifier' | 'panel' | 'runs'>, summary: RunSummary, request: LaunchRequest): void {
  const text = `Joules: ${summaryLine(summary)}`;
  const shown = summary.status === 'succeeded' ? d.notifier.info(text, 'Open Run', 'Re-run') : d.notifier.warn(text, 'Open Run', 'Re-run');
  void shown.then(async (action) => {
    try {
      if (action === 'Open Run') await d.panel().showRun(summary.id);
      else if (action === 'Re-run') await d.runs.start(request);
    } catch (e) {
      reportStartFailure(d, e);
    }
  });
}

function defaultCwd(): string {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
}

function isLiveArg(arg: unknown): boolean {
  return typeof arg === 'object' && arg !== null && (arg as { live?: unknown }).live === true;
}
