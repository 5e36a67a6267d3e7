/**
 * Validation of the panel protocol's messages (the types are in panel.ts).
 *
 * A webview is a browser page that can be compromised through any content it renders, and a host
 * bug must not crash the panel, so both sides treat the other as untrusted input: `isToPanel` in
 * the webview, `parseFromPanel` in the host.
 */
import type {
  ColumnsView, CostView, FindingView, FromPanel, GpuSummaryView, LiveFiguresView, MarkerView, RangeView, RelatableView,
  RunSummaryView, RunView, StepPoint, ToPanel,
} from './panel';
import { VIEW_METRICS } from '../runs/minMaxView';
import type { LiveWork, SteadyState } from '../runs/types';
import type { GpuInfo, GpuSample, PowerPoint, SampleBatch, SampleGap } from '../sampler/types';

/** Limits for validation; generous, but they bound what a bad message can make either side allocate. */
export const ProtocolLimits = {
  idChars: 200,
  nameChars: 1000,
  textChars: 8000,
  compareRuns: 16,
  gpus: 256,
  /** 24 h at 10 Hz on 8 GPUs is 6.9 M; one message larger than this is refused. */
  samples: 10_000_000,
  powerPoints: 50_000_000,
  history: 100_000,
  findings: 100_000,
  /** Per finding; the detectors keep at most 500 evidence spans (telemetry.ts MAX_EVIDENCE_SPANS). */
  stretches: 100_000,
  markers: 1_000_000,
  steps: 10_000_000,
  relatable: 64,
  /** Buckets per GPU in a range answer (VIEW_BUCKETS is 2,048). */
  rangeBuckets: 4096,
} as const;

/**
 * A run's name as the panel may carry it: names past `ProtocolLimits.nameChars` (a 5,000-character
 * `--name`, a long command line as the label) are cut with an ellipsis where the host builds its
 * messages, because one over-long name made the webview refuse the whole history message.
 */
export function clipName(name: string, max: number = ProtocolLimits.nameChars): string {
  if (name.length <= max) return name;
  let cut = max - 1;
  // Never split a surrogate pair (an emoji or a rare CJK character) in two.
  const c = name.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return `${name.slice(0, cut)}\u2026`;
}

// ---- small checks -------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isStr(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length <= max;
}
function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isNonNeg(v: unknown): v is number {
  return isNum(v) && v >= 0;
}
function isIndex(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0;
}
function isPct(v: unknown): v is number {
  return isNum(v) && v >= 0 && v <= 100;
}
function optional(v: unknown, check: (x: unknown) => boolean): boolean {
  return v === undefined || check(v);
}
function isArr(v: unknown, max: number): v is unknown[] {
  return Array.isArray(v) && v.length <= max;
}
function every(v: unknown, max: number, check: (x: unknown) => boolean): boolean {
  if (!isArr(v, max)) return false;
  for (const x of v) if (!check(x)) return false;
  return true;
}
const id = (v: unknown): boolean => isStr(v, ProtocolLimits.idChars) && v.length > 0;
const name = (v: unknown): boolean => isStr(v, ProtocolLimits.nameChars);
const text = (v: unknown): boolean => isStr(v, ProtocolLimits.textChars);

// ---- telemetry ----------------------------------------------------------------------------------

const energyMethods: readonly string[] = ['counter', 'integrated'];
const runStatuses: readonly string[] = ['running', 'succeeded', 'failed', 'stopped', 'interrupted'];

export function isGpuInfo(v: unknown): v is GpuInfo {
  if (!isObj(v)) return false;
  if (!isIndex(v.index) || !name(v.name) || !id(v.uuid)) return false;
  if (v.powerSource !== 'instant' && v.powerSource !== 'average') return false;
  if (typeof v.energyMethod !== 'string' || !energyMethods.includes(v.energyMethod)) return false;
  if (!optional(v.pciBusId, name) || !optional(v.architecture, name) || !optional(v.energyMethodReason, text)) return false;
  for (const k of ['memTotalBytes', 'powerLimitMilliwatts', 'powerLimitMinMilliwatts', 'powerLimitMaxMilliwatts'] as const) {
    if (!optional(v[k], isNonNeg)) return false;
  }
  if (!isObj(v.supported)) return false;
  for (const val of Object.values(v.supported)) if (typeof val !== 'boolean') return false;
  return true;
}

