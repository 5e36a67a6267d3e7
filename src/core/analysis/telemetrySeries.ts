/**
 * The series maths under the telemetry detectors: one GPU's samples as a time series with
 * cumulative energy and util, energy and mean util between any two times, percentiles, and the
 * maximal stretches of samples matching a predicate. Pure; no thresholds of the detectors here.
 *
 * Energy: deltas of the cumulative `energyMillijoules` where the samples carry it (the hardware
 * counter), else trapezoid integration of `powerMilliwatts`.
 */
import type { GpuInfo, GpuSample } from '../sampler/types';
import type { EvidenceSpan } from './findings';

/**
 * The counter is trusted when at least this share of the samples carry it (and at least two do);
 * below it the rare readings would be bridged over long stretches, so power is integrated instead.
 */
export const COUNTER_MIN_COVERAGE = 0.5;

/**
 * The sampler may stop a little before the exit: the series covers the exit when it lies within
 * this many sampler ticks of the last sample ("a couple of ticks": a judgment, not a measurement).
 */
export const EXIT_COVER_TICKS = 2;

/**
 * A sampling gap ends a stretch: spacing above max(`GAP_MIN_MS`, `GAP_TICKS` x the median
 * spacing). A judgment: a sampler late by a few ticks still covers the stretch; one silent for
 * seconds does not say what the GPU did.
 */
export const GAP_MIN_MS = 2000;
export const GAP_TICKS = 5;

/** One GPU's samples with the sums the detectors query. */
export interface Series {
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
export function buildSeries(gpu: number, info: GpuInfo | undefined, samples: GpuSample[], endMs: number, buckets?: { sampleIntervalMs: number }): Series {
  const t = samples.map((s) => s.tMs);
  const n = samples.length;
  const withCounter = samples.filter((s) => s.energyMillijoules !== undefined).length;
  const cumJ = new Array<number>(n).fill(0);
  if (n > 0 && withCounter >= 2 && withCounter >= n * COUNTER_MIN_COVERAGE) {
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
  const coveredEndMs = endMs > lastT && endMs - lastT <= EXIT_COVER_TICKS * tickMs ? endMs : lastT;
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
export function energyJ(s: Series, t0Ms: number, t1Ms: number): number {
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
export function avgUtilPct(s: Series, t0Ms: number, t1Ms: number): number {
  if (t1Ms <= t0Ms) return 0;
  const lastU = s.samples[s.samples.length - 1]?.utilGpuPct ?? 0;
  const slope = (): number => lastU;
  return (interpCum(s, s.cumUtil, t1Ms, slope) - interpCum(s, s.cumUtil, t0Ms, slope)) / (t1Ms - t0Ms);
}

export function median(values: number[]): number | undefined {
  return percentile(values, 50);
}

export function percentile(values: number[], pct: number): number | undefined {
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
export interface RawSpan {
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
export function runsOf(s: Series, pred: (x: GpuSample, i: number) => boolean, from = 0): RawSpan[] {
  const out: RawSpan[] = [];
  const n = s.samples.length;
  const dt = s.dtMs;
  const gapMs = Math.max(GAP_MIN_MS, GAP_TICKS * dt);
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
export function mergeRuns(s: Series, runs: RawSpan[], gapS: number, maxUtilPct: number): RawSpan[] {
  const out: RawSpan[] = [];
  for (const r of runs) {
    const prev = out[out.length - 1];
    if (prev !== undefined && (r.startMs - prev.endMs) / 1000 <= gapS && avgUtilPct(s, prev.startMs, r.endMs) <= maxUtilPct) {
      out[out.length - 1] = { i0: prev.i0, i1: r.i1, startMs: prev.startMs, endMs: r.endMs };
    } else out.push({ ...r });
  }
  return out;
}

export function evidenceSpan(s: Series, startMs: number, endMs: number): EvidenceSpan {
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

export function medianPowerW(s: Series, r: RawSpan): number | undefined {
  const w: number[] = [];
  for (let i = r.i0; i < r.i1; i++) {
    const p = s.samples[i]?.powerMilliwatts;
    if (p !== undefined) w.push(p / 1000);
  }
  return median(w);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Totals over evidence spans: time (s), energy (J), time-weighted util (%) and mean power (W). */
export function sumSpans(spans: EvidenceSpan[]): { timeS: number; energy: number; util: number; power: number } {
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


/**
 * A GPU's energy over its coverage, exactly as `buildSeries` + `energyJ(s, t[0], s.endMs)` give
 * it, from the columns alone: the counter's last minus first reading when the counter covers at
 * least half the samples, else the trapezoid over power; plus the last power held to the exit
 * when the exit is within two ticks of the last sample.
 */
export function sourceEnergyJ(src: GpuSeriesSource, endMs: number): { energyJ: number; samples: number } {
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
  const cumEndJ = withCounter >= 2 && withCounter >= n * COUNTER_MIN_COVERAGE ? ((lastMj ?? 0) - (firstMj ?? 0)) / 1000 : trapJ;
  const dtMs = median(dts) ?? 0;
  const coveredEndMs = endMs > prevT && endMs - prevT <= EXIT_COVER_TICKS * dtMs ? endMs : prevT;
  const tailJ = ((lastPowerMw ?? 0) / 1e6) * (coveredEndMs - prevT);
  return { energyJ: Math.max(0, cumEndJ + tailJ), samples: n };
}

