import type { GpuSample } from '../sampler/types';

/** The metrics the bounded view keeps, as min/max per bucket (what the panel's charts draw). */
export const VIEW_METRICS = ['powerMilliwatts', 'utilGpuPct', 'utilMemPct', 'memUsedBytes', 'temperatureC', 'smClockMhz'] as const satisfies ReadonlyArray<keyof GpuSample>;
export type ViewMetric = (typeof VIEW_METRICS)[number];

/** Buckets kept per GPU. A chart is at most a few thousand pixels wide: 2 points per column. */
export const VIEW_BUCKETS = 2048;

/** One GPU's buckets: bucket k covers [k x bucketMs, (k+1) x bucketMs) of run time. NaN = no data. */
interface GpuBuckets {
  min: Float64Array[];
  max: Float64Array[];
  /** Latest energy reading in the bucket (cumulative, so the last one is the one to keep). */
  energyMj: Float64Array;
  /** 1 + the highest bucket holding a sample. */
  used: number;
  /** Time of the latest sample: drawn points never lie after it (live batches append from there). */
  lastMs: number;
}

/** Per-GPU columns of the view: bucket start times and each metric's min and max. */
export interface ViewColumns {
  gpu: number;
  bucketMs: number;
  tMs: Float64Array;
  /** Time of the GPU's latest sample: a bucket's maxima are never drawn after it. */
  lastMs: number;
  min: Record<ViewMetric, Float64Array>;
  max: Record<ViewMetric, Float64Array>;
  energyMj: Float64Array;
}

/**
 * A bounded, downsampled picture of a run in memory: for each GPU and metric, the min and the max
 * in each time bucket. When a sample falls past the last bucket, the bucket width doubles and
 * neighbouring buckets merge (min of mins, max of maxes), so a run of days costs the same memory
 * as a run of minutes (`byteSize()` is fixed at construction) and no spike ever disappears. The
 * store keeps every sample; this is what the panel draws of a live run.
 */
export class MinMaxView {
  private readonly gpus = new Map<number, GpuBuckets>();
  private widthMs: number;
  /** Samples added (at or after the origin): an overview says how many it summarizes. */
  sampleCount = 0;

  /**
   * @param initialBucketMs the first bucket width; the sampling interval keeps short runs exact.
   * @param originMs where bucket 0 starts: 0 for a whole run, the range's start for a zoomed range
   *   (samples before it are ignored).
   */
  constructor(
    initialBucketMs: number,
    readonly capacity: number = VIEW_BUCKETS,
    readonly originMs = 0,
  ) {
    if (!(initialBucketMs > 0) || !Number.isInteger(capacity) || capacity < 2 || capacity % 2 !== 0 || !Number.isFinite(originMs)) {
      throw new Error(`invalid view: bucket ${initialBucketMs} ms, capacity ${capacity}, origin ${originMs} ms`);
    }
    this.widthMs = initialBucketMs;
  }

  /**
   * A view holding exactly `columns` (what {@link columns} returned, e.g. read back from a run's
   * overview file): adding to it goes on as if it had seen the samples themselves.
   */
  static fromColumns(columns: readonly ViewColumns[], capacity: number = VIEW_BUCKETS, originMs = 0): MinMaxView {
    const bucketMs = columns[0]?.bucketMs ?? 1;
    const view = new MinMaxView(bucketMs, capacity, originMs);
    for (const c of columns) {
      if (c.bucketMs !== bucketMs || c.tMs.length > capacity) throw new Error(`columns of GPU ${c.gpu} do not fit the view`);
      const g = view.gpu(c.gpu);
      VIEW_METRICS.forEach((m, i) => {
        g.min[i]!.set(c.min[m]);
        g.max[i]!.set(c.max[m]);
      });
      g.energyMj.set(c.energyMj);
      g.used = c.tMs.length;
      g.lastMs = c.lastMs;
    }
    return view;
  }

  get bucketMs(): number {
    return this.widthMs;
  }

  /** Bytes held by the typed arrays: bounded by the GPU count and the capacity, never by run length. */
  byteSize(): number {
    let bytes = 0;
    for (const g of this.gpus.values()) {
      for (const a of [...g.min, ...g.max, g.energyMj]) bytes += a.byteLength;
    }
    return bytes;
  }

  add(s: GpuSample): void {
    const t = s.tMs - this.originMs;
    if (!(t >= 0)) return;
    this.sampleCount++;
    let k = Math.floor(t / this.widthMs);
    while (k >= this.capacity) {
      this.halve();
      k = Math.floor(t / this.widthMs);
    }
    const g = this.gpu(s.gpu);
    for (let m = 0; m < VIEW_METRICS.length; m++) {
      const v = s[VIEW_METRICS[m]!];
      if (v === undefined) continue;
      const min = g.min[m]!;
      const max = g.max[m]!;
      const lo = min[k]!;
      if (Number.isNaN(lo) || v < lo) min[k] = v;
      const hi = max[k]!;
      if (Number.isNaN(hi) || v > hi) max[k] = v;
    }
    if (s.energyMillijoules !== undefined) g.energyMj[k] = s.energyMillijoules;
    if (k + 1 > g.used) g.used = k + 1;
    if (s.tMs > g.lastMs) g.lastMs = s.tMs;
  }

