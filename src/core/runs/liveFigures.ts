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

/**
 * The session's live state between batches: the latest sample per GPU, the sampler's energies and
 * clock, the idle and starved timers. Folds each batch into one {@link LiveModel} and reads it.
 */
export class LiveTracker {
  /** Latest sample per GPU index. */
  readonly latest = new Map<number, GpuSample>();
  private energiesNow: GpuEnergy[] = [];
  private elapsedMsNow = 0;
  /** performance.now() when `elapsedMsNow` was last set: the run's time between batches (about 1 s apart). */
  private elapsedAtPerfMs = performance.now();
  private idleSinceMs: number | undefined;
  private starvedSinceMs: number | undefined;
  private readonly model = new LiveModel();

  constructor(
    private readonly runId: string,
    private readonly gpus: readonly GpuInfo[],
    /** Below this utilisation (%) on every counted GPU, without being idle, the run is starved. */
    private readonly starvedUtilPct: number,
  ) {}

  /** The sampler's energies, as of the last batch. */
  get energies(): GpuEnergy[] {
    return this.energiesNow;
  }

  /** The run's time at the last batch (ms since t=0). */
  get elapsedMs(): number {
    return this.elapsedMsNow;
  }

  /** The run's time now, in seconds: the last batch's time plus what has passed since. */
  nowS(): number {
    return (this.elapsedMsNow + performance.now() - this.elapsedAtPerfMs) / 1000;
  }

  /** A batch arrived: the sampler's energies and clock as of its end. */
  tick(energies: GpuEnergy[], elapsedMs: number): void {
    this.energiesNow = energies;
    this.elapsedMsNow = elapsedMs;
    this.elapsedAtPerfMs = performance.now();
  }

  /** Restart the idle and starved timers from the counted GPUs' latest samples. */
  updateTimers(runGpus: readonly number[]): void {
    const run = countedGpus(this.gpus, runGpus)
      .map((g) => this.latest.get(g))
      .filter((s): s is GpuSample => !!s);
    if (!run.length) return;
    const t = run.reduce((a, s) => Math.max(a, s.tMs), 0);
    const idle = run.every((s) => s.utilGpuPct === 0);
    const starved = !idle && run.every((s) => s.utilGpuPct !== undefined && s.utilGpuPct < this.starvedUtilPct);
    this.idleSinceMs = idle ? (this.idleSinceMs ?? t) : undefined;
    this.starvedSinceMs = starved ? (this.starvedSinceMs ?? t) : undefined;
  }

  /** Fold the batch just ingested into the averages and the peak. */
  observe(runGpus: readonly number[]): void {
    this.model.observe(this.input(runGpus));
  }

  /** The figures now (see {@link LiveModel.read}). */
  read(runGpus: readonly number[]): LiveStatus {
    return this.model.read(this.input(runGpus));
  }

  private input(runGpus: readonly number[]): LiveInput {
    return {
      runId: this.runId,
      gpus: this.gpus,
      latest: this.latest,
      energies: this.energiesNow,
      runGpus,
      elapsedMs: this.elapsedMsNow,
      idleSinceMs: this.idleSinceMs,
      starvedSinceMs: this.starvedSinceMs,
    };
  }
}

/** The GPUs a run's figures count: its attributed ones, or every GPU while none is known. */
export function countedGpus(gpus: readonly GpuInfo[], runGpus: readonly number[]): number[] {
  return runGpus.length ? [...runGpus] : gpus.map((g) => g.index);
}