const sampleNumberFields = [
  'powerMilliwatts', 'memUsedBytes', 'smClockMhz', 'memClockMhz', 'temperatureC', 'clockEventReasons',
  'powerLimitMilliwatts', 'pstate', 'energyMillijoules',
] as const;

export function isGpuSample(v: unknown): v is GpuSample {
  if (!isObj(v) || !isNonNeg(v.tMs) || !isIndex(v.gpu)) return false;
  for (const k of sampleNumberFields) {
    const x = v[k];
    if (x !== undefined && !(typeof x === 'number' && Number.isFinite(x) && x >= 0)) return false;
  }
  return optional(v.utilGpuPct, isPct) && optional(v.utilMemPct, isPct);
}

function isPowerPoint(v: unknown): v is PowerPoint {
  return isObj(v) && isIndex(v.gpu) && isNonNeg(v.tMs) && isNonNeg(v.powerMilliwatts);
}

function isGap(v: unknown): v is SampleGap {
  return isObj(v) && isIndex(v.gpu) && isNonNeg(v.startMs) && optional(v.endMs, isNonNeg) && text(v.reason);
}

export function isSampleBatch(v: unknown): v is SampleBatch {
  return isObj(v)
    && every(v.samples, ProtocolLimits.samples, isGpuSample)
    && every(v.powerPoints, ProtocolLimits.powerPoints, isPowerPoint)
    && every(v.gaps, ProtocolLimits.gpus * 16, isGap);
}

// ---- runs ---------------------------------------------------------------------------------------

function isGpuSummary(v: unknown): v is GpuSummaryView {
  return isObj(v) && isIndex(v.index) && name(v.name) && id(v.uuid) && isNonNeg(v.energyJ) && isNonNeg(v.avgPowerW)
    && optional(v.avgUtilPct, isPct);
}

function isRelatable(v: unknown): v is RelatableView {
  return isObj(v) && name(v.label) && isNum(v.value) && text(v.source);
}

function isCost(v: unknown): v is CostView {
  return isObj(v) && isNum(v.amount) && isStr(v.currency, 16) && optional(v.source, text);
}

export function isRunSummaryView(v: unknown): v is RunSummaryView {
  if (!isObj(v)) return false;
  if (!id(v.id) || !name(v.name) || !isStr(v.status, 20) || !runStatuses.includes(v.status)) return false;
  if (!isStr(v.startedAt, 64) || Number.isNaN(Date.parse(v.startedAt))) return false;
  if (!isNonNeg(v.durationS) || !(v.exitCode === null || Number.isInteger(v.exitCode))) return false;
  if (!isNonNeg(v.energyJ) || !isNonNeg(v.avgPowerW) || !isNonNeg(v.peakPowerW)) return false;
  if (v.energyMethod !== 'mixed' && !(typeof v.energyMethod === 'string' && energyMethods.includes(v.energyMethod))) return false;
  if (!optional(v.avgUtilPct, isPct)) return false;
  for (const k of ['idleEnergyJ', 'steps', 'tokens', 'jPerStep', 'jPerToken', 'samples', 'jPerSample', 'carbonG', 'carbonGPerJ', 'costPerJ'] as const) {
    if (!optional(v[k], isNonNeg)) return false;
  }
  if (!optional(v.replay, (x) => typeof x === 'boolean')) return false;
  if (!optional(v.workSource, isWorkSource) || !optional(v.workDetail, text) || !optional(v.steadyState, isSteadyState)) return false;
  return optional(v.carbonSource, text) && optional(v.cost, isCost)
    && optional(v.relatable, (r) => every(r, ProtocolLimits.relatable, isRelatable))
    && every(v.gpus, ProtocolLimits.gpus, isGpuSummary)
    && optional(v.countedGpus, (g) => every(g, ProtocolLimits.gpus, isIndex));
}

const workSources: readonly string[] = ['package', 'markers', 'package+markers', 'log'] satisfies ReadonlyArray<LiveWork['source']>;

