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
import { checkPrometheusUrl, JOB_WINDOWS, jobCliArgs, jobRequestOf, savedRunId } from './prometheusJobArgs';

const URL_KEY = 'joules.prometheus.url';
const SELECTOR_KEY = 'joules.prometheus.selector';
/** The report is a few lines per GPU; more than this is not a report. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Register the command; `cliPath` is the bundled `dist/cli.js`. Returns the report text (or undefined). */
/**
 * @param history where the job's window is kept (the editor's run history), and what opens a stored
 *   run in the energy panel: the job is shown there as a run whose GPUs are the job's across nodes.
 */
export function registerPrometheusJobCommand(state: vscode.Memento, cliPath: string, history?: { storeDir: () => string; saved: () => void; open: (runId: string) => Promise<void> }): vscode.Disposable {
  return vscode.commands.registerCommand('joules.showPrometheusJob', async (arg?: unknown): Promise<string | undefined> => {
    const request = jobRequestOf(arg) ?? (await ask(state));
    if (!request) return undefined;
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
    }
    return result.stdout;
  });
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
  const window = await vscode.window.showQuickPick(JOB_WINDOWS.map((w) => ({ label: w.label, from: w.from })), { title: 'Joules: window', placeHolder: 'Up to now' });
  if (!window) return undefined;
  await state.update(URL_KEY, url.trim());
  await state.update(SELECTOR_KEY, selector.trim());
  return { url: url.trim(), selector: selector.trim(), from: window.from };
}

function runJob(cliPath: string, request: JobRequest, token: vscode.CancellationToken, saveTo?: string): Promise<{ code: number; stdout: string; stderr: string; cancelled: boolean }> {
  return new Promise((resolve) => {
    // The extension host's binary runs the CLI as plain Node (Electron's switch; ignored by Node).
    const child = spawn(process.execPath, jobCliArgs(cliPath, request, saveTo), { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let cancelled = false;
    const cap = (s: string, c: Buffer): string => (s.length < MAX_OUTPUT_BYTES ? s + c.toString('utf8') : s);
    child.stdout.on('data', (c: Buffer) => (stdout = cap(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = cap(stderr, c)));
    const sub = token.onCancellationRequested(() => {
      cancelled = true;
      child.kill('SIGTERM');
    });
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
