import { SAMPLE_COLUMNS } from '../runs/sampleCodec';
import { ClockEventReason } from '../sampler/types';
import type { GpuSample } from '../sampler/types';
import { GpuColumns } from './sampleColumns';
import { AT, BucketColumns, BUSY, IDLE, LOW, MIN_WEIGHT_MS, NONE, ROW_WIDTH } from './seriesBuckets';
import type { UtilClasses } from './seriesBuckets';
import { DEFAULT_THRESHOLDS } from './telemetry';
import type { GpuSeriesSource, SeriesBuckets } from './telemetry';

/**
 * One GPU's samples for the end-of-run analysis, in memory that does not grow with the run.
 *
 * Up to `maxPoints` samples are kept as they are (GpuColumns), and the detectors see exactly the
 * samples. At `maxPoints` the samples are folded into buckets on a grid of cells aligned on the
 * first sample, two sampler ticks wide; when the buckets reach `maxPoints` again, the cell width
 * doubles and neighbours merge. A cell holds one bucket, or two when the GPU's class (idle, low,
 * busy: telemetry.ts) changes in it: the second starts at the first sample of the new class, so
 * the edges of idle and starved stretches stay sample times. A bucket is one point for the
 * detectors, starting at its first sample and covering up to the next bucket's first sample: the
 * time-weighted mean util of all its samples, its majority class's mean power, mean SM clock, peak memory
 * and temperature, each clock-event bit the detectors read when set for at least half the
 * bucket's time, the last power limit. Its energy reading is the cumulative energy at its first
 * sample, from the hardware counter (missing readings interpolated between neighbours, as
 * telemetry.ts does) or the trapezoid over power, whichever telemetry.ts would use for the samples:
 * so the energy between any two bucket starts is the samples' energy exactly, and what the
 * detectors sum per bucket adds up to it. The last sample always stays a point of its own, so the
 * GPU's energy to the exit (and the power held past the last sample) are the samples' too.
 *
 * 100,000 points per GPU: 2.8 h at 10 Hz (27 h at 1 Hz) are analysed sample by sample; a 24 h run
 * at 10 Hz is analysed on 1.6 s cells, under the detectors' 1 s minimum stretch and merge gap
 * apart by one cell. About 15 MB of columns per GPU at the cap, and as many sample objects while
 * one GPU is analysed: the analysis of 8 GPUs stays near 150 MB whatever the run's length.
 */
export const MAX_POINTS_PER_GPU = 100_000;

/**
 * See {@link MAX_POINTS_PER_GPU}. Rows must come in time order (as the store holds them); the
 * caller passes only the rows up to the run's exit.
 */
export class BoundedGpuSeries implements GpuSeriesSource {
  private raw: GpuColumns | undefined;
  private b: BucketColumns | undefined;
  /** Buckets in use (the pending sample is not in one yet). */
  private count = 0;
  private t0 = 0;
  private widthMs = 0;
  private sampleIntervalMs = 0;
  /** The newest sample: its spacing (and so its weight) is known when the next one comes. */
  private readonly pending = new Float64Array(ROW_WIDTH);
  private hasPending = false;
  private pendingCounterMj = Number.NaN;
  private pendingTrapezoidJ = 0;
  // What telemetry.ts computes over the samples, kept as they stream by.
  private samples = 0;
  private withCounter = 0;
  private firstMj: number | undefined;
  private lastKnown: { tMs: number; mJ: number } | undefined;
  private trapezoidJ = 0;
  private lastW: number | undefined;
  private prevT = 0;

  constructor(
    readonly gpu: number,
    readonly maxPoints = MAX_POINTS_PER_GPU,
    initialCapacity = 4096,
    /** The detectors' thresholds that classify a sample (telemetry.ts `Thresholds`). */
    private readonly classes: UtilClasses = DEFAULT_THRESHOLDS,
  ) {
    if (maxPoints < 4) throw new Error(`maxPoints ${maxPoints}: at least 4`);
    this.raw = new GpuColumns(gpu, Math.min(initialCapacity, maxPoints), maxPoints);
  }

  /** Points the detectors will see: samples, or buckets and the last sample. Never over `maxPoints` + 1. */
  get length(): number {
    return this.raw ? this.raw.length : this.count + (this.hasPending ? 1 : 0);
  }

  /** Samples pushed so far. */
  get sampleCount(): number {
    return this.raw ? this.raw.length : this.samples;
  }

  /** Bytes of the columns held (capacity: what the process pays). */
  byteSize(): number {
    return this.raw ? this.raw.byteSize() : this.b!.byteSize();
  }

  /** Append a store row (SAMPLE_COLUMNS order, NaN = not measured) found at `offset` of `values`. */
  pushRow(values: Float64Array, offset: number): void {
    if (this.raw) {
      if (this.raw.length < this.maxPoints) {
        this.raw.pushRow(values, offset);
        return;
      }
      this.startBuckets();
    }
    this.pushSample(offset === 0 && values.length === ROW_WIDTH ? values : values.subarray(offset, offset + ROW_WIDTH));
  }

