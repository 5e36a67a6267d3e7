/**
 * What the detectors know about one GPU before they look for anything: each point's class (idle,
 * low, busy), the first and last kernel, busy time and energy, and the idle floor.
 *
 * Definitions (see also the README's "Definitions"):
 * - A sample covers the time from its `tMs` to the next sample's: NVML's utilization lags the
 *   kernels by up to one utilization period, so a stretch of low samples ends at the first busy one.
 * - idle sample: GpuIdle clock-event bit set, or util <= `idleUtilPct`.
 * - low sample: idle, or util <= `starvedUtilPct`, or the time-weighted util over the
 *   `utilWindowS` window centred on the sample <= `starvedWindowUtilPct`; busy sample: any other
 *   sample with a util reading. A starved loop's samples alternate between 0 % and bursts of
 *   40-60 %: the window sees its duty cycle, so the loop is one starved stretch, not fragments.
 * - first kernel: the first sample with util > `idleUtilPct`. Everything before it (imports, CUDA
 *   initialisation, data set-up) is the start-up; low time after it is idle or starved time.
 */
import { ClockEventReason } from '../sampler/types';
import type { GpuSample } from '../sampler/types';
import type { Thresholds } from './thresholds';
import type { Series } from './telemetrySeries';
import { avgUtilPct, energyJ, percentile } from './telemetrySeries';

/**
 * The idle floor is this percentile of the idle samples' power (README, "idle floor"). A judgment:
 * a low percentile rather than the minimum, so one stray low reading does not set the floor.
 */
export const IDLE_FLOOR_PERCENTILE = 10;
/** Fewer idle samples after the first kernel than this: the floor comes from all samples instead. */
export const IDLE_FLOOR_MIN_SAMPLES = 5;

/** One GPU's series with its classes and figures; see the file's definitions. */
export interface GpuContext {
  s: Series;
  th: Thresholds;
  isIdle: (x: GpuSample) => boolean;
  /** Classes of the series' points by index (see the file's definitions). */
  isLow: (i: number) => boolean;
  isBusy: (i: number) => boolean;
  firstKernelMs: number | undefined;
  /** Index of the first-kernel sample (series length when none). */
  firstKernelIdx: number;
  lastBusyEndMs: number | undefined;
  lastKernelEndMs: number | undefined;
  idleFloorW: number | undefined;
  busyS: number;
  busyEnergyJ: number;
  busyAvgUtilPct: number;
  gpuEnergyJ: number;
}

