/**
 * "Joules: Show Prometheus Job": a multi-node job's energy read back from Prometheus, shown as the
 * CLI's report in an editor tab. The report is computed by the bundled CLI (`joules job`) in a child
 * process, so the raw series of a long window (up to a week of scrapes per GPU) are never parsed on
 * the extension host's thread.
 */
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import { withSelector } from '../core/cluster/metricSources';
import type { JobRequest } from './prometheusJobArgs';
import { checkPrometheusUrl, fixedFrom, JOB_WINDOWS, jobCliArgs, jobRequestOf, savedRunId } from './prometheusJobArgs';

const URL_KEY = 'joules.prometheus.url';
const SELECTOR_KEY = 'joules.prometheus.selector';
/** The report is a few lines per GPU; more than this is not a report. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/**
 * Register the command; `cliPath` is the bundled `dist/cli.js`. The command returns the report text
 * (or undefined). `history`: where the job's window is kept (the editor's run history), and what
 * opens a stored run in the energy panel, where the job's GPUs across nodes are the run's GPUs.
 */
export function registerPrometheusJobCommand(state: vscode.Memento, cliPath: string, history?: JobHistory): vscode.Disposable {
  let following: JobFollower | undefined;
  const stopFollowing = (): void => {
    following?.dispose();
    following = undefined;
  };
  return vscode.Disposable.from(
    vscode.commands.registerCommand('joules.showPrometheusJob', async (arg?: unknown): Promise<string | undefined> => {
      const asked = jobRequestOf(arg) ?? (await ask(state));
      if (!asked) return undefined;
      // A followed job keeps its start: `-15m` becomes the Unix time it means now.
      const request = asked.follow ? { ...asked, from: fixedFrom(asked.from, Date.now() / 1000) } : asked;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Joules: reading the job from Prometheus', cancellable: true },
        (_progress, token) => runJob(cliPath, request, token, history?.storeDir()),
      );
      if (result.code !== 0) {
        if (!result.cancelled) void vscode.window.showErrorMessage(`Joules: ${firstLine(result.stderr) || `joules job exited with ${result.code}`}`);
        return undefined;
      }
      const doc = await vscode.workspace.openTextDocument({ content: result.stdout, language: 'plaintext' });
      await vscode.window.showTextDocument(doc, { preview: false });
      const runId = savedRunId(result.stderr);
      if (history && runId) {
        history.saved();
        await history.open(runId);
        if (request.follow) {
          stopFollowing();
          following = new JobFollower(cliPath, request, runId, history, () => stopFollowing());
        }
      }
      return result.stdout;
    }),
    vscode.commands.registerCommand('joules.stopFollowingPrometheusJob', () => stopFollowing()),
    { dispose: stopFollowing },
  );
}

/** Where a job's window is kept and shown (the editor's run history and energy panel). */
export interface JobHistory {
  storeDir: () => string;
  saved: () => void;
  open: (runId: string) => Promise<void>;
}

/** A followed job is read again this often (Prometheus itself scrapes every 15-60 s as a rule). */
export const FOLLOW_REFRESH_MS = 15_000;

/**
 * Follows a job live: every {@link FOLLOW_REFRESH_MS} its window, from the same start to now, is read
 * again by the bundled CLI (a child process) and replaces the same record in the history, and the
 * panel reloads it. A status-bar item shows the total and stops it; a failed read stops it and says why.
 */
