import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineBatch, GpuEnergy } from '../sampler/engine';
import type { GpuInfo, GpuProcessUse, GpuSample, SampleBatch } from '../sampler/types';
import type { SamplerOptions } from '../sampler/workerSampler';
import { WorkerSampler } from '../sampler/workerSampler';
import type { MarkerEvent } from './markers';
import { MarkerScanner, MarkRecorder } from './markers';
import { StepPoints } from './stepPoints';
import type { ByteSink } from './output';
import { OutputRelay } from './output';
import { execBytesScript } from './commandLine';
import { descendsFrom, processTree, resolveExecutable, signalTree } from './processes';
import type { RunStore, RunWriter, StoredRun } from './store';
import { MinMaxView } from './minMaxView';
import type { RunFigures } from './summary';
import { SummaryAccumulator } from './summary';
import type { LaunchSpec, LiveStatus, RunMarker, RunStatus, RunSummary } from './types';
import type { Finding } from '../analysis/findings';
import { runWastedJ, toFindingSummary } from '../analysis/findings';
import type { LiveInput } from './liveFigures';
import { LiveModel } from './liveFigures';

/**
 * Everything the analysis needs about a finished run. The samples stay on disk: the analysis
 * streams them from the store (samples after `endMs` are the after-exit watch, for the leak check).
 */
export interface AnalysisInput {
  summary: RunSummary;
  gpus: GpuInfo[];
  runGpus: number[];
  endMs: number;
  /** The run's `samples.jsonl`, flushed before the analysis starts. */
  samplesFile: string;
}

/** Options of {@link RunSession.start} and {@link RunSession.replay}. */
export interface RunOptions {
  store: RunStore;
  sampler: SamplerOptions;
  /** Findings for the summary; runs after the process ends (errors are reported, not fatal). */
  analyze?: (input: AnalysisInput) => Promise<Finding[]> | Finding[];
  /** Thresholds for the live idle/starved timers (utilisation %). */
  live?: { starvedUtilPct?: number };
  /** Seconds between SIGINT, SIGTERM and SIGKILL when stopping (default 5). */
  stopGraceS?: number;
  /**
   * Keep sampling this long after the process exits (default 0), to see whether the GPU is left
   * holding memory (e.g. by a worker process that outlived the run). The run's energy and duration
   * still end at the exit: the energy counter is read there.
   */
  afterRunMs?: number;
  /** stdin of the child: `pipe` lets a pseudoterminal type into it. Default `ignore`. */
  stdin?: 'pipe' | 'ignore' | 'inherit';
}

type Listener<T extends unknown[]> = (...args: T) => void;

/**
 * Samples kept from the after-exit watch (for the leak check). The watch lasts at most a minute in
 * the extension (8 GPUs at 20 ms: 24,000); the cap only guards a CLI user's very long watch.
 */
const MAX_AFTER_EXIT_SAMPLES = 500_000;

/**
 * One monitored run: the sampler worker started first (its epoch is the run's t=0), then the
 * command, spawned without a shell in its own process group. Samples stream to listeners and to
 * the store; when the process exits the final energies are read and the summary is written.
 */
