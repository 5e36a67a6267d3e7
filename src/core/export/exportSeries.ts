/**
 * A stored run's samples as the time series the TensorBoard and MLflow exports write: per GPU and
 * for the run's counted GPUs together, one point per time bucket (power and utilization the mean
 * of the bucket's samples, energy the cumulative counter at its last sample). Streaming: memory
 * does not grow with the run's length, and the bucket width keeps a day-long run at a few thousand
 * points per series (what those tools draw well), never below the sampling interval.
 */
import type { GpuSample } from '../sampler/types';

/** Points per series at most (the bucket width grows with the run's length to keep it). */
export const MAX_POINTS_PER_SERIES = 5000;

export interface SeriesPoint {
  /** ms since the run's start: the bucket's last sample. */
  tMs: number;
  /** NVML index, or `total` for the counted GPUs together. */
  gpu: number | 'total';
  powerW?: number;
  /** Cumulative energy since the run's start. */
  energyJ?: number;
  utilPct?: number;
}

/** The bucket width of a run: its sampling interval, or wider so no series exceeds MAX_POINTS_PER_SERIES. */
export function bucketMsFor(durationS: number, sampleIntervalMs: number): number {
  return Math.max(1, sampleIntervalMs, Math.ceil((durationS * 1000) / MAX_POINTS_PER_SERIES));
}

interface Bucket {
  index: number;
  tMs: number;
  powerSumW: number;
  powerN: number;
  utilSum: number;
  utilN: number;
  energyJ?: number;
}

function emptyBucket(index: number): Bucket {
  return { index, tMs: 0, powerSumW: 0, powerN: 0, utilSum: 0, utilN: 0 };
}

function pointOf(gpu: number | 'total', b: Bucket): SeriesPoint {
  return {
    tMs: b.tMs,
    gpu,
    ...(b.powerN ? { powerW: b.powerSumW / b.powerN } : {}),
    ...(b.energyJ !== undefined ? { energyJ: b.energyJ } : {}),
    ...(b.utilN ? { utilPct: b.utilSum / b.utilN } : {}),
  };
}

/**
 * Feed samples in time order (as the store streams them); each call returns the points completed
 * so far. The total of a bucket is emitted once every counted GPU has begun a later bucket.
 */
export class SeriesReducer {
  private readonly open = new Map<number, Bucket>();
  /** The last energy of each counted GPU (it carries across buckets where a GPU had no sample). */
  private readonly lastEnergyJ = new Map<number, number>();
  private readonly totals = new Map<number, { tMs: number; powerW: number; powerN: number; utilSum: number; utilN: number; energyByGpu: Map<number, number> }>();

  constructor(private readonly bucketMs: number, private readonly counted: ReadonlySet<number>) {}

  add(samples: readonly GpuSample[]): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (const s of samples) {
      const index = Math.floor(s.tMs / this.bucketMs);
      let b = this.open.get(s.gpu);
      if (b && b.index !== index) {
        this.close(s.gpu, b, out);
        b = undefined;
      }
      if (!b) {
        b = emptyBucket(index);
        this.open.set(s.gpu, b);
      }
      b.tMs = s.tMs;
      if (s.powerMilliwatts !== undefined) {
        b.powerSumW += s.powerMilliwatts / 1000;
        b.powerN++;
      }
      if (s.utilGpuPct !== undefined) {
        b.utilSum += s.utilGpuPct;
        b.utilN++;
      }
      if (s.energyMillijoules !== undefined) b.energyJ = s.energyMillijoules / 1000;
      // A bucket's total is complete once every counted GPU has moved past it.
      let minOpen = Number.POSITIVE_INFINITY;
      for (const [gpu, open] of this.open) if (this.counted.has(gpu) && open.index < minOpen) minOpen = open.index;
      this.flushTotals(minOpen - 1, out);
    }
    return out;
  }

  /** The points still open at the end of the run. */
  finish(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (const [gpu, b] of [...this.open].sort((x, y) => x[0] - y[0])) this.close(gpu, b, out);
    this.open.clear();
    this.flushTotals(Number.POSITIVE_INFINITY, out);
    return out;
  }

  private close(gpu: number, b: Bucket, out: SeriesPoint[]): void {
    out.push(pointOf(gpu, b));
    if (!this.counted.has(gpu)) return;
    if (b.energyJ !== undefined) this.lastEnergyJ.set(gpu, b.energyJ);
    let t = this.totals.get(b.index);
    if (!t) {
      t = { tMs: 0, powerW: 0, powerN: 0, utilSum: 0, utilN: 0, energyByGpu: new Map() };
      this.totals.set(b.index, t);
    }
    t.tMs = Math.max(t.tMs, b.tMs);
    if (b.powerN) {
      t.powerW += b.powerSumW / b.powerN;
      t.powerN++;
    }
    if (b.utilN) {
      t.utilSum += b.utilSum / b.utilN;
      t.utilN++;
    }
    t.energyByGpu = new Map(this.lastEnergyJ);
  }

  /** Emits the totals of every bucket up to `upTo`, in order. */
  private flushTotals(upTo: number, out: SeriesPoint[]): void {
    if (!this.totals.size) return;
    const ready = [...this.totals.keys()].filter((k) => k <= upTo).sort((a, b) => a - b);
    for (const k of ready) {
      const t = this.totals.get(k)!;
      this.totals.delete(k);
      let energyJ: number | undefined;
      for (const e of t.energyByGpu.values()) energyJ = (energyJ ?? 0) + e;
      out.push({
        tMs: t.tMs,
        gpu: 'total',
        ...(t.powerN ? { powerW: t.powerW } : {}),
        ...(energyJ !== undefined ? { energyJ } : {}),
        ...(t.utilN ? { utilPct: t.utilSum / t.utilN } : {}),
      });
    }
  }
}
