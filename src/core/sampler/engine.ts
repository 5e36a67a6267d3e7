import type { DeviceSource, TelemetryBackend } from './backend';
import { EnergyLedger } from './energyLedger';
import { PowerDecimator, RING_SAMPLES_PER_SECOND, utilSamples } from './ringSampling';
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
   * - `auto` (default): ring sampling. Every GPU with a ring is drained every `ringIntervalMs`
   *   (50 Hz power, and the utilization ring where supported), with memory, clocks and temperature
   *   read at the same wake-up; when every GPU has a ring the owner wakes only that often
   *   (`wakeIntervalMs()`). GPUs without a ring are ticked every `intervalMs`, and a notice says so.
   * - `on`: tick every `intervalMs` and drain the ring as well (both series).
   * - `off`: tick only.
   */
  powerRing?: 'auto' | 'on' | 'off';
  /** How often the ring is drained (it holds ~2.4 s on an H200, so keep it well under 2 s). */
  ringIntervalMs?: number;
  /** Power points kept per second from the ring (1-50; default 50, the ring's own rate). Energy uses every point. */
  powerSamplesPerSecond?: number;
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

/** A ring with no new point for this long is not used (power would go unknown): tick instead. */
const RING_SILENT_MS = 3000;

interface GpuState {
  source: DeviceSource;
  lost: boolean;
  lostAtMs?: number;
  ledger: EnergyLedger;
  /** Highest energy reported on a sample so far (live figures never step backwards). */
  shownMj: number;
  usesRingForEnergy: boolean;
  drainsRing: boolean;
  /** Power comes from the ring (no power read per tick); see EngineOptions.powerRing `auto`. */
  ringSampling: boolean;
  drainsUtilRing: boolean;
  decimator: PowerDecimator;
  /** Latest ring power, shown on the tick's sample. */
  lastRingMw?: number;
  lastSampleMs: number;
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
      powerSamplesPerSecond: RING_SAMPLES_PER_SECOND,
      ...options,
    };
    this.gpus = backend.devices.map((d) => d.info);
    this.states = backend.devices.map((source) => {
      const ring = source.info.supported.powerSamples === true && this.opts.powerRing !== 'off';
      const ringSampling = ring && this.opts.powerRing === 'auto';
      if (this.opts.powerRing === 'auto' && !ring) {
        this.notices.push(`GPU ${source.info.index}: no power sample ring; power is read by ticking every ${this.opts.intervalMs} ms`);
      }
      return {
        source,
        lost: false,
        ledger: new EnergyLedger(),
        shownMj: 0,
        // With a ring, energy is carried forward (or, without a counter, integrated) from its ~20 ms points.
        usesRingForEnergy: ringSampling || (ring && source.info.energyMethod === 'integrated'),
        drainsRing: ring,
        ringSampling,
        drainsUtilRing: ringSampling && source.info.supported.utilizationSamples === true && typeof source.drainUtilizationRing === 'function',
        decimator: new PowerDecimator(source.info.index, Math.max(1, Math.min(RING_SAMPLES_PER_SECOND, this.opts.powerSamplesPerSecond))),
        lastRingDrainMs: -Infinity,
        ringDrainFailed: false,
        lastSampleMs: -Infinity,
      };
    });
  }

  /**
   * How often the owner should call `tick()`: the ring's drain period when every live GPU is
   * ring-sampled (one wake-up a second instead of ten), else `intervalMs`.
   */
  wakeIntervalMs(): number {
    const live = this.states.filter((s) => !s.lost);
    if (this.opts.powerRing === 'auto' && live.length > 0 && live.every((s) => s.ringSampling)) {
      return Math.max(this.opts.intervalMs, this.opts.ringIntervalMs);
    }
    return this.opts.intervalMs;
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
      if (s.drainsUtilRing) this.guard(s, () => s.source.drainUtilizationRing?.());
    }
    this.lastCounterReadMs = 0;
    this.tick();
  }

  /** One sampler tick: cheap readings for every live GPU, plus the slow reads when due. */
  tick(): void {
    if (!this.started) throw new Error('SamplerEngine.tick() before start()');
    const tMs = this.elapsedMs();
    const counterDue = tMs - this.lastCounterReadMs >= this.opts.counterIntervalMs;
    if (counterDue) this.lastCounterReadMs = tMs;
    // Waking once a second, every wake-up reads the slow-changing metrics too (timer jitter must
    // not skip them).
    const slack = Math.min(this.opts.detailIntervalMs, tMs - this.lastTickMs) / 2;
    const detail = tMs - this.lastDetailMs >= this.opts.detailIntervalMs - slack;
    if (detail) this.lastDetailMs = tMs;
    this.lastTickMs = tMs;
    for (const s of this.states) {
      if (s.lost) continue;
      const gpu = s.source.info.index;
      const tick = this.guard(s, () => s.source.readTick(detail, !s.ringSampling));
      if (!tick) continue;
      const { powerError, ...reading } = tick;
      const sample: GpuSample = { tMs, gpu, ...reading };
      if (s.usesRingForEnergy) {
        const drained = this.drainRing(s, true);
        if (s.ringSampling) {
          if (s.drainsUtilRing) this.drainUtilRing(s, drained ?? [], tMs);
          if (s.lastRingMw !== undefined) sample.powerMilliwatts = s.lastRingMw;
          if (drained === undefined) this.fallBackToTicking(s, 'the power sample ring failed');
          // A ring that answers but never fills (seen on some vGPUs) would leave power unknown.
          else if (tMs - (s.lastRingPointMs ?? 0) > RING_SILENT_MS) this.fallBackToTicking(s, `the power sample ring gave no samples for ${RING_SILENT_MS / 1000} s`);
        }
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
      s.lastSampleMs = tMs;
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
      notices: [...this.notices.splice(0), ...this.backend.takeNotices()],
      errors: mergeCounts(this.backend.takeErrors(), this.ownErrors),
    };
    this.ownErrors = {};
    // Ring samples of several GPUs arrive GPU by GPU: consumers expect time order.
    batch.samples.sort((a, b) => a.tMs - b.tMs);
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
      s.decimator.flush(this.powerPoints);
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

  /** Drain the power ring; returns its new points (times since the epoch), undefined when the drain failed. */
  private drainRing(s: GpuState, forEnergy: boolean): Array<{ tMs: number; powerMilliwatts: number }> | undefined {
    s.lastRingDrainMs = this.elapsedMs();
    const raw = this.guard(s, () => s.source.drainPowerRing());
    if (!raw) {
      s.ringDrainFailed = true;
      return undefined;
    }
    const points: Array<{ tMs: number; powerMilliwatts: number }> = [];
    for (const p of raw) {
      const tMs = p.tMs - this.epochMs;
      if (tMs < 0) continue;
      points.push({ tMs, powerMilliwatts: p.powerMilliwatts });
      s.decimator.push(tMs, p.powerMilliwatts, this.powerPoints);
      s.lastRingMw = p.powerMilliwatts;
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
    return points;
  }

  /** Utilization-ring points become samples (with the ring power at their time), so the detectors keep the ring's resolution. */
  private drainUtilRing(s: GpuState, power: Array<{ tMs: number; powerMilliwatts: number }>, nowMs: number): void {
    const raw = this.guard(s, () => s.source.drainUtilizationRing?.());
    if (!raw) return;
    const points = raw.map((p) => ({ tMs: p.tMs - this.epochMs, utilGpuPct: p.utilGpuPct })).filter((p) => p.tMs >= 0 && p.tMs < nowMs);
    for (const x of utilSamples(s.source.info.index, points, power, s.lastSampleMs)) this.samples.push(x);
  }

  /** A ring that stops answering: read power by ticking from now on, and say so. */
  private fallBackToTicking(s: GpuState, why: string): void {
    if (s.lost || !s.ringSampling) return;
    s.ringSampling = false;
    s.usesRingForEnergy = false;
    s.drainsRing = false;
    s.drainsUtilRing = false;
    // What the ring held since its last point is lost: a gap, not a bridge.
    this.powerFailed(s, this.elapsedMs(), why);
    this.notices.push(`GPU ${s.source.info.index}: ${why}; power is read by ticking every ${this.opts.intervalMs} ms from now on`);
  }

  /** Run a device read; a lost GPU closes its series with a gap, other failures yield undefined. */
  private guard<T>(s: GpuState, read: () => T): T | undefined {
    try {
      return read();
    } catch (e) {
      if (this.backend.isDeviceLost(e)) {
        const tMs = this.elapsedMs();
        s.lost = true;
        s.lostAtMs = tMs;
        this.closeGaps(s, tMs);
        s.ledger.close(tMs);
        this.gaps.push({ gpu: s.source.info.index, startMs: tMs, reason: 'GPU is lost (NVML_ERROR_GPU_IS_LOST): no further samples from it' });
        return undefined;
      }
      // Device reads count their own NVML errors; anything else thrown here is unexpected.
      const key = this.backend.errorKey(e) ?? `sampler: ${e instanceof Error ? e.message : String(e)}`;
      this.ownErrors[key] = (this.ownErrors[key] ?? 0) + 1;
      return undefined;
    }
  }

  private ownErrors: Record<string, number> = {};
  private readonly notices: string[] = [];
  /** Reason of each GPU's open power gap, until a reading closes it. */
  private readonly openGaps = new Map<GpuState, string>();
}

function mergeCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
