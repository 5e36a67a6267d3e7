import * as vscode from 'vscode';
import type { Finding } from '../../core/analysis/findings';
import { loadPythonParser } from '../../core/analysis/pythonParser';
import { staticFindings } from '../../core/analysis/staticHints';
import type { RunSummary } from '../../core/runs/types';
import type { Notifier } from '../notifier';
import type { RunManager } from '../runManager';
import { FindingsCodeActions } from './codeActions';
import { FindingsDiagnostics } from './diagnostics';
import type { ShownRun } from './diagnostics';
import { notificationFinding, notificationText } from './format';

export interface FindingsDeps {
  /** Fires once per ended run, after its summary is stored, with the findings the run's analysis made. */
  onRunEnded(cb: (summary: RunSummary, findings: readonly Finding[]) => void): vscode.Disposable;
  extensionUri: vscode.Uri;
  /** Folder of tree-sitter.wasm and tree-sitter-python.wasm (the bundle's `dist/wasm`), for the quick fixes. */
  wasmDir: string;
  /** Log lines; default: the Notifier's channel, read only when there is something to log. */
  output?: vscode.LogOutputChannel;
  /** Notifications go through the extension's Notifier when given (it keeps them for the tests). */
  notifier?: Pick<Notifier, 'info' | 'warn' | 'log'>;
}

const SHOW_PANEL_COMMAND = 'joules.showPanel';
const SHOW_PROBLEMS_COMMAND = 'workbench.actions.view.problems';

/** What registerFindings returns: the diagnostics (for tests). */
export interface FindingsHandle extends vscode.Disposable {
  readonly diagnostics: FindingsDiagnostics;
  /** Resolves when every ended run so far has been shown (kept for the tests; showing is synchronous). */
  idle(): Promise<void>;
}

/**
 * Findings in the editor: on each ended run, takes the findings its end event carries, shows
 * diagnostics on the lines that explain the waste (hover: the numbers; lightbulb: the fixes), and
 * at most one notification for what has no line. Everything is pushed into `context.subscriptions`.
 */
export function registerFindings(context: Pick<vscode.ExtensionContext, 'subscriptions'>, deps: FindingsDeps): FindingsHandle {
  const diagnostics = new FindingsDiagnostics(deps.extensionUri);
  const log = (): vscode.LogOutputChannel | undefined => deps.output ?? deps.notifier?.log;
  const parser = (): ReturnType<typeof loadPythonParser> => loadPythonParser(deps.wasmDir);
  /** Start time of the newest run shown per script: a slower analysis of an older run must not overwrite it. */
  const newestShown = new Map<string, number>();

  const onEnded = (summary: RunSummary, findings: readonly Finding[]): void => {
    if (summary.status === 'interrupted') return;
    try {
      present(summary, [...findings]);
    } catch (e) {
      log()?.warn(`findings of run ${summary.id} (${summary.name}) could not be shown: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
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

  // Static-hint jobs in flight (tests wait on them through `idle`).
  let pending: Promise<void> = Promise.resolve();
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

/** Adapts RunManager's end event to `FindingsDeps.onRunEnded`. */
export function runEndsOf(runs: Pick<RunManager, 'onDidEnd'>): FindingsDeps['onRunEnded'] {
  return (cb) => runs.onDidEnd(({ summary, findings }) => cb(summary, findings));
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
