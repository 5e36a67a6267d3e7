import * as vscode from 'vscode';
import type { Finding } from '../core/analysis/findings';
import type { RunOptions } from '../core/runs/runSession';
import { RunSession } from '../core/runs/runSession';
import type { StoredRun } from '../core/runs/store';
import { RunStore } from '../core/runs/store';
import { inContainer } from '../core/runs/containers';
import type { RunSummary } from '../core/runs/types';
import type { AmbientMeter } from './ambientMeter';
import type { Config } from './config';
import type { GpuAvailability } from './gpuAvailability';
import { GpuUnavailableError, isGpuUnavailable } from './gpuAvailability';
import type { LaunchRequest } from './launch';
import { launchName, parseStoredLaunch } from './launch';
import type { Notifier } from './notifier';
import { RunTerminal } from './runTerminal';

/** A run being measured. */
export interface ActiveRun {
  readonly id: string;
  readonly request: LaunchRequest;
  readonly session: RunSession;
  readonly terminal: RunTerminal;
}

/** A run that ended in this window (kept for the summary notification and the tests). */
export interface FinishedRun {
  readonly id: string;
  readonly request: LaunchRequest;
  readonly summary: RunSummary;
  /** What the run's terminal showed, summary line included. */
  readonly transcript: string;
}

/** The workspace does not allow this launch (Restricted Mode). */
export class RestrictedModeError extends Error {
  override readonly name = 'RestrictedModeError';
}

/** One run at a time (see RunManager). */
export class RunInProgressError extends Error {
  override readonly name = 'RunInProgressError';
}

export interface RunManagerOptions {
  config: Config;
  notifier: Notifier;
  ambient: AmbientMeter;
  availability: GpuAvailability;
  /** workspaceState: the last launch is per workspace. */
  state: vscode.Memento;
  /** dist/samplerWorker.js of this extension. */
  workerFile: string;
  /** The extension's `python/` folder (the `joules` package), put on each run's PYTHONPATH. */
  pythonPackageDir?: string;
  /** History folder when `joules.history.directory` is empty (globalStorage/runs). */
  defaultHistoryDir: string;
  /** Findings for each run's summary (the diagnostics work plugs in here). */
  analyze?: RunOptions['analyze'];
}

const LAST_LAUNCH_KEY = 'joules.lastLaunch';
const KEPT_FINISHED = 20;

/**
 * Starts, follows and stops monitored runs, and owns the run history on disk.
 *
 * One run at a time: two runs on the same machine usually share GPUs, and each would then count
 * the other's energy (attribution by process only helps once both are seen on different GPUs);
 * the wattmeter and the panel also show one live run. A second start is refused with a message
 * that names the running one.
 */
export class RunManager implements vscode.Disposable {
  private activeRun: ActiveRun | undefined;
  private starting = false;
  private disposed = false;
  private storeInstance: RunStore;
  private readonly finishedRuns: FinishedRun[] = [];
  private previousTerminal: { pty: RunTerminal; terminal: vscode.Terminal } | undefined;
  private resolveReady!: () => void;
  /** Resolves once the history has been recovered and pruned after activation. */
  readonly ready: Promise<void>;
  private readonly startEmitter = new vscode.EventEmitter<ActiveRun>();
  private readonly endEmitter = new vscode.EventEmitter<{ run: ActiveRun; summary: RunSummary; findings: readonly Finding[] }>();
  private readonly historyEmitter = new vscode.EventEmitter<void>();
  /** A run started (its sampler is up and its process spawned). */
  readonly onDidStart = this.startEmitter.event;
  /** A run ended and its record is stored; carries the run's findings (analysed once, in the run). */
  readonly onDidEnd = this.endEmitter.event;
  /** The stored history changed (run added, ended, deleted, pruned, recovered, folder changed). */
  readonly onDidChangeHistory = this.historyEmitter.event;