export class JobFollower implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('joules.followJob', vscode.StatusBarAlignment.Left, 98);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  /** Refreshes done, for the tests. */
  refreshes = 0;

  constructor(
    private readonly cliPath: string,
    private readonly request: JobRequest,
    readonly runId: string,
    private readonly history: JobHistory,
    private readonly stop: () => void,
  ) {
    this.item.name = 'Joules followed job';
    this.item.command = 'joules.stopFollowingPrometheusJob';
    this.item.text = `$(broadcast) Following ${request.selector}`;
    this.item.tooltip = `Joules reads the job ${request.selector} from ${request.url} again every ${request.refreshS ?? FOLLOW_REFRESH_MS / 1000} s and redraws it in the panel. Click to stop following.`;
    this.item.show();
    this.schedule();
  }

  private schedule(): void {
    if (this.disposed) return;
    this.timer = setTimeout(() => void this.refresh(), (this.request.refreshS ?? FOLLOW_REFRESH_MS / 1000) * 1000);
  }

  private async refresh(): Promise<void> {
    // Up to now: the CLI ends the window at the newest scrape every GPU has.
    const { to: _to, ...upToNow } = this.request;
    const r = await runJob(this.cliPath, upToNow, undefined, this.history.storeDir(), this.runId);
    if (this.disposed) return;
    if (r.code !== 0) {
      void vscode.window.showWarningMessage(`Joules: stopped following ${this.request.selector}: ${firstLine(r.stderr) || `joules job exited with ${r.code}`}`);
      this.stop();
      return;
    }
    this.refreshes++;
    const total = /total: (\S+ \S+)/.exec(r.stdout)?.[1];
    if (total) this.item.text = `$(broadcast) ${this.request.selector}: ${total}`;
    this.history.saved();
    await this.history.open(this.runId);
    this.schedule();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.item.dispose();
  }
}

async function ask(state: vscode.Memento): Promise<JobRequest | undefined> {
  const url = await vscode.window.showInputBox({
    title: 'Joules: Prometheus server',
    prompt: 'The Prometheus that scrapes the job (Joules exporters or dcgm-exporter)',
    value: state.get<string>(URL_KEY) ?? 'http://localhost:9090',
    validateInput: checkPrometheusUrl,
    ignoreFocusOut: true,
  });
  if (url === undefined) return undefined;
  const selector = await vscode.window.showInputBox({
    title: 'Joules: the job',
    prompt: 'Label matchers that pick the job\'s series',
    value: state.get<string>(SELECTOR_KEY) ?? '{job="train"}',
    validateInput: (s) => {
      try {
        withSelector('x', s);
        return undefined;
      } catch (e) {
        return (e as Error).message.replace('--selector', 'The selector');
      }
    },
    ignoreFocusOut: true,
  });
  if (selector === undefined) return undefined;
  const window = await vscode.window.showQuickPick(JOB_WINDOWS.map((w) => ({ label: w.label, from: w.from, follow: w.follow === true })), { title: 'Joules: window', placeHolder: 'Up to now' });
  if (!window) return undefined;
  await state.update(URL_KEY, url.trim());
  await state.update(SELECTOR_KEY, selector.trim());
  return { url: url.trim(), selector: selector.trim(), from: window.from, ...(window.follow ? { follow: true } : {}) };
}

function runJob(cliPath: string, request: JobRequest, token: vscode.CancellationToken | undefined, saveTo?: string, runId?: string): Promise<{ code: number; stdout: string; stderr: string; cancelled: boolean }> {
  return new Promise((resolve) => {
    // The extension host's binary runs the CLI as plain Node (Electron's switch; ignored by Node).
    const child = spawn(process.execPath, jobCliArgs(cliPath, request, saveTo, runId), { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let cancelled = false;
    const cap = (s: string, c: Buffer): string => (s.length < MAX_OUTPUT_BYTES ? s + c.toString('utf8') : s);
    child.stdout.on('data', (c: Buffer) => (stdout = cap(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = cap(stderr, c)));
    const sub = token?.onCancellationRequested(() => {
      cancelled = true;
      child.kill('SIGTERM');
    }) ?? { dispose: () => undefined };
    child.on('error', (e) => {
      sub.dispose();
      resolve({ code: 1, stdout, stderr: `cannot run joules job: ${e.message}`, cancelled });
    });
    child.on('close', (code) => {
      sub.dispose();
      resolve({ code: code ?? 1, stdout, stderr, cancelled });
    });
  });
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim()) ?? '').replace(/^joules: /, '');
}
