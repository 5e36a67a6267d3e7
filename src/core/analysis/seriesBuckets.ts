/**
 * The bucket columns of a bounded GPU series (see boundedSeries.ts): a bucket per cell of the
 * time grid, or two when the GPU's class changes in it, with what the detectors read of each.
 */
import { SAMPLE_COLUMNS } from '../runs/sampleCodec';
import { ClockEventReason } from '../sampler/types';
import type { GpuSample } from '../sampler/types';

export const AT = {
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
export const ROW_WIDTH = SAMPLE_COLUMNS.length;

/** The clock-event bits telemetry.ts reads (idle, power cap, thermal); others are not kept in buckets. */
const KEPT_BITS = [ClockEventReason.GpuIdle, ClockEventReason.SwPowerCap, ClockEventReason.SwThermalSlowdown, ClockEventReason.HwThermalSlowdown];

/** A sample with no spacing after it (duplicate times) still counts, with a negligible weight. */
export const MIN_WEIGHT_MS = 1e-6;

/**
 * What a sample is to the detectors (telemetry.ts): idle (util at or under `idleUtilPct`, or the
 * GpuIdle bit), low (util at or under `starvedUtilPct`), busy, or neither (no util reading).
 */
export const IDLE = 0;
export const LOW = 1;
export const BUSY = 2;
export const NONE = 3;
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
export class BucketColumns {
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

