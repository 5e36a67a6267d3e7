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
  /**
   * Set when the run was too long to analyse sample by sample: the width (s) of the time buckets
   * whose averages the detectors saw (see boundedSeries.ts). Times are then bucket edges.
   */
  bucketS?: number;
}

/** One stretch of run time a finding is about, seconds since the run started (`endS` exclusive). */
export interface Stretch {
  startS: number;
  endS: number;
}

/**
 * One inefficiency, measured (telemetry), located (source), or both (correlated).
 * Telemetry-only findings have no `file`/`range`; the editor lists them on the run, not on a line.
 */
export interface Finding {
  /**
   * Unique within its run and stable across its surfaces: `<code>:gpu<N>:<phase>` for a telemetry
   * finding, `<code>:<file>:<line>` for a source finding (see {@link identify}).
   */
  id: string;
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
  /**
   * The stretches the finding is made of, in time order and never overlapping: a band is drawn per
   * stretch, so busy time between them is never shown as waste. Empty for static findings; for a
   * correlated source finding, its supporting findings' stretches. Capped like `evidence.spans`.
   */
  stretches: Stretch[];
  /**
   * Ids of the telemetry findings of the same run that measured what this source finding explains.
   * Such a finding does not repeat their joules: its `energyJ` and `wastedJ` are 0, and
   * {@link explainedWasteJ} reads the waste from the findings it refers to.
   */
  correlatedWith?: string[];
  /** Energy spent in the spans (0 for a correlated source finding: see `correlatedWith`). */
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

/** What a telemetry detector builds; {@link identify} gives it its id and stretches. */
export type DetectedFinding = Omit<Finding, 'id' | 'stretches' | 'correlatedWith'>;

/**
 * Gives each detected finding its id (suffixed `#2`, `#3`... on a repeat) and its stretches (its
 * evidence spans, merged where they touch).
 */
export function identify(found: readonly DetectedFinding[]): Finding[] {
  const seen = new Map<string, number>();
  return found.map((f) => {
    const base = f.file !== undefined && f.range !== undefined
      ? `${f.code}:${f.file}:${f.range.startLine + 1}`
      : `${f.code}:${f.gpu === undefined ? 'all' : `gpu${f.gpu}`}${f.evidence.phase ? `:${f.evidence.phase}` : ''}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { ...f, id: n === 1 ? base : `${base}#${n}`, stretches: mergeStretches(f.evidence.spans) };
  });
}

/** Sorted, with overlapping or touching stretches joined. */
export function mergeStretches(spans: readonly Stretch[]): Stretch[] {
  const out: Stretch[] = [];
  for (const s of [...spans].sort((a, b) => a.startS - b.startS)) {
    if (!(s.endS > s.startS)) continue;
    const last = out[out.length - 1];
    if (last && s.startS <= last.endS) last.endS = Math.max(last.endS, s.endS);
    else out.push({ startS: s.startS, endS: s.endS });
  }
  return out;
}

/**
 * A finding as the run's summary stores it (`run.json`, `joules ... --json`) and as every surface
 * (panel, history, CLI, diagnostics list) shows it: the {@link Finding} without the editor-only
 * parts (ranges, fixes, full evidence). Lines are 1-based here, as printed for humans.
 */
export type FindingSummary = Pick<Finding, 'id' | 'code' | 'severity' | 'title' | 'message' | 'startS' | 'endS' | 'stretches' | 'energyJ' | 'wastedJ' | 'static'> &
  Partial<Pick<Finding, 'correlatedWith' | 'gpu' | 'file'>> & {
    /** 1-based line of `range.startLine`. */
    line?: number;
  };

/** The summary form of a finding (see {@link FindingSummary}). */
export function toFindingSummary(f: Finding): FindingSummary {
  return {
    id: f.id,
    code: f.code,
    severity: f.severity,
    title: f.title,
    message: f.message,
    startS: f.startS,
    endS: f.endS,
    stretches: f.stretches,
    energyJ: f.energyJ,
    wastedJ: f.wastedJ,
    static: f.static,
    ...(f.correlatedWith?.length ? { correlatedWith: f.correlatedWith } : {}),
    ...(f.gpu !== undefined ? { gpu: f.gpu } : {}),
    ...(f.file !== undefined ? { file: f.file } : {}),
    ...(f.range !== undefined ? { line: f.range.startLine + 1 } : {}),
  };
}

type WasteInput = Pick<FindingSummary, 'id' | 'wastedJ' | 'stretches' | 'startS' | 'endS' | 'gpu' | 'correlatedWith'>;

/**
 * The run's waste, counted once: the telemetry findings' `wastedJ`, where stretches of two findings
 * on the same GPU overlap (e.g. a periodic stall inside a starved stretch) the overlap counts at the
 * larger rate (each finding's waste spread evenly over its stretches), never twice. Source findings
 * that refer to telemetry add nothing; neither do findings without a measured waste.
 */
export function runWastedJ(findings: readonly WasteInput[]): number {
  const byGpu = new Map<string, Array<{ startS: number; endS: number; rateW: number }>>();
  for (const f of findings) {
    if (f.correlatedWith?.length || !(f.wastedJ > 0)) continue;
    const stretches = f.stretches.length ? f.stretches : [{ startS: f.startS, endS: f.endS }];
    const timeS = stretches.reduce((a, s) => a + Math.max(0, s.endS - s.startS), 0);
    const key = f.gpu === undefined ? 'all' : String(f.gpu);
    const list = byGpu.get(key) ?? [];
    byGpu.set(key, list);
    // A finding with no duration (a point) still holds its joules: count it as is.
    if (timeS <= 0) list.push({ startS: f.startS, endS: f.startS, rateW: f.wastedJ });
    else for (const s of stretches) if (s.endS > s.startS) list.push({ ...s, rateW: f.wastedJ / timeS });
  }
  let total = 0;
  for (const list of byGpu.values()) {
    for (const p of list) if (p.endS === p.startS) total += p.rateW;
    const timed = list.filter((p) => p.endS > p.startS);
    const edges = [...new Set(timed.flatMap((p) => [p.startS, p.endS]))].sort((a, b) => a - b);
    // Sweep the elementary intervals between edges: each counts the highest rate covering it.
    for (let i = 0; i + 1 < edges.length; i++) {
      const a = edges[i]!;
      const b = edges[i + 1]!;
      let rate = 0;
      for (const p of timed) if (p.startS <= a && p.endS >= b && p.rateW > rate) rate = p.rateW;
      total += rate * (b - a);
    }
  }
  return Math.round(total * 10) / 10;
}

/** The waste a finding stands for: its own, or for a correlated source finding, that of the findings it refers to (counted once). */
export function explainedWasteJ(f: WasteInput, all: readonly WasteInput[]): number {
  if (!f.correlatedWith?.length) return f.wastedJ;
  const ids = new Set(f.correlatedWith);
  return runWastedJ(all.filter((x) => ids.has(x.id)));
}
