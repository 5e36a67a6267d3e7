/**
 * Detectors over a run's GPU telemetry. Pure: samples in, plain-data findings out.
 *
 * Definitions used throughout (all per GPU, only GPUs attributed to the run):
 * - A sample covers the time from its `tMs` to the next sample's: NVML's utilization lags the
 *   kernels by up to one utilization period, so a stretch of low samples ends at the first busy one.
 * - idle sample: GpuIdle clock-event bit set, or util <= `idleUtilPct`.
 * - low sample: idle, or util <= `starvedUtilPct`, or the time-weighted util over the
 *   `utilWindowS` window centred on the sample <= `starvedWindowUtilPct`; busy sample: any other
 *   sample with a util reading. A starved loop's samples alternate between 0 % and bursts of
 *   40-60 %: the window sees its duty cycle, so the loop is one starved stretch, not fragments.
 * - first kernel: the first sample with util > `idleUtilPct`. Everything before it (imports, CUDA
 *   initialisation, data set-up) is the start-up; low time after it is idle or starved time.
 * - A low stretch is "starved" when the GPU did measurable work in it (avg util >= `starvedMinUtilPct`)
 *   or drew clearly more than its idle floor; otherwise it is "idle".
 * - Energy: deltas of the cumulative `energyMillijoules` where the samples carry it (the hardware
 *   counter), else trapezoid integration of `powerMilliwatts`.
 */
import { ClockEventReason } from '../sampler/types';
import type { GpuInfo, GpuSample } from '../sampler/types';
import type { DetectedFinding, EvidenceSpan, Finding, FindingEvidence, FindingSeverity, RunPhase, TelemetryFindingCode } from './findings';
import { identify } from './findings';
import { formatBytes as formatGB, formatDuration as formatDurationS, formatJoules as formatEnergyJ, formatPct, formatWatts as formatPowerW } from '../units/format';

/** What the detectors need to know about one run. */
export interface RunTelemetry {
  gpus: GpuInfo[];
  /** Samples of all GPUs, sorted by `tMs`; the run starts at `tMs` = 0. */
  samples: GpuSample[];
  /** NVML indices of the GPUs attributed to the run; only these are analysed. */
  runGpus: number[];
  /** When the run's process exited. Samples after it are ignored (see `afterRunSamples`). */
  endMs: number;
  /** Samples taken after the exit, for the "GPU left holding memory" check. */
  afterRunSamples?: GpuSample[];
  /**
   * The same samples already split per GPU, each sorted by `tMs` (a stream from the store builds
   * them so): saves a filter over every sample per GPU. When given, `samples` is ignored.
   */
  byGpu?: ReadonlyMap<number, GpuSample[]>;
}

/** Tunables of the detectors. Every field has a default in `DEFAULT_THRESHOLDS`. */
export interface Thresholds {
  /** A sample at or below this util is idle. */
  idleUtilPct: number;
  /** A sample at or below this util is low (idle or starved), whatever its neighbours. */
  starvedUtilPct: number;
  /** A sample is also low when the mean util over the window centred on it is at or below this. */
  starvedWindowUtilPct: number;
  /** Width of that window (s). */
  utilWindowS: number;
  /**
   * The util a fed loop reaches, the reference of the starved waste: NVML's util is the share of
   * time a kernel was running, so 100 % is a GPU that always has a kernel queued.
   */
  fedUtilPct: number;
  /** A low stretch with at least this average util did measurable work: starved, not idle. */
  starvedMinUtilPct: number;
  /** A low stretch whose median power exceeds the idle floor by max(W, fraction x floor) is starved. */
  starvedPowerMarginW: number;
  starvedPowerMarginFraction: number;
  /** Overrides the idle floor estimated from the data (W). */
  idlePowerW: number | undefined;
  /** Idle/starved/throttle stretches shorter than this are not reported on their own. */
  minSpanS: number;
  /** Low stretches closer than this merge when the merged stretch stays at or below `starvedUtilPct`. */
  mergeGapS: number;
  /** Start-up longer than this (first sample to first kernel) is reported. */
  slowStartS: number;
  /** Peak memory during busy time at or below this share of capacity is "underused". */
  memUnderusedFraction: number;
  /** Busy time needed before memory headroom is judged. */
  memMinBusyS: number;
  /** Busy power at or above this share of the power limit is full load: no memory finding then. */
  fullLoadPowerFraction: number;
  /** Periodic stalls: at least this many dips, each at most `periodicMaxDipS` long, ... */
  periodicMinCount: number;
  periodicMaxDipS: number;
  /** ... at least `periodicRegularFraction` of the spacings within +-`periodicTolerance` of the median, ... */
  periodicTolerance: number;
  periodicRegularFraction: number;
  /** ... and the dips fill at least this share of the time from the first dip to the last. */
  periodicMinShare: number;
  /** Throttling is reported when this share of busy time carries the clock-event bit. */
  throttleMinShare: number;
  /** Memory held after exit above the pre-run level by at least this much is a leak candidate. */
  leakMinBytes: number;
  /** Idle/starved/stall findings wasting at least this share of the run's energy are warnings. */
  warnShareOfRunPct: number;
}

/** Defaults; chosen on the recorded H200 trace and synthetic runs (see the unit tests). */
export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  idleUtilPct: 0,
  starvedUtilPct: 20,
  // Starved loops measured at 10-22 % util per epoch (H200 13.8 %, H100 18.9-21.7 %, README),
  // their fed versions at 36-66 % per epoch, start-up included: 30 % lies between. A 2 s window
  // spans several steps of such loops, so its mean stays near the loop's duty cycle.
  starvedWindowUtilPct: 30,
  utilWindowS: 2,
  fedUtilPct: 100,
  starvedMinUtilPct: 1,
  starvedPowerMarginW: 25,
  starvedPowerMarginFraction: 0.2,
  idlePowerW: undefined,
  minSpanS: 1,
  mergeGapS: 1,
  slowStartS: 3,
  memUnderusedFraction: 0.4,
  memMinBusyS: 5,
  fullLoadPowerFraction: 0.85,
  periodicMinCount: 4,
  periodicMaxDipS: 30,
  periodicTolerance: 0.25,
  periodicRegularFraction: 0.75,
  periodicMinShare: 0.05,
  throttleMinShare: 0.1,
  leakMinBytes: 512 * 1024 * 1024,
  warnShareOfRunPct: 5,
});

/** What one run GPU did, for the correlator and for reports. */
export interface GpuActivity {
  gpu: number;
  /** Energy from the first sample to exit. */
  energyJ: number;
  busyS: number;
  busyEnergyJ: number;
  busyAvgPowerW: number;
  busyAvgUtilPct: number;
  /** Estimated power with a context open and no kernel running; undefined without power readings. */
  idleFloorW: number | undefined;
  /** Undefined when no kernel ran. */
  firstKernelS: number | undefined;
}

/** Summary of a run's GPU activity. */
export interface RunActivity {
  runDurationS: number;
  runEnergyJ: number;
  gpus: GpuActivity[];
}

// ---------------------------------------------------------------------------------------------
// Series helpers

