/**
 * Helpers of ring sampling: the driver keeps ~20 ms power samples (and, where supported, a
 * utilization ring), so the sampler wakes about once a second and drains them instead of waking
 * ten times a second to read one value (on an H200 one drain costs ~0.3 ms; the cost of sampling
 * was waking up, not reading).
 */
import type { GpuSample, PowerPoint } from './types';

/** The driver's power ring rate on the GPUs measured so far (~20 ms apart): 50 samples a second. */
export const RING_SAMPLES_PER_SECOND = 50;

/**
 * Reduces drained ring points to the power resolution the user chose (samples per second), by
 * averaging each bin so no energy-relevant detail is dropped. Energy is integrated from the raw
 * points before this; only what is stored and drawn is reduced.
 */
export class PowerDecimator {
  private readonly binMs: number;
  private bin: { startMs: number; sumMw: number; sumT: number; n: number } | undefined;

  constructor(
    private readonly gpu: number,
    samplesPerSecond: number,
  ) {
    // A bin a hair shorter than the period keeps every point at the ring's own rate despite jitter.
    this.binMs = samplesPerSecond >= RING_SAMPLES_PER_SECOND ? 0 : 1000 / samplesPerSecond - 0.5;
  }

  /** Add a raw point; returns the points to keep (none while a bin is filling). */
  push(tMs: number, powerMilliwatts: number, out: PowerPoint[]): void {
    if (this.binMs === 0) {
      out.push({ gpu: this.gpu, tMs, powerMilliwatts });
      return;
    }
    if (this.bin && tMs - this.bin.startMs >= this.binMs) this.flush(out);
    this.bin ??= { startMs: tMs, sumMw: 0, sumT: 0, n: 0 };
    this.bin.sumMw += powerMilliwatts;
    this.bin.sumT += tMs;
    this.bin.n++;
  }

  /** Emit the bin being filled (end of the window). */
  flush(out: PowerPoint[]): void {
    const b = this.bin;
    if (!b || b.n === 0) return;
    out.push({ gpu: this.gpu, tMs: Math.round(b.sumT / b.n), powerMilliwatts: Math.round(b.sumMw / b.n) });
    this.bin = undefined;
  }
}

/**
 * Samples from utilization-ring points, in time order, each with the ring power at or just before
 * it (so the detectors see power and utilization at the ring's time resolution).
 * `powerPoints` must be sorted by time; points at or before `afterMs` are dropped (they would
 * break the samples' time order).
 */
export function utilSamples(
  gpu: number,
  points: Array<{ tMs: number; utilGpuPct: number }>,
  powerPoints: Array<{ tMs: number; powerMilliwatts: number }>,
  afterMs: number,
): GpuSample[] {
  const out: GpuSample[] = [];
  let j = 0;
  let mW: number | undefined;
  for (const p of points) {
    if (p.tMs <= afterMs) continue;
    while (j < powerPoints.length && powerPoints[j]!.tMs <= p.tMs) mW = powerPoints[j++]!.powerMilliwatts;
    out.push({ tMs: p.tMs, gpu, utilGpuPct: p.utilGpuPct, ...(mW !== undefined ? { powerMilliwatts: mW } : {}) });
  }
  return out;
}
