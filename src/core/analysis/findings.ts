/**
 * Plain-data findings: what the telemetry detectors, the Python source locator and the correlator
 * produce, and what the editor layer turns into diagnostics and code actions (one conversion
 * function there). No Node or `vscode` imports: the webview and the CLI render these too.
 */

/** Findings measured on the GPU telemetry of a run. */
export type TelemetryFindingCode =
  | 'gpu-idle'
  | 'gpu-starved'
  | 'slow-start'
  | 'periodic-stall'
  | 'memory-underused'
  | 'throttle-power'
  | 'throttle-thermal'
  | 'gpu-unused'
  | 'idle-after-run';

/** Findings located on a line of the user's Python source. */
export type SourceFindingCode =
  | 'dataloader-workers'
  | 'dataloader-pin-memory'
  | 'dataloader-persistent-workers'
  | 'host-sync-in-loop'
  | 'no-autocast'
  | 'no-inference-mode'
  | 'save-every-step'
  | 'eval-every-step'
  | 'small-batch'
  | 'batch-of-one'
  | 'periodic-work';

export type FindingCode = TelemetryFindingCode | SourceFindingCode;

/** LSP-style severities; the editor maps them 1:1 to `vscode.DiagnosticSeverity`. */
export type FindingSeverity = 'warning' | 'information' | 'hint';

/** A 0-based range in UTF-16 code units (like LSP and `vscode.Range`). `end` is exclusive. */
export interface SourceRange {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
}

/** Another place that explains a finding (e.g. the call site of a helper that builds the loader). */
export interface RelatedLocation {
  file: string;
  range: SourceRange;
  message: string;
}

/** One text replacement; applying all edits of a fix (they never overlap) yields the fixed file. */
export interface TextEdit {
  range: SourceRange;
  newText: string;
}

/** A quick fix: a title for the lightbulb menu and the edits of one file. */
export interface QuickFix {
  title: string;
  edits: TextEdit[];
  /**
   * Set when the fix is not known to be safe: why it needs a look first. `joules fix --apply`
   * applies only fixes without it and lists these for review.
   */
  review?: string;
}

/**
 * What may be done about a source finding: `none` (no edit is safe: the message says why; e.g.
 * workers over an unsharded IterableDataset) or `review` (edits are offered, never auto-applied).
 */
export interface FixPolicy {
  kind: 'none' | 'review';
  reason: string;
}

/** A stretch of time the finding is about, with what was measured in it. */
export interface EvidenceSpan {
  /** Seconds since the run started. */
  startS: number;
  endS: number;
  avgUtilPct: number;
  /** Energy in the span divided by its duration. */
  avgPowerW: number;
  energyJ: number;
}

/** Where in the run an idle stretch lies; its likely causes differ. */
export type RunPhase = 'before-first-kernel' | 'between-kernels' | 'after-last-kernel' | 'after-exit';

/** The measured numbers behind a finding. Only the fields that apply to its code are set. */
export interface FindingEvidence {
  /** In time order; long runs list only the first `MAX_EVIDENCE_SPANS` (telemetry.ts), sums cover all. */
  spans: EvidenceSpan[];
  /** Energy of all run GPUs from start to exit; the denominator of `shareOfRunEnergyPct`. */
  runEnergyJ?: number;
  runDurationS?: number;
  /** `energyJ` of the finding as a share of `runEnergyJ`. */
  shareOfRunEnergyPct?: number;
  /** Summed span time as a share of the run's duration. */
  shareOfRunTimePct?: number;
  phase?: RunPhase;
  /** Estimated power of this GPU with a context open but no kernel running. */
  idleFloorW?: number;
  /** Average power of the GPU's busy samples, the reference for "busy efficiency". */
  busyPowerW?: number;
  busyAvgUtilPct?: number;
  busyS?: number;
  /** Time of the first sample with util > 0 (see `analyzeTelemetry`). */
  firstKernelS?: number;
  /** periodic-stall: median spacing of dip starts, number of dips, median dip length. */
  periodS?: number;
  dipCount?: number;
  dipMedianS?: number;
  /** memory-underused / idle-after-run. */
  peakMemUsedBytes?: number;
  memTotalBytes?: number;
  heldMemBytes?: number;
  powerLimitW?: number;
  /** throttle-*: share of busy time with the clock-event bit set, median SM clock then. */
  throttledShareOfBusyPct?: number;
  smClockMhz?: number;
  temperatureC?: number;
}

/**
 * One inefficiency, measured (telemetry), located (source), or both (correlated).
 * Telemetry-only findings have no `file`/`range`; the editor lists them on the run, not on a line.
 */
export interface Finding {
  code: FindingCode;
  severity: FindingSeverity;
  /** Short, for lists ("GPU 0 idle 9.4 s"). */
  title: string;
  /** One or two sentences with the measured numbers, for the diagnostic. */
  message: string;
  /** NVML index of the GPU the measurement is about. */
  gpu?: number;
  /** First span start and last span end, seconds since run start (0 for static-only findings). */
  startS: number;
  endS: number;
  /** Energy spent in the spans. */
  energyJ: number;
  /** The part of `energyJ` counted as waste; `wastedMethod` says how. */
  wastedJ: number;
  /** One sentence: how `wastedJ` was computed. */
  wastedMethod: string;
  evidence: FindingEvidence;
  /** True when nothing measured supports it (a source pattern alone). */
  static: boolean;
  file?: string;
  range?: SourceRange;
  related?: RelatedLocation[];
  fix?: QuickFix[];
  /** Limits on fixing this finding (source findings only); absent: the fixes are safe to apply. */
  fixPolicy?: FixPolicy;
  /** The source site's facts (`SourceSite.details`), for the quick fixes. */
  details?: Record<string, string | number | boolean>;
}

/** A pattern the Python source locator found; `correlate` turns it into a `Finding`. */
export interface SourceSite {
  code: SourceFindingCode;
  file: string;
  range: SourceRange;
  /** What the code does, without measured numbers ("DataLoader without num_workers (defaults to 0)"). */
  message: string;
  related?: RelatedLocation[];
  fixPolicy?: FixPolicy;
  /** Facts for messages and fixes, e.g. `{ numWorkers: 0 }`, `{ call: 'loss.item()' }`. */
  details: Record<string, string | number | boolean>;
}
