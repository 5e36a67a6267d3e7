import type { ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineBatch, GpuEnergy } from '../sampler/engine';
import type { GpuInfo, GpuSample, SampleBatch } from '../sampler/types';
import type { SamplerOptions } from '../sampler/workerSampler';
import { WorkerSampler } from '../sampler/workerSampler';
import { MAX_MARKERS, SessionMarkers } from './markers';
import type { ChannelEnergy } from './channel';
import { CHANNEL_ENV, RunChannel } from './channel';
import type { Disposable } from '../events';
import { Emitter } from '../events';
import type { ByteSink, OutputStreamName } from './output';
import { OutputRelay } from './output';
import { delay, killTree, signalTree, stopTree } from './processes';
import type { RunWriter } from './runWriter';
import type { RunStore, StoredRun } from './store';
import { MinMaxView } from './minMaxView';
import type { RunFigures } from './summary';
import { SummaryAccumulator } from './summary';
import type { LaunchSpec, LiveStatus, RunMarker, RunStatus, RunSummary } from './types';
import type { Finding } from '../analysis/findings';
import { LiveTracker } from './liveFigures';
import { RunAttribution } from './attribution';
import { closeRecord, createWriter, initialMeta, launchEnv, makeRunId, runName, spawnRun, stripStored } from './lifecycle';
import { watchExit } from './attach';
import { RankTracker } from './ranks';

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
  /**
   * The folder holding the `joules` Python package (the repository's `python/`): put first on the
   * run's PYTHONPATH (the user's own PYTHONPATH stays after it), so `import joules` works in runs
   * Joules launches without installing anything.
   */
  pythonPackageDir?: string;
}

/**
 * Samples kept from the after-exit watch (for the leak check). The watch lasts at most a minute in
 * the extension (8 GPUs at 20 ms: 24,000); the cap only guards a CLI user's very long watch.
 */
const MAX_AFTER_EXIT_SAMPLES = 500_000;

/**
 * One monitored run: the sampler worker started first (its epoch is the run's t=0), then the
 * command, spawned without a shell in its own process group. Samples stream to listeners and to
 * the store; when the process exits the final energies are read and the summary is written.
 *
 * Composes the run's parts: {@link SessionMarkers} (marker lines), {@link RunAttribution} (which
 * processes and GPUs are the run's), {@link LiveTracker} (live figures) and lifecycle.ts (launch
 * and the record); what stays here is the order of things from start to the guarded finish.
 */
