/**
 * The typed message protocol between the extension host and the energy panel webview: the
 * messages, the views they carry, and the conversion of the host's min/max columns to and from
 * their JSON form. Part of the shared layer (README: Architecture): imported by both sides, so no
 * `vscode` and no Node built-ins here (ESLint enforces it).
 *
 * Every message that crosses the boundary is checked by hand (panelValidation.ts): `isToPanel` in
 * the webview, `parseFromPanel` in the host.
 */
import type { FindingSummary } from '../analysis/findings';
import type { ViewColumns, ViewMetric } from '../runs/minMaxView';
import { VIEW_METRICS } from '../runs/minMaxView';
import type { StepPoint } from '../runs/stepPoints';
import type { LiveWork, RunStatus, RunSummary } from '../runs/types';
import type { EnergyMethod, GpuInfo, GpuSample, SampleBatch, SampleGap } from '../sampler/types';

/** The run's status, the stored summary's own type. */
export type { RunStatus } from '../runs/types';

/** Per-GPU part of a run summary. */
export interface GpuSummaryView {
  index: number;
  name: string;
  uuid: string;
  energyJ: number;
  avgPowerW: number;
  avgUtilPct?: number;
}

/** A figure that makes an energy amount tangible, e.g. `{ label: 'smartphone charges', value: 3.1 }`. */
export interface RelatableView {
  label: string;
  value: number;
  /** Where the conversion factor comes from (a citation shown to the user). */
  source: string;
}

export interface CostView {
  amount: number;
  /** ISO 4217 code, e.g. `EUR`. */
  currency: string;
  /** Where the price came from, e.g. "0.25 EUR/kWh". */
  source?: string;
}

/**
 * What the host knows about one run; the history lists these. Computed by the host, shown as-is.
 * The fields it shares with the stored summary (`RunSummary`) mean the same and are copied as they are.
 */
export interface RunSummaryView
  extends Pick<RunSummary, 'id' | 'name' | 'startedAt' | 'durationS' | 'exitCode' | 'energyJ' | 'avgPowerW' | 'peakPowerW' | 'avgUtilPct' | 'replay' | 'steps' | 'tokens' | 'jPerStep' | 'jPerToken' | 'samples' | 'jPerSample' | 'workSource' | 'workDetail' | 'steadyState'> {
  status: RunStatus;
  /** `mixed` when the GPUs of one run used different methods. */
  energyMethod: EnergyMethod | 'mixed';
  /** The run's waste counted once (`RunSummary.wastedJ`, see `runWastedJ`): "spent idle or starved". */
  idleEnergyJ?: number;
  carbonG?: number;
  /** Where the carbon figure's grid intensity came from, e.g. "Germany 2024 average, Ember via OWID (CC BY 4.0): 344.1 g/kWh"; without `carbonG`, why there is none. */
  carbonSource?: string;
  cost?: CostView;
  relatable?: RelatableView[];
  /** Carbon and cost per joule under the same settings (both are linear in energy): a live run's cards follow its energy with them. */
  carbonGPerJ?: number;
  costPerJ?: number;
  gpus: GpuSummaryView[];
  /**
   * The GPUs the run's figures count (the run's own; all of them when none could be attributed):
   * the panel's totals and Compare sum these, as the summary does, not every GPU sampled.
   */
  countedGpus?: number[];
}

/**
 * An analysis finding, the same type the run's summary stores (one finding type on every surface);
 * each of its `stretches` is drawn as a band over the charts.
 */
export type FindingView = FindingSummary;

/**
 * A point in time the program or the user marked.
 * - `phase`: starts a named phase that lasts until the next `phase` marker or the end of the run (a band).
 * - `event`: a single instant (a vertical line).
 */
export interface MarkerView {
  tS: number;
  label: string;
  kind: 'phase' | 'event';
}

/** When the run reached each training step (bounded; see runs/stepPoints.ts). */
export type { StepPoint } from '../runs/stepPoints';

/**
 * The live figures of a running run, from the host's one live model (src/core/runs/liveFigures.ts):
 * the panel's cards show these, so they equal the status bar's at the same moment.
 */
export interface LiveFiguresView {
  elapsedS: number;
  /** Energy of the counted GPUs so far; never decreases. */
  energyJ: number;
  powerW?: number;
  avgPowerW: number;
  peakPowerW: number;
  avgUtilPct?: number;
  /** NVML indices the figures count (the run's attributed GPUs, or all while none is). */
  countedGpus: number[];
  energyMethod: EnergyMethod;
  /** Work reported (or inferred from the log) so far: the live J/step, J/sample, J/token. */
  work?: LiveWork;
}

/** Everything the panel needs to draw one run. */
export interface RunView {
  summary: RunSummaryView;
  gpus: GpuInfo[];
  /**
   * Ordered by `tMs`; all GPUs interleaved. For a live run or a long stored run, what the panel
   * draws (per-GPU min/max of each time column, `decimateRunSamples`), not every sample.
   */
  samples: GpuSample[];
  /**
   * A stored run: what the panel draws of it (its overview), as columns rather than sample objects
   * (~1.5 MB of JSON for 8 GPUs instead of ~3 MB, and no sample objects built on the host). The
   * panel adds them to `samples`.
   */
  drawing?: ColumnsView;
  /** Live run only: the sequence number of the last batch these samples include (see `samples`). */
  seq?: number;
  /** Live run only: the host's live figures at the snapshot. */
  live?: LiveFiguresView;
  markers?: MarkerView[];
  steps?: StepPoint[];
  findings?: FindingView[];
  gaps?: SampleGap[];
}