  buckets(): SeriesBuckets | undefined {
    if (this.raw) return undefined;
    return { bucketMs: this.widthMs, sampleIntervalMs: this.sampleIntervalMs, samples: this.samples, energyJ: (endMs) => this.energyJ(endMs) };
  }

  tMs(i: number): number {
    if (this.raw) return this.raw.tMs(i);
    return i < this.count ? this.b!.startMs[i]! : this.pending[AT.tMs]!;
  }

  energyMillijoules(i: number): number {
    if (this.raw) return this.raw.energyMillijoules(i);
    return this.pointEnergyMj(i);
  }

  powerMilliwatts(i: number): number {
    if (this.raw) return this.raw.powerMilliwatts(i);
    if (i >= this.count) return Math.fround(this.pending[AT.power]!);
    return this.b!.toSample(i, this.gpu, Number.NaN).powerMilliwatts ?? Number.NaN;
  }

  /** The points at or before `endMs`, as samples, in time order (buckets: see the file's comment). */
  toSamples(endMs: number): GpuSample[] {
    if (this.raw) return this.raw.toSamples(endMs);
    const out: GpuSample[] = [];
    const b = this.b!;
    for (let i = 0; i < this.count; i++) if (b.startMs[i]! <= endMs) out.push(b.toSample(i, this.gpu, this.pointEnergyMj(i)));
    if (this.hasPending && this.pending[AT.tMs]! <= endMs) {
      const s: GpuSample = { tMs: this.pending[AT.tMs]!, gpu: this.gpu };
      for (let k = 2; k < ROW_WIDTH; k++) {
        const v = this.pending[k]!;
        if (!Number.isNaN(v)) s[SAMPLE_COLUMNS[k]!] = v;
      }
      // Stored as GpuColumns stores it (float32 power), so the last sample reads as in exact mode.
      if (s.powerMilliwatts !== undefined) s.powerMilliwatts = Math.fround(s.powerMilliwatts);
      const e = this.pointEnergyMj(this.count);
      if (Number.isNaN(e)) delete s.energyMillijoules;
      else s.energyMillijoules = e;
      out.push(s);
    }
    return out;
  }

  /** Does telemetry.ts take energy from the counter here (it does when the counter is on half the samples)? */
  private usesCounter(): boolean {
    return this.withCounter >= 2 && this.withCounter >= this.samples * 0.5;
  }

  /** Point `i`'s cumulative energy at its first sample (mJ): counter (held past the last reading) or trapezoid. */
  private pointEnergyMj(i: number): number {
    const last = this.lastKnown?.mJ ?? Number.NaN;
    if (i >= this.count) {
      if (!this.usesCounter()) return this.pendingTrapezoidJ * 1000;
      return Number.isNaN(this.pendingCounterMj) ? last : this.pendingCounterMj;
    }
    if (!this.usesCounter()) return this.b!.trapezoidJ[i]! * 1000;
    const c = this.b!.counterMj[i]!;
    return Number.isNaN(c) ? last : c;
  }

  /**
   * The GPU's energy to the exit, as telemetry.ts computes it over the samples: the counter's last
   * minus first reading, or the trapezoid; plus the last power held to the exit when the exit is
   * within two sampler ticks of the last sample. The tick is the median over the samples held
   * before bucketing (the first `maxPoints`), not over the whole run.
   */
  private energyJ(endMs: number): number {
    if (this.samples === 0) return 0;
    const cumJ = this.usesCounter() ? ((this.lastKnown?.mJ ?? 0) - (this.firstMj ?? 0)) / 1000 : this.trapezoidJ;
    const lastT = this.prevT;
    const coveredEndMs = endMs > lastT && endMs - lastT <= 2 * this.sampleIntervalMs ? endMs : lastT;
    const lastPowerMw = Math.fround(this.pending[AT.power]!);
    const tailJ = (Number.isNaN(lastPowerMw) ? 0 : lastPowerMw / 1e6) * (coveredEndMs - lastT);
    return Math.max(0, cumJ + tailJ);
  }

  /** The exact samples reached the cap: fold them into buckets two sampler ticks wide. */
  private startBuckets(): void {
    const raw = this.raw!;
    const n = raw.length;
    const dts = new Float64Array(Math.max(0, n - 1));
    for (let i = 1; i < n; i++) dts[i - 1] = raw.tMs(i) - raw.tMs(i - 1);
    dts.sort();
    const mid = (dts.length - 1) / 2;
    this.sampleIntervalMs = dts.length ? (dts[Math.floor(mid)]! + dts[Math.ceil(mid)]!) / 2 : 0;
    this.widthMs = Math.max(1, 2 * this.sampleIntervalMs);
    this.b = new BucketColumns(this.maxPoints);
    this.raw = undefined;
    const row = new Float64Array(ROW_WIDTH);
    for (let i = 0; i < n; i++) {
      raw.rowAt(i, row);
      this.pushSample(row);
    }
  }