function isWorkSource(v: unknown): v is LiveWork['source'] {
  return typeof v === 'string' && workSources.includes(v);
}

function isSteadyState(v: unknown): v is SteadyState {
  return isObj(v) && isNonNeg(v.startS) && isNonNeg(v.endS) && v.endS >= v.startS && isNonNeg(v.tokens) && isNonNeg(v.energyJ) && isNonNeg(v.jPerToken);
}

function isLiveWork(v: unknown): v is LiveWork {
  return isObj(v) && isWorkSource(v.source) && optional(v.steps, isNonNeg) && optional(v.samples, isNonNeg) && optional(v.tokens, isNonNeg)
    && optional(v.detail, text);
}

function isStretch(v: unknown): boolean {
  return isObj(v) && isNonNeg(v.startS) && isNonNeg(v.endS) && v.endS >= v.startS;
}

export function isFindingView(v: unknown): v is FindingView {
  return isObj(v) && id(v.id) && name(v.code) && (v.severity === 'warning' || v.severity === 'information' || v.severity === 'hint')
    && name(v.title) && text(v.message) && isNonNeg(v.startS) && isNonNeg(v.endS) && v.endS >= v.startS
    && every(v.stretches, ProtocolLimits.stretches, isStretch) && typeof v.static === 'boolean'
    && optional(v.correlatedWith, (c) => every(c, ProtocolLimits.findings, id))
    && isNonNeg(v.energyJ) && isNonNeg(v.wastedJ) && optional(v.gpu, isIndex)
    && optional(v.file, text) && optional(v.line, isIndex);
}

function isMarker(v: unknown): v is MarkerView {
  return isObj(v) && isNonNeg(v.tS) && name(v.label) && (v.kind === 'phase' || v.kind === 'event');
}

function isStep(v: unknown): v is StepPoint {
  return isObj(v) && isNonNeg(v.tS) && isNonNeg(v.step);
}

export function isRunView(v: unknown): v is RunView {
  return isObj(v) && isRunSummaryView(v.summary)
    && every(v.gpus, ProtocolLimits.gpus, isGpuInfo)
    && every(v.samples, ProtocolLimits.samples, isGpuSample)
    && optional(v.drawing, isColumnsView)
    && optional(v.markers, (m) => every(m, ProtocolLimits.markers, isMarker))
    && optional(v.steps, (s) => every(s, ProtocolLimits.steps, isStep))
    && optional(v.findings, (f) => every(f, ProtocolLimits.findings, isFindingView))
    && optional(v.gaps, (g) => every(g, ProtocolLimits.gpus * 1024, isGap))
    && optional(v.seq, isIndex) && optional(v.live, isLiveFigures);
}

function isLiveFigures(v: unknown): v is LiveFiguresView {
  return isObj(v) && isNonNeg(v.elapsedS) && isNonNeg(v.energyJ) && optional(v.powerW, isNonNeg) && isNonNeg(v.avgPowerW)
    && isNonNeg(v.peakPowerW) && optional(v.avgUtilPct, isPct) && every(v.countedGpus, ProtocolLimits.gpus, isIndex)
    && typeof v.energyMethod === 'string' && energyMethods.includes(v.energyMethod) && optional(v.work, isLiveWork);
}

/** Type guard for host -> webview messages; the webview drops (and logs) whatever fails it. */
export function isToPanel(x: unknown): x is ToPanel {
  if (!isObj(x) || typeof x.type !== 'string') return false;
  switch (x.type) {
    case 'init':
      return optional(x.live, isRunView) && every(x.history, ProtocolLimits.history, isRunSummaryView)
        && optional(x.selected, (s) => every(s, ProtocolLimits.compareRuns, isRunView));
    case 'samples':
      return id(x.runId) && Number.isInteger(x.seq) && (x.seq as number) >= 1 && isSampleBatch(x.batch) && optional(x.live, isLiveFigures);
    case 'runEnded':
      return isRunSummaryView(x.summary);
    case 'findings':
      return id(x.runId) && every(x.findings, ProtocolLimits.findings, isFindingView);
    case 'showRuns':
      return (x.view === 'run' || x.view === 'compare') && isArr(x.runs, ProtocolLimits.compareRuns)
        && x.runs.length > 0 && x.runs.every(isRunView);
    case 'history':
      return every(x.history, ProtocolLimits.history, isRunSummaryView);
    case 'notice':
      return (x.level === 'info' || x.level === 'error') && text(x.message);
    case 'range':
      return isRangeView(x.range);
    default:
      return false;
  }
}