interface Series {
  gpu: number;
  info: GpuInfo | undefined;
  samples: GpuSample[];
  t: number[];
  /** Cumulative energy (J) at each sample, from the counter or the trapezoid. */
  cumJ: number[];
  /** Time-weighted util prefix sums (pct x ms) up to each sample. */
  cumUtil: number[];
  /** End of the series' coverage (ms): the exit or the last sample. */
  endMs: number;
  /** Median spacing of the series' points (ms), computed once: gaps and span ends are measured in it. */
  dtMs: number;
}

/**
 * `sampleIntervalMs`: the sampler's median interval when the points are buckets of samples (see
 * boundedSeries.ts); the exit is covered when it lies within two sampler ticks of the last sample,
 * as for the samples themselves.
 */
function buildSeries(gpu: number, info: GpuInfo | undefined, samples: GpuSample[], endMs: number, buckets?: { sampleIntervalMs: number }): Series {
  const t = samples.map((s) => s.tMs);
  const n = samples.length;
  const withCounter = samples.filter((s) => s.energyMillijoules !== undefined).length;
  const cumJ = new Array<number>(n).fill(0);
  if (n > 0 && withCounter >= 2 && withCounter >= n * 0.5) {
    // Hardware counter: interpolate the rare missing readings linearly between neighbours.
    const known = samples.flatMap((s, i) => (s.energyMillijoules === undefined ? [] : [{ i, mJ: s.energyMillijoules }]));
    const first = known[0];
    const base = first === undefined ? 0 : first.mJ;
    let k = 0;
    for (let i = 0; i < n; i++) {
      while (k + 1 < known.length && (known[k + 1]?.i ?? Infinity) <= i) k++;
      const a = known[k];
      const b = known[k + 1];
      if (a === undefined) continue;
      if (a.i === i || b === undefined || i < a.i) cumJ[i] = (a.mJ - base) / 1000;
      else {
        const ta = t[a.i] ?? 0;
        const tb = t[b.i] ?? 0;
        const f = tb > ta ? ((t[i] ?? ta) - ta) / (tb - ta) : 0;
        cumJ[i] = (a.mJ + f * (b.mJ - a.mJ) - base) / 1000;
      }
    }
  } else {
    let lastW: number | undefined;
    for (let i = 0; i < n; i++) {
      const s = samples[i];
      const w = s?.powerMilliwatts === undefined ? lastW : s.powerMilliwatts / 1000;
      const prevCum = i > 0 ? (cumJ[i - 1] ?? 0) : 0;
      const dtS = i > 0 ? ((t[i] ?? 0) - (t[i - 1] ?? 0)) / 1000 : 0;
      cumJ[i] = prevCum + (lastW !== undefined && w !== undefined ? ((lastW + w) / 2) * dtS : 0);
      lastW = w;
    }
  }
  const cumUtil = new Array<number>(n).fill(0);
  for (let i = 1; i < n; i++) {
    const u = samples[i - 1]?.utilGpuPct ?? 0;
    cumUtil[i] = (cumUtil[i - 1] ?? 0) + u * ((t[i] ?? 0) - (t[i - 1] ?? 0));
  }
  const lastT = t[n - 1] ?? 0;
  // The sampler may stop a little before the exit; extend the coverage only by a couple of ticks.
  const dtMs = medianDtMs(t);
  const tickMs = buckets?.sampleIntervalMs ?? dtMs;
  const coveredEndMs = endMs > lastT && endMs - lastT <= 2 * tickMs ? endMs : lastT;
  return { gpu, info, samples, t, cumJ, cumUtil, endMs: coveredEndMs, dtMs };
}

function medianDtMs(t: number[]): number {
  const d: number[] = [];
  for (let i = 1; i < t.length; i++) d.push((t[i] ?? 0) - (t[i - 1] ?? 0));
  return median(d) ?? 0;
}

