import { NvmlReturn } from '../nvml/constants';
import { NvmlError } from '../nvml/nvmlError';
import type { DeviceSource, TelemetryBackend } from './backend';
import { EnergyLedger } from './energyLedger';
import type { EnergyAccount, GpuInfo, GpuProcessUse, GpuSample, PowerPoint, SampleBatch, SampleGap } from './types';

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

/** Per-GPU energy so far (or at the end of sampling), with how it was obtained. */
export interface GpuEnergy extends EnergyAccount {
  gpu: number;
  energyMillijoules: number;
  /** When the GPU was found lost (NVML_ERROR_GPU_IS_LOST), ms since the epoch; its figures stop there. */
  lostAtMs?: number;
}

/**
 * After a failed ring drain, the next drain's first point may still be contiguous (the ring holds
 * ~2.4 s): only a jump this long between points is a gap (the ring's spacing is ~20 ms).
 */
const RING_GAP_MS = 100;

interface GpuState {
  source: DeviceSource;
  lost: boolean;
  lostAtMs?: number;
  ledger: EnergyLedger;
  /** Highest energy reported on a sample so far (live figures never step backwards). */
  shownMj: number;
  usesRingForEnergy: boolean;
  drainsRing: boolean;
  lastRingDrainMs: number;
  lastRingPointMs?: number;
  ringDrainFailed: boolean;
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
      ledger: new EnergyLedger(),
      shownMj: 0,
      usesRingForEnergy: this.opts.powerRing !== 'off' && source.info.energyMethod === 'integrated' && source.info.supported.powerSamples === true,
      drainsRing: source.info.supported.powerSamples === true && (this.opts.powerRing === 'on' || (this.opts.powerRing === 'auto' && source.info.energyMethod === 'integrated')),
      lastRingDrainMs: -Infinity,
      ringDrainFailed: false,
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
      if (s.source.info.energyMethod === 'counter') this.readCounter(s);
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
      const tick = this.guard(s, () => s.source.readTick(detail));
      if (!tick) continue;
      const { powerError, ...reading } = tick;
      const sample: GpuSample = { tMs, gpu, ...reading };
      if (s.usesRingForEnergy) {
        this.drainRing(s, true);
      } else {
        // The 1 s average integrates closest to the counter (+0.07 % vs +0.8 % for instant power
        // on the recorded H200 trace); the instant reading is what is shown.
        const mW = reading.powerAverageMilliwatts ?? reading.powerMilliwatts;
        if (mW !== undefined) this.powerPoint(s, tMs, mW);
        else if (powerError !== undefined) this.powerFailed(s, tMs, powerError);
        if (s.drainsRing && tMs - s.lastRingDrainMs >= this.opts.ringIntervalMs) this.drainRing(s, false);
      }
      if (counterDue && s.source.info.energyMethod === 'counter') this.readCounter(s);
      // The counter lags up to ~100 ms and tick power can read a little high, so a counter read can
      // land below the carried estimate: hold the live figure instead of stepping back, while the
      // estimate itself restarts from the counter (so no bias accumulates).
      s.shownMj = Math.max(s.shownMj, s.ledger.totalMj());
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
          for (const p of procs) all.push(p);
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
      energyMillijoules: s.ledger.totalMj(),
      ...s.ledger.account(),
      ...(s.lostAtMs !== undefined ? { lostAtMs: s.lostAtMs } : {}),
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
    const endMs = this.elapsedMs();
    for (const s of this.states) {
      if (!s.lost && s.drainsRing && !s.usesRingForEnergy) this.drainRing(s, false);
      // Where the final counter read worked, nothing is pending; where it failed, the power
      // integrated since the last good read is the rest of the figure.
      this.closeGaps(s, endMs);
      s.ledger.close(endMs);
    }
    return this.energies();
  }

  private readCounter(s: GpuState): void {
    // A failed read returns undefined (counted in `errors`); a lost GPU closes its window instead.
    const c = this.guard(s, () => s.source.readEnergyCounterMj());
    if (!s.lost) s.ledger.counter(this.elapsedMs(), c);
  }

  private powerPoint(s: GpuState, tMs: number, mW: number): void {
    const closed = s.ledger.power(tMs, mW);
    if (!closed) return;
    // The gap was opened with its reason; close it at the first good reading after it.
    const open = this.openGaps.get(s);
    this.openGaps.delete(s);
    this.gaps.push({ gpu: s.source.info.index, startMs: closed.startMs, endMs: closed.endMs, reason: open ?? 'no power reading' });
  }

  private powerFailed(s: GpuState, tMs: number, reason: string): void {
    if (s.ledger.inGap()) return;
    s.ledger.powerFailed(tMs);
    this.openGaps.set(s, `power reading failed (${reason}): not counted in the energy unless the counter covers it`);
  }

  /** A gap still open at the end of the window is delivered open-ended (no reading came back). */
  private closeGaps(s: GpuState, endMs: number): void {
    const reason = this.openGaps.get(s);
    if (reason === undefined) return;
    this.openGaps.delete(s);
    this.gaps.push({ gpu: s.source.info.index, startMs: Math.min(endMs, s.ledger.openGapStartMs() ?? endMs), endMs, reason });
  }

  private drainRing(s: GpuState, forEnergy: boolean): void {
    const gpu = s.source.info.index;
    s.lastRingDrainMs = this.elapsedMs();
    const points = this.guard(s, () => s.source.drainPowerRing());
    if (!points) {
      s.ringDrainFailed = true;
      return;
    }
    for (const p of points) {
      const tMs = p.tMs - this.epochMs;
      if (tMs < 0) continue;
      this.powerPoints.push({ gpu, tMs, powerMilliwatts: p.powerMilliwatts });
      if (forEnergy) {
        // The ring bridges a failed drain by itself unless the failure outlasted its ~2.4 s.
        if (s.ringDrainFailed && s.lastRingPointMs !== undefined && tMs - s.lastRingPointMs > RING_GAP_MS) {
          this.powerFailed(s, tMs, 'power sample ring not drained in time');
        }
        this.powerPoint(s, tMs, p.powerMilliwatts);
      }
      s.ringDrainFailed = false;
      s.lastRingPointMs = tMs;
    }
  }

  /** Run a device read; a lost GPU closes its series with a gap, other failures yield undefined. */
  private guard<T>(s: GpuState, read: () => T): T | undefined {
    try {
      return read();
    } catch (e) {
      if (NvmlError.is(e, NvmlReturn.GPU_IS_LOST)) {
        const tMs = this.elapsedMs();
        s.lost = true;
        s.lostAtMs = tMs;
        this.closeGaps(s, tMs);
        s.ledger.close(tMs);
        this.gaps.push({ gpu: s.source.info.index, startMs: tMs, reason: 'GPU is lost (NVML_ERROR_GPU_IS_LOST): no further samples from it' });
        return undefined;
      }
      // Device reads count their own NVML errors; anything else thrown here is unexpected.
      const key = NvmlError.is(e) ? `${e.call}: ${e.code}` : `sampler: ${e instanceof Error ? e.message : String(e)}`;
      this.ownErrors[key] = (this.ownErrors[key] ?? 0) + 1;
      return undefined;
    }
  }

  private ownErrors: Record<string, number> = {};
  /** Reason of each GPU's open power gap, until a reading closes it. */
  private readonly openGaps = new Map<GpuState, string>();
}

function mergeCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
