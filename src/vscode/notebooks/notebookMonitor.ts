import * as vscode from 'vscode';
import type { Finding } from '../../core/analysis/findings';
import type { Disposable as CoreDisposable } from '../../core/events';
import { Emitter } from '../../core/events';
import type { MeasuredCell } from '../../core/notebooks/cellFindings';
import type { CellEnergy, CellExecution } from '../../core/notebooks/cellMeter';
import { CellMeter } from '../../core/notebooks/cellMeter';
import { EnergyTimeline } from '../../core/notebooks/energyTimeline';
import type { KernelOnGpu } from '../../core/notebooks/kernelProcesses';
import { KernelFinder, kernelsOfNotebook } from '../../core/notebooks/kernelProcesses';
import { NotebookRecord } from '../../core/notebooks/notebookRecord';
import type { AnalysisInput } from '../../core/runs/runSession';
import type { RunStore } from '../../core/runs/store';
import type { RunSummary } from '../../core/runs/types';
import type { EngineBatch } from '../../core/sampler/engine';
import { WorkerSampler } from '../../core/sampler/workerSampler';
import { isGpuUnavailable } from '../gpuAvailability';

/** Tick of the notebook sampler: a cell of a few hundred ms still spans several samples. */
export const NOTEBOOK_INTERVAL_MS = 100;

/** Cells shorter than this are not judged by the telemetry detectors (too few samples to tell idle from busy). */
export const CELL_FINDINGS_MIN_MS = 5_000;

/** What a cell shows: its figures, or why it has none. */
export type CellResult = { kind: 'measured'; cell: CellEnergy } | { kind: 'unmeasured'; reason: string };

/** A notebook's session so far, for its status-bar item. */
export interface NotebookTotals {
  notebook: string;
  energyJ: number;
  cells: number;
  /** Seconds the counted GPUs read idle (utilization 0 %) since the session started, and their energy. */
  idleS: number;
  attribution: 'kernel' | 'whole-gpu';
}

export interface NotebookMonitorDeps {
  workerFile: string;
  store: () => RunStore;
  /** On: sample while a notebook is open (the setting). */
  enabled: () => boolean;
  log: Pick<vscode.LogOutputChannel, 'info' | 'warn'>;
  /** PIDs of runs Joules launched: their trees are not kernels. */
  runPids: () => readonly number[];
  analyze?: (input: AnalysisInput) => Promise<Finding[]>;
  /** A notebook session was written to the history. */
  onRecorded?: (summary: RunSummary, findings: readonly Finding[] | undefined) => void;
}

interface Session {
  uri: string;
  path: string;
  record: NotebookRecord | undefined;
  /** GPUs this notebook's kernel has been seen on (sticky, like a run's). */
  kernelGpus: Set<number>;
  kernelPids: Set<number>;
  startMs: number;
  energyJ: number;
  cells: number;
  idleMs: number;
}

/**
 * Measures the cells of the notebooks open in the editor, whatever controller runs them. A sampler
 * worker runs while at least one notebook is open and the setting is on; each finished cell
 * (execution summary with start and end) gets its GPU energy from the sampled timeline, and each
 * notebook's session is written to the history as a run of kind `notebook` when it is closed.
 */
export class NotebookMonitor implements vscode.Disposable {
  private sampler: WorkerSampler | undefined;
  private starting: Promise<void> | undefined;
  private timeline: EnergyTimeline | undefined;
  private meter: CellMeter | undefined;
  private epochWallMs = 0;
  private kernels: KernelFinder;
  private readonly sessions = new Map<string, Session>();
  private readonly results = new Map<string, CellResult>();
  /**
   * The last execution counted per cell (`start-end`): the notebook reports a finished cell's
   * summary again on later changes (outputs, metadata, save), and each must count once.
   */
  private readonly counted = new Map<string, string>();
  /** Cells that ended while the sampler was starting. */
  private queued: CellExecution[] = [];
  private readonly changed = new Emitter<[]>();
  private readonly batches = new Emitter<[EngineBatch]>();
  private readonly measuredCells = new Emitter<[CellEnergy, MeasuredCell | undefined]>();
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  private stopping: Promise<void> = Promise.resolve();

