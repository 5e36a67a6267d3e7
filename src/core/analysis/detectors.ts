/**
 * The telemetry detectors, one function per finding, over a GPU's context (gpuContext.ts). Each
 * measures and decides; the words come from findingText.ts, the tunables from thresholds.ts, the
 * low stretches and their waste from lowTime.ts.
 */
import { ClockEventReason } from '../sampler/types';
import type { GpuSample } from '../sampler/types';
import type { DetectedFinding, FindingEvidence, FindingSeverity, RunPhase, TelemetryFindingCode } from './findings';
import type { Thresholds } from './thresholds';
import { buildSeries, evidenceSpan, median, mergeRuns, percentile, round, runsOf, sumSpans } from './telemetrySeries';
import type { GpuContext } from './gpuContext';
import type { LowSpan } from './lowTime';
import { findPeriodic, lowSpans, lowTimeWaste } from './lowTime';
import {
  GPU_UNUSED_METHOD,
  gpuUnusedText,
  IDLE_TIME_METHOD,
  idleAfterRunMethod,
  idleAfterRunText,
  lowTimeText,
  MEMORY_UNDERUSED_METHOD,
  memoryUnderusedText,
  periodicStallText,
  SLOW_START_METHOD,
  slowStartText,
  THROTTLE_POWER_METHOD,
  THROTTLE_THERMAL_METHOD,
  throttleText,
} from './findingText';

/**
 * Evidence lists at most this many spans (the first ones); counts and sums cover all of them.
 * A judgment: hours of training have thousands of dips; 500 keeps a finding small in the run
 * store and in the panel's messages.
 */
export const MAX_EVIDENCE_SPANS = 500;

/**
 * Percentile of the temperatures a thermal-throttle message quotes ("up to N deg C"). A judgment:
 * a peak that one stray reading does not set.
 */
export const THROTTLE_TEMP_PERCENTILE = 90;

/** The run's totals every finding's share is of. */
export interface RunTotals {
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
      ...slowStartText(ctx.s.gpu, { durS, avgPowerW: span.avgPowerW, energyJ: span.energyJ, sharePct: pct }),
      gpu: ctx.s.gpu,
      startS: span.startS,
      endS: span.endS,
      energyJ: span.energyJ,
      wastedJ: span.energyJ,
      wastedMethod: SLOW_START_METHOD,
      evidence: { spans: [span], phase: 'before-first-kernel', firstKernelS: round(ctx.firstKernelMs / 1000, 3), ...shareFields(totals, span.energyJ, durS) },
      static: false,
    },
  ];
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
      ...periodicStallText(gpu, {
        count: periodic.dips.length,
        periodS: periodic.periodS,
        dipMedianS: periodic.dipMedianS,
        utilPct: sum.util,
        powerW: sum.power,
        timeS: sum.timeS,
        energyJ: sum.energy,
        sharePct: pct,
      }),
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
    out.push({
      code: g.code,
      severity: severityByWaste(ctx.th, totals, wasted),
      ...lowTimeText(gpu, {
        starved: g.code === 'gpu-starved',
        afterLastKernel: g.phase === 'after-last-kernel',
        spans: ev,
        timeS: sum.timeS,
        utilPct: sum.util,
        powerW: sum.power,
        idleFloorW: ctx.idleFloorW,
        energyJ: sum.energy,
        sharePct: pct,
      }),
      gpu,
      startS: ev[0]?.startS ?? 0,
      endS: ev[ev.length - 1]?.endS ?? 0,
      energyJ: round(sum.energy, 1),
      wastedJ: round(wasted, 1),
      wastedMethod: waste === undefined ? IDLE_TIME_METHOD : waste.method,
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
  return [
    {
      code: 'memory-underused',
      severity: 'information',
      ...memoryUnderusedText(ctx.s.gpu, { peakBytes: peak, totalBytes: total, busyS: ctx.busyS, busyW, limitW: limitMw === undefined ? undefined : limitMw / 1000 }),
      gpu: ctx.s.gpu,
      startS: span.startS,
      endS: span.endS,
      energyJ: round(ctx.busyEnergyJ, 1),
      wastedJ: 0,
      wastedMethod: MEMORY_UNDERUSED_METHOD,
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
  const temp = percentile(temps, THROTTLE_TEMP_PERCENTILE);
  const gpu = ctx.s.gpu;
  const isPower = code === 'throttle-power';
  const limitMw = ctx.s.info?.powerLimitMilliwatts;
  return [
    {
      code,
      // Nearly every full-load run on a recent GPU touches its cap: an opportunity, not a problem.
      severity: isPower ? 'hint' : 'warning',
      ...throttleText(gpu, { isPower, limitW: limitMw === undefined ? undefined : limitMw / 1000, timeS, shareOfBusy: share, powerW: sum.power, clockMhz: clock, tempC: temp }),
      gpu,
      startS: ev[0]?.startS ?? 0,
      endS: ev[ev.length - 1]?.endS ?? 0,
      energyJ: round(sum.energy, 1),
      wastedJ: 0,
      wastedMethod: isPower ? THROTTLE_POWER_METHOD : THROTTLE_THERMAL_METHOD,
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
      ...gpuUnusedText(ctx.s.gpu, { durS, avgPowerW: span.avgPowerW, peakMemBytes: mem, energyJ: span.energyJ, sharePct: pct }),
      gpu: ctx.s.gpu,
      startS: span.startS,
      endS: span.endS,
      energyJ: span.energyJ,
      wastedJ: span.energyJ,
      wastedMethod: GPU_UNUSED_METHOD,
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
      ...idleAfterRunText(ctx.s.gpu, { heldBytes, timeS: sum.timeS, powerW: sum.power, restW }),
      gpu: ctx.s.gpu,
      startS: ev[0]?.startS ?? endMs / 1000,
      endS: ev[ev.length - 1]?.endS ?? endMs / 1000,
      energyJ: round(sum.energy, 1),
      wastedJ: round(wasted, 1),
      wastedMethod: idleAfterRunMethod(restW),
      evidence: { spans: ev.slice(0, MAX_EVIDENCE_SPANS), phase: 'after-exit', heldMemBytes: heldBytes, memTotalBytes: ctx.s.info?.memTotalBytes, ...shareFields(totals, sum.energy, sum.timeS) },
      static: false,
    },
  ];
}

/**
 * Every detector on one GPU, in the order the findings are listed: slow-start, periodic-stall,
 * gpu-starved / gpu-idle, memory-underused, throttle-power, throttle-thermal (or gpu-unused for a
 * GPU that ran no kernel), then idle-after-run.
 */
export function detectOne(input: { afterRunSamples?: GpuSample[]; endMs: number }, ctx: GpuContext, totals: RunTotals): DetectedFinding[] {
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