  private gpu(index: number): GpuBuckets {
    let g = this.gpus.get(index);
    if (!g) {
      const filled = (): Float64Array => new Float64Array(this.capacity).fill(Number.NaN);
      g = { min: VIEW_METRICS.map(filled), max: VIEW_METRICS.map(filled), energyMj: filled(), used: 0, lastMs: 0 };
      this.gpus.set(index, g);
    }
    return g;
  }

  /** Double the bucket width: buckets 2i and 2i+1 become bucket i. */
  private halve(): void {
    this.widthMs *= 2;
    const half = this.capacity / 2;
    for (const g of this.gpus.values()) {
      const merge = (a: Float64Array, pick: (x: number, y: number) => number): void => {
        for (let i = 0; i < half; i++) {
          const x = a[2 * i]!;
          const y = a[2 * i + 1]!;
          a[i] = Number.isNaN(x) ? y : Number.isNaN(y) ? x : pick(x, y);
        }
        a.fill(Number.NaN, half);
      };
      for (const a of g.min) merge(a, Math.min);
      for (const a of g.max) merge(a, Math.max);
      // Energy is cumulative: the later bucket's reading is the bucket's last.
      merge(g.energyMj, (_x, y) => y);
      g.used = Math.ceil(g.used / 2);
    }
  }

  /** GPUs seen so far, in index order. */
  gpuIndices(): number[] {
    return [...this.gpus.keys()].sort((a, b) => a - b);
  }

  /** Copies of one GPU's columns (only the buckets used so far). */
  columns(gpu: number): ViewColumns | undefined {
    const g = this.gpus.get(gpu);
    if (!g) return undefined;
    const n = g.used;
    const tMs = new Float64Array(n);
    for (let i = 0; i < n; i++) tMs[i] = this.originMs + i * this.widthMs;
    const pick = (arrays: Float64Array[]): Record<ViewMetric, Float64Array> =>
      Object.fromEntries(VIEW_METRICS.map((m, i) => [m, arrays[i]!.slice(0, n)])) as Record<ViewMetric, Float64Array>;
    return { gpu, bucketMs: this.widthMs, tMs, lastMs: g.lastMs, min: pick(g.min), max: pick(g.max), energyMj: g.energyMj.slice(0, n) };
  }

  /** Every GPU's columns, in index order. */
  allColumns(): ViewColumns[] {
    return this.gpuIndices().map((i) => this.columns(i)!);
  }

  /**
   * The view as samples, for consumers that draw `GpuSample[]`: see {@link samplesOfColumns}.
   * At most 2 x capacity samples per GPU.
   */
  toSamples(): GpuSample[] {
    return samplesOfColumns(this.allColumns());
  }
}

/**
 * Min/max columns as samples, for consumers that draw `GpuSample[]` (the panel draws a stored run's
 * overview and a zoomed range this way): per bucket with data, one sample holding the minima at
 * the bucket's start and one holding the maxima at its middle (one when they coincide), never after
 * the GPU's last sample. In time order, all GPUs interleaved.
 */
export function samplesOfColumns(columns: readonly ViewColumns[]): GpuSample[] {
  const out: GpuSample[] = [];
  const sorted = [...columns].sort((a, b) => a.gpu - b.gpu);
  const maxUsed = sorted.reduce((a, c) => Math.max(a, c.tMs.length), 0);
  for (let k = 0; k < maxUsed; k++) {
    // Every GPU's minima first, then their maxima: the points stay in time order.
    const highs: GpuSample[] = [];
    for (const c of sorted) {
      if (k >= c.tMs.length) continue;
      const t = c.tMs[k]!;
      const lo: GpuSample = { tMs: t, gpu: c.gpu };
      const hi: GpuSample = { tMs: Math.min(t + c.bucketMs / 2, c.lastMs), gpu: c.gpu };
      let any = false;
      let differ = false;
      for (const m of VIEW_METRICS) {
        const a = c.min[m][k]!;
        const b = c.max[m][k]!;
        if (Number.isNaN(a)) continue;
        any = true;
        lo[m] = a;
        hi[m] = b;
        if (a !== b) differ = true;
      }
      if (!any) continue;
      const e = c.energyMj[k]!;
      if (!Number.isNaN(e)) {
        lo.energyMillijoules = e;
        hi.energyMillijoules = e;
      }
      out.push(lo);
      if (differ) highs.push(hi);
    }
    highs.sort((x, y) => x.tMs - y.tMs);
    for (const h of highs) out.push(h);
  }
  return out;
}