function isRangeColumn(v: unknown, length: number): boolean {
  if (!isArr(v, ProtocolLimits.rangeBuckets) || v.length !== length) return false;
  for (const x of v) if (x !== null && !isNum(x)) return false;
  return true;
}

function isRangeColumnsView(v: unknown, length: number): boolean {
  if (!isObj(v) || !isIndex(v.gpu) || !isNum(v.lastMs) || !isObj(v.min) || !isObj(v.max)) return false;
  const min = v.min;
  const max = v.max;
  return VIEW_METRICS.every((m) => isRangeColumn(min[m], length) && isRangeColumn(max[m], length)) && isRangeColumn(v.energyMj, length);
}

function isColumnsView(v: unknown): v is ColumnsView {
  if (!isObj(v) || !isNonNeg(v.startMs) || !isNum(v.bucketMs) || !(v.bucketMs > 0) || !isArr(v.columns, ProtocolLimits.gpus)) return false;
  // Every column of one GPU has one value per bucket.
  return v.columns.every((c) => isObj(c) && isRangeColumnsView(c, Array.isArray(c.energyMj) ? c.energyMj.length : -1));
}

export function isRangeView(v: unknown): v is RangeView {
  return isColumnsView(v) && isObj(v) && id(v.runId) && isIndex(v.requestId) && isNum(v.endMs) && v.endMs > v.startMs;
}

function hasOnlyKeys(x: Obj, keys: readonly string[]): boolean {
  for (const k of Object.keys(x)) if (!keys.includes(k)) return false;
  return true;
}

function runIdList(v: unknown, min: number): string[] | undefined {
  if (!isArr(v, ProtocolLimits.compareRuns) || v.length < min || !v.every(id)) return undefined;
  const ids = v as string[];
  return new Set(ids).size === ids.length ? [...ids] : undefined;
}

/**
 * Validates a webview -> host message and returns a fresh copy holding only the known fields,
 * or `undefined` (the host logs and drops it). Stricter than `isToPanel`: unknown keys are refused,
 * since the webview is the less trusted side.
 */
export function parseFromPanel(x: unknown): FromPanel | undefined {
  if (!isObj(x) || typeof x.type !== 'string') return undefined;
  switch (x.type) {
    case 'ready':
    case 'showLive':
      return hasOnlyKeys(x, ['type']) ? { type: x.type } : undefined;
    case 'selectRun':
      return hasOnlyKeys(x, ['type', 'runId']) && id(x.runId) ? { type: 'selectRun', runId: x.runId as string } : undefined;
    case 'compare': {
      const runIds = hasOnlyKeys(x, ['type', 'runIds']) ? runIdList(x.runIds, 2) : undefined;
      return runIds ? { type: 'compare', runIds } : undefined;
    }
    case 'export': {
      const runIds = hasOnlyKeys(x, ['type', 'runIds', 'format']) ? runIdList(x.runIds, 1) : undefined;
      const format = x.format;
      return runIds && (format === 'csv' || format === 'json' || format === 'codecarbon-csv') ? { type: 'export', runIds, format } : undefined;
    }
    case 'zoom': {
      const { runId, requestId, startMs, endMs } = x;
      return hasOnlyKeys(x, ['type', 'runId', 'requestId', 'startMs', 'endMs']) && id(runId) && isIndex(requestId) && isNonNeg(startMs) && isNum(endMs) && endMs > startMs
        ? { type: 'zoom', runId: runId as string, requestId: requestId as number, startMs, endMs }
        : undefined;
    }
    case 'log': {
      const level = x.level;
      return hasOnlyKeys(x, ['type', 'level', 'message']) && (level === 'warn' || level === 'error') && text(x.message)
        ? { type: 'log', level, message: x.message as string }
        : undefined;
    }
    default:
      return undefined;
  }
}
