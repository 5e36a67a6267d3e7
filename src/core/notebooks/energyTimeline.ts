/**
 * Per-GPU cumulative energy and utilization over a long session, for windows that are only known
 * after they end: a notebook cell's start and end times arrive with its execution summary, when the
 * cell has finished. Storing cumulative figures makes a window's value a difference of two
 * interpolated points, whatever its length.
 *
 * Memory is bounded whatever the session's length (a kernel can stay up for days): a fine ring at
 * the sampling rate covers the last ~30 minutes, and a coarse ring with one point every
 * {@link COARSE_STEP_MS} covers the last two days. A window that starts before the coarse ring's
 * oldest point has no figure (said so, never a guess).
 */
import type { GpuSample } from '../sampler/types';

/** Points kept at the sampling rate: about 33 minutes at 100 ms. */
export const FINE_POINTS = 20_000;
/** Spacing of the coarse ring's points. */
export const COARSE_STEP_MS = 5_000;
/** Coarse points: two days at {@link COARSE_STEP_MS}. */
export const COARSE_POINTS = (48 * 3600_000) / COARSE_STEP_MS;

/** Cumulative values at one time. */
interface Cumulative {
  energyMj: number;
  /** Trapezoid integral of the sampled power (mJ): smooth at any scale, for short windows. */
  powerMj: number;
  /** Integral of utilization (%) over time (ms). */
  utilPctMs: number;
  /** Time with a utilization reading (ms): the mean utilization's denominator. */
  utilMs: number;
}

/** A ring of (time, cumulative figures) points, oldest overwritten first. */
class Ring {
  private readonly tMs: Float64Array;
  private readonly energyMj: Float64Array;
  private readonly powerMj: Float64Array;
  private readonly utilPctMs: Float64Array;
  private readonly utilMs: Float64Array;
  /** Index of the oldest point, and how many are kept. */
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.tMs = new Float64Array(capacity);
    this.energyMj = new Float64Array(capacity);
    this.powerMj = new Float64Array(capacity);
    this.utilPctMs = new Float64Array(capacity);
    this.utilMs = new Float64Array(capacity);
  }

  push(tMs: number, c: Cumulative): void {
    const i = (this.head + this.size) % this.capacity;
    this.tMs[i] = tMs;
    this.energyMj[i] = c.energyMj;
    this.powerMj[i] = c.powerMj;
    this.utilPctMs[i] = c.utilPctMs;
    this.utilMs[i] = c.utilMs;
    if (this.size < this.capacity) this.size++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** Physical index of the k-th oldest point. */
  private at(k: number): number {
    return (this.head + k) % this.capacity;
  }

  oldestMs(): number | undefined {
    return this.size ? this.tMs[this.head] : undefined;
  }

  newestMs(): number | undefined {
    return this.size ? this.tMs[this.at(this.size - 1)] : undefined;
  }

  /** The kept points with `startMs <= t <= endMs`, oldest first. */
  pointsIn(startMs: number, endMs: number): Array<{ tMs: number } & Cumulative> {
    const out: Array<{ tMs: number } & Cumulative> = [];
    for (let k = 0; k < this.size; k++) {
      const i = this.at(k);
      const t = this.tMs[i]!;
      if (t < startMs) continue;
      if (t > endMs) break;
      out.push({ tMs: t, energyMj: this.energyMj[i]!, powerMj: this.powerMj[i]!, utilPctMs: this.utilPctMs[i]!, utilMs: this.utilMs[i]! });
    }
    return out;
  }

  /** Cumulative values at `tMs`, linearly interpolated between the two points around it. */
  valueAt(tMs: number): Cumulative | undefined {
    if (!this.size) return undefined;
    if (tMs < this.tMs[this.at(0)]! || tMs > this.tMs[this.at(this.size - 1)]!) return undefined;
    // Largest k with t[k] <= tMs.
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.tMs[this.at(mid)]! <= tMs) lo = mid;
      else hi = mid - 1;
    }
    const a = this.at(lo);
    if (lo === this.size - 1 || this.tMs[a] === tMs) return { energyMj: this.energyMj[a]!, powerMj: this.powerMj[a]!, utilPctMs: this.utilPctMs[a]!, utilMs: this.utilMs[a]! };
    const b = this.at(lo + 1);
    const f = (tMs - this.tMs[a]!) / (this.tMs[b]! - this.tMs[a]!);
    const lerp = (x: Float64Array): number => x[a]! + f * (x[b]! - x[a]!);
    return { energyMj: lerp(this.energyMj), powerMj: lerp(this.powerMj), utilPctMs: lerp(this.utilPctMs), utilMs: lerp(this.utilMs) };
  }
}

