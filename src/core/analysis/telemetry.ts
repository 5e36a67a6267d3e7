/**
 * Detectors over a run's GPU telemetry. Pure: samples in, plain-data findings out.
 *
 * The entry points live here; the parts they put together are:
 * - thresholds.ts: the tunables and where each default comes from;
 * - telemetrySeries.ts: a GPU's samples as a series (energy, util, percentiles, stretches);
 * - gpuContext.ts: each point's class (idle, low, busy), first kernel, busy figures, idle floor,
 *   with the definitions used throughout;
 * - detectors.ts and lowTime.ts: one function per finding;
 * - findingText.ts: the findings' words.
 * Everything those files exported from here before still is (re-exports below).
 */
import type { GpuInfo, GpuSample } from '../sampler/types';
import type { DetectedFinding, Finding } from './findings';
import { identify } from './findings';
import type { Thresholds } from './thresholds';
import { withDefaults } from './thresholds';
import type { GpuSeriesSource, SeriesBuckets } from './telemetrySeries';
import { buildSeries, round, sourceEnergyJ } from './telemetrySeries';
import type { GpuContext } from './gpuContext';
import { makeContext } from './gpuContext';
import type { RunTotals } from './detectors';
import { detectOne } from './detectors';
import { bucketNote } from './findingText';

export type { Thresholds } from './thresholds';
export { DEFAULT_THRESHOLDS } from './thresholds';
export type { GpuSeriesSource, SeriesBuckets } from './telemetrySeries';
export type { StarvedStretch } from './lowTime';
export { starvedWasteJ } from './lowTime';
export { MAX_EVIDENCE_SPANS } from './detectors';
export { formatDurationS, formatEnergyJ, formatPct, formatPowerW, formatGB } from './findingText';


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
// Entry points

function prepare(input: RunTelemetry, thresholds?: Partial<Thresholds>): { th: Thresholds; ctxs: GpuContext[]; totals: RunTotals } {
  const th = withDefaults(thresholds);
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

/** Like {@link RunTelemetry}, with each GPU's samples in a compact source instead of objects. */
export interface ColumnarTelemetry {
  gpus: GpuInfo[];
  runGpus: number[];
  endMs: number;
  afterRunSamples?: GpuSample[];
  sources: ReadonlyMap<number, GpuSeriesSource>;
}

/**
 * {@link analyzeTelemetryWithActivity} for long runs: the run's energy (every finding's share is
 * of it) comes from the columns, then each GPU's samples are materialised, analysed and dropped
 * before the next GPU's, so at most one GPU's sample objects exist at a time. Same findings and
 * activity as the object path (unit-tested).
 */
export function analyzeTelemetryColumns(input: ColumnarTelemetry, thresholds?: Partial<Thresholds>): { findings: Finding[]; activity: RunActivity } {
  const th = withDefaults(thresholds);
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
  const note = bucketNote(buckets.bucketMs, buckets.samples);
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
