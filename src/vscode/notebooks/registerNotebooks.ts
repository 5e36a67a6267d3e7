import * as vscode from 'vscode';
import type { Finding } from '../../core/analysis/findings';
import type { AnalysisInput } from '../../core/runs/runSession';
import type { AmbientMeter } from '../ambientMeter';
import type { Config } from '../config';
import type { Notifier } from '../notifier';
import type { RunManager } from '../runManager';
import type { FindingsDiagnostics } from '../findings/diagnostics';
import { CellFindingsController } from './cellFindingsController';
import { IdleWatchdogUi } from './idleWatchdogUi';
import { CellEnergyItems, NotebookTotalItem } from './notebookItems';
import { NotebookMonitor } from './notebookMonitor';

export interface NotebookDeps {
  config: Config;
  runs: RunManager;
  ambient: AmbientMeter;
  notifier: Notifier;
  workerFile: string;
  analyze: (input: AnalysisInput) => Promise<Finding[]>;
  /** The editor's findings diagnostics (absent when findings failed to load): cells get theirs there. */
  diagnostics?: FindingsDiagnostics;
  wasmDir: string;
}

/** What the tests reach through the extension's API. */
export interface NotebookHandle {
  monitor: NotebookMonitor;
  cellItems: CellEnergyItems;
  watchdog: IdleWatchdogUi;
  cellFindings: CellFindingsController | undefined;
}

/** Cell energy in notebooks, the notebook's total, and the idle-GPU watchdog. */
export function registerNotebooks(context: Pick<vscode.ExtensionContext, 'subscriptions'>, deps: NotebookDeps): NotebookHandle {
  const { config, runs, notifier } = deps;
  const monitor = new NotebookMonitor({
    workerFile: deps.workerFile,
    store: () => runs.store,
    enabled: () => config.notebookCellEnergy,
    log: notifier.log,
    runPids: () => {
      const pid = runs.current?.session.pid;
      return pid === undefined ? [] : [pid];
    },
    analyze: deps.analyze,
    onRecorded: () => runs.historyWritten(),
  });
  const cellItems = new CellEnergyItems(monitor);
  const total = new NotebookTotalItem(monitor);
  const watchdog = new IdleWatchdogUi({
    sources: [deps.ambient, monitor],
    idleMinutes: () => config.watchdogIdleMinutes,
    notifier,
    notebookOf: (pid) => monitor.notebookOfPid(pid),
  });
  const cellFindings = deps.diagnostics ? new CellFindingsController(monitor, deps.diagnostics, deps.wasmDir, notifier.log) : undefined;
  if (cellFindings) context.subscriptions.push(cellFindings);
  const changed = monitor.onDidChange(() => {
    cellItems.refresh();
    total.update();
  });
  context.subscriptions.push(
    vscode.notebooks.registerNotebookCellStatusBarItemProvider('*', cellItems),
    cellItems,
    total,
    watchdog,
    { dispose: () => changed.dispose() },
    vscode.window.onDidChangeActiveNotebookEditor(() => total.update()),
    config.onDidChange((affects) => {
      if (affects('notebooks.cellEnergy')) monitor.reconcile();
    }),
    { dispose: () => void monitor.dispose() },
  );
  return { monitor, cellItems, watchdog, cellFindings };
}
