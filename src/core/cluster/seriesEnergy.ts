/**
 * Energy of one GPU over a window from what Prometheus stored: the increase of an energy counter
 * (resets handled), or the integral of a power gauge. Pure functions of the points, so they are
 * tested with synthetic series.
 */

export type Point = readonly [tS: number, value: number];

/** Energy over a window, with the time the points actually covered. */
export interface WindowEnergy {
  energyJ: number;
  /** Seconds of the window the points cover (the figure says nothing about the rest). */
  coveredS: number;
  /** Counter: resets seen (exporter or driver restarts). Power: spans not bridged (gaps). */
  resets: number;
  /** Power: seconds left out because the points were too far apart to bridge. */
  gapS: number;
  /** Median spacing of the points (the scrape interval as stored). */
  intervalS: number;
}

/**
 * Increase of a counter over [fromS, toS] (in the counter's unit). A drop is a reset (the exporter
 * restarted: its counter starts again from 0), so the value after it is all increase, as
 * Prometheus' increase() has it. The ends are interpolated between the points around them; where
 * the window starts before the first point or ends after the last, only the covered part counts
 * (nothing is extrapolated: `coveredS` says how much that is).
 */
export function counterIncrease(points: readonly Point[], fromS: number, toS: number): WindowEnergy {
  const pts = sorted(points);
  const intervalS = medianSpacing(pts);
  if (pts.length < 2 || toS <= fromS) return { energyJ: 0, coveredS: 0, resets: 0, gapS: 0, intervalS };
  // Reset-corrected running total at each point.
  const cum: number[] = [pts[0]![1]];
  let resets = 0;
  for (let i = 1; i < pts.length; i++) {
    const d = pts[i]![1] - pts[i - 1]![1];
    if (d < 0) resets++;
    cum.push(cum[i - 1]! + (d >= 0 ? d : pts[i]![1]));
  }
  const a = Math.max(fromS, pts[0]![0]);
  const b = Math.min(toS, pts[pts.length - 1]![0]);
  if (b <= a) return { energyJ: 0, coveredS: 0, resets, gapS: 0, intervalS };
  const at = (t: number): number => {
    const i = upperIndex(pts, t);
    if (i <= 0) return cum[0]!;
    if (i >= pts.length) return cum[cum.length - 1]!;
    const [t0] = pts[i - 1]!;
    const [t1] = pts[i]!;
    // After a reset, the value just before the drop is unknown: the increase of that span is the
    // new value, spread over the span as any other increase.
    return cum[i - 1]! + ((cum[i]! - cum[i - 1]!) * (t - t0)) / (t1 - t0);
  };
  return { energyJ: at(b) - at(a), coveredS: b - a, resets, gapS: 0, intervalS };
}

/**
 * Trapezoid integral of a power gauge (W) over [fromS, toS] in J. Points further apart than
 * `maxGapS` are not bridged (a lost scrape or a stopped exporter: the power in between is unknown);
 * their span is `gapS`.
 */
export function integratePower(points: readonly Point[], fromS: number, toS: number, maxGapS: number): WindowEnergy {
  const pts = sorted(points);
  const intervalS = medianSpacing(pts);
  let energyJ = 0;
  let coveredS = 0;
  let gapS = 0;
  let gaps = 0;
  for (let i = 1; i < pts.length; i++) {
    const [t0, p0] = pts[i - 1]!;
    const [t1, p1] = pts[i]!;
    const a = Math.max(t0, fromS);
    const b = Math.min(t1, toS);
    if (b <= a || t1 <= t0) continue;
    if (t1 - t0 > maxGapS) {
      gapS += b - a;
      gaps++;
      continue;
    }
    const pa = p0 + ((p1 - p0) * (a - t0)) / (t1 - t0);
    const pb = p0 + ((p1 - p0) * (b - t0)) / (t1 - t0);
    energyJ += ((pa + pb) / 2) * (b - a);
    coveredS += b - a;
  }
  return { energyJ, coveredS, resets: gaps, gapS, intervalS };
}

/** Time-weighted mean of a gauge over [fromS, toS] (step-held from each point), undefined without points in it. */
export function meanOver(points: readonly Point[], fromS: number, toS: number): number | undefined {
  const pts = sorted(points).filter(([t]) => t >= fromS && t <= toS);
  if (!pts.length) return undefined;
  if (pts.length === 1) return pts[0]![1];
  let sum = 0;
  for (let i = 1; i < pts.length; i++) sum += pts[i - 1]![1] * (pts[i]![0] - pts[i - 1]![0]);
  return sum / (pts[pts.length - 1]![0] - pts[0]![0]);
}

/** Median spacing of sorted points (0 with fewer than two). */
export function medianSpacing(pts: readonly Point[]): number {
  const d: number[] = [];
  for (let i = 1; i < pts.length; i++) d.push(pts[i]![0] - pts[i - 1]![0]);
  if (!d.length) return 0;
  d.sort((x, y) => x - y);
  return d[Math.floor(d.length / 2)]!;
}

function sorted(points: readonly Point[]): Point[] {
  const out = points.filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
  for (let i = 1; i < out.length; i++) {
    if (out[i]![0] < out[i - 1]![0]) return out.sort((x, y) => x[0] - y[0]);
  }
  return out;
}

/** Index of the first point with time > t (binary search). */
function upperIndex(pts: readonly Point[], t: number): number {
  let lo = 0;
  let hi = pts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pts[mid]![0] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