export class RunSession {
  readonly id: string;
  readonly startedAt: Date;
  private readonly outputEvent = new Emitter<[string, OutputStreamName]>();
  private readonly batchEvent = new Emitter<[SampleBatch]>();
  /** Isolated: a listener's failure must not keep `done` from resolving. */
  private readonly endEvent = new Emitter<[RunSummary]>({ isolate: true });
  /** Min/max per time bucket, fixed size: what the panel draws of a live run. The store holds every sample. */
  readonly view: MinMaxView;
  /** Figures over the whole run, streamed (peaks, averages): nothing here grows with the run. */
  private readonly figures: SummaryAccumulator;
  /** Set at the exit when watching after it: later samples are not the run's. */
  private exitMs: number | undefined;
  private afterExitSamples = 0;
  private readonly liveState: LiveTracker;
  private readonly attribution: RunAttribution;
  /** The findings of the ended run, set before `done` resolves: every surface shows these, none re-analyses. */
  findings: readonly Finding[] = [];
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
  private readonly markers: SessionMarkers;
  /** The run's channel to the `joules` Python package (absent in a replay or when it could not open). */
  private channel: RunChannel | undefined;
  /** The last answered `joules.energy()` read, shared by requests within the counter's update period. */
  private energyRead: { atMs: number; answer: Promise<ChannelEnergy> } | undefined;
  /** Set by {@link RunSession.attach}: the process measured, which this session did not launch. */
  private attachedPid: number | undefined;
  /** Per-rank figures of a run across several GPUs (ranks.ts). */
  private readonly ranks = new RankTracker();
  private detached = false;

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
    this.liveState = new LiveTracker(id, sampler.gpus, options.live?.starvedUtilPct ?? 30);
    this.attribution = new RunAttribution({ gpus: sampler.gpus, replay, env: spec.env });
    this.markers = new SessionMarkers(
      {
        read: () => this.sampler.mark(),
        energyJ: ({ energies }) => this.countedEnergyJ(energies),
        nowMs: () => performance.now(),
      },
      () => this.liveState.nowS(),
    );
    this.output.onMarkerLine((line) => this.markers.markerLine(line));
    this.output.onText((text, stream) => {
      this.markers.output(text, stream);
      this.writer.appendOutput(text);
      this.outputEvent.fire(text, stream);
    });
  }

  get gpus(): GpuInfo[] {
    return this.sampler.gpus;
  }

  /** Energy of the GPUs that count for the run, in J, from a counter read. */
  private countedEnergyJ(energies: readonly GpuEnergy[]): number {
    const counted = this.attribution.countedGpus();
    return energies.filter((e) => counted.has(e.gpu)).reduce((a, e) => a + e.energyMillijoules, 0) / 1000;
  }

  /**
   * Opens the run's channel and puts its address (and the Python package) into the run's
   * environment. A channel that cannot open is an error of the run, not a reason to refuse it.
   */
  private async openChannel(env: NodeJS.ProcessEnv): Promise<void> {
    const dir = this.options.pythonPackageDir;
    // Prepended, never replacing: the user's own PYTHONPATH keeps working after it.
    if (dir) env.PYTHONPATH = env.PYTHONPATH ? `${dir}${path.delimiter}${env.PYTHONPATH}` : dir;
    try {
      this.channel = await RunChannel.open({
        step: (n, samples, tokens) => this.markers.step(n, samples, tokens),
        begin: (key, label) => this.markers.beginWindow(key, label),
        end: (key, closedAtRunEnd) => this.markers.endWindow(key, closedAtRunEnd),
        mark: (label) => this.markers.mark(label),
        energy: () => this.channelEnergy(),
      });
      env[CHANNEL_ENV] = this.channel.envValue;
    } catch (e) {
      const key = `channel: could not open (${(e as Error).message})`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    }
  }

  /** `joules.energy()`: a counter read, shared by the requests of one 100 ms (the counter's update period). */
  private channelEnergy(): Promise<ChannelEnergy> {
    const now = performance.now();
    if (this.energyRead && now - this.energyRead.atMs < 100) return this.energyRead.answer;
    const answer = this.sampler.mark().then(({ energies, elapsedMs }) => {
      const counted = this.attribution.countedGpus();
      const energyJ: Record<string, number> = {};
      for (const e of energies) if (counted.has(e.gpu)) energyJ[String(e.gpu)] = e.energyMillijoules / 1000;
      return { tS: elapsedMs / 1000, energyJ, totalJ: Object.values(energyJ).reduce((a, b) => a + b, 0) };
    });
    this.energyRead = { atMs: now, answer };
    return answer;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** GPUs attributed to the run so far (see `RunSummary.attribution`). */
  runGpus(): { gpus: number[]; attribution: RunSummary['attribution'] } {
    return this.attribution.runGpus();
  }

  /**
   * Launch `spec` under monitoring. Rejects (with nothing stored) when the command does not exist
   * or NVML cannot be opened.
   */
  static async start(spec: LaunchSpec, options: RunOptions): Promise<RunSession> {
    const env = launchEnv(spec);
    const sampler = await WorkerSampler.start(options.sampler);
    const id = makeRunId(spec.name ?? runName(spec));
    const session = new RunSession(spec, sampler, createWriter(options.store, id, sampler), options, false, id);
    session.begin();
    await session.openChannel(env);
    let child: ChildProcess;
    try {
      child = spawnRun(spec, env, options.stdin ?? 'ignore');
    } catch (e) {
      await session.finish(null, null, `spawn failed: ${(e as Error).message}`);
      throw e;
    }
    session.attachChild(child);
    return session;
  }

  /**
   * Measure a running process (and its descendants) that Joules did not launch, from now until it
   * exits or `stop()`, which detaches: the process is never signalled. Its exit code is not visible
   * to a non-parent, so the run ends `stopped`, with `attached` saying how.
   */
  static async attach(pid: number, spec: LaunchSpec, options: RunOptions, member?: (pid: number) => boolean): Promise<RunSession> {
    const sampler = await WorkerSampler.start(options.sampler);
    const id = makeRunId(spec.name ?? runName(spec));
    const session = new RunSession(spec, sampler, createWriter(options.store, id, sampler), options, false, id);
    session.attachedPid = pid;
    session.attribution.addRoot(pid);
    // A container: its processes by cgroup, `docker exec` ones included (containers.ts).
    if (member) session.attribution.setMembership(member);
    session.begin();
    const unwatch = watchExit(pid, () => void session.finish(null, null));
    void session.done.then(unwatch);
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
    this.meta = initialMeta({
      id: this.id,
      spec: this.spec,
      startedAt: this.startedAt,
      replay: this.replay,
      sampler: this.sampler,
      intervalMs: this.options.sampler.intervalMs ?? 100,
    });
    this.writer.writeMeta(this.meta);
    this.sampler.onBatch((batch, energies, elapsedMs) => this.handleBatch(batch, energies, elapsedMs));
    this.sampler.onError((message) => {
      const key = `sampler: ${message}`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    });
  }

  private attachChild(child: ChildProcess): void {
    this.child = child;
    if (child.pid) this.attribution.addRoot(child.pid);
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

  /** Markers received so far. */
  runMarkers(): RunMarker[] {
    return this.markers.list();
  }

  private handleBatch(batch: EngineBatch, energies: GpuEnergy[], elapsedMs: number): void {
    if (this.watchingAfterExit) {
      // After the exit: kept for the leak check and the store, not shown as the run's figures.
      this.ingest(batch);
      return;
    }
    if (this.ended) return;
    this.liveState.tick(energies, elapsedMs);
    // The energy over time, for the steady-state J/token (work.ts).
    this.markers.work.energy.add(elapsedMs / 1000, this.countedEnergyJ(energies));
    this.ingest(batch);
    this.liveState.observe(this.attribution.runGpus().gpus);
    const out: SampleBatch = { samples: batch.samples, powerPoints: batch.powerPoints, gaps: batch.gaps };
    this.batchEvent.fire(out);
  }

  private ingest(batch: EngineBatch): void {
    this.figures.noteCounted([...this.attribution.countedGpus()]);
    let afterExit = 0;
    for (const s of batch.samples) {
      if (this.exitMs !== undefined && s.tMs > this.exitMs) {
        // The after-exit watch: stored for the leak check, not part of the run's figures.
        afterExit++;
        continue;
      }
      this.figures.add(s);
      this.view.add(s);
      this.liveState.latest.set(s.gpu, s);
    }
    this.afterExitSamples += afterExit;
    for (const p of batch.powerPoints) if (this.exitMs === undefined || p.tMs <= this.exitMs) this.figures.addPowerPoint(p);
    for (const [k, v] of Object.entries(batch.errors)) this.errors[k] = (this.errors[k] ?? 0) + v;
    for (const n of batch.notices) this.unsupported.add(n);
    const rootPid = this.child?.pid ?? this.attachedPid;
    if (batch.processes && rootPid) {
      this.attribution.observe(batch.processes, rootPid);
      this.ranks.observe(batch.processes, (pid) => this.attribution.isRunPid(pid));
    }
    if (this.afterExitSamples <= MAX_AFTER_EXIT_SAMPLES) {
      this.writer.appendBatch(batch.samples, batch.powerPoints, batch.gaps);
      // The stored run's overview is written from this view and must agree with the samples file,
      // which keeps the after-exit watch: the view draws what the store holds.
      if (afterExit > 0) for (const s of batch.samples) if (s.tMs > this.exitMs!) this.view.add(s);
    }
    this.liveState.updateTimers(this.attribution.runGpus().gpus);
  }

  /** The run's samples file in the store (every sample; the analysis streams it). */
  get samplesFile(): string {
    return this.writer.samplesFile;
  }

  /** The live run as samples for drawing: min and max per bucket of {@link view} (bounded). */
  viewSamples(): GpuSample[] {
    return this.view.toSamples();
  }

  /** Figures for the status bar, the panel and the CLI right now: the one live model (liveFigures.ts). */
  live(): LiveStatus {
    const live = this.liveState.read(this.attribution.runGpus().gpus);
    const work = this.markers.work.live();
    return work ? { ...live, work } : live;
  }

  /** The run's output as text, decoded across chunk edges. */
  onOutput(listener: (text: string, stream: OutputStreamName) => void): Disposable {
    return this.outputEvent.subscribe(listener);
  }

  /** The run's output bytes as written, with backpressure (see {@link OutputRelay}). */
  onOutputBytes(sink: ByteSink): Disposable {
    return this.output.onBytes(sink);
  }

  /** Each batch of samples of the run (about one a second), after the live figures took it in. */
  onBatch(listener: (batch: SampleBatch) => void): Disposable {
    return this.batchEvent.subscribe(listener);
  }

  /** The summary, once the run has ended and been stored (just before `done` resolves). */
  onEnd(listener: (summary: RunSummary) => void): Disposable {
    return this.endEvent.subscribe(listener);
  }

  /** Type into the run's stdin (when started with `stdin: 'pipe'`). */
  write(data: string): void {
    this.child?.stdin?.write(data);
  }

  /**
   * Stop the whole process tree: SIGINT (what Ctrl-C sends, so Python can clean up), then SIGTERM,
   * then SIGKILL, `stopGraceS` apart. `force` (a second Ctrl-C): SIGKILL the tree at once, also
   * after the exit, when what the run left behind may still hold a GPU. The one stop path of the
   * CLI and the editor. Resolves when the run has ended.
   */
  async stop({ force = false }: { force?: boolean } = {}): Promise<RunSummary> {
    if (this.replay) {
      this.stopRequested = true;
      void this.finish(null, 'SIGINT');
      return this.done;
    }
    if (this.attachedPid !== undefined) {
      // Detach: the measurement ends, the process runs on.
      if (!this.ended) this.detached = true;
      void this.finish(null, null);
      return this.done;
    }
    const pid = this.child?.pid;
    if (force && pid) killTree(pid);
    if (!pid || this.ended) return this.done;
    this.stopRequested = true;
    await stopTree(pid, { graceMs: (this.options.stopGraceS ?? 5) * 1000, ended: this.done });
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
    let final: { energies: GpuEnergy[]; elapsedMs: number } = { energies: this.liveState.energies, elapsedMs: this.liveState.elapsedMs };
    let summary: RunSummary | undefined;
    let runGpus: number[] = [];
    try {
      // Windows the program left open end here (labelled so), before the last marks are answered.
      this.channel?.close();
      for (const [k, v] of Object.entries(this.channel?.problems ?? {})) this.errors[`channel: ${k}`] = v;
      // Markers asked for before the exit are answered before the worker stops.
      await this.markers.settle(2000);
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
      const attributed = this.attribution.runGpus();
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
    if (this.markers.droppedMarks) summary.errors = { ...(summary.errors ?? {}), [`markers: not kept beyond the first ${MAX_MARKERS}`]: this.markers.droppedMarks };
    const record = await closeRecord({
      writer: this.writer,
      view: this.view,
      meta: this.meta,
      summary,
      runGpus,
      gpus: this.gpus,
      endMs: final.elapsedMs,
      analyze: this.options.analyze,
    });
    if (record.findings) this.findings = record.findings;
    this.meta = record.meta;
    this.endEvent.fire(summary);
    this.resolveDone(summary);
  }

  private figuresAt(final: { energies: GpuEnergy[]; elapsedMs: number }): RunFigures {
    return this.figures.result({
      gpus: this.gpus,
      energiesMj: new Map(final.energies.map((e) => [e.gpu, e.energyMillijoules])),
      accounts: new Map(final.energies.map((e) => [e.gpu, e])),
      runGpus: this.attribution.runGpus().gpus,
      durationMs: final.elapsedMs,
      smSharePct: this.attribution.smSharePct(),
    });
  }

  private summaryOf(figures: RunFigures, exitCode: number | null, signal: NodeJS.Signals | null, attribution: RunSummary['attribution']): RunSummary {
    const status: RunStatus = this.stopRequested || this.attachedPid !== undefined ? 'stopped' : exitCode === 0 ? 'succeeded' : 'failed';
    const code = exitCode ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null);
    return {
      ...stripStored(this.meta),
      ...figures,
      status,
      exitCode: code,
      ...(signal ? { signal } : {}),
      attribution,
      ...(Object.keys(this.errors).length ? { errors: { ...this.errors } } : {}),
      ...this.markers.summaryFields(figures.energyJ, figures.durationS),
      ...(this.unsupported.size ? { unsupported: [...this.unsupported] } : {}),
      ...(this.sampler.ready.unavailableGpus ? { unavailableGpus: this.sampler.ready.unavailableGpus } : {}),
      ...this.rankFields(figures),
      ...(this.attachedPid !== undefined ? { attached: { pid: this.attachedPid, end: this.detached ? 'detached' : 'exited' } } : {}),
    };
  }

  private rankFields(figures: RunFigures): Pick<RunSummary, 'ranks'> {
    const ranks = this.ranks.figures(new Map(figures.gpus.map((g) => [g.index, g.energyJ])));
    return ranks ? { ranks } : {};
  }

  /** Output tail kept in memory. */
  outputTail(): string {
    return this.writer.tail();
  }
}
