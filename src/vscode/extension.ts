/**
 * Composition root: builds the long-lived objects, pushes each into context.subscriptions, and
 * returns the extension's API (read by the integration tests).
 *
 * Activation must stay well under 50 ms (bench/activation.ts measures it): nothing here touches
 * the disk or NVML. Recovering the history and starting the ambient wattmeter's sampler worker
 * happen in `startup()`, scheduled after activate() has returned.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Finding } from '../core/analysis/findings';
import type { AnalysisInput } from '../core/runs/runSession';
import { attachSpec } from '../core/runs/attach';
import { containerProcesses } from '../core/runs/containers';
import { defaultStoreDir } from '../core/runs/store';
import { AmbientMeter } from './ambientMeter';
import type { PanelCommands } from './commands';
import { announceEnd, registerCommands, reportStartFailure } from './commands';
import { registerPrometheusJobCommand } from './prometheusJob';
import type { GpuProcessesProvider } from './gpuProcessesView';
import { registerGpuProcessesView } from './gpuProcessesView';
import { Config } from './config';
import { GpuAvailability } from './gpuAvailability';
import { NoGpuNotice } from './noGpuNotice';
import type { FindingsDiagnostics } from './findings/diagnostics';
import type { NotebookHandle } from './notebooks/registerNotebooks';
import { Notifier } from './notifier';
import { PanelHost } from './panel/panelHost';
import { RunManagerPanelSource } from './panelSource';
import { RunManager } from './runManager';
import { RunsTreeProvider } from './runsTree';
import { StatusBar } from './statusBar';
import { JoulesTaskProvider, TASK_TYPE } from './taskProvider';

/** What activate() returns: the extension's objects, for the integration tests and other extensions. */
export interface JoulesApi {
  readonly config: Config;
  readonly runManager: RunManager;
  readonly statusBar: StatusBar;
  readonly runsTree: RunsTreeProvider;
  readonly tasks: JoulesTaskProvider;
  readonly ambient: AmbientMeter;
  readonly notifier: Notifier;
  /** Resolves when the deferred start-up (history recovery, wattmeter start) has run. */
  readonly ready: Promise<void>;
  /** Messages the energy panel was sent, once it exists. */
  panelCounters(): Readonly<{ posted: number; samples: number; skippedHidden: number; rejected: number }> | undefined;
  /** The runs the panel shows (opened or compared); empty while it follows the live run; undefined with no panel. */
  panelSelection(): readonly string[] | undefined;
  /** The GPU Processes view's data (attach and detach). */
  readonly gpuProcesses: GpuProcessesProvider;
  /** Notebook cell energy and the idle-GPU watchdog, once start-up has registered them. */
  notebooks(): NotebookHandle | undefined;
}

let active: { runs: RunManager; ambient: AmbientMeter; notebooks: () => NotebookHandle | undefined } | undefined;

