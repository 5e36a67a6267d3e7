import * as vscode from 'vscode';
import type { Finding } from '../../core/analysis/findings';
import { loadPythonParser } from '../../core/analysis/pythonSource';
import { analyzeInWorker } from '../../core/analysis/analysisClient';
import { staticFindings } from '../../core/analysis/staticHints';
import type { AnalysisInput } from '../../core/runs/runSession';
import type { RunSummary } from '../../core/runs/types';
import type { GpuInfo } from '../../core/sampler/types';
import type { Notifier } from '../notifier';
import type { RunManager } from '../runManager';
import { FindingsCodeActions } from './codeActions';
import { FindingsDiagnostics } from './diagnostics';
import type { ShownRun } from './diagnostics';
import { notificationFinding, notificationText } from './format';

/** Where an ended run's samples are (its store file); `runGpus` (NVML indices) defaults to the GPUs its summary marks attributed. */
export interface EndedRunData {
  gpus: GpuInfo[];
  samplesFile: string;
  runGpus?: number[];
}

export interface FindingsDeps {
  /** Fires once per ended run, after its summary is stored. */
  onRunEnded(cb: (summary: RunSummary, record: EndedRunData) => void): vscode.Disposable;
  extensionUri: vscode.Uri;
  /** Folder of tree-sitter.wasm and tree-sitter-python.wasm (the bundle's `dist/wasm`). */
  wasmDir: string;
  /** Log lines; default: the Notifier's channel, read only when there is something to log. */
  output?: vscode.LogOutputChannel;
  /** Notifications go through the extension's Notifier when given (it keeps them for the tests). */
  notifier?: Pick<Notifier, 'info' | 'warn' | 'log'>;
  /** Findings the run's own analysis already produced (so a run is analysed once). */
  analyzed?: (runId: string) => Finding[] | undefined;
  /** The bundle's `dist/analysisWorker.js` (the analysis runs there, off the extension host's thread). */
  analysisWorkerFile?: string;
}

const SHOW_PANEL_COMMAND = 'joules.showPanel';
const SHOW_PROBLEMS_COMMAND = 'workbench.actions.view.problems';

/** What registerFindings returns: the diagnostics, and the analysis of the latest ended run (for tests). */
export interface FindingsHandle extends vscode.Disposable {
  readonly diagnostics: FindingsDiagnostics;
  /** Resolves when every analysis started so far has been shown. */
  idle(): Promise<void>;
}

/**
 * Findings in the editor: on each ended run, analyses its telemetry and its Python source, shows
 * diagnostics on the lines that explain the waste (hover: the numbers; lightbulb: the fixes), and
 * at most one notification for what has no line. Everything is pushed into `context.subscriptions`.
 */
