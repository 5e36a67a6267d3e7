import * as vscode from 'vscode';
import type { Disposable as CoreDisposable } from '../../core/events';
import type { IdleAlert } from '../../core/notebooks/idleWatchdog';
import { IdleWatchdog } from '../../core/notebooks/idleWatchdog';
import type { ProcessInfo } from '../../core/notebooks/processInfo';
import { processInfo } from '../../core/notebooks/processInfo';
import type { EngineBatch } from '../../core/sampler/engine';
import { formatBytes, formatDuration, formatJoules, formatWatts } from '../../core/units/format';
import type { Notifier } from '../notifier';

/** How long "Snooze" silences a process. */
export const SNOOZE_MS = 60 * 60_000;
/** A process alerted by one sampler is not alerted again by another within this long. */
const SAME_ALERT_MS = 60 * 60_000;

/** A source of sampler batches: the wattmeter's or the notebook monitor's sampler. */
export interface BatchSource {
  onBatch(listener: (batch: EngineBatch) => void): CoreDisposable;
}

export interface WatchdogDeps {
  sources: BatchSource[];
  /** Minutes of idle before an alert; 0 turns the watchdog off. */
  idleMinutes: () => number;
  notifier: Pick<Notifier, 'warn' | 'log'>;
  /** The notebook a kernel PID belongs to, when Joules knows it. */
  notebookOf: (pid: number) => vscode.NotebookDocument | undefined;
  /** Injected for tests: signals a process. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  /** Injected for tests: asks the user to confirm stopping a process. */
  confirm?: (message: string) => Thenable<boolean>;
}

/** What the watchdog told the user (kept for the tests and the log). */
export interface ShownAlert {
  alert: IdleAlert;
  info: ProcessInfo;
  notebook?: string;
  message: string;
  actions: string[];
}

/**
 * Tells the user once when a process holds GPU memory on a GPU idle for longer than the setting,
 * with what it costs and actions: reveal it, interrupt it (SIGINT: a kernel's interrupt), restart
 * its kernel (when the Jupyter extension offers the command), stop it (SIGTERM, after a
 * confirmation, only the user's own processes), or snooze it for an hour.
 */
export class IdleWatchdogUi implements vscode.Disposable {
  private readonly watchdogs = new Map<BatchSource, { dog: IdleWatchdog; lastMs: number }>();
  private readonly subscriptions: CoreDisposable[] = [];
  private readonly recent = new Map<number, number>();
  /** Wall-clock end of each snooze (ms): holds across samplers, whose clocks differ. */
  private readonly snoozedUntil = new Map<number, number>();
  readonly shown: ShownAlert[] = [];

  constructor(private readonly deps: WatchdogDeps) {
    for (const source of deps.sources) this.subscriptions.push(source.onBatch((b) => this.observe(source, b)));
  }

  private observe(source: BatchSource, batch: EngineBatch): void {
    const minutes = this.deps.idleMinutes();
    if (!(minutes > 0)) return;
    const first = batch.samples[0]?.tMs;
    let w = this.watchdogs.get(source);
    // A new sampler starts its clock at 0 again: so does its watchdog.
    if (!w || (first !== undefined && first < w.lastMs)) {
      w = { dog: new IdleWatchdog(minutes * 60_000), lastMs: -Infinity };
      this.watchdogs.set(source, w);
    }
    w.dog.setThreshold(minutes * 60_000);
    for (const s of batch.samples) w.lastMs = Math.max(w.lastMs, s.tMs);
    for (const alert of w.dog.observe(batch.samples, batch.processes)) this.alert(alert);
  }

  private alert(alert: IdleAlert): void {
    const now = Date.now();
    if ((this.snoozedUntil.get(alert.pid) ?? -Infinity) > now) return;
    const prev = this.recent.get(alert.pid);
    if (prev !== undefined && now - prev < SAME_ALERT_MS) return;
    this.recent.set(alert.pid, now);
    const info = processInfo(alert.pid);
    if (info.gone) return;
    const notebook = this.deps.notebookOf(alert.pid);
    const who = notebook ? `the kernel of ${vscode.workspace.asRelativePath(notebook.uri)}` : (info.commandLine ?? info.name ?? 'a process');
    const mem = alert.memBytes !== undefined ? ` holds ${formatBytes(alert.memBytes)} of its memory` : ' holds it';
    const message =
      `GPU ${alert.gpu} has been idle for ${formatDuration(alert.idleForMs / 1000)} while ${truncate(who, 120)} (PID ${alert.pid}${info.name ? `, ${info.name}` : ''})${mem}: ` +
      `${formatJoules(alert.idleEnergyJ)} spent idle so far (${formatWatts(alert.idlePowerW)}).`;
    const actions = ['Reveal', ...(info.own ? ['Interrupt'] : []), ...(notebook ? ['Restart Kernel'] : []), ...(info.own ? ['Stop Process…'] : []), 'Snooze 1 h'];
    this.shown.push({ alert, info, ...(notebook ? { notebook: notebook.uri.toString() } : {}), message, actions });
    if (this.shown.length > 100) this.shown.shift();
    this.deps.notifier.log.warn(`idle GPU: ${message} Command line: ${info.commandLine ?? 'unknown'}`);
    void Promise.resolve(this.deps.notifier.warn(message, ...actions)).then((action) => this.act(action, alert, info, notebook));
  }

  /** Runs an alert's action (public for the tests, which cannot click a notification). */
  async act(action: string | undefined, alert: IdleAlert, info: ProcessInfo, notebook: vscode.NotebookDocument | undefined): Promise<void> {
    const kill = this.deps.kill ?? ((pid: number, signal: NodeJS.Signals) => process.kill(pid, signal));
    switch (action) {
      case 'Reveal':
        if (notebook) await vscode.window.showNotebookDocument(notebook);
        else this.deps.notifier.log.show(true);
        return;
      case 'Interrupt':
        if (info.own) kill(alert.pid, 'SIGINT');
        return;
      case 'Restart Kernel': {
        const commands = await vscode.commands.getCommands(true);
        if (notebook && commands.includes('jupyter.restartkernel')) await vscode.commands.executeCommand('jupyter.restartkernel', notebook.uri);
        else this.deps.notifier.log.warn(`no kernel restart command is available for PID ${alert.pid}; interrupt or stop it instead`);
        return;
      }
      case 'Stop Process…': {
        if (!info.own) return;
        const confirm =
          this.deps.confirm ??
          ((m: string) => vscode.window.showWarningMessage(m, { modal: true }, 'Stop Process').then((a) => a === 'Stop Process'));
        if (await confirm(`Stop ${info.name ?? 'process'} (PID ${alert.pid})? Anything it holds in memory is lost.`)) kill(alert.pid, 'SIGTERM');
        return;
      }
      case 'Snooze 1 h':
        this.snooze(alert.pid);
        return;
      default:
        return;
    }
  }

  /** Silence `pid` for {@link SNOOZE_MS}, in every sampler's watchdog. */
  snooze(pid: number): void {
    for (const w of this.watchdogs.values()) w.dog.snooze(pid, w.lastMs + SNOOZE_MS);
    this.snoozedUntil.set(pid, Date.now() + SNOOZE_MS);
    this.recent.delete(pid);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
