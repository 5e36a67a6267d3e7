import { NvmlReturn } from '../nvml/constants';
import { NvmlError } from '../nvml/nvmlError';
import type { DeviceSource, TelemetryBackend } from './backend';
import type { GpuInfo, GpuProcessUse, GpuSample, PowerPoint, SampleBatch, SampleGap } from './types';

/** Sampling cadence. Defaults follow the measured costs in media/traces/README.md. */
export interface EngineOptions {
  /** Tick period for the cheap readings (power, util, memory, clocks...). 20 ms - 10 s. */
  intervalMs: number;
  /**
   * How often the energy counter is read between the window's start and end (default 60 s). It
   * costs ~4 ms of CPU a call on an H200 (measured: the driver busy-waits), so it is read at the
   * window's boundaries, on `readCountersNow()`, and this rarely; in between, energy is carried
   * forward by integrating the 1 s average power of each tick.
   */
  counterIntervalMs?: number;
  /** Memory, clocks, temperature, clock-event reasons, power limit and P-state: every N ms (default 1000). */
  detailIntervalMs?: number;
  /**
   * The driver's ~20 ms power ring (nvmlDeviceGetSamples, ~0.35 ms a drain on an H200):
   * `auto` drains it only where there is no energy counter (it is then the energy source),
   * `on` everywhere (50 Hz power detail), `off` never.
   */
  powerRing?: 'auto' | 'on' | 'off';
  /** How often the ring is drained (it holds ~2.4 s on an H200, so keep it well under 2 s). */
  ringIntervalMs?: number;
  /**
   * How often running processes are listed, for attribution (default: every 1 s for the first
   * 10 s, so short runs are attributed, then every 5 s; the call costs up to ~2.5 ms on an H200).
   */
  processIntervalMs?: number;
}

/** What the engine hands its owner a few times a second. */
export interface EngineBatch extends SampleBatch {
  /** Latest process lists per GPU, when listed since the previous batch. */
  processes: GpuProcessUse[] | undefined;
  /** Unsupported-metric notices, each once. */
  notices: string[];
  /** NVML errors by "call: CODE" since the previous batch. */
  errors: Record<string, number>;
}

/** Per-GPU energy at the end of sampling. */
export interface GpuEnergy {
  gpu: number;
  energyMillijoules: number;
  method: GpuInfo['energyMethod'];
  /** Counter-based GPUs: the raw counter delta, for checking against nvidia-smi by hand. */
  counterDeltaMillijoules?: number;
}

interface GpuState {
  source: DeviceSource;
  lost: boolean;
  epochCounterMj?: number;
  lastCounterMj?: number;
  /** Energy at the last counter read (counter GPUs) or integrated so far (others). */
  baseMj: number;
  /** Power integral since the last counter read (counter GPUs) or 0. */
  sinceBaseMj: number;
  /** Highest energy reported on a sample so far (live figures never step backwards). */
  shownMj: number;
  lastPower?: { tMs: number; mW: number };
  usesRingForEnergy: boolean;
  drainsRing: boolean;
  lastRingDrainMs: number;
}

/**
 * The sampler's logic, independent of threads and timers so it can be driven by a fake clock:
 * the worker calls `tick()` on a timer and `takeBatch()` a few times a second.
 *
 * Energy per GPU: where the hardware counter works, energy = counter(now) - counter(start), read
 * every `counterIntervalMs` and at start/finish; between reads it is carried forward by trapezoid
 * integration of tick power so live figures move smoothly. Where it does not, energy is the
 * trapezoid integral of the power ring (~20 ms points) when supported, else of tick power.
 */
export class SamplerEngine {
  readonly gpus: GpuInfo[];
  private readonly states: GpuState[];
  private epochMs = 0;
  private lastCounterReadMs = -Infinity;
  private lastProcessListMs = -Infinity;
  private samples: GpuSample[] = [];
  private powerPoints: PowerPoint[] = [];
  private gaps: SampleGap[] = [];
  private processes: GpuProcessUse[] | undefined;
  private readonly opts: Required<EngineOptions>;
  private started = false;
  private lastTickMs = -Infinity;
  private lastDetailMs = -Infinity;