  private pushSample(v: Float64Array): void {
    const t = v[AT.tMs]!;
    if (this.hasPending) this.fold(t - this.pending[AT.tMs]!);
    else this.t0 = t;
    this.pending.set(v);
    this.hasPending = true;
    this.stepEnergy(v);
  }

  /** Advance the energy over the samples by one (as telemetry.ts's buildSeries and sourceEnergyJ do). */
  private stepEnergy(v: Float64Array): void {
    const t = v[AT.tMs]!;
    const p = v[AT.power]!;
    const w = Number.isNaN(p) ? this.lastW : Math.fround(p) / 1000;
    if (this.samples > 0 && this.lastW !== undefined && w !== undefined) this.trapezoidJ += ((this.lastW + w) / 2) * ((t - this.prevT) / 1000);
    this.lastW = w;
    this.prevT = t;
    this.samples++;
    this.pendingTrapezoidJ = this.trapezoidJ;
    const mJ = v[AT.energy]!;
    this.pendingCounterMj = mJ;
    if (Number.isNaN(mJ)) return;
    this.withCounter++;
    this.firstMj ??= mJ;
    // Buckets opened on a sample without a reading sit at the end: interpolate them in time
    // between the readings around them, as buildSeries does (before the first reading: that one).
    const a = this.lastKnown;
    const b = this.b;
    if (b) {
      for (let i = this.count - 1; i >= 0 && Number.isNaN(b.counterMj[i]!); i--) {
        if (a === undefined) b.counterMj[i] = mJ;
        else {
          const f = t > a.tMs ? (b.startMs[i]! - a.tMs) / (t - a.tMs) : 0;
          b.counterMj[i] = a.mJ + f * (mJ - a.mJ);
        }
      }
    }
    this.lastKnown = { tMs: t, mJ };
  }

  /**
   * The pending sample, which covers `weightMs` up to the next one, goes into its bucket: the last
   * bucket when it lies in the same cell of the grid, except that the first change of class in a
   * cell starts a second bucket there, so the edge of an idle or starved stretch is a sample time,
   * not a cell edge. Later changes in that cell stay in its second bucket (a GPU that flickers
   * between busy and idle is averaged): at most two buckets a cell.
   */
  private fold(weightMs: number): void {
    const b = this.b!;
    const v = this.pending;
    const t = v[AT.tMs]!;
    const cls = this.classOf(v);
    for (;;) {
      const key = this.cellOf(t);
      const last = this.count - 1;
      if (last >= 0 && key === this.cellOf(b.startMs[last]!)) {
        const second = last >= 1 && key === this.cellOf(b.startMs[last - 1]!);
        if (second || b.majority(last) === cls) {
          b.add(last, v, cls, Math.max(MIN_WEIGHT_MS, weightMs));
          return;
        }
      }
      if (this.count < this.maxPoints) {
        b.open(this.count, t, this.pendingCounterMj, this.pendingTrapezoidJ);
        b.add(this.count++, v, cls, Math.max(MIN_WEIGHT_MS, weightMs));
        return;
      }
      this.coarsen();
    }
  }

  private cellOf(tMs: number): number {
    return Math.floor((tMs - this.t0) / this.widthMs);
  }

  /**
   * Double the cell width. Cells are aligned on the first sample, so each new cell holds two old
   * ones whole; in it, neighbours of one class merge, and past a second bucket everything merges
   * into the second (as {@link fold} builds them).
   */
  private coarsen(): void {
    const b = this.b!;
    this.widthMs *= 2;
    let w = 0;
    for (let r = 0; r < this.count; r++) {
      const key = this.cellOf(b.startMs[r]!);
      if (w > 0 && key === this.cellOf(b.startMs[w - 1]!)) {
        const second = w >= 2 && key === this.cellOf(b.startMs[w - 2]!);
        if (second || b.majority(w - 1) === b.majority(r)) {
          b.merge(w - 1, r);
          continue;
        }
      }
      if (w !== r) b.move(w, r);
      w++;
    }
    this.count = w;
  }

  /** As telemetry.ts's isIdle / isLow / isBusy. */
  private classOf(v: Float64Array): number {
    const u = v[AT.util]!;
    const r = v[AT.reasons]!;
    if ((!Number.isNaN(r) && (r & ClockEventReason.GpuIdle) !== 0) || u <= this.classes.idleUtilPct) return IDLE;
    if (u <= this.classes.starvedUtilPct) return LOW;
    return Number.isNaN(u) ? NONE : BUSY;
  }
}
