/**
 * Low time after the first kernel: the stretches (merged, split at the last kernel, classified
 * idle or starved), the periodic dips among them, and the energy they wasted. detectors.ts turns
 * them into gpu-idle, gpu-starved and periodic-stall findings.
 */
import type { EvidenceSpan, RunPhase } from './findings';
import type { RawSpan } from './telemetrySeries';
import { evidenceSpan, median, medianPowerW, mergeRuns, runsOf, sumSpans } from './telemetrySeries';
import type { GpuContext } from './gpuContext';
import { floorWasteMethod, workCreditMethod } from './findingText';

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
export function lowTimeWaste(ctx: GpuContext, spans: EvidenceSpan[], what: string): { wastedJ: number; method: string } {
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
    return {
      wastedJ,
      method: floorWasteMethod({ floorW: floor, timeS: sum.timeS, utilPct: sum.util, fedUtilPct: fed, wastedJ, what, capped, stretches: spans.length }),
    };
  }
  const limitMw = ctx.s.info?.powerLimitMilliwatts;
  const jPerUtilPctS = limitMw === undefined ? 0 : limitMw / 1000 / 100;
  const wastedJ = spans.reduce((a, x) => a + Math.max(0, x.energyJ - x.avgUtilPct * (x.endS - x.startS) * jPerUtilPctS), 0);
  return {
    wastedJ,
    method: workCreditMethod({ what, energyJ: sum.energy, utilPct: sum.util, timeS: sum.timeS, limitW: limitMw === undefined ? undefined : limitMw / 1000, wastedJ }),
  };
}

/** A low stretch with its evidence and class. */
export interface LowSpan {
  raw: RawSpan;
  span: EvidenceSpan;
  starved: boolean;
  phase: RunPhase;
  medianPowerW: number | undefined;
}

/** Low stretches after the first kernel, merged and classified. */
export function lowSpans(ctx: GpuContext): LowSpan[] {
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

export interface PeriodicResult {
  dips: LowSpan[];
  periodS: number;
  dipMedianS: number;
}

/** Regularly spaced short dips inside busy time (data loading, eval, checkpoints every N steps). */
export function findPeriodic(ctx: GpuContext, spans: LowSpan[]): PeriodicResult | undefined {
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