/** Index of the last sample with t <= tMs (-1 if none). */
function indexAtOrBefore(t: number[], tMs: number): number {
  let lo = 0;
  let hi = t.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((t[mid] ?? Infinity) <= tMs) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

function interpCum(s: Series, cum: number[], tMs: number, slope: (i: number) => number): number {
  const n = s.t.length;
  if (n === 0) return 0;
  const i = indexAtOrBefore(s.t, tMs);
  if (i < 0) return cum[0] ?? 0;
  if (i >= n - 1) return (cum[n - 1] ?? 0) + slope(n - 1) * (tMs - (s.t[n - 1] ?? 0));
  const t0 = s.t[i] ?? 0;
  const t1 = s.t[i + 1] ?? t0;
  const c0 = cum[i] ?? 0;
  const c1 = cum[i + 1] ?? c0;
  return t1 > t0 ? c0 + ((tMs - t0) / (t1 - t0)) * (c1 - c0) : c0;
}

/** Energy (J) between two times, clamped to the series' coverage. */
function energyJ(s: Series, t0Ms: number, t1Ms: number): number {
  const first = s.t[0] ?? 0;
  const a = Math.max(first, Math.min(t0Ms, s.endMs));
  const b = Math.max(first, Math.min(t1Ms, s.endMs));
  if (b <= a) return 0;
  // Past the last sample, hold its power (only ever a tick or two, see buildSeries).
  const lastW = (s.samples[s.samples.length - 1]?.powerMilliwatts ?? 0) / 1e6;
  const slope = (): number => lastW;
  return Math.max(0, interpCum(s, s.cumJ, b, slope) - interpCum(s, s.cumJ, a, slope));
}

/** Time-weighted average util (%) between two times. */
function avgUtilPct(s: Series, t0Ms: number, t1Ms: number): number {
  if (t1Ms <= t0Ms) return 0;
  const lastU = s.samples[s.samples.length - 1]?.utilGpuPct ?? 0;
  const slope = (): number => lastU;
  return (interpCum(s, s.cumUtil, t1Ms, slope) - interpCum(s, s.cumUtil, t0Ms, slope)) / (t1Ms - t0Ms);
}

function median(values: number[]): number | undefined {
  return percentile(values, 50);
}

function percentile(values: number[], pct: number): number | undefined {
  if (values.length === 0) return undefined;
  // A typed copy sorts numerically without a comparator call per step; the series it comes from
  // is bounded (see boundedSeries.ts), so the copy is too.
  const sorted = Float64Array.from(values).sort();
  const pos = (pct / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (pos - lo) * (b - a);
}

// ---------------------------------------------------------------------------------------------
// Spans

/** A stretch of consecutive samples [i0, i1) covering [startMs, endMs). */
interface RawSpan {
  i0: number;
  i1: number;
  startMs: number;
  endMs: number;
}

/**
 * Maximal runs of samples matching `pred` from index `from`. A run ends at the first sample that
 * does not match (its time is the end), or at a sampling gap (the last matching tick plus one
 * median interval), or at the series' end.
 */
function runsOf(s: Series, pred: (x: GpuSample, i: number) => boolean, from = 0): RawSpan[] {
  const out: RawSpan[] = [];
  const n = s.samples.length;
  const dt = s.dtMs;
  const gapMs = Math.max(2000, 5 * dt);
  let i = from;
  while (i < n) {
    const x = s.samples[i];
    if (x === undefined || !pred(x, i)) {
      i++;
      continue;
    }
    const i0 = i;
    let end: number | undefined;
    while (i < n) {
      const y = s.samples[i];
      if (y === undefined || !pred(y, i)) {
        end = s.t[i];
        break;
      }
      const next = s.t[i + 1];
      if (next !== undefined && next - (s.t[i] ?? 0) > gapMs) {
        end = (s.t[i] ?? 0) + dt;
        i++;
        break;
      }
      i++;
    }
    const startMs = s.t[i0] ?? 0;
    const endMs = end ?? s.endMs;
    if (endMs > startMs) out.push({ i0, i1: i, startMs, endMs });
  }
  return out;
}

/** Merges neighbours closer than `gapS` while the merged stretch keeps avg util <= `maxUtilPct`. */
function mergeRuns(s: Series, runs: RawSpan[], gapS: number, maxUtilPct: number): RawSpan[] {
  const out: RawSpan[] = [];
  for (const r of runs) {
    const prev = out[out.length - 1];
    if (prev !== undefined && (r.startMs - prev.endMs) / 1000 <= gapS && avgUtilPct(s, prev.startMs, r.endMs) <= maxUtilPct) {
      out[out.length - 1] = { i0: prev.i0, i1: r.i1, startMs: prev.startMs, endMs: r.endMs };
    } else out.push({ ...r });
  }
  return out;
}

function evidenceSpan(s: Series, startMs: number, endMs: number): EvidenceSpan {
  const e = energyJ(s, startMs, endMs);
  const durS = (endMs - startMs) / 1000;
  return {
    startS: round(startMs / 1000, 3),
    endS: round(endMs / 1000, 3),
    avgUtilPct: round(avgUtilPct(s, startMs, endMs), 1),
    avgPowerW: round(durS > 0 ? e / durS : 0, 1),
    energyJ: round(e, 1),
  };
}

function medianPowerW(s: Series, r: RawSpan): number | undefined {
  const w: number[] = [];
  for (let i = r.i0; i < r.i1; i++) {
    const p = s.samples[i]?.powerMilliwatts;
    if (p !== undefined) w.push(p / 1000);
  }
  return median(w);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Formatting (messages carry the measured numbers)

// The shared formatters (src/core/units/format.ts), under the names the messages have always used.
export { formatDuration as formatDurationS, formatJoules as formatEnergyJ, formatPct, formatWatts as formatPowerW, formatBytes as formatGB } from '../units/format';
const fmtS = formatDurationS;
const fmtJ = formatEnergyJ;
const fmtPct = formatPct;
const fmtW = formatPowerW;
const fmtGB = formatGB;

function fmtRanges(spans: EvidenceSpan[]): string {
  const shown = spans.slice(0, 4).map((x) => `${x.startS.toFixed(1)}-${x.endS.toFixed(1)} s`);
  return spans.length > 4 ? `${shown.join(', ')}, ...` : shown.join(', ');
}

// ---------------------------------------------------------------------------------------------
// Per-GPU context

interface GpuContext {
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

function makeContext(s: Series, th: Thresholds): GpuContext {
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
    idleFloorW = after.length >= 5 ? percentile(after, 10) : percentile(all, 10);
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

/** Figures of the starved-waste model for a stretch; see {@link starvedWasteJ}. */
export interface StarvedStretch {
  durS: number;
  energyJ: number;
  avgUtilPct: number;
}

/**
 * Energy a starved stretch wasted, in a model of GPU power as a static floor plus a dynamic part
 * proportional to activity. A fed loop does the same work, so the same dynamic energy, in less
 * time: at `fedUtilPct` instead of the stretch's util it needs u / u_fed of the time, and pays the
 * floor only then. Waste = floor x T x (1 - u / u_fed), where floor x T is at most the stretch's
 * energy (a floor above the stretch's own power cannot be saved beyond what was drawn). The
 * starved run's own busy samples are no reference: they are as starved, and include the floor.
 */
export function starvedWasteJ(stretch: StarvedStretch, idleFloorW: number, fedUtilPct: number): number {
  const staticJ = Math.min(stretch.energyJ, Math.max(0, idleFloorW) * stretch.durS);
  const fedShare = fedUtilPct > 0 ? Math.min(1, Math.max(0, stretch.avgUtilPct / fedUtilPct)) : 1;
  return Math.max(0, staticJ * (1 - fedShare));
}

/**
 * Waste of the given low stretches and the sentence saying how it was computed, with its figures.
 * With an idle floor: {@link starvedWasteJ}. Without one (no power readings), the energy above
 * what the work (util x time) would need at the power limit at 100 % util: an upper bound on the
 * need, so the waste is a lower bound; without a limit either, no work is credited.
 */
function lowTimeWaste(ctx: GpuContext, spans: EvidenceSpan[], what: string): { wastedJ: number; method: string } {
  const sum = sumSpans(spans);
  const fed = ctx.th.fedUtilPct;
  const floor = ctx.idleFloorW;
  if (floor !== undefined) {
    let wastedJ = 0;
    let capped = 0;
    for (const x of spans) {
      const durS = x.endS - x.startS;
      wastedJ += starvedWasteJ({ durS, energyJ: x.energyJ, avgUtilPct: x.avgUtilPct }, floor, fed);
      if (floor * durS > x.energyJ) capped++;
    }
    const cappedText = capped > 0 ? ` ${capped === spans.length ? 'The' : `In ${capped} of the ${spans.length} stretches the`} floor x time exceeded the energy drawn, so the energy stands in for it.` : '';
    return {
      wastedJ,
      method:
        `Idle floor x time x (1 - util / fed util): ${fmtW(floor)} x ${fmtS(sum.timeS)} x (1 - ${fmtPct(sum.util)} / ${fmtPct(fed)}) = ${fmtJ(wastedJ)}. ` +
        `A fed loop does the same work (the same energy above the floor) with a kernel running ${fmtPct(fed)} of the time (NVML util), ` +
        `so it pays the floor only for ${fmtPct(fed > 0 ? Math.min(100, (100 * sum.util) / fed) : 100)} of ${what}; the rest of the floor is waste.${cappedText}`,
    };
  }
  const limitMw = ctx.s.info?.powerLimitMilliwatts;
  const jPerUtilPctS = limitMw === undefined ? 0 : limitMw / 1000 / 100;
  const wastedJ = spans.reduce((a, x) => a + Math.max(0, x.energyJ - x.avgUtilPct * (x.endS - x.startS) * jPerUtilPctS), 0);
  return {
    wastedJ,
    method:
      limitMw === undefined
        ? `Energy in ${what} (${fmtJ(sum.energy)}): no idle floor and no power limit to credit its work.`
        : `Energy in ${what} minus what its work (util x time) would need at the power limit at 100 % util (no idle floor estimate): ` +
          `${fmtJ(sum.energy)} - ${fmtPct(sum.util)} x ${fmtS(sum.timeS)} x ${fmtW(limitMw / 1000)} / 100 % = ${fmtJ(wastedJ)}.`,
  };
}

// ---------------------------------------------------------------------------------------------
// Detectors

/** Evidence lists at most this many spans (the first ones); counts and sums cover all of them. */
export const MAX_EVIDENCE_SPANS = 500;

interface RunTotals {
  runEnergyJ: number;
  runDurationS: number;
}

function shareFields(totals: RunTotals, energy: number, timeS: number): Pick<FindingEvidence, 'runEnergyJ' | 'runDurationS' | 'shareOfRunEnergyPct' | 'shareOfRunTimePct'> {
  return {
    runEnergyJ: round(totals.runEnergyJ, 1),
    runDurationS: round(totals.runDurationS, 3),
    shareOfRunEnergyPct: round(totals.runEnergyJ > 0 ? (100 * energy) / totals.runEnergyJ : 0, 1),
    shareOfRunTimePct: round(totals.runDurationS > 0 ? (100 * timeS) / totals.runDurationS : 0, 1),
  };
}

function sumSpans(spans: EvidenceSpan[]): { timeS: number; energy: number; util: number; power: number } {
  let timeS = 0;
  let energy = 0;
  let utilS = 0;
  for (const x of spans) {
    const d = x.endS - x.startS;
    timeS += d;
    energy += x.energyJ;
    utilS += x.avgUtilPct * d;
  }
  return { timeS, energy, util: timeS > 0 ? utilS / timeS : 0, power: timeS > 0 ? energy / timeS : 0 };
}

function severityByWaste(th: Thresholds, totals: RunTotals, wasted: number): FindingSeverity {
  return totals.runEnergyJ > 0 && (100 * wasted) / totals.runEnergyJ >= th.warnShareOfRunPct ? 'warning' : 'information';
}

function detectSlowStart(ctx: GpuContext, totals: RunTotals): DetectedFinding[] {
  const first = ctx.s.t[0];
  if (ctx.firstKernelMs === undefined || first === undefined) return [];
  const durS = (ctx.firstKernelMs - Math.max(0, first)) / 1000;
  if (durS < ctx.th.slowStartS) return [];
  const span = evidenceSpan(ctx.s, first, ctx.firstKernelMs);
  const pct = totals.runEnergyJ > 0 ? (100 * span.energyJ) / totals.runEnergyJ : 0;
  return [
    {
      code: 'slow-start',
      severity: 'information',
      title: `GPU ${ctx.s.gpu} waited ${fmtS(durS)} for its first kernel`,
      message:
        `GPU ${ctx.s.gpu} ran no kernel for the first ${fmtS(durS)} of the run (imports, CUDA initialisation, data set-up; ` +
        `${fmtW(span.avgPowerW)}): ${fmtJ(span.energyJ)}, ${fmtPct(pct)} of the run's energy.`,
      gpu: ctx.s.gpu,
      startS: span.startS,
      endS: span.endS,
      energyJ: span.energyJ,
      wastedJ: span.energyJ,
      wastedMethod: 'All energy before the first kernel (first sample with util > 0): the GPU did no work in it, though part of a start-up is unavoidable.',
      evidence: { spans: [span], phase: 'before-first-kernel', firstKernelS: round(ctx.firstKernelMs / 1000, 3), ...shareFields(totals, span.energyJ, durS) },
      static: false,
    },
  ];
}

interface LowSpan {
  raw: RawSpan;
  span: EvidenceSpan;
  starved: boolean;
  phase: RunPhase;
  medianPowerW: number | undefined;
}

/** Low stretches after the first kernel, merged and classified. */
function lowSpans(ctx: GpuContext): LowSpan[] {
  if (ctx.firstKernelMs === undefined) return [];
  // The window already joins a starved loop's fragments; merging bridges only what stays under
  // the per-sample cut, so a busy second between two dips keeps them apart.
  const merged = mergeRuns(ctx.s, runsOf(ctx.s, (_x, i) => ctx.isLow(i), ctx.firstKernelIdx), ctx.th.mergeGapS, ctx.th.starvedUtilPct);
  const lastKernelEndMs = Math.max(ctx.lastBusyEndMs ?? -Infinity, ctx.lastKernelEndMs ?? -Infinity);
  // A stretch that runs past the last kernel is split there: before it the GPU was waiting between
  // kernels (a starved loop), after it the process was only tearing down.
  const runs: RawSpan[] = [];
  for (const r of merged) {
    if (r.startMs < lastKernelEndMs && lastKernelEndMs < r.endMs) {
      let k = r.i0;
      while (k < r.i1 && (ctx.s.t[k] ?? Infinity) < lastKernelEndMs) k++;
      runs.push({ i0: r.i0, i1: k, startMs: r.startMs, endMs: lastKernelEndMs }, { i0: k, i1: r.i1, startMs: lastKernelEndMs, endMs: r.endMs });
    } else runs.push(r);
  }
  const floor = ctx.idleFloorW;
  const margin = floor === undefined ? Infinity : Math.max(ctx.th.starvedPowerMarginW, ctx.th.starvedPowerMarginFraction * floor);
  return runs.map((raw) => {
    const span = evidenceSpan(ctx.s, raw.startMs, raw.endMs);
    // Median, not mean: a 1 s moving-average power reading still shows the busy stretch before
    // for about a second after util drops, and util lags the first kernels of the next one.
    const medW = medianPowerW(ctx.s, raw);
    // The util of the samples under the per-sample cut: a lone busy tick in the stretch is not
    // "work done" in it. A starved loop's bursts are: at least one burst per window on average.
    let lowUtil = 0;
    let lowCount = 0;
    let bursts = 0;
    for (let i = raw.i0; i < raw.i1; i++) {
      const x = ctx.s.samples[i];
      if (x?.utilGpuPct === undefined) continue;
      if (x.utilGpuPct <= ctx.th.starvedUtilPct) {
        lowUtil += x.utilGpuPct;
        lowCount++;
      } else if (i === raw.i0 || (ctx.s.samples[i - 1]?.utilGpuPct ?? 0) <= ctx.th.starvedUtilPct) bursts++;
    }
    const lowAvgUtilPct = lowCount ? lowUtil / lowCount : span.avgUtilPct;
    const loop = bursts > 0 && bursts * ctx.th.utilWindowS >= span.endS - span.startS;
    const starved = loop || lowAvgUtilPct >= ctx.th.starvedMinUtilPct || (floor !== undefined && medW !== undefined && medW >= floor + margin);
    const phase: RunPhase = raw.startMs < lastKernelEndMs ? 'between-kernels' : 'after-last-kernel';
    return { raw, span, starved, phase, medianPowerW: medW };
  });
}

interface PeriodicResult {
  dips: LowSpan[];
  periodS: number;
  dipMedianS: number;
}

/** Regularly spaced short dips inside busy time (data loading, eval, checkpoints every N steps). */
function findPeriodic(ctx: GpuContext, spans: LowSpan[]): PeriodicResult | undefined {
  const th = ctx.th;
  const dips = spans.filter((x) => x.phase === 'between-kernels' && x.span.endS - x.span.startS <= th.periodicMaxDipS && isBoundedByBusy(ctx, x.raw));
  if (dips.length < th.periodicMinCount) return undefined;
  const starts = dips.map((x) => x.span.startS);
  const gaps: number[] = [];
  for (let i = 1; i < starts.length; i++) gaps.push((starts[i] ?? 0) - (starts[i - 1] ?? 0));
  const periodS = median(gaps);
  if (periodS === undefined || periodS <= 0) return undefined;
  const regular = gaps.filter((g) => Math.abs(g - periodS) <= th.periodicTolerance * periodS).length;
  if (regular < th.periodicRegularFraction * gaps.length) return undefined;
  const lengths = dips.map((x) => x.span.endS - x.span.startS);
  const total = lengths.reduce((a, b) => a + b, 0);
  const first = dips[0];
  const last = dips[dips.length - 1];
  if (first === undefined || last === undefined) return undefined;
  const window = last.span.endS - first.span.startS;
  if (window <= 0 || total / window < th.periodicMinShare) return undefined;
  return { dips, periodS, dipMedianS: median(lengths) ?? 0 };
}

function isBoundedByBusy(ctx: GpuContext, r: RawSpan): boolean {
  return r.i0 >= 1 && r.i1 < ctx.s.samples.length && ctx.isBusy(r.i0 - 1) && ctx.isBusy(r.i1);
}

function detectLowTime(ctx: GpuContext, totals: RunTotals): DetectedFinding[] {
  const out: DetectedFinding[] = [];
  const spans = lowSpans(ctx);
  const periodic = findPeriodic(ctx, spans);
  const gpu = ctx.s.gpu;
  const common = {
    idleFloorW: ctx.idleFloorW === undefined ? undefined : round(ctx.idleFloorW, 1),
    busyPowerW: ctx.busyS > 0 ? round(ctx.busyEnergyJ / ctx.busyS, 1) : undefined,
    busyAvgUtilPct: round(ctx.busyAvgUtilPct, 1),
    busyS: round(ctx.busyS, 3),
    firstKernelS: ctx.firstKernelMs === undefined ? undefined : round(ctx.firstKernelMs / 1000, 3),
  };

  if (periodic !== undefined) {
    const all = periodic.dips.map((x) => x.span);
    const sum = sumSpans(all);
    const waste = lowTimeWaste(ctx, all, 'the dips');
    const wasted = waste.wastedJ;
    // Hours of training have thousands of dips: keep the evidence small, the sums cover them all.
    const ev = all.slice(0, MAX_EVIDENCE_SPANS);
    const pct = totals.runEnergyJ > 0 ? (100 * sum.energy) / totals.runEnergyJ : 0;
    out.push({
      code: 'periodic-stall',
      severity: 'warning',
      title: `GPU ${gpu} stalled ${periodic.dips.length} times, every ${fmtS(periodic.periodS)}`,
      message:
        `GPU ${gpu} stalled ${periodic.dips.length} times, about every ${fmtS(periodic.periodS)} for ${fmtS(periodic.dipMedianS)} each ` +
        `(util ${fmtPct(sum.util)}, ${fmtW(sum.power)}): ${fmtS(sum.timeS)} in all, ${fmtJ(sum.energy)}, ${fmtPct(pct)} of the run's energy.`,
      gpu,
      startS: all[0]?.startS ?? 0,
      endS: all[all.length - 1]?.endS ?? 0,
      energyJ: round(sum.energy, 1),
      wastedJ: round(wasted, 1),
      wastedMethod: waste.method,
      evidence: { spans: ev, periodS: round(periodic.periodS, 3), dipCount: periodic.dips.length, dipMedianS: round(periodic.dipMedianS, 3), phase: 'between-kernels', ...common, ...shareFields(totals, sum.energy, sum.timeS) },
      static: false,
    });
  }

  const inPeriodic = new Set(periodic?.dips ?? []);
  const reportable = spans.filter((x) => !inPeriodic.has(x) && x.span.endS - x.span.startS >= ctx.th.minSpanS);
  const groups: { code: TelemetryFindingCode; phase: RunPhase; spans: LowSpan[] }[] = [
    { code: 'gpu-starved', phase: 'between-kernels', spans: reportable.filter((x) => x.starved && x.phase === 'between-kernels') },
    { code: 'gpu-idle', phase: 'between-kernels', spans: reportable.filter((x) => !x.starved && x.phase === 'between-kernels') },
    { code: 'gpu-starved', phase: 'after-last-kernel', spans: reportable.filter((x) => x.starved && x.phase === 'after-last-kernel') },
    { code: 'gpu-idle', phase: 'after-last-kernel', spans: reportable.filter((x) => !x.starved && x.phase === 'after-last-kernel') },
  ];
  for (const g of groups) {
    if (g.spans.length === 0) continue;
    const ev = g.spans.map((x) => x.span);
    const sum = sumSpans(ev);
    const waste = g.code === 'gpu-idle' ? undefined : lowTimeWaste(ctx, ev, 'the starved time');
    const wasted = waste === undefined ? sum.energy : waste.wastedJ;
    const pct = totals.runEnergyJ > 0 ? (100 * sum.energy) / totals.runEnergyJ : 0;
    const verb = g.code === 'gpu-starved' ? 'starved' : 'idle';
    const where = g.phase === 'after-last-kernel' ? ' after its last kernel until the process exited' : '';
    const inSpans = ev.length > 1 ? ` in ${ev.length} stretches (${fmtRanges(ev)})` : ` (${fmtRanges(ev)})`;
    const floorText = g.code === 'gpu-starved' && ctx.idleFloorW !== undefined ? `, idle floor ${fmtW(ctx.idleFloorW)}` : '';
    out.push({
      code: g.code,
      severity: severityByWaste(ctx.th, totals, wasted),
      title: `GPU ${gpu} ${verb} ${fmtS(sum.timeS)}${g.phase === 'after-last-kernel' ? ' before exit' : ''}`,
      message:
        `GPU ${gpu} was ${verb} for ${fmtS(sum.timeS)}${where}${inSpans}: util ${fmtPct(sum.util)}, ${fmtW(sum.power)}${floorText}; ` +
        `${fmtJ(sum.energy)}, ${fmtPct(pct)} of the run's energy.`,
      gpu,
      startS: ev[0]?.startS ?? 0,
      endS: ev[ev.length - 1]?.endS ?? 0,
      energyJ: round(sum.energy, 1),
      wastedJ: round(wasted, 1),
      wastedMethod: waste === undefined ? 'All energy in the idle time (no kernel ran, so no work is credited).' : waste.method,
      evidence: { spans: ev.slice(0, MAX_EVIDENCE_SPANS), phase: g.phase, ...common, ...shareFields(totals, sum.energy, sum.timeS) },
      static: false,
    });
  }
  return out;
}

function detectMemory(ctx: GpuContext, totals: RunTotals): DetectedFinding[] {
  const th = ctx.th;
  const total = ctx.s.info?.memTotalBytes;
  if (total === undefined || total <= 0 || ctx.busyS < th.memMinBusyS) return [];
  let peak = 0;
  let firstBusy: number | undefined;
  let lastBusy: number | undefined;
  ctx.s.samples.forEach((x, i) => {
    if (!ctx.isBusy(i)) return;
    firstBusy ??= i;
    lastBusy = i;
    if (x.memUsedBytes !== undefined) peak = Math.max(peak, x.memUsedBytes);
  });
  if (firstBusy === undefined || lastBusy === undefined || peak <= 0 || peak > th.memUnderusedFraction * total) return [];
  const busyW = ctx.busyEnergyJ / ctx.busyS;
  const limitMw = ctx.s.samples[lastBusy]?.powerLimitMilliwatts ?? ctx.s.info?.powerLimitMilliwatts;
  // At full load (power near the limit) a larger batch buys little: the GPU is already saturated.
  if (limitMw !== undefined && busyW >= (th.fullLoadPowerFraction * limitMw) / 1000) return [];
  const startMs = ctx.s.t[firstBusy] ?? 0;
  const endMs = ctx.s.t[lastBusy + 1] ?? ctx.s.endMs;
  const span = evidenceSpan(ctx.s, startMs, endMs);
  const frac = peak / total;
  const limitText = limitMw === undefined ? '' : ` of its ${fmtW(limitMw / 1000)} limit`;
  return [
    {
      code: 'memory-underused',
      severity: 'information',
      title: `GPU ${ctx.s.gpu} used ${fmtPct(100 * frac)} of its memory`,
      message:
        `GPU ${ctx.s.gpu} used at most ${fmtGB(peak)} of ${fmtGB(total)} (${fmtPct(100 * frac)}) while busy for ${fmtS(ctx.busyS)}, ` +
        `drawing ${fmtW(busyW)}${limitText}: a larger batch would likely do more work per joule.`,
      gpu: ctx.s.gpu,
      startS: span.startS,
      endS: span.endS,
      energyJ: round(ctx.busyEnergyJ, 1),
      wastedJ: 0,
      wastedMethod: 'Not measured: unused memory is an opportunity (a larger batch usually raises throughput per joule), not energy spent.',
      evidence: {
        spans: [span],
        peakMemUsedBytes: peak,
        memTotalBytes: total,
        busyS: round(ctx.busyS, 3),
        busyPowerW: round(busyW, 1),
        busyAvgUtilPct: round(ctx.busyAvgUtilPct, 1),
        powerLimitW: limitMw === undefined ? undefined : limitMw / 1000,
        ...shareFields(totals, ctx.busyEnergyJ, ctx.busyS),
      },
      static: false,
    },
  ];
}

function detectThrottle(ctx: GpuContext, totals: RunTotals, code: 'throttle-power' | 'throttle-thermal', mask: number): DetectedFinding[] {
  const th = ctx.th;
  if (ctx.busyS <= 0) return [];
  const pred = (x: GpuSample, i: number): boolean => ctx.isBusy(i) && ((x.clockEventReasons ?? 0) & mask) !== 0;
  const runs = runsOf(ctx.s, pred);
  // Bits flicker from tick to tick while capped; bridge short gaps (any util: this is busy time).
  const merged = mergeRuns(ctx.s, runs, th.mergeGapS, 100);
  const timeS = runs.reduce((a, r) => a + (r.endMs - r.startMs) / 1000, 0);
  const share = timeS / ctx.busyS;
  if (timeS < th.minSpanS || share < th.throttleMinShare) return [];
  const ev = merged.map((r) => evidenceSpan(ctx.s, r.startMs, r.endMs));
  const clocks: number[] = [];
  const temps: number[] = [];
  for (const r of runs) {
    for (let i = r.i0; i < r.i1; i++) {
      const x = ctx.s.samples[i];
      if (x?.smClockMhz !== undefined) clocks.push(x.smClockMhz);
      if (x?.temperatureC !== undefined) temps.push(x.temperatureC);
    }
  }
  const sum = sumSpans(ev);
  const clock = median(clocks);
  const temp = percentile(temps, 90);
  const clockText = clock === undefined ? '' : `, SM clock ${clock.toFixed(0)} MHz`;
  const gpu = ctx.s.gpu;
  const isPower = code === 'throttle-power';
  const limitMw = ctx.s.info?.powerLimitMilliwatts;
  return [
    {
      code,
      // Nearly every full-load run on a recent GPU touches its cap: an opportunity, not a problem.
      severity: isPower ? 'hint' : 'warning',
      title: `GPU ${gpu} ${isPower ? 'power-capped' : 'thermally throttled'} ${fmtPct(100 * share)} of busy time`,
      message: isPower
        ? `GPU ${gpu} ran at its power cap${limitMw === undefined ? '' : ` (${fmtW(limitMw / 1000)})`} for ${fmtS(timeS)}, ${fmtPct(100 * share)} of its busy time (${fmtW(sum.power)}${clockText}). ` +
          'Capping is not waste; a lower cap often saves energy for little slowdown.'
        : `GPU ${gpu} was thermally throttled for ${fmtS(timeS)}, ${fmtPct(100 * share)} of its busy time (${fmtW(sum.power)}${clockText}` +
          `${temp === undefined ? '' : `, up to ${temp.toFixed(0)} deg C`}): the run is slowed by cooling.`,
      gpu,
      startS: ev[0]?.startS ?? 0,
      endS: ev[ev.length - 1]?.endS ?? 0,
      energyJ: round(sum.energy, 1),
      wastedJ: 0,
      wastedMethod: isPower
        ? 'None: power capping limits power, it does not spend energy without work.'
        : 'Not estimated: throttling lengthens the run, but the extra energy is not separable from the telemetry.',
      evidence: {
        spans: ev.slice(0, MAX_EVIDENCE_SPANS),
        throttledShareOfBusyPct: round(100 * share, 1),
        smClockMhz: clock,
        temperatureC: temp,
        busyS: round(ctx.busyS, 3),
        powerLimitW: limitMw === undefined ? undefined : limitMw / 1000,
        ...shareFields(totals, sum.energy, timeS),
      },
      static: false,
    },
  ];
}

function detectUnused(ctx: GpuContext, totals: RunTotals): DetectedFinding[] {
  const first = ctx.s.t[0];
  if (first === undefined || ctx.s.samples.length < 2 || ctx.firstKernelMs !== undefined) return [];
  // Without util readings there is no evidence either way.
  if (!ctx.s.samples.some((x) => x.utilGpuPct !== undefined || x.clockEventReasons !== undefined)) return [];
  const durS = (ctx.s.endMs - first) / 1000;
  if (durS < ctx.th.minSpanS) return [];
  const span = evidenceSpan(ctx.s, first, ctx.s.endMs);
  const mem = ctx.s.samples.reduce((a, x) => Math.max(a, x.memUsedBytes ?? 0), 0);
  const pct = totals.runEnergyJ > 0 ? (100 * span.energyJ) / totals.runEnergyJ : 0;
  return [
    {
      code: 'gpu-unused',
      severity: 'warning',
      title: `GPU ${ctx.s.gpu} never ran a kernel`,
      message:
        `GPU ${ctx.s.gpu} was attributed to the run but ran no kernel in ${fmtS(durS)} (util 0 %, ${fmtW(span.avgPowerW)}` +
        `${mem > 0 ? `, up to ${fmtGB(mem)} in use` : ''}): ${fmtJ(span.energyJ)}, ${fmtPct(pct)} of the run's energy.`,
      gpu: ctx.s.gpu,
      startS: span.startS,
      endS: span.endS,
      energyJ: span.energyJ,
      wastedJ: span.energyJ,
      wastedMethod: 'All energy of the GPU during the run: it did no work.',
      evidence: { spans: [span], peakMemUsedBytes: mem, memTotalBytes: ctx.s.info?.memTotalBytes, ...shareFields(totals, span.energyJ, durS) },
      static: false,
    },
  ];
}

function detectAfterRun(ctx: GpuContext, afterAll: GpuSample[], totals: RunTotals, endMs: number): DetectedFinding[] {
  const th = ctx.th;
  // Memory is read on the sampler's detail ticks (once a second), not every tick: judge those.
  const after = afterAll.filter((x) => x.memUsedBytes !== undefined);
  const baseline = ctx.s.samples.find((x) => x.memUsedBytes !== undefined)?.memUsedBytes;
  if (baseline === undefined || after.length < 2) return [];
  const s = buildSeries(ctx.s.gpu, ctx.s.info, after, after[after.length - 1]?.tMs ?? endMs);
  const held = (x: GpuSample): boolean =>
    ctx.isIdle(x) && x.memUsedBytes !== undefined && x.memUsedBytes - baseline >= th.leakMinBytes;
  const runs = runsOf(s, held).filter((r) => (r.endMs - r.startMs) / 1000 >= th.minSpanS);
  if (runs.length === 0) return [];
  const ev = runs.map((r) => evidenceSpan(s, r.startMs, r.endMs));
  const sum = sumSpans(ev);
  let heldBytes = 0;
  for (const r of runs) for (let i = r.i0; i < r.i1; i++) heldBytes = Math.max(heldBytes, (s.samples[i]?.memUsedBytes ?? 0) - baseline);
  // The power the GPU drew before the run opened a context: what it would go back to if released.
  const pre: number[] = [];
  for (let i = 0; i < ctx.firstKernelIdx && i < ctx.s.samples.length; i++) {
    const p = ctx.s.samples[i]?.powerMilliwatts;
    if (p !== undefined) pre.push(p / 1000);
  }
  const restW = median(pre) ?? ctx.idleFloorW;
  const wasted = restW === undefined ? sum.energy : Math.max(0, sum.energy - restW * sum.timeS);
  return [
    {
      code: 'idle-after-run',
      severity: 'warning',
      title: `GPU ${ctx.s.gpu} still holds ${fmtGB(heldBytes)} after the run`,
      message:
        `After the run exited, GPU ${ctx.s.gpu} stayed idle for ${fmtS(sum.timeS)} with ${fmtGB(heldBytes)} more memory in use than before it ` +
        `(${fmtW(sum.power)}${restW === undefined ? '' : ` vs ${fmtW(restW)} before the run`}): a leftover process (e.g. DataLoader workers, a notebook kernel) may hold the GPU.`,
      gpu: ctx.s.gpu,
      startS: ev[0]?.startS ?? endMs / 1000,
      endS: ev[ev.length - 1]?.endS ?? endMs / 1000,
      energyJ: round(sum.energy, 1),
      wastedJ: round(wasted, 1),
      wastedMethod:
        restW === undefined
          ? 'All energy while the memory stayed held after exit.'
          : `Energy after exit above the power drawn before the run opened a context (${fmtW(restW)}).`,
      evidence: { spans: ev.slice(0, MAX_EVIDENCE_SPANS), phase: 'after-exit', heldMemBytes: heldBytes, memTotalBytes: ctx.s.info?.memTotalBytes, ...shareFields(totals, sum.energy, sum.timeS) },
      static: false,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Entry points

function prepare(input: RunTelemetry, thresholds?: Partial<Thresholds>): { th: Thresholds; ctxs: GpuContext[]; totals: RunTotals } {
  const th: Thresholds = { ...DEFAULT_THRESHOLDS, ...stripUndefined(thresholds ?? {}) };
  const ctxs: GpuContext[] = [];
  for (const gpu of [...new Set(input.runGpus)].sort((a, b) => a - b)) {
    const own = input.byGpu ? (input.byGpu.get(gpu) ?? []) : input.samples;
    const samples = own.filter((x) => x.gpu === gpu && x.tMs <= input.endMs);
    if (samples.length === 0) continue;
    const info = input.gpus.find((g) => g.index === gpu);
    ctxs.push(makeContext(buildSeries(gpu, info, samples, input.endMs), th));
  }
  const runEnergyJ = ctxs.reduce((a, c) => a + c.gpuEnergyJ, 0);
  return { th, ctxs, totals: { runEnergyJ, runDurationS: input.endMs / 1000 } };
}

function stripUndefined(p: Partial<Thresholds>): Partial<Thresholds> {
  const out: Partial<Thresholds> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) Object.assign(out, { [k]: v });
  return out;
}

/**
 * Busy time, busy power and idle floor of each run GPU. The correlator uses it to tell a run that
 * kept its GPU busy (so "no autocast" has measured support) from one without telemetry.
 */
export function summarizeRun(input: RunTelemetry, thresholds?: Partial<Thresholds>): RunActivity {
  return activityOf(prepare(input, thresholds));
}

function activityOf({ ctxs, totals }: { ctxs: GpuContext[]; totals: RunTotals }): RunActivity {
  return {
    runDurationS: totals.runDurationS,
    runEnergyJ: round(totals.runEnergyJ, 1),
    gpus: ctxs.map((c) => ({
      gpu: c.s.gpu,
      energyJ: round(c.gpuEnergyJ, 1),
      busyS: round(c.busyS, 3),
      busyEnergyJ: round(c.busyEnergyJ, 1),
      busyAvgPowerW: c.busyS > 0 ? round(c.busyEnergyJ / c.busyS, 1) : 0,
      busyAvgUtilPct: round(c.busyAvgUtilPct, 1),
      idleFloorW: c.idleFloorW === undefined ? undefined : round(c.idleFloorW, 1),
      firstKernelS: c.firstKernelMs === undefined ? undefined : round(c.firstKernelMs / 1000, 3),
    })),
  };
}

/** One GPU's samples kept compactly (see sampleColumns.ts): read as columns, materialised on demand. */
export interface GpuSeriesSource {
  readonly length: number;
  /** Column values; NaN where a sample has no reading. Index < length. */
  tMs(i: number): number;
  energyMillijoules(i: number): number;
  powerMilliwatts(i: number): number;
  /** The samples at or before `endMs`, as objects, in time order. */
  toSamples(endMs: number): GpuSample[];
  /**
   * Set once the source averages its samples into buckets (boundedSeries.ts): then its points are
   * buckets, `toSamples` returns one per bucket, and the GPU's energy comes from here.
   */
  buckets?(): SeriesBuckets | undefined;
}

/** How a source's points average its samples; see boundedSeries.ts. */
export interface SeriesBuckets {
  /** Width of the buckets (ms). */
  bucketMs: number;
  /** The sampler's median interval (ms): the exit is covered within two of them of the last sample. */
  sampleIntervalMs: number;
  /** Samples averaged into the buckets. */
  samples: number;
  /** The GPU's energy to the exit (J), as {@link sourceEnergyJ} gives it over the samples. */
  energyJ(endMs: number): number;
}

/** Like {@link RunTelemetry}, with each GPU's samples in a compact source instead of objects. */
export interface ColumnarTelemetry {
  gpus: GpuInfo[];
  runGpus: number[];
  endMs: number;
  afterRunSamples?: GpuSample[];
  sources: ReadonlyMap<number, GpuSeriesSource>;
}

/**
 * A GPU's energy over its coverage, exactly as `buildSeries` + `energyJ(s, t[0], s.endMs)` give
 * it, from the columns alone: the counter's last minus first reading when the counter covers at
 * least half the samples, else the trapezoid over power; plus the last power held to the exit
 * when the exit is within two ticks of the last sample.
 */
function sourceEnergyJ(src: GpuSeriesSource, endMs: number): { energyJ: number; samples: number } {
  let n = 0;
  let withCounter = 0;
  let firstMj: number | undefined;
  let lastMj: number | undefined;
  let trapJ = 0;
  let lastW: number | undefined;
  let prevT = 0;
  let lastPowerMw: number | undefined;
  const dts: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const t = src.tMs(i);
    if (!(t <= endMs)) continue;
    const mJ = src.energyMillijoules(i);
    if (!Number.isNaN(mJ)) {
      withCounter++;
      firstMj ??= mJ;
      lastMj = mJ;
    }
    const p = src.powerMilliwatts(i);
    lastPowerMw = Number.isNaN(p) ? undefined : p;
    const w = Number.isNaN(p) ? lastW : p / 1000;
    if (n > 0) {
      dts.push(t - prevT);
      if (lastW !== undefined && w !== undefined) trapJ += ((lastW + w) / 2) * ((t - prevT) / 1000);
    }
    lastW = w;
    prevT = t;
    n++;
  }
  if (n === 0) return { energyJ: 0, samples: 0 };
  const cumEndJ = withCounter >= 2 && withCounter >= n * 0.5 ? ((lastMj ?? 0) - (firstMj ?? 0)) / 1000 : trapJ;
  const dtMs = median(dts) ?? 0;
  const coveredEndMs = endMs > prevT && endMs - prevT <= 2 * dtMs ? endMs : prevT;
  const tailJ = ((lastPowerMw ?? 0) / 1e6) * (coveredEndMs - prevT);
  return { energyJ: Math.max(0, cumEndJ + tailJ), samples: n };
}

/**
 * {@link analyzeTelemetryWithActivity} for long runs: the run's energy (every finding's share is
 * of it) comes from the columns, then each GPU's samples are materialised, analysed and dropped
 * before the next GPU's, so at most one GPU's sample objects exist at a time. Same findings and
 * activity as the object path (unit-tested).
 */
export function analyzeTelemetryColumns(input: ColumnarTelemetry, thresholds?: Partial<Thresholds>): { findings: Finding[]; activity: RunActivity } {
  const th: Thresholds = { ...DEFAULT_THRESHOLDS, ...stripUndefined(thresholds ?? {}) };
  const order = [...new Set(input.runGpus)].sort((a, b) => a - b);
  let runEnergyJ = 0;
  const present: number[] = [];
  const exactJ = new Map<number, number>();
  for (const gpu of order) {
    const src = input.sources.get(gpu);
    if (!src) continue;
    const buckets = src.buckets?.();
    const { energyJ: e, samples } = buckets ? { energyJ: buckets.energyJ(input.endMs), samples: buckets.samples } : sourceEnergyJ(src, input.endMs);
    if (samples === 0) continue;
    present.push(gpu);
    exactJ.set(gpu, e);
    runEnergyJ += e;
  }
  const totals: RunTotals = { runEnergyJ, runDurationS: input.endMs / 1000 };
  const findings: DetectedFinding[] = [];
  const ctxs: GpuContext[] = [];
  for (const gpu of present) {
    const src = input.sources.get(gpu)!;
    const buckets = src.buckets?.();
    const samples = src.toSamples(input.endMs);
    const info = input.gpus.find((g) => g.index === gpu);
    const ctx = makeContext(buildSeries(gpu, info, samples, input.endMs, buckets), th);
    // The buckets' energy is the samples' up to float rounding: report the GPU's figure as the run's.
    if (buckets) ctx.gpuEnergyJ = exactJ.get(gpu) ?? ctx.gpuEnergyJ;
    for (const f of detectOne(input, ctx, totals)) findings.push(buckets ? withBucketNote(f, buckets) : f);
    // Keep what the activity needs, not the series (its samples go with this iteration).
    ctxs.push({ ...ctx, s: { ...ctx.s, samples: [], t: [], cumJ: [], cumUtil: [] } });
  }
  return { findings: identify(findings), activity: activityOf({ ctxs, totals }) };
}

/**
 * A finding measured on buckets says so where it says how its figures were computed: its times
 * are bucket edges, and a dip shorter than a bucket shows only in the bucket's mean.
 */
function withBucketNote(f: DetectedFinding, buckets: SeriesBuckets): DetectedFinding {
  const note =
    `Measured on ${fmtS(buckets.bucketMs / 1000)} averages of the samples (the run has ${buckets.samples.toLocaleString('en-US')} samples of this GPU; ` +
    'longer runs are analysed on wider averages, so memory stays bounded); energies between bucket edges are exact.';
  return { ...f, wastedMethod: `${f.wastedMethod} ${note}`, evidence: { ...f.evidence, bucketS: round(buckets.bucketMs / 1000, 3) } };
}

/**
 * Runs every telemetry detector on the run's GPUs. Findings come per GPU in this order: slow-start,
 * periodic-stall, gpu-starved / gpu-idle (between kernels, then after the last kernel),
 * memory-underused, throttle-power, throttle-thermal, gpu-unused, idle-after-run. They carry no
 * file or range; `correlate` attaches source lines where the code explains them.
 */
export function analyzeTelemetry(input: RunTelemetry, thresholds?: Partial<Thresholds>): Finding[] {
  return detectAll(input, prepare(input, thresholds));
}

/** {@link analyzeTelemetry} and {@link summarizeRun} over one build of each GPU's series. */
export function analyzeTelemetryWithActivity(input: RunTelemetry, thresholds?: Partial<Thresholds>): { findings: Finding[]; activity: RunActivity } {
  const prepared = prepare(input, thresholds);
  return { findings: detectAll(input, prepared), activity: activityOf(prepared) };
}

function detectAll(input: RunTelemetry, { ctxs, totals }: { ctxs: GpuContext[]; totals: RunTotals }): Finding[] {
  const out: DetectedFinding[] = [];
  for (const ctx of ctxs) for (const f of detectOne(input, ctx, totals)) out.push(f);
  return identify(out);
}

function detectOne(input: Pick<RunTelemetry, 'afterRunSamples' | 'endMs'>, ctx: GpuContext, totals: RunTotals): DetectedFinding[] {
  const out: DetectedFinding[] = [];
  const add = (found: DetectedFinding[]): void => {
    for (const f of found) out.push(f);
  };
  {
    if (ctx.firstKernelMs === undefined) {
      add(detectUnused(ctx, totals));
    } else {
      add(detectSlowStart(ctx, totals));
      add(detectLowTime(ctx, totals));
      add(detectMemory(ctx, totals));
      add(detectThrottle(ctx, totals, 'throttle-power', ClockEventReason.SwPowerCap));
      add(detectThrottle(ctx, totals, 'throttle-thermal', ClockEventReason.SwThermalSlowdown | ClockEventReason.HwThermalSlowdown));
    }
    const after = (input.afterRunSamples ?? []).filter((x) => x.gpu === ctx.s.gpu && x.tMs > input.endMs);
    add(detectAfterRun(ctx, after, totals, input.endMs));
  }
  return out;
}
