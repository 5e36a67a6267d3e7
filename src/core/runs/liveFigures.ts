/**
 * The one live model of a running run: every surface (status bar, energy panel, CLI live line)
 * reads these figures, so they show the same energy for the same GPUs at the same moment.
 *
 * - The counted GPUs are the run's attributed GPUs (all GPUs until one is attributed).
 * - Energy is the sampler's per-GPU energy (counter deltas where the GPU has a counter, integrated
 *   power otherwise): the integrator the stored summary uses, not a second one.
 * - Averages and the peak accumulate per batch in O(1) memory: nothing here grows with the run.
 */
import type { GpuEnergy } from '../sampler/engine';
import type { GpuInfo, GpuSample } from '../sampler/types';
import type { LiveStatus } from './types';

/** What the session knows at one moment. */
export interface LiveInput {
  runId: string;
  gpus: readonly GpuInfo[];
  /** Latest sample per GPU index. */
  latest: ReadonlyMap<number, GpuSample>;
  energies: readonly GpuEnergy[];
  /** Attributed GPUs; empty when none is known yet (then every GPU counts). */
  runGpus: readonly number[];
  elapsedMs: number;
  idleSinceMs: number | undefined;
  starvedSinceMs: number | undefined;
}

export class LiveModel {
  /** The largest energy reported so far: "energy so far" never goes down (see `read`). */
  private shownEnergyJ = 0;
  private peakPowerW = 0;
  private utilWeighted = 0;
  private utilTimeS = 0;
  private lastTickMs: number | undefined;

  /**
   * Folds one batch's end state into the averages: the counted GPUs' summed latest power for the
   * peak, their mean utilization weighted by the time since the previous batch.
   */
  observe(input: Pick<LiveInput, 'gpus' | 'latest' | 'runGpus' | 'elapsedMs'>): void {
    const counted = countedGpus(input.gpus, input.runGpus);
    let powerW: number | undefined;
    let util = 0;
    let utilN = 0;
    for (const g of counted) {
      const s = input.latest.get(g);
      if (s?.powerMilliwatts !== undefined) powerW = (powerW ?? 0) + s.powerMilliwatts / 1000;
      if (s?.utilGpuPct !== undefined) {
        util += s.utilGpuPct;
        utilN++;
      }
    }
    if (powerW !== undefined && powerW > this.peakPowerW) this.peakPowerW = powerW;
    const dtS = this.lastTickMs === undefined ? 0 : Math.max(0, input.elapsedMs - this.lastTickMs) / 1000;
    this.lastTickMs = input.elapsedMs;
    if (utilN > 0 && dtS > 0) {
      this.utilWeighted += (util / utilN) * dtS;
      this.utilTimeS += dtS;
    }
  }

  /**
   * The figures now. Energy so far never decreases: when the counted GPUs narrow (the run's
   * process shows up on one GPU of several, or the first hardware-counter read replaces the
   * integrated estimate), the figure holds until the new count passes it, rather than jumping
   * back (130 J -> 94 J was seen in the CLI).
   */
  read(input: LiveInput): LiveStatus {
    const counted = new Set(countedGpus(input.gpus, input.runGpus));
    let powerW: number | undefined;
    let energyJ = 0;
    const gpus: LiveStatus['gpus'] = input.gpus.map((g) => {
      const s = input.latest.get(g.index);
      const e = input.energies.find((x) => x.gpu === g.index);
      if (counted.has(g.index)) {
        if (s?.powerMilliwatts !== undefined) powerW = (powerW ?? 0) + s.powerMilliwatts / 1000;
        energyJ += (e?.energyMillijoules ?? 0) / 1000;
      }
      return {
        index: g.index,
        name: g.name,
        attributed: input.runGpus.includes(g.index),
        ...(s?.powerMilliwatts !== undefined ? { powerW: s.powerMilliwatts / 1000 } : {}),
        ...(s?.utilGpuPct !== undefined ? { utilPct: s.utilGpuPct } : {}),
        ...(s?.memUsedBytes !== undefined ? { memUsedBytes: s.memUsedBytes } : {}),
        ...(g.memTotalBytes !== undefined ? { memTotalBytes: g.memTotalBytes } : {}),
        ...(s?.temperatureC !== undefined ? { temperatureC: s.temperatureC } : {}),
        ...(e ? { energyJ: e.energyMillijoules / 1000 } : {}),
      };
    });
    this.shownEnergyJ = Math.max(this.shownEnergyJ, energyJ);
    const now = input.elapsedMs;
    const elapsedS = now / 1000;
    return {
      runId: input.runId,
      elapsedS,
      powerW,
      energyJ: this.shownEnergyJ,
      energyMethod: input.gpus.filter((g) => counted.has(g.index)).every((g) => g.energyMethod === 'counter') ? 'counter' : 'integrated',
      countedGpus: [...counted].sort((a, b) => a - b),
      avgPowerW: elapsedS > 0 ? this.shownEnergyJ / elapsedS : 0,
      peakPowerW: Math.max(this.peakPowerW, powerW ?? 0),
      ...(this.utilTimeS > 0 ? { avgUtilPct: this.utilWeighted / this.utilTimeS } : {}),
      gpus,
      idleForS: input.idleSinceMs !== undefined ? Math.max(0, now - input.idleSinceMs) / 1000 : 0,
      starvedForS: input.starvedSinceMs !== undefined ? Math.max(0, now - input.starvedSinceMs) / 1000 : 0,
    };
  }
}

/** The GPUs a run's figures count: its attributed ones, or every GPU while none is known. */
export function countedGpus(gpus: readonly GpuInfo[], runGpus: readonly number[]): number[] {
  return runGpus.length ? [...runGpus] : gpus.map((g) => g.index);
}
