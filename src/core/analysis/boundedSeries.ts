import { SAMPLE_COLUMNS } from '../runs/sampleCodec';
import { ClockEventReason } from '../sampler/types';
import type { GpuSample } from '../sampler/types';
import { GpuColumns } from './sampleColumns';
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

const AT = {
  tMs: SAMPLE_COLUMNS.indexOf('tMs'),
  power: SAMPLE_COLUMNS.indexOf('powerMilliwatts'),
  util: SAMPLE_COLUMNS.indexOf('utilGpuPct'),
  mem: SAMPLE_COLUMNS.indexOf('memUsedBytes'),
  clock: SAMPLE_COLUMNS.indexOf('smClockMhz'),
  temp: SAMPLE_COLUMNS.indexOf('temperatureC'),
  reasons: SAMPLE_COLUMNS.indexOf('clockEventReasons'),
  limit: SAMPLE_COLUMNS.indexOf('powerLimitMilliwatts'),
  energy: SAMPLE_COLUMNS.indexOf('energyMillijoules'),
};
const ROW_WIDTH = SAMPLE_COLUMNS.length;

/** The clock-event bits telemetry.ts reads (idle, power cap, thermal); others are not kept in buckets. */
const KEPT_BITS = [ClockEventReason.GpuIdle, ClockEventReason.SwPowerCap, ClockEventReason.SwThermalSlowdown, ClockEventReason.HwThermalSlowdown];

/** A sample with no spacing after it (duplicate times) still counts, with a negligible weight. */
const MIN_WEIGHT_MS = 1e-6;

/**
 * What a sample is to the detectors (telemetry.ts): idle (util at or under `idleUtilPct`, or the
 * GpuIdle bit), low (util at or under `starvedUtilPct`), busy, or neither (no util reading).
 */
const IDLE = 0;
const LOW = 1;
const BUSY = 2;
const NONE = 3;
/** Per bucket and class: ms, util x ms, ms with util, power (mW) x ms, ms with power. */
const CLASS_FIELDS = 5;
const PER_BUCKET = 4 * CLASS_FIELDS;

/** Where a sample's util puts it; see IDLE..NONE. */
export interface UtilClasses {
  idleUtilPct: number;
  starvedUtilPct: number;
}

/**
 * The buckets' columns. A bucket's util is the mean over all its samples: the detectors classify
 * on a util window (telemetry.ts), and a starved loop's ticks alternate between 0 % and 40-60 %,
 * so the majority class's mean (40-60 %) would turn a long starved loop busy on buckets. Edges stay
 * sharp all the same: a bucket splits at the first change of class in its cell. Its power is its
 * majority class's mean, so an idle bucket reads the idle power the idle floor is taken from.
 */
class BucketColumns {
  readonly startMs: Float64Array;
  readonly memMax: Float64Array;
  /** Cumulative energy at the bucket's first sample: counter (mJ, NaN until resolved) and trapezoid (J). */
  readonly counterMj: Float64Array;
  readonly trapezoidJ: Float64Array;
  /** Sums for means need no double precision: a bucket adds up thousands of samples at most. */
  readonly byClass: Float32Array;
  readonly clockSum: Float32Array;
  readonly clockMs: Float32Array;
  readonly tempMax: Float32Array;
  readonly limit: Float32Array;
  /** ms with a clock-event reading, and per bucket the ms each of KEPT_BITS was set. */
  readonly reasonsMs: Float32Array;
  readonly bitMs: Float32Array;
  /** The one-value-a-bucket columns, for moves. */
  private readonly scalars: Array<Float64Array | Float32Array>;

  constructor(readonly capacity: number) {
    this.startMs = new Float64Array(capacity);
    this.memMax = new Float64Array(capacity);
    this.counterMj = new Float64Array(capacity);
    this.trapezoidJ = new Float64Array(capacity);
    this.byClass = new Float32Array(capacity * PER_BUCKET);
    this.clockSum = new Float32Array(capacity);
    this.clockMs = new Float32Array(capacity);
    this.tempMax = new Float32Array(capacity);
    this.limit = new Float32Array(capacity);
    this.reasonsMs = new Float32Array(capacity);
    this.bitMs = new Float32Array(capacity * KEPT_BITS.length);
    this.scalars = [this.startMs, this.memMax, this.counterMj, this.trapezoidJ, this.clockSum, this.clockMs, this.tempMax, this.limit, this.reasonsMs];
  }

  byteSize(): number {
    return this.scalars.reduce((a, c) => a + c.byteLength, this.bitMs.byteLength + this.byClass.byteLength);
  }

  /** An empty bucket at `i`. */
  open(i: number, startMs: number, counterMj: number, trapezoidJ: number): void {
    this.startMs[i] = startMs;
    this.memMax[i] = Number.NaN;
    this.counterMj[i] = counterMj;
    this.trapezoidJ[i] = trapezoidJ;
    this.byClass.fill(0, i * PER_BUCKET, (i + 1) * PER_BUCKET);
    this.clockSum[i] = 0;
    this.clockMs[i] = 0;
    this.tempMax[i] = Number.NaN;
    this.limit[i] = Number.NaN;
    this.reasonsMs[i] = 0;
    this.bitMs.fill(0, i * KEPT_BITS.length, (i + 1) * KEPT_BITS.length);
  }