interface GpuSeries {
  fine: Ring;
  coarse: Ring;
  lastMs: number | undefined;
  now: Cumulative;
  /** Power of the last sample, for integrating across samples that carry no energy figure. */
  lastPowerMw: number | undefined;
  lastUtilPct: number | undefined;
}

/** Windows shorter than this take their energy from the sampled power (see {@link EnergyTimeline.window}). */
export const SHORT_WINDOW_MS = 2_000;

/** Figures of one GPU over a window. */
export interface WindowFigures {
  gpu: number;
  energyJ: number;
  /** `energy`: the sampler's counter-anchored energy series; `power`: the sampled power's integral (short windows). */
  source: 'energy' | 'power';
  avgPowerW: number;
  /** Time-weighted mean utilization; undefined when no utilization was read in the window. */
  avgUtilPct: number | undefined;
}

export type WindowResult =
  | { ok: true; gpus: WindowFigures[] }
  /** `pending`: the samples after the window's end have not arrived yet; `expired`: it started before the kept history. */
  | { ok: false; reason: 'pending' | 'expired' | 'empty' };

/**
 * The timeline of one sampler session. Times are the sampler's (ms since its epoch); the caller
 * maps wall-clock times onto them.
 */
export class EnergyTimeline {
  private readonly series = new Map<number, GpuSeries>();

  constructor(
    private readonly finePoints = FINE_POINTS,
    private readonly coarsePoints = COARSE_POINTS,
    private readonly coarseStepMs = COARSE_STEP_MS,
  ) {}

  /** Adds a batch's samples (in time order per GPU, as the sampler delivers them). */
  add(samples: readonly GpuSample[]): void {
    for (const s of samples) this.addOne(s);
  }

  private addOne(s: GpuSample): void {
    let g = this.series.get(s.gpu);
    if (!g) {
      g = {
        fine: new Ring(this.finePoints),
        coarse: new Ring(this.coarsePoints),
        lastMs: undefined,
        now: { energyMj: 0, powerMj: 0, utilPctMs: 0, utilMs: 0 },
        lastPowerMw: undefined,
        lastUtilPct: undefined,
      };
      this.series.set(s.gpu, g);
    }
    if (g.lastMs !== undefined && s.tMs <= g.lastMs) return;
    const dtMs = g.lastMs === undefined ? 0 : s.tMs - g.lastMs;
    const now = g.now;
    if (s.powerMilliwatts !== undefined && g.lastPowerMw !== undefined) now.powerMj += ((g.lastPowerMw + s.powerMilliwatts) / 2) * (dtMs / 1000);
    if (s.energyMillijoules !== undefined) {
      // The sampler's own figure (counter deltas, integrated power between counter reads). A
      // counter read can correct the carried-forward integration downwards; a window never gets
      // negative energy from it (clamped where windows are read).
      now.energyMj = s.energyMillijoules;
    } else if (s.powerMilliwatts !== undefined && g.lastPowerMw !== undefined) {
      now.energyMj += ((g.lastPowerMw + s.powerMilliwatts) / 2) * (dtMs / 1000);
    }
    if (s.powerMilliwatts !== undefined) g.lastPowerMw = s.powerMilliwatts;
    // NVML's utilization is the share of the last sample period a kernel ran: it covers the time
    // since the previous sample.
    if (s.utilGpuPct !== undefined && dtMs > 0) {
      now.utilPctMs += s.utilGpuPct * dtMs;
      now.utilMs += dtMs;
    }
    if (s.utilGpuPct !== undefined) g.lastUtilPct = s.utilGpuPct;
    g.lastMs = s.tMs;
    g.fine.push(s.tMs, now);
    const lastCoarse = g.coarse.newestMs();
    if (lastCoarse === undefined || s.tMs - lastCoarse >= this.coarseStepMs) g.coarse.push(s.tMs, now);
  }