  constructor(private readonly o: RunManagerOptions) {
    this.storeInstance = this.openStore(this.historyDir());
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /**
   * Work kept out of activate(): mark runs left `running` by a dead editor as interrupted, apply
   * retention. Called once, after activation has returned.
   */
  async initialize(): Promise<void> {
    try {
      await this.recover();
      this.prune();
    } finally {
      this.resolveReady();
    }
  }

  get store(): RunStore {
    return this.storeInstance;
  }

  get current(): ActiveRun | undefined {
    return this.activeRun;
  }

  /** Runs that ended in this window, newest first. */
  get finished(): readonly FinishedRun[] {
    return this.finishedRuns;
  }

  get lastLaunch(): LaunchRequest | undefined {
    return parseStoredLaunch(this.o.state.get<unknown>(LAST_LAUNCH_KEY));
  }

  /** Point the history at the folder the settings name now, recovering what it holds. */
  /** A record was written to the history by someone else (a notebook session): the views reload. */
  historyWritten(): void {
    this.historyEmitter.fire();
    this.prune();
  }

  historyFolderChanged(): void {
    const dir = this.historyDir();
    if (dir === this.storeInstance.root) return;
    this.storeInstance = this.openStore(dir);
    // Recovery streams the runs' samples: prune after it, so it never deletes what is being read.
    void this.recover().then(() => {
      this.prune();
      this.historyEmitter.fire();
    });
    this.historyEmitter.fire();
  }

  /**
   * The history folder, with failed writes (a full disk) shown once per folder: the run goes on in
   * memory and its summary still appears, but the user must know the record may be incomplete.
   */
  private openStore(dir: string): RunStore {
    let warned = false;
    return new RunStore(dir, {
      onWriteError: (message, file) => {
        if (warned) {
          this.o.notifier.log.warn(`run history: cannot write ${file}: ${message}`);
          return;
        }
        warned = true;
        void this.o.notifier.warn(`Joules cannot write the run history (${message}, ${file}). Measuring goes on; the record may be incomplete.`);
      },
    });
  }

  /** Mark runs whose monitor died as interrupted (streamed, off the main thread's long blocks); returns them. */
  async recover(): Promise<StoredRun[]> {
    const store = this.storeInstance;
    try {
      const { recovered, failed } = await store.recoverInterruptedDetailed();
      for (const f of failed) this.o.notifier.log.warn(`run ${f.id} in ${store.root} could not be recovered (left as it was): ${f.error}`);
      if (recovered.length) {
        this.o.notifier.log.info(`marked ${recovered.length} unfinished run(s) in ${store.root} as interrupted: ${recovered.map((r) => r.id).join(', ')}`);
        this.historyEmitter.fire();
      }
      return recovered;
    } catch (e) {
      this.o.notifier.log.error(`recovering interrupted runs in ${store.root} failed: ${(e as Error).message}`);
      return [];
    }
  }

  /** Apply `joules.history.maxRuns` / `maxSizeMB`. */
  prune(): void {
    try {
      const deleted = this.storeInstance.prune({ maxRuns: this.o.config.historyMaxRuns, maxBytes: this.o.config.historyMaxBytes });
      if (deleted.length) {
        this.o.notifier.log.info(`retention: deleted ${deleted.length} old run(s)`);
        this.historyEmitter.fire();
      }
    } catch (e) {
      this.o.notifier.log.error(`retention failed in ${this.storeInstance.root}: ${(e as Error).message}`);
    }
  }

  /** Stored runs, newest first. */
  async list(): Promise<StoredRun[]> {
    await this.ready;
    return this.storeInstance.list();
  }

  /**
   * Start a run and show its terminal. `pty`: the terminal a task already opened. Rejects with
   * RestrictedModeError, RunInProgressError, GpuUnavailableError, CommandNotFoundError or the
   * launcher's error; nothing is stored then.
   */
  async start(request: LaunchRequest, pty?: RunTerminal): Promise<ActiveRun> {
    if (request.origin === 'workspace' && !vscode.workspace.isTrusted) {
      throw new RestrictedModeError(
        'this workspace is in Restricted Mode: Joules does not start runs defined by the workspace (tasks, workspace settings). Trust the workspace to run it.',
      );
    }
    if (this.activeRun || this.starting) {
      throw new RunInProgressError(`a run is already being measured (${this.activeRun ? launchName(this.activeRun.request) : 'starting'}); stop it first`);
    }
    this.starting = true;
    try {
      await this.ready;
      await this.o.ambient.pause();
      let session: RunSession;
      try {
        session = await this.launch(request);
      } catch (e) {
        void this.o.ambient.resume();
        if (isGpuUnavailable(e)) {
          const detail = (e as Error).message;
          this.o.availability.unavailable(detail, 'run');
          throw new GpuUnavailableError(detail);
        }
        throw e;
      }
      if (request.kind !== 'replay') this.o.availability.available(session.gpus.length, 'run');
      const terminal = pty ?? this.openTerminal(request);
      const run: ActiveRun = { id: session.id, request, session, terminal };
      this.activeRun = run;
      if (request.kind === 'replay') {
        terminal.write('\x1b[1mJoules: replay of a recorded trace\x1b[0m, not a measurement of this machine (one NVIDIA H200, driver 580.159.04, 30 s phased PyTorch load).\r\n');
      } else if (request.kind === 'attach') {
        terminal.write(`\x1b[1mJoules: attached to process ${request.pid}\x1b[0m (${request.label}): measured from now on; Stop detaches and leaves it running.\r\n`);
      } else if (session.gpus.length === 0) {
        terminal.write('\x1b[33mJoules: NVML lists no GPU; nothing is measured.\x1b[0m\r\n');
      }
      terminal.attach(session);
      // An attach cannot be re-run (the process is its own): Re-run keeps the last launch.
      if (request.kind !== 'attach') void this.o.state.update(LAST_LAUNCH_KEY, request);
      void vscode.commands.executeCommand('setContext', 'joules.running', true);
      void session.done.then((summary) => this.ended(run, summary));
      this.startEmitter.fire(run);
      this.historyEmitter.fire();
      return run;
    } finally {
      this.starting = false;
    }
  }

  /**
   * Stop the current run (or the one with `runId`): SIGINT, then SIGTERM and SIGKILL after the
   * grace period, to the whole process group. `force`: SIGKILL the tree now.
   */
  async stop(runId?: string, force = false): Promise<RunSummary | undefined> {
    const run = this.activeRun;
    if (!run || (runId !== undefined && run.id !== runId)) return undefined;
    return run.session.stop({ force });
  }

  /** Delete stored runs (not the running one); returns the ids deleted. */
  delete(ids: readonly string[]): string[] {
    const deleted: string[] = [];
    for (const id of ids) {
      if (id === this.activeRun?.id) continue;
      if (this.storeInstance.delete(id)) deleted.push(id);
    }
    if (deleted.length) this.historyEmitter.fire();
    return deleted;
  }

  /** Resolves when the run with this id has ended (undefined if it is not running). */
  async waitForEnd(runId: string): Promise<RunSummary | undefined> {
    const done = this.finishedRuns.find((r) => r.id === runId);
    if (done) return done.summary;
    if (this.activeRun?.id !== runId) return undefined;
    const run = this.activeRun;
    await run.session.done;
    // `ended` runs in the same microtask turn as `done`; wait for it to have published the run.
    await new Promise((r) => setTimeout(r, 0));
    return this.finishedRuns.find((r) => r.id === runId)?.summary ?? (await run.session.done);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const run = this.activeRun;
    if (run) {
      // The editor is closing: the run would otherwise outlive it in its own process group.
      const stopped = run.session.stop();
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 3000))]);
    }
    this.startEmitter.dispose();
    this.endEmitter.dispose();
    this.historyEmitter.dispose();
  }

  private historyDir(): string {
    return this.o.config.historyDirectory ?? this.o.defaultHistoryDir;
  }

  private options(): RunOptions {
    return {
      store: this.storeInstance,
      sampler: {
        backend: { kind: 'nvml' },
        intervalMs: this.o.config.sampleIntervalMs,
        powerSamplesPerSecond: this.o.config.powerSamplesPerSecond,
        workerFile: this.o.workerFile,
      },
      stdin: 'pipe',
      ...(this.o.pythonPackageDir ? { pythonPackageDir: this.o.pythonPackageDir } : {}),
      stopGraceS: this.o.config.stopGraceS,
      afterRunMs: this.o.config.watchAfterExitS * 1000,
      live: { starvedUtilPct: this.o.config.starvedUtilPct },
      ...(this.o.analyze ? { analyze: this.o.analyze } : {}),
    };
  }

  private async launch(request: LaunchRequest): Promise<RunSession> {
    const options = this.options();
    if (request.kind === 'replay') {
      return RunSession.replay(request.tracePath, request.speed, {
        ...options,
        sampler: { ...options.sampler, backend: { kind: 'replay', tracePath: request.tracePath, speed: request.speed } },
      });
    }
    // Stopping an attached run detaches: the process runs on (RunSession.stop).
    if (request.kind === 'attach') return RunSession.attach(request.pid, request.spec, options, request.container ? inContainer(request.container) : undefined);
    return RunSession.start(request.spec, options);
  }

  private openTerminal(request: LaunchRequest): RunTerminal {
    // The previous run's terminal stays until the next run starts, so its output can still be read.
    if (this.previousTerminal?.pty.hasEnded) this.previousTerminal.terminal.dispose();
    const pty = new RunTerminal({ stop: (force) => void this.stop(undefined, force) }, false);
    const terminal = vscode.window.createTerminal({ name: `Joules: ${launchName(request)}`, pty, iconPath: new vscode.ThemeIcon('zap'), isTransient: true });
    terminal.show(true);
    this.previousTerminal = { pty, terminal };
    return pty;
  }

  private ended(run: ActiveRun, summary: RunSummary): void {
    run.terminal.finish(summary);
    this.finishedRuns.unshift({ id: run.id, request: run.request, summary, transcript: run.terminal.transcript });
    this.finishedRuns.length = Math.min(this.finishedRuns.length, KEPT_FINISHED);
    this.activeRun = undefined;
    void vscode.commands.executeCommand('setContext', 'joules.running', false);
    this.prune();
    void this.o.ambient.resume();
    this.endEmitter.fire({ run, summary, findings: run.session.findings });
    this.historyEmitter.fire();
  }
}