/**
 * One GPU's min/max columns over a zoomed range (the host's MinMaxView columns): bucket k starts at
 * `startMs + k x bucketMs` of the range message; `null` = no reading in that bucket. Typed columns,
 * not sample objects: 8 GPUs x 2,048 buckets is ~1 MB of JSON, about half the samples' size.
 */
export interface RangeColumnsView {
  gpu: number;
  /** Time of the GPU's latest sample in the range: maxima are drawn no later than it. */
  lastMs: number;
  min: Record<ViewMetric, Array<number | null>>;
  max: Record<ViewMetric, Array<number | null>>;
  energyMj: Array<number | null>;
}

/**
 * A min/max drawing as typed columns: per GPU, bucket k covers `startMs + k x bucketMs` on. What
 * the panel receives of a stored run (its overview) and of a zoomed range.
 */
export interface ColumnsView {
  startMs: number;
  bucketMs: number;
  columns: RangeColumnsView[];
}

/** A time range of a stored run at full bucket resolution, the answer to `zoom`. */
export interface RangeView extends ColumnsView {
  runId: string;
  /** Echoes the request's, so the panel ignores an answer it no longer waits for. */
  requestId: number;
  endMs: number;
}

/** Host -> webview. */
export type ToPanel =
  /** Full state; the webview discards what it had. Sent on `ready` and whenever the panel becomes visible. */
  | { type: 'init'; live?: RunView; history: RunSummaryView[]; selected?: RunView[] }
  /**
   * New samples of the live run, a few batches a second. `seq` counts the run's batches from 1: the
   * webview ignores one it already has (seq <= its last) and asks for a new snapshot on a gap.
   */
  | { type: 'samples'; runId: string; seq: number; batch: SampleBatch; live?: LiveFiguresView }
  | { type: 'runEnded'; summary: RunSummaryView }
  /** Replaces the findings of a run. */
  | { type: 'findings'; runId: string; findings: FindingView[] }
  /** Answer to `selectRun` (`view: 'run'`) or `compare` (`view: 'compare'`). */
  | { type: 'showRuns'; view: 'run' | 'compare'; runs: RunView[] }
  | { type: 'history'; history: RunSummaryView[] }
  /** Answer to `zoom`. */
  | { type: 'range'; range: RangeView }
  /** Something the user should read, e.g. "run not found" or an export's file path. */
  | { type: 'notice'; level: 'info' | 'error'; message: string };

/** `codecarbon-csv`: one row per run, CodeCarbon's `emissions.csv` columns first (src/core/export/codecarbonCsv.ts). */
export type ExportFormat = 'csv' | 'json' | 'codecarbon-csv';

/** Webview -> host. */
export type FromPanel =
  /** The webview has loaded and listens; the host answers with `init`. */
  | { type: 'ready' }
  | { type: 'selectRun'; runId: string }
  /** The user went back to the live run; the host stops re-sending the selection in `init`. */
  | { type: 'showLive' }
  | { type: 'compare'; runIds: string[] }
  | { type: 'export'; runIds: string[]; format: ExportFormat }
  /**
   * The user selected [startMs, endMs] of a stored run's charts: the host answers `range` with
   * that stretch read from the samples at full bucket resolution.
   */
  | { type: 'zoom'; runId: string; requestId: number; startMs: number; endMs: number }
  /** A problem the webview wants in the host's log (e.g. a dropped message). */
  | { type: 'log'; level: 'warn' | 'error'; message: string };

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}

/** The host's columns as the protocol carries them (NaN, which JSON cannot hold, becomes null). */
export function toRangeColumnsView(c: ViewColumns): RangeColumnsView {
  // A plain loop: Array.from with a mapping callback took ~20 ms for 8 GPUs x 2,048 buckets on the
  // host's thread (a 2-core machine), a third of a zoom's longest block.
  const arr = (a: Float64Array): Array<number | null> => {
    const out = new Array<number | null>(a.length);
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      out[i] = Number.isNaN(x) ? null : x;
    }
    return out;
  };
  const rec = (r: Record<ViewMetric, Float64Array>): Record<ViewMetric, Array<number | null>> =>
    Object.fromEntries(VIEW_METRICS.map((m) => [m, arr(r[m])])) as Record<ViewMetric, Array<number | null>>;
  return { gpu: c.gpu, lastMs: c.lastMs, min: rec(c.min), max: rec(c.max), energyMj: arr(c.energyMj) };
}

/** The host's columns as the protocol carries them, all GPUs. */
export function toColumnsView(columns: readonly ViewColumns[], startMs: number, bucketMs: number): ColumnsView {
  return { startMs, bucketMs, columns: columns.map(toRangeColumnsView) };
}

/** (Validated) columns back to the shape the drawing functions take (samplesOfColumns). */
export function rangeViewColumns(r: ColumnsView): ViewColumns[] {
  return r.columns.map((c) => {
    const n = c.energyMj.length;
    const arr = (a: Array<number | null>): Float64Array => Float64Array.from(a, (x) => (x === null ? Number.NaN : x));
    const rec = (x: Record<ViewMetric, Array<number | null>>): Record<ViewMetric, Float64Array> =>
      Object.fromEntries(VIEW_METRICS.map((m) => [m, arr(x[m])])) as Record<ViewMetric, Float64Array>;
    const tMs = new Float64Array(n);
    for (let k = 0; k < n; k++) tMs[k] = r.startMs + k * r.bucketMs;
    return { gpu: c.gpu, bucketMs: r.bucketMs, tMs, lastMs: c.lastMs, min: rec(c.min), max: rec(c.max), energyMj: arr(c.energyMj) };
  });
}

// The checks and the limits are in panelValidation.ts; re-exported so that importers of the protocol
// need not know about the split.
export { clipName, isToPanel, parseFromPanel, ProtocolLimits } from './panelValidation';