  /** Latest sample time over every GPU (ms), or undefined before the first sample. */
  newestMs(): number | undefined {
    let newest: number | undefined;
    for (const g of this.series.values()) if (g.lastMs !== undefined && (newest === undefined || g.lastMs < newest)) newest = g.lastMs;
    return newest;
  }

  /** Oldest time a window may start at (ms), or undefined before the first sample. */
  oldestMs(): number | undefined {
    let oldest: number | undefined;
    for (const g of this.series.values()) {
      const o = g.coarse.oldestMs();
      if (o !== undefined && (oldest === undefined || o > oldest)) oldest = o;
    }
    return oldest;
  }

  /** Per-GPU figures over [startMs, endMs] (sampler time). */
  window(startMs: number, endMs: number, gpus?: readonly number[]): WindowResult {
    if (!this.series.size) return { ok: false, reason: 'empty' };
    const newest = this.newestMs();
    if (newest === undefined || newest < endMs) return { ok: false, reason: 'pending' };
    const durMs = Math.max(0, endMs - startMs);
    const out: WindowFigures[] = [];
    for (const [gpu, g] of [...this.series].sort((x, y) => x[0] - y[0])) {
      if (gpus && !gpus.includes(gpu)) continue;
      const a = this.valueAt(g, startMs);
      const b = this.valueAt(g, endMs);
      if (!a || !b) return { ok: false, reason: 'expired' };
      // Long windows: the sampler's energy series, anchored to the hardware counter. It moves in
      // steps where a counter read corrects the power integrated since the previous read (the
      // counter itself updates only every ~100 ms), so a window of a few hundred ms could read 0
      // or a correction's worth: short windows use the sampled power's integral instead, which is
      // smooth at every scale.
      const fromPower = durMs < SHORT_WINDOW_MS || b.energyMj - a.energyMj <= 0;
      const energyJ = Math.max(0, ((fromPower ? b.powerMj - a.powerMj : b.energyMj - a.energyMj) / 1000));
      const utilMs = b.utilMs - a.utilMs;
      out.push({
        gpu,
        energyJ,
        source: fromPower ? 'power' : 'energy',
        // A zero-length window (a cell timed to the millisecond) has no mean: the power and
        // utilization of the sample period around it stand in.
        avgPowerW: durMs > 0 ? (energyJ * 1000) / durMs : (g.lastPowerMw ?? 0) / 1000,
        avgUtilPct: utilMs > 0 ? (b.utilPctMs - a.utilPctMs) / utilMs : durMs > 0 ? undefined : g.lastUtilPct,
      });
    }
    return { ok: true, gpus: out };
  }

  private valueAt(g: GpuSeries, tMs: number): Cumulative | undefined {
    const fineOldest = g.fine.oldestMs();
    if (fineOldest !== undefined && tMs >= fineOldest) return g.fine.valueAt(tMs);
    return g.coarse.valueAt(tMs);
  }

  /**
   * The samples of a recent window, rebuilt from the fine ring (mean power and utilization of each
   * sample period, times from the window's start), for the detectors that judge a cell; undefined
   * when the window is older than the fine ring.
   */
  samplesIn(startMs: number, endMs: number, gpus?: readonly number[]): GpuSample[] | undefined {
    const out: GpuSample[] = [];
    for (const [gpu, g] of this.series) {
      if (gpus && !gpus.includes(gpu)) continue;
      const oldest = g.fine.oldestMs();
      if (oldest === undefined || startMs < oldest) return undefined;
      const pts = g.fine.pointsIn(startMs, endMs);
      for (let k = 1; k < pts.length; k++) {
        const a = pts[k - 1]!;
        const b = pts[k]!;
        const dt = b.tMs - a.tMs;
        if (dt <= 0) continue;
        const du = b.utilMs - a.utilMs;
        out.push({
          tMs: b.tMs - startMs,
          gpu,
          powerMilliwatts: ((b.powerMj - a.powerMj) * 1000) / dt,
          energyMillijoules: b.energyMj - pts[0]!.energyMj,
          ...(du > 0 ? { utilGpuPct: (b.utilPctMs - a.utilPctMs) / du } : {}),
        });
      }
    }
    return out.sort((x, y) => x.tMs - y.tMs || x.gpu - y.gpu);
  }
}