export function activate(context: vscode.ExtensionContext): JoulesApi {
  try {
    return compose(context);
  } catch (e) {
    // Shown, not swallowed: a silent failure would leave commands that do nothing.
    void vscode.window.showErrorMessage(`Joules failed to activate: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
}

export async function deactivate(): Promise<void> {
  const a = active;
  active = undefined;
  // Open notebook sessions are written to the history as they stand (not left `running`).
  if (a) await Promise.all([a.runs.dispose(), a.ambient.dispose(), a.notebooks()?.monitor.dispose()]);
}

function compose(context: vscode.ExtensionContext): JoulesApi {
  const notifier = new Notifier();
  const config = new Config();
  const availability = new GpuAvailability();
  const workerFile = context.asAbsolutePath(path.join('dist', 'samplerWorker.js'));
  const ambient = new AmbientMeter(workerFile, availability, (message) => notifier.log.warn(message));
  // Each run is analysed once, when it ends, inside the run: its end event carries the findings to
  // every surface (stored summary, panel, diagnostics), so nothing here caches or re-analyses.
  const wasmDir = context.asAbsolutePath(path.join('dist', 'wasm'));
  const analysisWorkerFile = context.asAbsolutePath(path.join('dist', 'analysisWorker.js'));
  const analyze = async (input: AnalysisInput): Promise<Finding[]> => {
    // In a worker thread that streams the run from the store: nothing of it on this thread.
    const { analyzeInWorker } = await import('../core/analysis/analysisClient');
    return (await analyzeInWorker(input, { wasmDir, workerFile: analysisWorkerFile })).findings;
  };
  const runs = new RunManager({
    config,
    notifier,
    ambient,
    analyze,
    availability,
    state: context.workspaceState,
    workerFile,
    pythonPackageDir: context.asAbsolutePath('python'),
    // globalStorageUri is a file: URI wherever the extension host runs (local or remote).
    defaultHistoryDir: context.globalStorageUri.scheme === 'file' ? path.join(context.globalStorageUri.fsPath, 'runs') : defaultStoreDir(),
  });
  const statusBar = new StatusBar(config, runs, ambient, availability);
  const tree = new RunsTreeProvider(runs);
  const treeView = vscode.window.createTreeView('joules.runs', { treeDataProvider: tree, canSelectMany: true });

  // The panel is built on first use: until then nothing of it costs activation time.
  let panelHost: PanelHost | undefined;
  let panelSource: RunManagerPanelSource | undefined;
  const panel = (): PanelCommands => {
    if (!panelHost) {
      panelSource = new RunManagerPanelSource(runs, notifier.log, () => config.carbon);
      panelHost = new PanelHost(context.extensionUri, panelSource, notifier.log);
    }
    return panelHost;
  };

  const gpuProcesses = registerGpuProcessesView({
    cliPath: context.asAbsolutePath(path.join('dist', 'cli.js')),
    runs: {
      attach: async (pid) => {
        try {
          const spec = attachSpec(pid);
          await runs.start({ kind: 'attach', pid, spec, origin: 'user', label: [spec.command, ...spec.args].join(' ').slice(0, 200) });
        } catch (e) {
          reportStartFailure({ notifier }, e, `could not attach to process ${pid}`);
        }
      },
      attachContainer: async (id) => {
        try {
          const found = containerProcesses(id);
          if (found.init === undefined) throw new Error(`no process of container ${id.slice(0, 12)} runs on this host`);
          const spec = attachSpec(found.init, `container ${id.slice(0, 12)}`);
          await runs.start({ kind: 'attach', pid: found.init, spec, container: id, origin: 'user', label: `container ${id.slice(0, 12)} (${found.pids.length} processes)` });
        } catch (e) {
          reportStartFailure({ notifier }, e, `could not attach to container ${id.slice(0, 12)}`);
        }
      },
      detach: async () => {
        await runs.stop();
      },
      attachedPid: () => {
        const r = runs.current?.request;
        return r?.kind === 'attach' ? r.pid : undefined;
      },
      onDidChange: (cb) => vscode.Disposable.from(runs.onDidStart(cb), runs.onDidEnd(cb)),
    },
  });
  const taskProvider = new JoulesTaskProvider(config, runs, (e) => reportStartFailure({ notifier }, e));
  const deps = {
    config,
    runs,
    notifier,
    tree,
    state: context.workspaceState,
    panel,
    demoTracePath: context.asAbsolutePath(path.join('media', 'traces', 'h200-phased-load.jsonl')),
  };

  context.subscriptions.push(
    notifier,
    statusBar,
    tree,
    treeView,
    new NoGpuNotice(availability, notifier, context.globalState),
    vscode.tasks.registerTaskProvider(TASK_TYPE, taskProvider),
    ...registerCommands(deps),
    registerPrometheusJobCommand(context.workspaceState, context.asAbsolutePath(path.join('dist', 'cli.js')), {
      storeDir: () => runs.store.root,
      saved: () => runs.historyWritten(),
      open: (runId) => panel().showRun(runId),
    }),
    ...gpuProcesses.disposables,
    runs.onDidEnd(({ run, summary }) => announceEnd(deps, summary, run.request)),
    config.onDidChange((affects) => {
      if (affects('history.directory')) runs.historyFolderChanged();
      if (affects('history.maxRuns') || affects('history.maxSizeMB')) runs.prune();
      if (affects('statusBar.ambient')) void ambient.setEnabled(config.ambientWattmeter);
      statusBar.update();
    }),
    // Trust granted: workspace settings (interpreter, history folder) now apply.
    vscode.workspace.onDidGrantWorkspaceTrust(() => runs.historyFolderChanged()),
    // deactivate() awaits these two; disposing them here as well covers a host that skips it.
    { dispose: () => void runs.dispose() },
    { dispose: () => void ambient.dispose() },
    { dispose: () => panelHost?.dispose() },
    { dispose: () => panelSource?.dispose() },
  );
  active = { runs, ambient, notebooks: () => notebooks };

  let notebooks: NotebookHandle | undefined;
  const ready = new Promise<void>((resolve) => {
    setTimeout(() => {
      startup(context, runs, ambient, config, statusBar, notifier, wasmDir, analyze, (h) => (notebooks = h)).then(resolve, (e: unknown) => {
        notifier.failure('start-up failed', e);
        resolve();
      });
    }, 0);
  });
  return { config, runManager: runs, statusBar, runsTree: tree, tasks: taskProvider, ambient, notifier, ready, panelCounters: () => panelHost?.counters, panelSelection: () => panelHost?.selection, notebooks: () => notebooks, gpuProcesses: gpuProcesses.provider };
}

/** The deferred part of activation: disk, worker threads and the analysis, after activate() has returned. */
async function startup(
  context: vscode.ExtensionContext,
  runs: RunManager,
  ambient: AmbientMeter,
  config: Config,
  statusBar: StatusBar,
  notifier: Notifier,
  wasmDir: string,
  analyze: (input: AnalysisInput) => Promise<Finding[]>,
  setNotebooks: (h: NotebookHandle) => void,
): Promise<void> {
  // Findings in the editor (src/vscode/findings). Loaded here, not imported at the top: the
  // analysis brings tree-sitter, whose module would otherwise be evaluated during activation.
  // Registered before the history is ready, so no run can end before it listens.
  let diagnostics: FindingsDiagnostics | undefined;
  try {
    const { registerFindings, runEndsOf } = await import('./findings/findingsController');
    diagnostics = registerFindings(context, { onRunEnded: runEndsOf(runs), extensionUri: context.extensionUri, notifier, wasmDir }).diagnostics;
  } catch (e) {
    // Runs still work without findings: say so and go on.
    notifier.failure('findings in the editor are unavailable', e);
  }
  await runs.initialize();
  // Notebooks: cell energy, the notebook's total and the idle-GPU watchdog (src/vscode/notebooks).
  // Nothing samples until a notebook is opened.
  try {
    const { registerNotebooks } = await import('./notebooks/registerNotebooks');
    setNotebooks(registerNotebooks(context, { config, runs, ambient, notifier, workerFile: context.asAbsolutePath(path.join('dist', 'samplerWorker.js')), analyze, wasmDir, ...(diagnostics ? { diagnostics } : {}) }));
  } catch (e) {
    notifier.failure('notebook cell energy is unavailable', e);
  }
  // Only when wanted: the sampler worker (and NVML) never starts for users who turned it off.
  if (config.ambientWattmeter) await ambient.setEnabled(true);
  statusBar.update();
}