  constructor(
    readonly backend: TelemetryBackend,
    options: EngineOptions,
  ) {
    this.opts = {
      counterIntervalMs: 60_000,
      detailIntervalMs: 1000,
      powerRing: 'auto',
      ringIntervalMs: 1000,
      processIntervalMs: 0,
      ...options,
    };
    this.gpus = backend.devices.map((d) => d.info);
    this.states = backend.devices.map((source) => ({
      source,
      lost: false,
      baseMj: 0,
      sinceBaseMj: 0,
      shownMj: 0,
      usesRingForEnergy: this.opts.powerRing !== 'off' && source.info.energyMethod === 'integrated' && source.info.supported.powerSamples === true,
      drainsRing: source.info.supported.powerSamples === true && (this.opts.powerRing === 'on' || (this.opts.powerRing === 'auto' && source.info.energyMethod === 'integrated')),
      lastRingDrainMs: -Infinity,
    }));
  }

  /** Milliseconds since the epoch on the backend's clock. */
  elapsedMs(): number {
    return this.backend.nowMs() - this.epochMs;
  }

  /** Set the epoch (the run's start), read the counters there and take the first tick. */
  start(): void {
    this.epochMs = this.backend.nowMs();
    this.started = true;
    for (const s of this.states) {
      if (s.source.info.energyMethod === 'counter') {
        const c = this.guard(s, () => s.source.readEnergyCounterMj());
        if (c !== undefined) {
          s.epochCounterMj = c;
          s.lastCounterMj = c;
        }
      }
      // Drain what the ring held before the epoch so it is not counted in this run.
      if (s.drainsRing) this.guard(s, () => s.source.drainPowerRing());
    }
    this.lastCounterReadMs = 0;
    this.tick();
  }

  /** One sampler tick: cheap readings for every live GPU, plus the slow reads when due. */
  tick(): void {
    if (!this.started) throw new Error('SamplerEngine.tick() before start()');
    const tMs = this.elapsedMs();
    this.lastTickMs = tMs;
    const counterDue = tMs - this.lastCounterReadMs >= this.opts.counterIntervalMs;
    if (counterDue) this.lastCounterReadMs = tMs;
    const detail = tMs - this.lastDetailMs >= this.opts.detailIntervalMs;
    if (detail) this.lastDetailMs = tMs;
    for (const s of this.states) {
      if (s.lost) continue;
      const gpu = s.source.info.index;
      const reading = this.guard(s, () => s.source.readTick(detail));
      if (!reading) continue;
      const sample: GpuSample = { tMs, gpu, ...reading };
      if (s.usesRingForEnergy) {
        this.drainRing(s, true);
      } else {
        // The 1 s average integrates closest to the counter (+0.07 % vs +0.8 % for instant power
        // on the recorded H200 trace); the instant reading is what is shown.
        const mW = reading.powerAverageMilliwatts ?? reading.powerMilliwatts;
        if (mW !== undefined) this.integrate(s, tMs, mW);
        if (s.drainsRing && tMs - s.lastRingDrainMs >= this.opts.ringIntervalMs) this.drainRing(s, false);
      }
      if (counterDue && s.source.info.energyMethod === 'counter') this.readCounter(s);
      // The counter lags up to ~100 ms and tick power can read a little high, so a counter read can
      // land below the carried estimate: hold the live figure instead of stepping back, while the
      // estimate itself restarts from the counter (so no bias accumulates).
      s.shownMj = Math.max(s.shownMj, s.baseMj + s.sinceBaseMj);
      sample.energyMillijoules = s.shownMj;
      this.samples.push(sample);
    }
    const processEveryMs = this.opts.processIntervalMs || (tMs < 10_000 ? 1000 : 5000);
    if (tMs - this.lastProcessListMs >= processEveryMs) {
      this.lastProcessListMs = tMs;
      const all: GpuProcessUse[] = [];
      let any = false;
      for (const s of this.states) {
        if (s.lost) continue;
        const procs = this.guard(s, () => s.source.processes());
        if (procs) {
          any = true;
          all.push(...procs);
        }
      }
      if (any) this.processes = all;
    }
  }