  constructor(private readonly deps: NotebookMonitorDeps) {
    this.kernels = new KernelFinder(process.pid, deps.runPids);
    this.disposables.push(
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.opened(nb)),
      vscode.workspace.onDidCloseNotebookDocument((nb) => void this.closed(nb)),
      vscode.workspace.onDidChangeNotebookDocument((e) => this.documentChanged(e)),
    );
    for (const nb of vscode.workspace.notebookDocuments) this.opened(nb);
  }

  /** Cell items or the notebook's total changed. */
  onDidChange(listener: () => void): CoreDisposable {
    return this.changed.subscribe(listener);
  }

  /**
   * A cell got its figures; with its samples when it ran long enough for the detectors to judge it
   * ({@link CELL_FINDINGS_MIN_MS}) and recently enough to be in the fine history.
   */
  onCellMeasured(listener: (cell: CellEnergy, measured: MeasuredCell | undefined) => void): CoreDisposable {
    return this.measuredCells.subscribe(listener);
  }

  /** Every sampler batch (the watchdog reads them while the notebook sampler runs). */
  onBatch(listener: (batch: EngineBatch) => void): CoreDisposable {
    return this.batches.subscribe(listener);
  }

  get sampling(): boolean {
    return this.sampler !== undefined;
  }

  /** The sampler's wall-clock epoch (ms since the Unix epoch), for turning its times into dates. */
  get epochMs(): number {
    return this.epochWallMs;
  }

  result(cell: vscode.NotebookCell): CellResult | undefined {
    return this.results.get(cell.document.uri.toString());
  }

  totals(notebook: vscode.NotebookDocument): NotebookTotals | undefined {
    const s = this.sessions.get(notebook.uri.toString());
    if (!s || !this.sampler) return undefined;
    return { notebook: s.uri, energyJ: s.energyJ, cells: s.cells, idleS: s.idleMs / 1000, attribution: s.kernelGpus.size ? 'kernel' : 'whole-gpu' };
  }

  /** Kernels seen on GPUs, with the notebook they belong to (for the watchdog's alert). */
  notebookOfPid(pid: number): vscode.NotebookDocument | undefined {
    for (const s of this.sessions.values()) {
      if (s.kernelPids.has(pid)) return vscode.workspace.notebookDocuments.find((n) => n.uri.toString() === s.uri);
    }
    return undefined;
  }

  /** The setting changed: start or stop. */
  reconcile(): void {
    if (this.deps.enabled()) {
      for (const nb of vscode.workspace.notebookDocuments) this.opened(nb);
    } else {
      void this.stopAll();
    }
  }

  private opened(nb: vscode.NotebookDocument): void {
    if (this.disposed || !this.deps.enabled() || nb.uri.scheme === 'vscode-interactive-input') return;
    const uri = nb.uri.toString();
    if (this.sessions.has(uri)) return;
    const session: Session = { uri, path: nb.uri.fsPath, record: undefined, kernelGpus: new Set(), kernelPids: new Set(), startMs: 0, energyJ: 0, cells: 0, idleMs: 0 };
    this.sessions.set(uri, session);
    void this.ensureSampling().then(() => this.beginRecord(session));
  }

  private async closed(nb: vscode.NotebookDocument): Promise<void> {
    const uri = nb.uri.toString();
    const session = this.sessions.get(uri);
    if (!session) return;
    // Cells that ended just before the close still get their figures: wait for the next batch.
    await this.settle();
    this.sessions.delete(uri);
    await this.endRecord(session);
    for (const cell of nb.getCells()) this.results.delete(cell.document.uri.toString());
    if (!this.sessions.size) await this.stopSampler();
  }

  private documentChanged(e: vscode.NotebookDocumentChangeEvent): void {
    const uri = e.notebook.uri.toString();
    for (const change of e.cellChanges) {
      const summary = change.executionSummary;
      if (!summary) continue;
      const timing = summary.timing;
      const cellUri = change.cell.document.uri.toString();
      if (!timing) {
        // Started (an execution summary without an end): the previous figure no longer describes the cell.
        if (this.results.delete(cellUri)) this.changed.fire();
        continue;
      }
      const key = `${timing.startTime}-${timing.endTime}`;
      if (this.counted.get(cellUri) === key) continue;
      this.counted.set(cellUri, key);
      // Bounded: a long session executes many cells; the oldest keys are the least likely to come back.
      if (this.counted.size > 20_000) this.counted.delete(this.counted.keys().next().value!);
      if (this.sessions.has(uri) && !this.meter && this.starting) {
        // The sampler is starting (the notebook was just opened): the cell is measured once it runs.
        this.queued.push(this.execution(uri, change.cell, summary, timing));
        continue;
      }
      if (!this.sessions.has(uri) || !this.meter) {
        this.results.set(cellUri, { kind: 'unmeasured', reason: this.deps.enabled() ? 'Joules was not sampling the GPUs yet when it ran' : 'cell energy is off (joules.notebooks.cellEnergy)' });
        this.changed.fire();
        continue;
      }
      this.meter.ended(this.execution(uri, change.cell, summary, timing));
    }
  }

  private execution(notebook: string, cell: vscode.NotebookCell, summary: vscode.NotebookCellExecutionSummary, timing: { startTime: number; endTime: number }): CellExecution {
    return {
      notebook,
      cellIndex: cell.index,
      cellUri: cell.document.uri.toString(),
      ...(summary.executionOrder !== undefined ? { executionOrder: summary.executionOrder } : {}),
      startWallMs: timing.startTime,
      endWallMs: timing.endTime,
      ...(summary.success !== undefined ? { success: summary.success } : {}),
    };
  }

  private ensureSampling(): Promise<void> {
    if (this.sampler) return Promise.resolve();
    this.starting ??= this.startSampler().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async startSampler(): Promise<void> {
    await this.stopping;
    let sampler: WorkerSampler;
    try {
      sampler = await WorkerSampler.start({ backend: { kind: 'nvml' }, intervalMs: NOTEBOOK_INTERVAL_MS, batchMs: 1000, powerRing: 'off', workerFile: this.deps.workerFile });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log.info(`notebook cell energy: no GPU to sample (${isGpuUnavailable(e) ? 'NVML unavailable' : 'sampler failed'}): ${message}`);
      for (const s of this.sessions.values()) s.record = undefined;
      return;
    }
    if (this.disposed || !this.sessions.size || sampler.gpus.length === 0) {
      await sampler.finish().catch(() => sampler.terminate());
      return;
    }
    // The sampler's clock starts at its epoch; a counter read now tells where that epoch lies on
    // the wall clock (the cells' times), to within the read's round trip.
    const before = Date.now();
    const mark = await sampler.mark();
    const after = Date.now();
    this.epochWallMs = (before + after) / 2 - mark.elapsedMs;
    const timeline = new EnergyTimeline();
    this.timeline = timeline;
    this.meter = new CellMeter({
      timeline,
      epochWallMs: this.epochWallMs,
      intervalMs: NOTEBOOK_INTERVAL_MS,
      attribution: (notebook) => {
        const s = this.sessions.get(notebook);
        return s && s.kernelGpus.size ? { attribution: 'kernel', gpus: [...s.kernelGpus].sort(), kernelPids: [...s.kernelPids] } : { attribution: 'whole-gpu' };
      },
    });
    this.sampler = sampler;
    for (const q of this.queued.splice(0)) this.meter.ended(q);
    sampler.onBatch((batch) => this.received(batch));
    sampler.onError((message) => this.deps.log.warn(`notebook sampler: ${message}`));
    this.deps.log.info(`notebook cell energy: sampling ${sampler.gpus.length} GPU(s) every ${NOTEBOOK_INTERVAL_MS} ms while a notebook is open`);
  }

  private beginRecord(session: Session): void {
    const sampler = this.sampler;
    if (!sampler || session.record || !this.sessions.has(session.uri) || session.uri.startsWith('untitled:')) return;
    session.startMs = Math.max(0, Date.now() - this.epochWallMs);
    try {
      session.record = new NotebookRecord({
        store: this.deps.store(),
        notebookPath: session.path,
        gpus: sampler.gpus,
        startMs: session.startMs,
        startedAt: new Date(),
        intervalMs: NOTEBOOK_INTERVAL_MS,
        timeline: this.timeline!,
        ...(sampler.ready.driverVersion ? { driverVersion: sampler.ready.driverVersion } : {}),
        ...(sampler.ready.nvmlVersion ? { nvmlVersion: sampler.ready.nvmlVersion } : {}),
      });
    } catch (e) {
      this.deps.log.warn(`notebook ${session.path}: its session cannot be kept in the history: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private received(batch: EngineBatch): void {
    const timeline = this.timeline;
    const meter = this.meter;
    if (!timeline || !meter) return;
    timeline.add(batch.samples);
    if (batch.processes) this.attribute(batch.processes);
    for (const s of this.sessions.values()) {
      s.record?.addBatch(batch);
      this.countIdle(s, batch);
    }
    const { cells, skipped } = meter.flush();
    for (const c of cells) {
      this.results.set(c.cellUri, { kind: 'measured', cell: c });
      const s = this.sessions.get(c.notebook);
      if (s) {
        s.energyJ += c.energyJ;
        s.cells++;
        s.record?.addCell(c, [...s.kernelGpus]);
      }
      this.measuredCells.fire(c, this.samplesOf(c, timeline));
    }
    for (const k of skipped) this.results.set(k.exec.cellUri, { kind: 'unmeasured', reason: k.reason });
    this.batches.fire(batch);
    this.changed.fire();
  }

  private samplesOf(c: CellEnergy, timeline: EnergyTimeline): MeasuredCell | undefined {
    const sampler = this.sampler;
    const durationMs = c.durationS * 1000;
    if (!sampler || durationMs < CELL_FINDINGS_MIN_MS) return undefined;
    const runGpus = c.gpus.map((g) => g.gpu);
    const samples = timeline.samplesIn(c.startS * 1000, c.startS * 1000 + durationMs, runGpus);
    return samples ? { uri: c.cellUri, samples, gpus: sampler.gpus, runGpus, durationMs } : undefined;
  }

  /** Time the notebook's GPUs read idle while its session runs (the total's "idle" figure). */
  private countIdle(s: Session, batch: EngineBatch): void {
    const counted = s.kernelGpus.size ? s.kernelGpus : undefined;
    const byTick = new Map<number, boolean>();
    for (const x of batch.samples) {
      if (x.tMs < s.startMs || x.utilGpuPct === undefined) continue;
      if (counted && !counted.has(x.gpu)) continue;
      byTick.set(x.tMs, (byTick.get(x.tMs) ?? true) && x.utilGpuPct === 0);
    }
    for (const idle of byTick.values()) if (idle) s.idleMs += NOTEBOOK_INTERVAL_MS;
  }

  private attribute(procs: NonNullable<EngineBatch['processes']>): void {
    let kernels: KernelOnGpu[];
    try {
      kernels = this.kernels.kernels(procs);
    } catch {
      return;
    }
    if (!kernels.length) return;
    const open = [...this.sessions.values()].map((s) => s.path);
    for (const s of this.sessions.values()) {
      for (const k of kernelsOfNotebook(s.path, kernels, open)) {
        s.kernelGpus.add(k.gpu);
        s.kernelPids.add(k.pid);
      }
    }
  }

  /** Resolves after the next batch (cells that just ended get their figures), or at once when not sampling. */
  private settle(): Promise<void> {
    if (!this.sampler || !this.meter?.pendingCount) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        done.dispose();
        resolve();
      };
      // A sampler that stopped delivering must not hold a close forever.
      const timer = setTimeout(finish, 2500);
      const done = this.batches.subscribe(finish);
    });
  }

  private async endRecord(session: Session): Promise<void> {
    const record = session.record;
    session.record = undefined;
    if (!record || !this.timeline) return;
    const endMs = this.timeline.newestMs() ?? session.startMs;
    try {
      const analyze = this.deps.analyze;
      let findings: Finding[] | undefined;
      const summary = await record.close({
        endMs,
        countedGpus: [...session.kernelGpus].sort(),
        ...(analyze
          ? {
              analyze: async (input: AnalysisInput) => {
                findings = await analyze(input);
                return findings;
              },
            }
          : {}),
      });
      this.deps.onRecorded?.(summary, findings);
    } catch (e) {
      this.deps.log.warn(`notebook ${session.path}: its session record could not be written: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async stopAll(): Promise<void> {
    await this.settle();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await this.endRecord(s);
    await this.stopSampler();
  }

  private async stopSampler(): Promise<void> {
    await this.starting;
    const sampler = this.sampler;
    this.sampler = undefined;
    this.meter = undefined;
    this.timeline = undefined;
    if (!sampler) return;
    this.stopping = (async () => {
      try {
        await Promise.race([sampler.finish(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000))]);
      } catch {
        await sampler.terminate();
      }
    })();
    await this.stopping;
    this.changed.fire();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
    await this.stopAll();
  }
}
