/**
 * A notebook session in the run history: one record per notebook from the moment Joules samples
 * for it until it is closed, of kind `notebook`, its cells as marked windows. Written like a
 * script's run (samples.jsonl, overview.bin, run.json through the same writer), so the panel,
 * compare, export and recovery work on it unchanged.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Finding } from '../analysis/findings';
import type { AnalysisInput } from '../runs/runSession';
import { closeRecord, makeRunId } from '../runs/lifecycle';
import { MinMaxView } from '../runs/minMaxView';
import type { RunWriter } from '../runs/runWriter';
import type { RunStore, StoredRun } from '../runs/store';
import { SummaryAccumulator } from '../runs/summary';
import type { RunMarker, RunSummary } from '../runs/types';
import type { GpuInfo, SampleBatch } from '../sampler/types';
import type { CellEnergy } from './cellMeter';
import type { EnergyTimeline } from './energyTimeline';

/** Cells kept in a record; a session that runs more keeps the latest and says how many were left out. */
export const MAX_RECORDED_CELLS = 5_000;

export interface NotebookRecordOptions {
  store: RunStore;
  notebookPath: string;
  gpus: GpuInfo[];
  /** The sampler's time (ms since its epoch) at which this notebook's session starts. */
  startMs: number;
  startedAt: Date;
  intervalMs: number;
  timeline: EnergyTimeline;
  driverVersion?: string;
  nvmlVersion?: string;
}

/** What a notebook record knows when it closes. */
export interface NotebookRecordEnd {
  /** The sampler's time at the end (ms since its epoch); the timeline must cover it. */
  endMs: number;
  /** The GPUs the kernel was seen on; empty: none was, every GPU counts. */
  countedGpus: number[];
  analyze?: (input: AnalysisInput) => Promise<Finding[]> | Finding[];
}

export class NotebookRecord {
  readonly id: string;
  private readonly writer: RunWriter;
  private readonly meta: StoredRun;
  private readonly view: MinMaxView;
  private readonly acc: SummaryAccumulator;
  private readonly cells: CellEnergy[] = [];
  private readonly markers: RunMarker[] = [];
  private droppedCells = 0;
  private closed = false;

  constructor(private readonly o: NotebookRecordOptions) {
    const name = path.basename(o.notebookPath);
    this.id = makeRunId(name);
    this.writer = o.store.create(this.id);
    this.view = new MinMaxView(Math.max(1, o.intervalMs));
    this.acc = new SummaryAccumulator(o.gpus);
    this.meta = {
      schema: 1,
      id: this.id,
      name,
      kind: 'notebook',
      status: 'running',
      startedAt: o.startedAt.toISOString(),
      durationS: 0,
      exitCode: null,
      command: [o.notebookPath],
      cwd: path.dirname(o.notebookPath),
      energyJ: 0,
      energyMethod: o.gpus.every((g) => g.energyMethod === 'counter') ? 'counter' : 'integrated',
      avgPowerW: 0,
      peakPowerW: 0,
      gpus: [],
      attribution: 'all',
      ...(o.driverVersion ? { driverVersion: o.driverVersion } : {}),
      ...(o.nvmlVersion ? { nvmlVersion: o.nvmlVersion } : {}),
      sampleIntervalMs: o.intervalMs,
      host: { cpuCount: os.availableParallelism(), gpuCount: o.gpus.length },
      gpuInfo: o.gpus,
      runGpus: [],
      monitorPid: process.pid,
      monitorHost: os.hostname(),
    };
    // `running` on disk from the start: if the editor dies, recovery marks it interrupted and keeps the samples.
    this.writer.writeMeta(this.meta);
  }

  /** A sampler batch: samples at or after the session's start, on the record's own time axis. */
  addBatch(batch: SampleBatch): void {
    if (this.closed) return;
    const shift = this.o.startMs;
    const samples = batch.samples.filter((s) => s.tMs >= shift).map((s) => ({ ...s, tMs: s.tMs - shift }));
    const points = batch.powerPoints.filter((p) => p.tMs >= shift).map((p) => ({ ...p, tMs: p.tMs - shift }));
    const gaps = batch.gaps.filter((g) => (g.endMs ?? Infinity) >= shift).map((g) => ({ ...g, startMs: Math.max(0, g.startMs - shift), ...(g.endMs !== undefined ? { endMs: g.endMs - shift } : {}) }));
    if (!samples.length && !points.length && !gaps.length) return;
    this.writer.appendBatch(samples, points, gaps);
    for (const s of samples) {
      this.view.add(s);
      this.acc.add(s);
    }
    for (const p of points) this.acc.addPowerPoint(p);
  }

  /** A measured cell of this notebook; its start is given in the sampler's time (`startS`) and moved onto the record's. */
  addCell(cell: CellEnergy, countedGpus: readonly number[]): void {
    if (this.closed) return;
    const startS = cell.startS - this.o.startMs / 1000;
    if (startS < 0) return;
    const onRecord: CellEnergy = { ...cell, startS };
    this.cells.push(onRecord);
    if (this.cells.length > MAX_RECORDED_CELLS) {
      this.cells.shift();
      this.droppedCells++;
    }
    const endMs = this.o.startMs + (startS + cell.durationS) * 1000;
    const w = this.o.timeline.window(this.o.startMs, endMs, countedGpus.length ? countedGpus : undefined);
    const label = `${cell.executionOrder !== undefined ? `[${cell.executionOrder}] ` : ''}cell ${cell.cellIndex + 1}`;
    if (w.ok) this.markers.push({ label, tS: startS + cell.durationS, energyJ: w.gpus.reduce((a, g) => a + g.energyJ, 0) });
    if (this.markers.length > MAX_RECORDED_CELLS) this.markers.shift();
  }

  get cellCount(): number {
    return this.cells.length;
  }

  /** Write the final record (figures, cells as windows, findings when `analyze` is given). */
  async close(end: NotebookRecordEnd): Promise<RunSummary> {
    this.closed = true;
    const durationMs = Math.max(0, end.endMs - this.o.startMs);
    const w = this.o.timeline.window(this.o.startMs, end.endMs);
    const energiesMj = new Map<number, number>(w.ok ? w.gpus.map((g) => [g.gpu, g.energyJ * 1000]) : []);
    const figures = this.acc.result({ gpus: this.o.gpus, energiesMj, runGpus: end.countedGpus, durationMs });
    const summary: RunSummary = {
      ...stripMeta(this.meta),
      ...figures,
      status: 'succeeded',
      attribution: end.countedGpus.length ? 'processes' : 'all',
      ...(this.markers.length ? { markers: [...this.markers] } : {}),
      cells: [...this.cells],
      ...(this.droppedCells ? { errors: { [`cells left out of the record (over ${MAX_RECORDED_CELLS})`]: this.droppedCells } } : {}),
      ...(w.ok ? {} : { errors: { [`energy: the session's start is no longer in the kept history (${w.reason})`]: 1 } }),
    };
    const record = await closeRecord({
      writer: this.writer,
      view: this.view,
      meta: this.meta,
      summary,
      runGpus: end.countedGpus,
      gpus: this.o.gpus,
      endMs: durationMs,
      analyze: end.analyze,
    });
    return stripMeta(record.meta);
  }
}

function stripMeta(m: StoredRun): RunSummary {
  const { gpuInfo: _g, runGpus: _r, monitorPid: _p, monitorHost: _h, ...summary } = m;
  return summary;
}