export function registerFindings(context: Pick<vscode.ExtensionContext, 'subscriptions'>, deps: FindingsDeps): FindingsHandle {
  const diagnostics = new FindingsDiagnostics(deps.extensionUri);
  const log = (): vscode.LogOutputChannel | undefined => deps.output ?? deps.notifier?.log;
  const parser = (): ReturnType<typeof loadPythonParser> => loadPythonParser(deps.wasmDir);
  /** Start time of the newest run shown per script: a slower analysis of an older run must not overwrite it. */
  const newestShown = new Map<string, number>();
  let pending: Promise<void> = Promise.resolve();

  const onEnded = (summary: RunSummary, record: EndedRunData): void => {
    const job = analyze(summary, record).then(
      (findings) => present(summary, findings),
      (e: unknown) => log()?.warn(`findings of run ${summary.id} (${summary.name}): analysis failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
    );
    pending = Promise.all([pending, job]).then(() => undefined);
  };

  const analyze = async (summary: RunSummary, record: EndedRunData): Promise<Finding[]> => {
    if (summary.status === 'interrupted') return [];
    const done = deps.analyzed?.(summary.id);
    if (done) return done;
    const input: AnalysisInput = {
      summary,
      gpus: record.gpus,
      samplesFile: record.samplesFile,
      runGpus: runGpusOf(summary, record),
      endMs: summary.durationS * 1000,
    };
    const t0 = Date.now();
    const { findings } = await analyzeInWorker(input, { wasmDir: deps.wasmDir, ...(deps.analysisWorkerFile ? { workerFile: deps.analysisWorkerFile } : {}) });
    log()?.info(`findings of run ${summary.id} (${summary.name}): ${findings.length} in ${Date.now() - t0} ms`);
    return findings;
  };

  const present = (summary: RunSummary, findings: Finding[]): void => {
    const run: ShownRun = { id: summary.id, name: summary.name, startedAt: summary.startedAt, scriptPath: summary.scriptPath ?? '' };
    let shown = 0;
    if (summary.scriptPath) {
      const started = Date.parse(summary.startedAt);
      if ((newestShown.get(summary.scriptPath) ?? -Infinity) > started) return;
      newestShown.set(summary.scriptPath, started);
      shown = diagnostics.show(run, findings.filter((f) => !isStale(f, log)));
    }
    // The demo replays a recorded machine: its findings belong in the panel, not in a notification.
    if (!summary.replay) notify(run, findings, shown);
  };

  const notify = (run: ShownRun, findings: Finding[], diagnosticsShown: number): void => {
    const top = notificationFinding(findings);
    if (!top) return;
    const others = findings.filter((f) => f !== top && f.severity !== 'hint').length;
    const text = notificationText(top, run, others);
    const actions = diagnosticsShown > 0 ? ['Open Panel', 'Show Problems'] : ['Open Panel'];
    const n = deps.notifier;
    const warn = top.severity === 'warning';
    const shown = n ? (warn ? n.warn(text, ...actions) : n.info(text, ...actions)) : warn ? vscode.window.showWarningMessage(text, ...actions) : vscode.window.showInformationMessage(text, ...actions);
    void Promise.resolve(shown).then(
      (action) => {
        if (action === 'Open Panel') void vscode.commands.executeCommand(SHOW_PANEL_COMMAND);
        else if (action === 'Show Problems') void vscode.commands.executeCommand(SHOW_PROBLEMS_COMMAND);
      },
      () => undefined,
    );
  };

  // Static hints when a Python file is opened or saved, until a measured run of it is shown (that
  // run's findings replace them, and they are not put back over a measured run).
  const showStatic = (doc: vscode.TextDocument): void => {
    if (doc.languageId !== 'python' || doc.uri.scheme !== 'file' || doc.isDirty) return;
    const script = doc.uri.fsPath;
    if (newestShown.has(script)) return;
    const job = staticFindings(script, { wasmDir: deps.wasmDir, maxFiles: 50, maxBytes: 2 * 1024 * 1024 }).then(
      (findings) => {
        if (!newestShown.has(script)) diagnostics.show({ id: `static:${script}`, name: 'static check', startedAt: new Date().toISOString(), scriptPath: script }, findings);
      },
      (e: unknown) => log()?.info(`static hints of ${script}: ${e instanceof Error ? e.message : String(e)}`),
    );
    pending = Promise.all([pending, job]).then(() => undefined);
  };
  for (const doc of vscode.workspace.textDocuments) showStatic(doc);

  const handle: FindingsHandle = {
    diagnostics,
    idle: () => pending,
    dispose: () => diagnostics.dispose(),
  };
  context.subscriptions.push(
    handle,
    deps.onRunEnded(onEnded),
    vscode.workspace.onDidOpenTextDocument(showStatic),
    vscode.workspace.onDidSaveTextDocument(showStatic),
    vscode.languages.registerCodeActionsProvider({ language: 'python' }, new FindingsCodeActions(diagnostics, parser), {
      providedCodeActionKinds: FindingsCodeActions.providedCodeActionKinds,
    }),
    vscode.languages.registerHoverProvider(
      { language: 'python' },
      {
        provideHover: (document, position) => {
          const md = diagnostics.hoverFor(document.uri, position.line);
          return md ? new vscode.Hover(md) : undefined;
        },
      },
    ),
  );
  return handle;
}

/** Adapts RunManager's end event to `FindingsDeps.onRunEnded` (the samples are in the run's store file then). */
export function runEndsOf(runs: Pick<RunManager, 'onDidEnd'>): FindingsDeps['onRunEnded'] {
  return (cb) => runs.onDidEnd(({ run, summary }) => cb(summary, { gpus: run.session.gpus, samplesFile: run.session.samplesFile, runGpus: run.session.runGpus().gpus }));
}

function runGpusOf(summary: RunSummary, record: EndedRunData): number[] {
  if (record.runGpus?.length) return record.runGpus;
  const attributed = summary.gpus.filter((g) => g.attributed).map((g) => g.index);
  // Nothing attributed (no process seen, no CUDA_VISIBLE_DEVICES): the run counted every GPU.
  return attributed.length ? attributed : record.gpus.map((g) => g.index);
}

/**
 * A file edited in the editor but not saved ran from its saved text: its ranges would point at the
 * wrong lines, so its findings wait for the next run.
 */
function isStale(f: Finding, log: () => vscode.LogOutputChannel | undefined): boolean {
  if (f.file === undefined) return false;
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === f.file);
  if (!doc?.isDirty) return false;
  log()?.info(`${f.file} has unsaved changes: its ${f.code} finding is not shown`);
  return true;
}