  /** Add one sample (a store row) of class `cls` that covers `weightMs` to bucket `i`. */
  add(i: number, v: Float64Array, cls: number, weightMs: number): void {
    const at = i * PER_BUCKET + cls * CLASS_FIELDS;
    const c = this.byClass;
    c[at]! += weightMs;
    const u = v[AT.util]!;
    if (!Number.isNaN(u)) {
      c[at + 1]! += u * weightMs;
      c[at + 2]! += weightMs;
    }
    const p = v[AT.power]!;
    if (!Number.isNaN(p)) {
      // As GpuColumns stores it (float32).
      c[at + 3]! += Math.fround(p) * weightMs;
      c[at + 4]! += weightMs;
    }
    const clock = v[AT.clock]!;
    if (!Number.isNaN(clock)) {
      this.clockSum[i]! += clock * weightMs;
      this.clockMs[i]! += weightMs;
    }
    const m = v[AT.mem]!;
    if (!Number.isNaN(m) && !(m <= this.memMax[i]!)) this.memMax[i] = m;
    const t = v[AT.temp]!;
    if (!Number.isNaN(t) && !(t <= this.tempMax[i]!)) this.tempMax[i] = t;
    const l = v[AT.limit]!;
    if (!Number.isNaN(l)) this.limit[i] = l;
    const r = v[AT.reasons]!;
    if (!Number.isNaN(r)) {
      this.reasonsMs[i]! += weightMs;
      for (let b = 0; b < KEPT_BITS.length; b++) if ((r & KEPT_BITS[b]!) !== 0) this.bitMs[i * KEPT_BITS.length + b]! += weightMs;
    }
  }

  /** Fold bucket `from` (later in time) into bucket `into`, which keeps its start and energy readings. */
  merge(into: number, from: number): void {
    for (let k = 0; k < PER_BUCKET; k++) this.byClass[into * PER_BUCKET + k]! += this.byClass[from * PER_BUCKET + k]!;
    this.clockSum[into]! += this.clockSum[from]!;
    this.clockMs[into]! += this.clockMs[from]!;
    if (!Number.isNaN(this.memMax[from]!) && !(this.memMax[from]! <= this.memMax[into]!)) this.memMax[into] = this.memMax[from]!;
    if (!Number.isNaN(this.tempMax[from]!) && !(this.tempMax[from]! <= this.tempMax[into]!)) this.tempMax[into] = this.tempMax[from]!;
    if (!Number.isNaN(this.limit[from]!)) this.limit[into] = this.limit[from]!;
    this.reasonsMs[into]! += this.reasonsMs[from]!;
    for (let b = 0; b < KEPT_BITS.length; b++) this.bitMs[into * KEPT_BITS.length + b]! += this.bitMs[from * KEPT_BITS.length + b]!;
  }

  /** Move bucket `from` to the free slot `to` (to < from). */
  move(to: number, from: number): void {
    for (const c of this.scalars) c[to] = c[from]!;
    this.byClass.copyWithin(to * PER_BUCKET, from * PER_BUCKET, (from + 1) * PER_BUCKET);
    this.bitMs.copyWithin(to * KEPT_BITS.length, from * KEPT_BITS.length, (from + 1) * KEPT_BITS.length);
  }

  /** The class bucket `i` spent most time in; on a tie the lower one (idle before low before busy). */
  majority(i: number): number {
    const base = i * PER_BUCKET;
    let cls = IDLE;
    for (let k = LOW; k <= NONE; k++) if (this.byClass[base + k * CLASS_FIELDS]! > this.byClass[base + cls * CLASS_FIELDS]!) cls = k;
    return cls;
  }

  /** Bucket `i` as a sample (the detectors' view of it); `energyMj` chosen by the caller. */
  toSample(i: number, gpu: number, energyMj: number): GpuSample {
    const s: GpuSample = { tMs: this.startMs[i]!, gpu };
    const c = this.byClass;
    const base = i * PER_BUCKET;
    const cls = this.majority(i);
    const at = base + cls * CLASS_FIELDS;
    let utilSum = 0;
    let utilMs = 0;
    for (let k = IDLE; k <= NONE; k++) {
      utilSum += c[base + k * CLASS_FIELDS + 1]!;
      utilMs += c[base + k * CLASS_FIELDS + 2]!;
    }
    if (utilMs > 0) s.utilGpuPct = utilSum / utilMs;
    let powerSum = c[at + 3]!;
    let powerMs = c[at + 4]!;
    if (!(powerMs > 0)) {
      // The class had no power reading: the bucket's other samples stand in.
      powerSum = 0;
      powerMs = 0;
      for (let k = IDLE; k <= NONE; k++) {
        powerSum += c[base + k * CLASS_FIELDS + 3]!;
        powerMs += c[base + k * CLASS_FIELDS + 4]!;
      }
    }
    if (powerMs > 0) s.powerMilliwatts = powerSum / powerMs;
    if (this.clockMs[i]! > 0) s.smClockMhz = this.clockSum[i]! / this.clockMs[i]!;
    if (!Number.isNaN(this.memMax[i]!)) s.memUsedBytes = this.memMax[i]!;
    if (!Number.isNaN(this.tempMax[i]!)) s.temperatureC = this.tempMax[i]!;
    if (!Number.isNaN(this.limit[i]!)) s.powerLimitMilliwatts = this.limit[i]!;
    if (this.reasonsMs[i]! > 0) {
      let bits = 0;
      for (let b = 0; b < KEPT_BITS.length; b++) if (2 * this.bitMs[i * KEPT_BITS.length + b]! >= this.reasonsMs[i]!) bits |= KEPT_BITS[b]!;
      s.clockEventReasons = bits;
    }
    // An idle majority that was idle by the GpuIdle bit (its util may be above the idle threshold).
    if (cls === IDLE && this.bitMs[i * KEPT_BITS.length]! > 0) s.clockEventReasons = (s.clockEventReasons ?? 0) | ClockEventReason.GpuIdle;
    if (!Number.isNaN(energyMj)) s.energyMillijoules = energyMj;
    return s;
  }
}

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