export class RunSession {
  readonly id: string;
  readonly startedAt: Date;
  private readonly outputListeners = new Set<Listener<[string, 'stdout' | 'stderr']>>();
  private readonly batchListeners = new Set<Listener<[SampleBatch]>>();
  private readonly endListeners = new Set<Listener<[RunSummary]>>();
  /** Min/max per time bucket, fixed size: what the panel draws of a live run. The store holds every sample. */
  readonly view: MinMaxView;
  /** Figures over the whole run, streamed (peaks, averages): nothing here grows with the run. */
  private readonly figures: SummaryAccumulator;
  /** Set at the exit when watching after it: later samples are not the run's. */
  private exitMs: number | undefined;
  private afterExitSamples = 0;
  private readonly latest = new Map<number, GpuSample>();
  private readonly liveModel = new LiveModel();
  /** The findings of the ended run, set before `done` resolves: every surface shows these, none re-analyses. */
  findings: readonly Finding[] = [];
  private energies: GpuEnergy[] = [];
  private elapsedMs = 0;
  /** performance.now() when `elapsedMs` was last set: the run's time between batches (about 1 s apart). */
  private elapsedAtPerfMs = performance.now();
  private readonly runPids = new Set<number>();
  /** PIDs seen on a GPU that are not the run's (other users, other jobs). */
  private readonly foreignPids = new Set<number>();
  private readonly seenOnGpu = new Set<number>();
  private readonly smShare = new Map<number, { run: number; all: number }>();
  private idleSinceMs: number | undefined;
  private starvedSinceMs: number | undefined;
  private stopRequested = false;
  private ended = false;
  private watchingAfterExit = false;
  private errors: Record<string, number> = {};
  private readonly unsupported = new Set<string>();
  private resolveDone!: (s: RunSummary) => void;
  /** Resolves with the summary once the run has ended and been stored. */
  readonly done: Promise<RunSummary>;
  private child: ChildProcess | undefined;
  private meta!: StoredRun;
  private readonly output = new OutputRelay();
  private readonly scanners = { stdout: new MarkerScanner(), stderr: new MarkerScanner() };
  private readonly marks: MarkRecorder;
  /** The markers as answered when the run ended (the recorder's own list until then). */
  private finalMarkers: RunMarker[] | undefined;
  private readonly stepPoints = new StepPoints();
  private tokens = 0;

  private constructor(
    readonly spec: LaunchSpec,
    private readonly sampler: WorkerSampler,
    private readonly writer: RunWriter,
    private readonly options: RunOptions,
    readonly replay: boolean,
    id: string,
  ) {
    this.id = id;
    this.startedAt = new Date();
    this.view = new MinMaxView(Math.max(1, options.sampler.intervalMs ?? 100));
    this.figures = new SummaryAccumulator(sampler.gpus);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.marks = new MarkRecorder({
      read: () => this.sampler.mark(),
      energyJ: ({ energies }) => {
        const counted = this.countedGpus();
        return energies.filter((e) => counted.has(e.gpu)).reduce((a, e) => a + e.energyMillijoules, 0) / 1000;
      },
      nowMs: () => performance.now(),
    });
    this.output.onText((text, stream) => {
      for (const e of this.scanners[stream].scan(text)) this.onMarker(e);
      this.writer.appendOutput(text);
      for (const l of this.outputListeners) l(text, stream);
    });
  }