export function makeContext(s: Series, th: Thresholds): GpuContext {
  const bit = (x: GpuSample, mask: number): boolean => ((x.clockEventReasons ?? 0) & mask) !== 0;
  const isIdle = (x: GpuSample): boolean =>
    bit(x, ClockEventReason.GpuIdle) || (x.utilGpuPct !== undefined && x.utilGpuPct <= th.idleUtilPct);
  const n = s.samples.length;
  const cls = classify(s, th, isIdle);
  const isLow = (i: number): boolean => cls[i] === IDLE || cls[i] === LOW;
  const isBusy = (i: number): boolean => cls[i] === BUSY;

  let firstKernelIdx = n;
  for (let i = 0; i < n; i++) {
    const u = s.samples[i]?.utilGpuPct;
    if (u !== undefined && u > th.idleUtilPct) {
      firstKernelIdx = i;
      break;
    }
  }
  const firstKernelMs = firstKernelIdx < n ? s.t[firstKernelIdx] : undefined;

  let busyMs = 0;
  let busyEnergyJ = 0;
  let busyUtilMs = 0;
  let lastBusyEndMs: number | undefined;
  // The end of the last sample in which any kernel ran: a run starved for its whole length never
  // has a "busy" sample after start-up, yet its low time is between kernels, not teardown.
  let lastKernelEndMs: number | undefined;
  for (let i = 0; i < n; i++) {
    const u = s.samples[i]?.utilGpuPct;
    if (u !== undefined && u > th.idleUtilPct) lastKernelEndMs = s.t[i + 1] ?? s.endMs;
  }
  for (let i = 0; i < n; i++) {
    const x = s.samples[i];
    if (x === undefined || !isBusy(i)) continue;
    const t0 = s.t[i] ?? 0;
    const t1 = s.t[i + 1] ?? s.endMs;
    if (t1 <= t0) continue;
    busyMs += t1 - t0;
    busyEnergyJ += energyJ(s, t0, t1);
    busyUtilMs += (x.utilGpuPct ?? 0) * (t1 - t0);
    lastBusyEndMs = t1;
  }

  // The idle floor is what the GPU draws with the run's context open and nothing running: a low
  // percentile of idle samples after the first kernel. Before it the GPU may sit in a deeper
  // power state (on the H200 trace: 82 W before CUDA init, 125 W after), which would make every
  // later idle stretch look "starved".
  let idleFloorW = th.idlePowerW;
  if (idleFloorW === undefined) {
    const after: number[] = [];
    const all: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = s.samples[i];
      if (x?.powerMilliwatts === undefined) continue;
      all.push(x.powerMilliwatts / 1000);
      if (i >= firstKernelIdx && isIdle(x)) after.push(x.powerMilliwatts / 1000);
    }
    idleFloorW = after.length >= IDLE_FLOOR_MIN_SAMPLES ? percentile(after, IDLE_FLOOR_PERCENTILE) : percentile(all, IDLE_FLOOR_PERCENTILE);
  }

  return {
    s,
    th,
    isIdle,
    isLow,
    isBusy,
    firstKernelMs,
    firstKernelIdx,
    lastBusyEndMs,
    lastKernelEndMs,
    idleFloorW,
    busyS: busyMs / 1000,
    busyEnergyJ,
    busyAvgUtilPct: busyMs > 0 ? busyUtilMs / busyMs : 0,
    gpuEnergyJ: energyJ(s, s.t[0] ?? 0, s.endMs),
  };
}

const IDLE = 0;
const LOW = 1;
const BUSY = 2;
/** No util reading and no GpuIdle bit: neither low nor busy. */
const UNKNOWN = 3;

/**
 * Each point's class. Idle and per-sample low stay low, so a short dip keeps its sample edges; a
 * point above `starvedUtilPct` is low too when the window centred on it averages at or below
 * `starvedWindowUtilPct`. On buckets (boundedSeries.ts) a point's util is its bucket's mean over
 * all its samples, so the window reads the same duty cycle as over the samples.
 */
function classify(s: Series, th: Thresholds, isIdle: (x: GpuSample) => boolean): Uint8Array {
  const n = s.samples.length;
  const out = new Uint8Array(n);
  const halfMs = (th.utilWindowS * 1000) / 2;
  const first = s.t[0] ?? 0;
  for (let i = 0; i < n; i++) {
    const x = s.samples[i];
    if (x === undefined) continue;
    if (isIdle(x)) out[i] = IDLE;
    else if (x.utilGpuPct === undefined) out[i] = UNKNOWN;
    else if (x.utilGpuPct <= th.starvedUtilPct) out[i] = LOW;
    else {
      const mid = ((s.t[i] ?? 0) + (s.t[i + 1] ?? s.endMs)) / 2;
      // Clamped to the coverage: at the run's edges the window is the part that was measured.
      const a = Math.max(first, mid - halfMs);
      const b = Math.min(Math.max(s.endMs, s.t[n - 1] ?? 0), mid + halfMs);
      out[i] = b > a && avgUtilPct(s, a, b) <= th.starvedWindowUtilPct ? LOW : BUSY;
    }
  }
  // Next to a busy stretch the window mixes in its util: a sustained 28 % stretch would lose up to
  // half a window at each edge. Points at or below the window cut extend the low run they touch.
  const joins = (i: number): boolean => out[i] === BUSY && (s.samples[i]?.utilGpuPct ?? Infinity) <= th.starvedWindowUtilPct;
  for (let i = 1; i < n; i++) if (joins(i) && (out[i - 1] === LOW || out[i - 1] === IDLE)) out[i] = LOW;
  for (let i = n - 2; i >= 0; i--) if (joins(i) && (out[i + 1] === LOW || out[i + 1] === IDLE)) out[i] = LOW;
  return out;
}