  /** Read the energy counters now (a window boundary), without a full tick. */
  readCountersNow(): void {
    for (const s of this.states) if (!s.lost && s.source.info.energyMethod === 'counter') this.readCounter(s);
    this.lastCounterReadMs = this.elapsedMs();
  }

  /** Energy of each GPU since the epoch, as known now. */
  energies(): GpuEnergy[] {
    return this.states.map((s) => ({
      gpu: s.source.info.index,
      energyMillijoules: s.baseMj + s.sinceBaseMj,
      method: s.source.info.energyMethod,
      ...(s.epochCounterMj !== undefined && s.lastCounterMj !== undefined
        ? { counterDeltaMillijoules: s.lastCounterMj - s.epochCounterMj }
        : {}),
    }));
  }

  /** Everything gathered since the previous call. */
  takeBatch(): EngineBatch {
    const batch: EngineBatch = {
      samples: this.samples,
      powerPoints: this.powerPoints,
      gaps: this.gaps,
      processes: this.processes,
      notices: this.backend.takeNotices(),
      errors: mergeCounts(this.backend.takeErrors(), this.ownErrors),
    };
    this.ownErrors = {};
    this.samples = [];
    this.powerPoints = [];
    this.gaps = [];
    this.processes = undefined;
    return batch;
  }

  /** Last tick (with detail) and counter read at the window's end; returns each GPU's energy. */
  finish(): GpuEnergy[] {
    this.lastDetailMs = -Infinity;
    if (this.elapsedMs() > this.lastTickMs) this.tick();
    this.readCountersNow();
    for (const s of this.states) {
      if (!s.lost && s.drainsRing && !s.usesRingForEnergy) this.drainRing(s, false);
      // The window's energy is the counter's own delta where it worked throughout.
      if (s.lastCounterMj !== undefined && s.epochCounterMj !== undefined && !s.lost) s.sinceBaseMj = 0;
    }
    return this.energies();
  }

  private readCounter(s: GpuState): void {
    const c = this.guard(s, () => s.source.readEnergyCounterMj());
    if (c === undefined) return;
    if (s.epochCounterMj === undefined) {
      // The counter failed at the epoch and works now: count from here, integrated before.
      s.epochCounterMj = c - (s.baseMj + s.sinceBaseMj);
    }
    s.lastCounterMj = c;
    s.baseMj = c - s.epochCounterMj;
    s.sinceBaseMj = 0;
  }

  private integrate(s: GpuState, tMs: number, mW: number): void {
    if (s.lastPower && tMs > s.lastPower.tMs) {
      // mW * ms = µJ; / 1000 → mJ.
      s.sinceBaseMj += ((s.lastPower.mW + mW) / 2) * (tMs - s.lastPower.tMs) / 1000;
    }
    s.lastPower = { tMs, mW };
  }

  private drainRing(s: GpuState, forEnergy: boolean): void {
    const gpu = s.source.info.index;
    s.lastRingDrainMs = this.elapsedMs();
    const points = this.guard(s, () => s.source.drainPowerRing());
    if (!points) return;
    for (const p of points) {
      const tMs = p.tMs - this.epochMs;
      if (tMs < 0) continue;
      this.powerPoints.push({ gpu, tMs, powerMilliwatts: p.powerMilliwatts });
      if (forEnergy) this.integrate(s, tMs, p.powerMilliwatts);
    }
  }

  /** Run a device read; a lost GPU closes its series with a gap, other failures yield undefined. */
  private guard<T>(s: GpuState, read: () => T): T | undefined {
    try {
      return read();
    } catch (e) {
      if (NvmlError.is(e, NvmlReturn.GPU_IS_LOST)) {
        s.lost = true;
        this.gaps.push({ gpu: s.source.info.index, startMs: this.elapsedMs(), reason: 'GPU is lost (NVML_ERROR_GPU_IS_LOST): no further samples from it' });
        return undefined;
      }
      // Device reads count their own NVML errors; anything else thrown here is unexpected.
      const key = NvmlError.is(e) ? `${e.call}: ${e.code}` : `sampler: ${e instanceof Error ? e.message : String(e)}`;
      this.ownErrors[key] = (this.ownErrors[key] ?? 0) + 1;
      return undefined;
    }
  }

  private ownErrors: Record<string, number> = {};
}

function mergeCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
