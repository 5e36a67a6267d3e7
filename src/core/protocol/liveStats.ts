/**
 * Running figures of a live run, computed in the panel from the samples as they arrive, so the
 * summary cards move with the charts. When the run ends the host's summary (the stored record)
 * replaces them. Pure and incremental: O(1) per sample, nothing kept per sample.
 */
import type { GpuSample } from '../sampler/types';

export interface GpuFigures {
  index: number;
  energyJ: number;
  /** energyJ / run duration. */
  avgPowerW: number;
  peakPowerW: number;
  avgUtilPct?: number;
  samples: number;
}

export interface LiveFigures {
  /** Latest sample time (samples are stamped from the run's start). */
  durationS: number;
  energyJ: number;
  /** energyJ / durationS: the mean the energy actually implies, not a mean of readings. */
  avgPowerW: number;
  /** Highest total power over ticks (sum over GPUs of each one's latest reading). */
  peakPowerW: number;
  /** Mean of all `utilGpuPct` readings of all GPUs; undefined when none had it. */
  avgUtilPct?: number;
  gpus: GpuFigures[];
}

class GpuAccumulator {
  /** Last energy-counter reading (J since the run's start); undefined until one arrives. */
  counterJ: number | undefined;
  /** Trapezoid integral of power since the last counter reading, or since the start without one. */
  integratedJ = 0;
  lastTMs: number | undefined;
  lastPowerW: number | undefined;
  peakPowerW = 0;
  utilSum = 0;
  utilCount = 0;
  samples = 0;

  constructor(readonly index: number) {}

  get energyJ(): number {
    return (this.counterJ ?? 0) + this.integratedJ;
  }

  add(s: GpuSample): void {
    const powerW = s.powerMilliwatts === undefined ? undefined : s.powerMilliwatts / 1000;
    if (s.energyMillijoules !== undefined) {
      this.counterJ = s.energyMillijoules / 1000;
      this.integratedJ = 0;
    } else if (powerW !== undefined && this.lastPowerW !== undefined && this.lastTMs !== undefined && s.tMs > this.lastTMs) {
      // Fallback where the sampler sent no energy: integrate, as the sampler does for `integrated`.
      this.integratedJ += ((powerW + this.lastPowerW) / 2) * ((s.tMs - this.lastTMs) / 1000);
    }
    if (powerW !== undefined) {
      this.lastPowerW = powerW;
      if (powerW > this.peakPowerW) this.peakPowerW = powerW;
    }
    this.lastTMs = s.tMs;
    if (s.utilGpuPct !== undefined) {
      this.utilSum += s.utilGpuPct;
      this.utilCount++;
    }
    this.samples++;
  }
}

/** A tick's totals over all GPUs, reported once the tick is complete. */
export type TickListener = (tMs: number, totalPowerW: number, totalEnergyJ: number) => void;

export class LiveStats {
  private readonly gpus = new Map<number, GpuAccumulator>();
  private maxTMs = 0;
  private tickTMs: number | undefined;
  private peakTotalW = 0;

  /** GPUs the totals count; undefined: every GPU (see setCounted). */
  private counted: ReadonlySet<number> | undefined;

  constructor(private readonly onTick?: TickListener) {}

  /**
   * Only these GPUs count in the totals (power, energy, utilisation), as in the run's summary: a
   * GPU sampled beside the run (another job's, an idle one) keeps its own figures but adds nothing.
   */
  setCounted(gpus: readonly number[] | undefined): void {
    this.counted = gpus === undefined || gpus.length === 0 ? undefined : new Set(gpus);
  }

  private counts(gpu: number): boolean {
    return this.counted === undefined || this.counted.has(gpu);
  }

  /** Adds one sample; returns that GPU's cumulative energy (J) after it. */
  add(s: GpuSample): number {
    // Samples of one sampler tick share tMs; a new tMs closes the previous tick.
    if (this.tickTMs !== undefined && s.tMs !== this.tickTMs) this.endTick();
    this.tickTMs = s.tMs;
    let acc = this.gpus.get(s.gpu);
    if (!acc) {
      acc = new GpuAccumulator(s.gpu);
      this.gpus.set(s.gpu, acc);
    }
    acc.add(s);
    if (s.tMs > this.maxTMs) this.maxTMs = s.tMs;
    return acc.energyJ;
  }

  /** Closes the pending tick (call after the last sample of a finished run). */
  endTick(): void {
    if (this.tickTMs === undefined) return;
    const total = this.totalPowerW();
    if (total > this.peakTotalW) this.peakTotalW = total;
    this.onTick?.(this.tickTMs, total, this.totalEnergyJ());
    this.tickTMs = undefined;
  }

  figures(): LiveFigures {
    const durationS = this.maxTMs / 1000;
    const perSecond = (j: number): number => (durationS > 0 ? j / durationS : 0);
    let utilSum = 0;
    let utilCount = 0;
    const gpus: GpuFigures[] = [];
    for (const acc of [...this.gpus.values()].sort((a, b) => a.index - b.index)) {
      if (this.counts(acc.index)) {
        utilSum += acc.utilSum;
        utilCount += acc.utilCount;
      }
      gpus.push({
        index: acc.index,
        energyJ: acc.energyJ,
        avgPowerW: perSecond(acc.energyJ),
        peakPowerW: acc.peakPowerW,
        avgUtilPct: acc.utilCount > 0 ? acc.utilSum / acc.utilCount : undefined,
        samples: acc.samples,
      });
    }
    const energyJ = this.totalEnergyJ();
    const pendingW = this.tickTMs === undefined ? 0 : this.totalPowerW();
    return {
      durationS,
      energyJ,
      avgPowerW: perSecond(energyJ),
      peakPowerW: Math.max(this.peakTotalW, pendingW),
      avgUtilPct: utilCount > 0 ? utilSum / utilCount : undefined,
      gpus,
    };
  }

  private totalPowerW(): number {
    let w = 0;
    for (const acc of this.gpus.values()) if (this.counts(acc.index)) w += acc.lastPowerW ?? 0;
    return w;
  }

  private totalEnergyJ(): number {
    let j = 0;
    for (const acc of this.gpus.values()) if (this.counts(acc.index)) j += acc.energyJ;
    return j;
  }
}