  get gpus(): GpuInfo[] {
    return this.sampler.gpus;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** GPUs attributed to the run so far (see `RunSummary.attribution`). */
  runGpus(): { gpus: number[]; attribution: RunSummary['attribution'] } {
    if (this.replay) return { gpus: this.gpus.map((g) => g.index), attribution: 'processes' };
    if (this.seenOnGpu.size) return { gpus: [...this.seenOnGpu].sort((a, b) => a - b), attribution: 'processes' };
    const cvd = cudaVisibleGpus(this.spec.env?.CUDA_VISIBLE_DEVICES ?? process.env.CUDA_VISIBLE_DEVICES, this.gpus);
    if (cvd) return { gpus: cvd, attribution: 'cuda_visible_devices' };
    return { gpus: [], attribution: 'all' };
  }

  /**
   * Launch `spec` under monitoring. Rejects (with nothing stored) when the command does not exist
   * or NVML cannot be opened.
   */
  static async start(spec: LaunchSpec, options: RunOptions): Promise<RunSession> {
    const env = { ...process.env };
    // Python buffers stdout when it is not a TTY; the user expects live output.
    env.PYTHONUNBUFFERED ??= '1';
    for (const [k, v] of Object.entries(spec.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    // With exact bytes, sh finds the command (its name may not survive UTF-8 decoding).
    if (!spec.shell) {
      if (!spec.argvBytes) resolveExecutable(spec.command, spec.cwd, env);
    } else if (spec.args.length) throw new Error('a shell command line takes no separate arguments');
    const sampler = await WorkerSampler.start(options.sampler);
    const id = makeRunId(spec.name ?? runName(spec));
    const session = new RunSession(spec, sampler, createWriter(options.store, id, sampler), options, false, id);
    session.begin();
    let child: ChildProcess;
    try {
      const [command, args] = spec.argvBytes && !spec.shell ? ['/bin/sh', ['-c', execBytesScript(spec.argvBytes)]] : [spec.command, spec.args];
      child = spawn(command, args, {
        cwd: spec.cwd,
        env,
        shell: spec.shell ?? false,
        // Own process group, so stopping reaches every process the run started.
        detached: process.platform !== 'win32',
        stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      await session.finish(null, null, `spawn failed: ${(e as Error).message}`);
      throw e;
    }
    session.attachChild(child);
    return session;
  }

  /** Replay a recorded trace through the same pipeline (`joules demo`). */
  static async replay(tracePath: string, speed: number, options: RunOptions, name = 'demo: recorded H200 phased load'): Promise<RunSession> {
    const sampler = await WorkerSampler.start({ ...options.sampler, backend: { kind: 'replay', tracePath, speed } });
    const spec: LaunchSpec = { command: 'replay', args: [tracePath], cwd: process.cwd(), name };
    const id = makeRunId('demo');
    const session = new RunSession(spec, sampler, createWriter(options.store, id, sampler), options, true, id);
    session.begin();
    sampler.onReplayEnded(() => void session.finish(0, null));
    return session;
  }

  private begin(): void {
    this.meta = {
      schema: 1,
      id: this.id,
      name: this.spec.name ?? runName(this.spec),
      status: 'running',
      startedAt: this.startedAt.toISOString(),
      durationS: 0,
      exitCode: null,
      command: this.spec.shell ? [this.spec.command] : [this.spec.command, ...this.spec.args],
      cwd: this.spec.cwd,
      ...(this.spec.scriptPath ? { scriptPath: this.spec.scriptPath } : {}),
      energyJ: 0,
      energyMethod: this.gpus.every((g) => g.energyMethod === 'counter') ? 'counter' : 'integrated',
      avgPowerW: 0,
      peakPowerW: 0,
      gpus: [],
      attribution: 'all',
      ...(this.replay ? { replay: true } : {}),
      ...(this.sampler.ready.driverVersion ? { driverVersion: this.sampler.ready.driverVersion } : {}),
      ...(this.sampler.ready.nvmlVersion ? { nvmlVersion: this.sampler.ready.nvmlVersion } : {}),
      sampleIntervalMs: this.options.sampler.intervalMs ?? 100,
      ...(this.replay ? {} : { host: { cpuCount: os.availableParallelism(), gpuCount: this.gpus.length } }),
      gpuInfo: this.gpus,
      runGpus: [],
      monitorPid: process.pid,
      monitorHost: os.hostname(),
    };
    this.writer.writeMeta(this.meta);
    this.sampler.onBatch((batch, energies, elapsedMs) => this.handleBatch(batch, energies, elapsedMs));
    this.sampler.onError((message) => {
      const key = `sampler: ${message}`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    });
  }

  private attachChild(child: ChildProcess): void {
    this.child = child;
    if (child.pid) this.runPids.add(child.pid);
    this.output.attach('stdout', child.stdout);
    this.output.attach('stderr', child.stderr);
    let spawnError: string | undefined;
    child.once('error', (e) => {
      spawnError = e.message;
      // 'close' may never follow an error before spawn.
      if (!child.pid) void this.finish(127, null, `failed to start: ${e.message}`);
    });
    child.once('close', (code, signal) => void this.finish(code, signal, spawnError));
  }

  private onMarker(e: MarkerEvent): void {
    if (e.kind === 'mark') this.marks.mark(e.label);
    else if (e.kind === 'steps') this.stepPoints.add((this.elapsedMs + performance.now() - this.elapsedAtPerfMs) / 1000, e.count);
    else this.tokens += e.count;
  }

  private countedGpus(): Set<number> {
    const { gpus } = this.runGpus();
    return new Set(gpus.length ? gpus : this.gpus.map((g) => g.index));
  }

  /** Markers received so far. */
  runMarkers(): RunMarker[] {
    return [...this.marks.markers];
  }

  private handleBatch(batch: EngineBatch, energies: GpuEnergy[], elapsedMs: number): void {
    if (this.watchingAfterExit) {
      // After the exit: kept for the leak check and the store, not shown as the run's figures.
      this.ingest(batch);
      return;
    }
    if (this.ended) return;
    this.energies = energies;
    this.elapsedMs = elapsedMs;
    this.elapsedAtPerfMs = performance.now();
    this.ingest(batch);
    this.liveModel.observe(this.liveInput());
    const out: SampleBatch = { samples: batch.samples, powerPoints: batch.powerPoints, gaps: batch.gaps };
    for (const l of this.batchListeners) l(out);
  }

  private ingest(batch: EngineBatch): void {
    this.figures.noteCounted([...this.countedGpus()]);
    let afterExit = 0;
    for (const s of batch.samples) {
      if (this.exitMs !== undefined && s.tMs > this.exitMs) {
        // The after-exit watch: stored for the leak check, not part of the run's figures.
        afterExit++;
        continue;
      }
      this.figures.add(s);
      this.view.add(s);
      this.latest.set(s.gpu, s);
    }
    this.afterExitSamples += afterExit;
    for (const p of batch.powerPoints) if (this.exitMs === undefined || p.tMs <= this.exitMs) this.figures.addPowerPoint(p);
    for (const [k, v] of Object.entries(batch.errors)) this.errors[k] = (this.errors[k] ?? 0) + v;
    for (const n of batch.notices) this.unsupported.add(n);
    if (batch.processes && this.child?.pid) this.attribute(batch.processes);
    if (this.afterExitSamples <= MAX_AFTER_EXIT_SAMPLES) {
      this.writer.appendBatch(batch.samples, batch.powerPoints, batch.gaps);
      // The stored run's overview is written from this view and must agree with the samples file,
      // which keeps the after-exit watch: the view draws what the store holds.
      if (afterExit > 0) for (const s of batch.samples) if (s.tMs > this.exitMs!) this.view.add(s);
    }
    this.updateIdleTimers();
  }

  /** The run's samples file in the store (every sample; the analysis streams it). */
  get samplesFile(): string {
    return this.writer.samplesFile;
  }

  /** The live run as samples for drawing: min and max per bucket of {@link view} (bounded). */
  viewSamples(): GpuSample[] {
    return this.view.toSamples();
  }

  private attribute(procs: GpuProcessUse[]): void {
    // This runs on the owner's thread (the extension host): classify only PIDs not seen before,
    // each by its parent chain, rather than listing every process on the machine.
    const root = this.child!.pid!;
    for (const p of procs) {
      if (this.runPids.has(p.pid) || this.foreignPids.has(p.pid)) continue;
      if (descendsFrom(p.pid, root)) this.runPids.add(p.pid);
      else this.foreignPids.add(p.pid);
    }
    const byGpu = new Map<number, { run: number; all: number }>();
    for (const p of procs) {
      const mine = this.runPids.has(p.pid);
      if (mine) this.seenOnGpu.add(p.gpu);
      if (p.smUtilPct !== undefined) {
        const e = byGpu.get(p.gpu) ?? { run: 0, all: 0 };
        e.all += p.smUtilPct;
        if (mine) e.run += p.smUtilPct;
        byGpu.set(p.gpu, e);
      }
    }
    for (const [gpu, e] of byGpu) {
      const acc = this.smShare.get(gpu) ?? { run: 0, all: 0 };
      acc.run += e.run;
      acc.all += e.all;
      this.smShare.set(gpu, acc);
    }
  }

  private updateIdleTimers(): void {
    const { gpus } = this.runGpus();
    const run = (gpus.length ? gpus : this.gpus.map((g) => g.index)).map((g) => this.latest.get(g)).filter((s): s is GpuSample => !!s);
    if (!run.length) return;
    const t = run.reduce((a, s) => Math.max(a, s.tMs), 0);
    const starvedUtil = this.options.live?.starvedUtilPct ?? 30;
    const idle = run.every((s) => s.utilGpuPct === 0);
    const starved = !idle && run.every((s) => s.utilGpuPct !== undefined && s.utilGpuPct < starvedUtil);
    this.idleSinceMs = idle ? (this.idleSinceMs ?? t) : undefined;
    this.starvedSinceMs = starved ? (this.starvedSinceMs ?? t) : undefined;
  }

  /** Figures for the status bar, the panel and the CLI right now: the one live model (liveFigures.ts). */
  live(): LiveStatus {
    return this.liveModel.read(this.liveInput());
  }

  private liveInput(): LiveInput {
    return {
      runId: this.id,
      gpus: this.gpus,
      latest: this.latest,
      energies: this.energies,
      runGpus: this.runGpus().gpus,
      elapsedMs: this.elapsedMs,
      idleSinceMs: this.idleSinceMs,
      starvedSinceMs: this.starvedSinceMs,
    };
  }

  onOutput(listener: Listener<[string, 'stdout' | 'stderr']>): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  /** The run's output bytes as written, with backpressure (see {@link OutputRelay}). */
  onOutputBytes(sink: ByteSink): () => void {
    return this.output.onBytes(sink);
  }

  onBatch(listener: Listener<[SampleBatch]>): () => void {
    this.batchListeners.add(listener);
    return () => this.batchListeners.delete(listener);
  }

  onEnd(listener: Listener<[RunSummary]>): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Type into the run's stdin (when started with `stdin: 'pipe'`). */
  write(data: string): void {
    this.child?.stdin?.write(data);
  }

  /**
   * Stop the whole process tree: SIGINT (what Ctrl-C sends, so Python can clean up), then SIGTERM,
   * then SIGKILL, `stopGraceS` apart. Resolves when the run has ended.
   */
  async stop(): Promise<RunSummary> {
    if (this.replay) {
      this.stopRequested = true;
      void this.finish(null, 'SIGINT');
      return this.done;
    }
    const pid = this.child?.pid;
    if (!pid || this.ended) return this.done;
    this.stopRequested = true;
    const graceMs = (this.options.stopGraceS ?? 5) * 1000;
    const tree = (): number[] => (process.platform === 'linux' ? processTree(pid) : []);
    signalTree(pid, 'SIGINT', tree());
    const escalate = async (signal: NodeJS.Signals): Promise<void> => {
      const ended = await Promise.race([this.done.then(() => true), delay(graceMs).then(() => false)]);
      if (!ended) signalTree(pid, signal, tree());
    };
    await escalate('SIGTERM');
    await escalate('SIGKILL');
    return this.done;
  }

  /**
   * The end of a run. Every step that can fail (a marker, the final counter read, the sampler, the
   * figures, the analysis, the disk) is guarded on its own: the record always ends with a summary
   * and a final status, never `running`, and `errors` names what failed.
   */
  private async finish(exitCode: number | null, signal: NodeJS.Signals | null, error?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const failed = (what: string, e: unknown): void => {
      const key = `${what}: ${e instanceof Error ? e.message : String(e)}`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    };
    let final: { energies: GpuEnergy[]; elapsedMs: number } = { energies: this.energies, elapsedMs: this.elapsedMs };
    let summary: RunSummary | undefined;
    let runGpus: number[] = [];
    try {
      // Markers asked for before the exit are answered before the worker stops.
      this.finalMarkers = (await Promise.race([this.marks.flush(), delay(2000).then(() => undefined)])) ?? this.marks.markers;
      const watchMs = !this.replay && !this.stopRequested ? (this.options.afterRunMs ?? 0) : 0;
      let atExit: { energies: GpuEnergy[]; elapsedMs: number } | undefined;
      if (watchMs > 0) {
        // The window ends at the exit: read the counters there, then watch without counting.
        try {
          atExit = await Promise.race([this.sampler.mark(), delay(2000).then(() => undefined)]);
        } catch (e) {
          failed('final counter read', e);
        }
        if (atExit) {
          this.exitMs = atExit.elapsedMs;
          this.watchingAfterExit = true;
          await delay(watchMs);
          this.watchingAfterExit = false;
        }
      }
      try {
        const last = await this.sampler.finish();
        final = last;
        if (last.batch) this.ingest(last.batch);
      } catch (e) {
        failed('sampler', e);
      }
      // The summary covers the run alone; the store keeps the watched samples after `durationS`.
      if (atExit) final = { energies: atExit.energies, elapsedMs: atExit.elapsedMs };
      // Leftover members of the group (e.g. data-loader workers) go with the run when it was stopped.
      if (this.stopRequested && this.child?.pid) signalTree(this.child.pid, 'SIGKILL');
      const attributed = this.runGpus();
      runGpus = attributed.gpus;
      summary = this.summaryOf(this.figuresAt(final), exitCode, signal, attributed.attribution);
    } catch (e) {
      failed('end of run', e);
    }
    if (!summary) {
      // Last resort: the figures could not be computed, but the record still ends.
      const fallback: RunFigures = { durationS: final.elapsedMs / 1000, energyJ: 0, energyMethod: this.meta.energyMethod, avgPowerW: 0, peakPowerW: 0, gpus: [] };
      summary = this.summaryOf(fallback, exitCode, signal, this.meta.attribution);
    }
    if (error) summary.errors = { ...(summary.errors ?? {}), [error]: 1 };
    try {
      this.writer.flush();
      // Every sample is on disk now: what the panel draws of the stored run, from the view kept
      // all along, so opening the run reads this instead of streaming every sample (a cache,
      // rebuilt from the samples when missing). Before the analysis, which can take a minute.
      this.writer.writeOverview(this.id, this.view);
      // The record is final before the analysis starts (a day-long run's takes a minute): if the
      // editor dies meanwhile, the run keeps its summary; the findings are added after.
      if (this.options.analyze) this.writer.writeMeta({ ...this.meta, ...summary, runGpus });
    } catch (e) {
      summary.errors = { ...(summary.errors ?? {}), [`store: ${e instanceof Error ? e.message : String(e)}`]: 1 };
    }
    if (this.options.analyze) {
      try {
        const findings = await this.options.analyze({
          summary,
          gpus: this.gpus,
          runGpus: runGpus.length ? runGpus : this.gpus.map((g) => g.index),
          endMs: final.elapsedMs,
          samplesFile: this.writer.samplesFile,
        });
        this.findings = findings;
        summary.findings = findings.map(toFindingSummary);
        summary.wastedJ = runWastedJ(summary.findings);
      } catch (e) {
        summary.errors = { ...(summary.errors ?? {}), [`analysis: ${e instanceof Error ? e.message : String(e)}`]: 1 };
      }
    }
    this.meta = { ...this.meta, ...summary, runGpus };
    try {
      this.writer.writeMeta(this.meta);
    } catch (e) {
      summary.errors = { ...(summary.errors ?? {}), [`store: ${e instanceof Error ? e.message : String(e)}`]: 1 };
    }
    try {
      this.writer.close();
    } catch {
      // Already reported by the failed write above, or nothing left to lose.
    }
    for (const l of this.endListeners) {
      try {
        l(summary);
      } catch {
        // A listener's failure is its own; the run has ended either way.
      }
    }
    this.resolveDone(summary);
  }

  private figuresAt(final: { energies: GpuEnergy[]; elapsedMs: number }): RunFigures {
    const smSharePct = new Map<number, number>();
    for (const [gpu, e] of this.smShare) if (e.all > 0 && e.run < e.all) smSharePct.set(gpu, (100 * e.run) / e.all);
    return this.figures.result({
      gpus: this.gpus,
      energiesMj: new Map(final.energies.map((e) => [e.gpu, e.energyMillijoules])),
      accounts: new Map(final.energies.map((e) => [e.gpu, e])),
      runGpus: this.runGpus().gpus,
      durationMs: final.elapsedMs,
      smSharePct,
    });
  }

  private summaryOf(figures: RunFigures, exitCode: number | null, signal: NodeJS.Signals | null, attribution: RunSummary['attribution']): RunSummary {
    const markers = this.finalMarkers ?? this.marks.markers;
    const status: RunStatus = this.stopRequested ? 'stopped' : exitCode === 0 ? 'succeeded' : 'failed';
    const code = exitCode ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null);
    return {
      ...stripStored(this.meta),
      ...figures,
      status,
      exitCode: code,
      ...(signal ? { signal } : {}),
      attribution,
      ...(Object.keys(this.errors).length ? { errors: { ...this.errors } } : {}),
      ...(markers.length ? { markers: [...markers].sort((a, b) => a.tS - b.tS) } : {}),
      ...(this.stepPoints.steps ? { steps: this.stepPoints.steps, stepPoints: this.stepPoints.toArray(), jPerStep: figures.energyJ / this.stepPoints.steps } : {}),
      ...(this.tokens ? { tokens: this.tokens, jPerToken: figures.energyJ / this.tokens } : {}),
      ...(this.unsupported.size ? { unsupported: [...this.unsupported] } : {}),
      ...(this.sampler.ready.unavailableGpus ? { unavailableGpus: this.sampler.ready.unavailableGpus } : {}),
    };
  }

  /** Output tail kept in memory. */
  outputTail(): string {
    return this.writer.tail();
  }
}

/** The run's folder; when it cannot be made, the sampler worker goes too (or it keeps the process alive). */
function createWriter(store: RunStore, id: string, sampler: WorkerSampler): RunWriter {
  try {
    return store.create(id);
  } catch (e) {
    void sampler.terminate();
    throw e;
  }
}

function stripStored(m: StoredRun): RunSummary {
  const { gpuInfo: _g, runGpus: _r, monitorPid: _p, monitorHost: _h, ...summary } = m;
  return summary;
}

/** CUDA_VISIBLE_DEVICES → NVML indices: UUIDs (full or prefix) exactly; bare integers assume PCI order. */
export function cudaVisibleGpus(value: string | undefined, gpus: GpuInfo[]): number[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const out: number[] = [];
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    if (/^\d+$/.test(item)) {
      const g = gpus.find((x) => x.index === Number(item));
      if (g) out.push(g.index);
    } else {
      const g = gpus.find((x) => x.uuid === item || x.uuid.startsWith(item) || x.uuid === `GPU-${item}`);
      if (g) out.push(g.index);
    }
  }
  return out.length ? [...new Set(out)] : undefined;
}

function runName(spec: LaunchSpec): string {
  if (spec.scriptPath) return path.basename(spec.scriptPath);
  const script = spec.args.find((a) => /\.(py|sh|ipynb)$/.test(a));
  return script ? path.basename(script) : path.basename(spec.command.split(' ')[0] ?? spec.command);
}

function makeRunId(name: string): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  const slug = name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${stamp}-${slug}-${crypto.randomBytes(2).toString('hex')}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
