/**
 * Joins what the telemetry measured with what the source shows. A source site becomes a finding
 * with measured numbers only when a telemetry finding of a kind it can cause is present (e.g. a
 * DataLoader without workers and a starved GPU); otherwise it stays a low-severity static hint.
 */
import type { DetectedFinding, EvidenceSpan, Finding, FindingSeverity, SourceFindingCode, SourceSite, TelemetryFindingCode } from './findings';
import { identify } from './findings';
import { formatDurationS as fmtS, formatEnergyJ as fmtJ, formatGB as fmtGB, formatPct as fmtPct, formatPowerW as fmtW } from './telemetry';
import type { RunActivity } from './telemetry';

interface Rule {
  /** Telemetry findings this pattern can cause; idle/starved count only between kernels. */
  support: TelemetryFindingCode[];
  /** Severity when supported. */
  measured: FindingSeverity;
  /** Severity without any telemetry (with telemetry that shows no such waste: always 'hint'). */
  staticSeverity: FindingSeverity;
  title: string;
  advice: string;
}

const RULES: Record<SourceFindingCode, Rule> = {
  'dataloader-workers': {
    support: ['gpu-starved', 'gpu-idle', 'periodic-stall'],
    measured: 'warning',
    staticSeverity: 'information',
    title: 'DataLoader without worker processes',
    advice: 'load batches in worker processes (num_workers > 0)',
  },
  'dataloader-pin-memory': {
    support: ['gpu-starved', 'gpu-idle', 'periodic-stall'],
    measured: 'information',
    staticSeverity: 'hint',
    title: 'DataLoader without pinned memory',
    advice: 'pinned host memory makes host-to-GPU copies faster and lets them overlap compute (pin_memory=True)',
  },
  'dataloader-persistent-workers': {
    support: ['gpu-idle', 'periodic-stall'],
    measured: 'information',
    staticSeverity: 'hint',
    title: 'DataLoader workers restart every epoch',
    advice: 'keep the workers between epochs (persistent_workers=True)',
  },
  'host-sync-in-loop': {
    support: ['gpu-starved', 'periodic-stall'],
    measured: 'warning',
    staticSeverity: 'information',
    title: 'GPU sync in the step loop',
    advice: 'read values back every N steps, or accumulate them on the GPU',
  },
  'save-every-step': {
    support: ['periodic-stall', 'gpu-starved', 'gpu-idle'],
    measured: 'warning',
    staticSeverity: 'information',
    title: 'Checkpoint every step',
    advice: 'save every N steps',
  },
  'eval-every-step': {
    support: ['periodic-stall', 'gpu-starved', 'gpu-idle'],
    measured: 'warning',
    staticSeverity: 'information',
    title: 'Evaluation every step',
    advice: 'evaluate every N steps',
  },
  'small-batch': {
    support: ['memory-underused'],
    measured: 'warning',
    staticSeverity: 'hint',
    title: 'Small batch size',
    advice: 'a larger batch_size would use the free memory and usually do more work per joule',
  },
  'no-autocast': {
    support: [],
    measured: 'information',
    staticSeverity: 'hint',
    title: 'No mixed precision',
    advice: 'bf16 autocast runs matmuls on the tensor cores, usually in less time and energy per step',
  },
  'batch-of-one': {
    support: [],
    measured: 'warning',
    staticSeverity: 'information',
    title: 'Inference one request at a time',
    advice:
      'collect requests and run them as one batch (torch.stack the inputs, or pad them with the tokenizer) of 16-64: ' +
      'a batch of one leaves most of the GPU idle and costs nearly as much time per call as a full batch',
  },
  'periodic-work': {
    support: ['periodic-stall'],
    measured: 'warning',
    staticSeverity: 'hint',
    title: 'Periodic work stalls the GPU',
    advice: 'do it less often',
  },
  'no-inference-mode': {
    support: [],
    measured: 'information',
    staticSeverity: 'information',
    title: 'Inference with autograd on',
    advice: 'torch.inference_mode() skips autograd bookkeeping and frees activation memory',
  },
};

/** Codes whose support is "the GPU was busy" (from `activity`) rather than a waste finding. */
const NEEDS_BUSY = new Set<SourceFindingCode>(['no-autocast', 'no-inference-mode', 'batch-of-one']);

/** Codes that only mean something with a measurement behind them: dropped when static. */
const MEASURED_ONLY = new Set<SourceFindingCode>(['periodic-work']);

/**
 * Telemetry findings (unchanged, first) followed by one finding per source site, sorted by file and
 * line. A site gets the supporting findings' spans, energy and waste and a message with those
 * numbers when the telemetry supports it; otherwise it is `static`, at most 'information' (only
 * without any telemetry) and its message ends with "(static hint: no telemetry evidence)".
 * `activity` (from `summarizeRun`) tells a busy run from a missing one for no-autocast and
 * no-inference-mode; no-autocast is measured only where `gpuSupportsBf16`.
 */
export function correlate(telemetryFindings: Finding[], sites: SourceSite[], gpuSupportsBf16: boolean, activity?: RunActivity, work?: RunWork): Finding[] {
  const haveTelemetry = telemetryFindings.length > 0 || activity !== undefined;
  const found: DetectedFinding[] = [];
  const refs: Array<string[] | undefined> = [];
  const periodicBlocks = sites.some((s) => s.code === 'periodic-work');
  const stallsOf = matchStallsToBlocks(telemetryFindings.filter((f) => f.code === 'periodic-stall'), sites.filter((s) => s.code === 'periodic-work'), work);
  const sorted = [...sites].sort((a, b) => a.file.localeCompare(b.file) || a.range.startLine - b.range.startLine || a.range.startCharacter - b.range.startCharacter);
  for (const site of sorted) {
    const rule = RULES[site.code];
    const busy = NEEDS_BUSY.has(site.code) ? busyFinding(site, rule, activity, gpuSupportsBf16) : undefined;
    // A value Joules could not read is a hint whatever was measured: it must not guess.
    let support = site.details.unresolved === true ? [] : telemetryFindings.filter((f) => isSupport(rule, f));
    // Stalls at the period of a checkpoint/eval block are that block's doing, not the DataLoader's.
    if (periodicBlocks && site.code !== 'periodic-work') support = support.filter((f) => f.code !== 'periodic-stall');
    // Each periodic block gets the stalls whose count or period fits its `% N`, not every stall.
    if (site.code === 'periodic-work') support = support.filter((f) => f.code !== 'periodic-stall' || (stallsOf.get(site) ?? []).includes(f));
    if (busy === undefined && support.length === 0 && MEASURED_ONLY.has(site.code)) continue;
    const finding: DetectedFinding = busy ?? (support.length > 0 ? measuredFinding(site, rule, support) : staticFinding(site, rule, haveTelemetry, gpuSupportsBf16));
    // A sync in an evaluation loop costs less than one in the training loop: one level lower.
    if (site.details.evalLoop === true && finding.severity === 'warning') finding.severity = 'information';
    found.push(finding);
    refs.push(busy === undefined && support.length > 0 ? support.map((f) => f.id) : undefined);
  }
  // A measured source finding refers to its telemetry findings by id instead of repeating their joules.
  const located = identify(found).map((f, i) => (refs[i] ? { ...f, correlatedWith: refs[i] } : f));
  return [...telemetryFindings, ...located];
}

/** What the run said of its work (`::joules steps`), when it did. */
export interface RunWork {
  steps?: number;
}

/** N of a literal `... % N == 0` (or `not step % N`) condition; undefined for `% args.every` and the like. */
export function everyNOf(site: SourceSite): number | undefined {
  const m = /%\s*\(?\s*(\d+)\s*\)?/.exec(String(site.details.condition ?? ''));
  const n = m ? Number(m[1]) : NaN;
  return Number.isInteger(n) && n > 1 ? n : undefined;
}

/**
 * Which periodic stalls each periodic block (`if step % N == 0:` holding a save or an evaluation)
 * explains. One block takes them all. With several, a stall goes to the block whose period fits:
 * by count when the run reported its steps (a block every N of S steps runs S / N times: the
 * stall's dip count must be within a factor of 2 of that), else by rank when each GPU has as many
 * stall findings as there are blocks with a literal N (the shortest period with the smallest N).
 * A stall no block fits is left to the telemetry finding alone; when nothing tells them apart,
 * every block keeps every stall (as with one block) rather than guessing.
 */
export function matchStallsToBlocks(stalls: Finding[], blocks: SourceSite[], work?: RunWork): Map<SourceSite, Finding[]> {
  const out = new Map<SourceSite, Finding[]>(blocks.map((b) => [b, []]));
  if (blocks.length <= 1) {
    for (const b of blocks) out.set(b, stalls.slice());
    return out;
  }
  const numbered = blocks.map((b) => ({ b, n: everyNOf(b) })).filter((x): x is { b: SourceSite; n: number } => x.n !== undefined);
  const steps = work?.steps;
  const everyStall = (): Map<SourceSite, Finding[]> => new Map(blocks.map((b) => [b, stalls.slice()]));
  if (steps !== undefined && steps > 0 && numbered.length > 0) {
    for (const f of stalls) {
      const dips = f.evidence.dipCount ?? f.evidence.spans.length;
      let best: { b: SourceSite; misfit: number } | undefined;
      for (const { b, n } of numbered) {
        const misfit = Math.abs(Math.log(Math.max(1, dips) / Math.max(1e-9, steps / n)));
        if (misfit < Math.LN2 && (best === undefined || misfit < best.misfit)) best = { b, misfit };
      }
      if (best) out.get(best.b)?.push(f);
    }
    return out;
  }
  const gpus = [...new Set(stalls.map((f) => f.gpu ?? -1))];
  const byGpu = gpus.map((g) => stalls.filter((f) => (f.gpu ?? -1) === g).sort((a, b) => (a.evidence.periodS ?? 0) - (b.evidence.periodS ?? 0)));
  if (numbered.length !== blocks.length || byGpu.some((fs) => fs.length !== numbered.length)) return everyStall();
  const ranked = numbered.slice().sort((a, b) => a.n - b.n);
  for (const fs of byGpu) fs.forEach((f, i) => out.get(ranked[i]!.b)?.push(f));
  return out;
}

function isSupport(rule: Rule, f: Finding): boolean {
  if (!(rule.support as string[]).includes(f.code)) return false;
  // Idle before the first kernel or after the last one is start-up or teardown, not the loop's doing.
  if (f.code === 'gpu-idle' || f.code === 'gpu-starved') return f.evidence.phase === 'between-kernels';
  return true;
}

type SourcePart = Pick<Finding, 'code' | 'title' | 'file' | 'range' | 'related' | 'fixPolicy' | 'details'>;

function base(site: SourceSite, rule: Rule): SourcePart {
  const out: SourcePart = { code: site.code, title: rule.title, file: site.file, range: site.range };
  if (site.related !== undefined) out.related = site.related;
  if (site.fixPolicy !== undefined) out.fixPolicy = site.fixPolicy;
  out.details = site.details;
  return out;
}

/** The site's own advice (e.g. "save asynchronously" for a periodic checkpoint), else the rule's. */
function adviceOf(site: SourceSite, rule: Rule): string {
  return typeof site.details.advice === 'string' ? site.details.advice : rule.advice;
}

function measuredFinding(site: SourceSite, rule: Rule, support: Finding[]): DetectedFinding {
  const spans: EvidenceSpan[] = support.flatMap((f) => f.evidence.spans).sort((a, b) => a.startS - b.startS);
  const energyJ = support.reduce((a, f) => a + f.energyJ, 0);
  const top = [...support].sort((a, b) => b.wastedJ - a.wastedJ || b.energyJ - a.energyJ)[0];
  const finding: DetectedFinding = {
    ...base(site, rule),
    severity: rule.measured,
    message: `${site.message}, while ${describeSupport(support)}: ${adviceOf(site, rule)}.`,
    startS: spans[0]?.startS ?? 0,
    endS: spans.reduce((a, s) => Math.max(a, s.endS), 0),
    // The joules belong to the supporting findings (`correlatedWith`): counted there, once.
    energyJ: 0,
    wastedJ: 0,
    wastedMethod: `The waste of the telemetry findings it explains (${[...new Set(support.map((f) => f.code))].join(', ')}), counted on them, not here.`,
    evidence: { spans, runEnergyJ: top?.evidence.runEnergyJ, runDurationS: top?.evidence.runDurationS, shareOfRunEnergyPct: sharePct(energyJ, top?.evidence.runEnergyJ) },
    static: false,
  };
  if (top?.gpu !== undefined) finding.gpu = top.gpu;
  return finding;
}

function busyFinding(site: SourceSite, rule: Rule, activity: RunActivity | undefined, bf16: boolean): DetectedFinding | undefined {
  if (activity === undefined || (site.code === 'no-autocast' && !bf16)) return undefined;
  const busy = activity.gpus.filter((g) => g.busyS > 0).sort((a, b) => b.busyEnergyJ - a.busyEnergyJ);
  const top = busy[0];
  if (top === undefined) return undefined;
  const busyS = busy.reduce((a, g) => a + g.busyS, 0);
  const busyJ = busy.reduce((a, g) => a + g.busyEnergyJ, 0);
  const gpus = busy.map((g) => `GPU ${g.gpu}`).join(', ');
  return {
    ...base(site, rule),
    severity: rule.measured,
    message:
      `${site.message}, while ${gpus} ${busy.length > 1 ? 'were' : 'was'} busy ${fmtS(busyS)} at ${fmtW(top.busyAvgPowerW)} ` +
      `(${fmtJ(busyJ)}, ${fmtPct(sharePct(busyJ, activity.runEnergyJ) ?? 0)} of the run's energy): ${adviceOf(site, rule)}.`,
    gpu: top.gpu,
    startS: 0,
    endS: activity.runDurationS,
    energyJ: round1(busyJ),
    wastedJ: 0,
    wastedMethod: 'Not measured: the saving depends on the model; the energy shown is the busy time it would apply to.',
    evidence: { spans: [], busyS: round1(busyS), busyPowerW: top.busyAvgPowerW, busyAvgUtilPct: top.busyAvgUtilPct, runEnergyJ: activity.runEnergyJ, runDurationS: activity.runDurationS },
    static: false,
  };
}

function staticFinding(site: SourceSite, rule: Rule, haveTelemetry: boolean, bf16: boolean): DetectedFinding {
  const noBf16 = site.code === 'no-autocast' && haveTelemetry && !bf16 ? '; this GPU has no bf16, so fp16 autocast with a GradScaler is the option' : '';
  return {
    ...base(site, rule),
    // Telemetry that shows none of the waste this pattern causes argues against it: hint only.
    severity: haveTelemetry ? 'hint' : rule.staticSeverity,
    message: `${site.message}: ${adviceOf(site, rule)}${noBf16} (static hint: no telemetry evidence).`,
    startS: 0,
    endS: 0,
    energyJ: 0,
    wastedJ: 0,
    wastedMethod: 'None: no measurement supports this pattern.',
    evidence: { spans: [] },
    static: true,
  };
}

/** "GPU 0 was starved or idle 42 % of the run (12.6 s, 3.10 kJ, 2.95 kJ wasted); GPU 0 stalled 12 times, every 2.0 s (...)". */
function describeSupport(support: Finding[]): string {
  const parts: string[] = [];
  const gpus = [...new Set(support.map((f) => f.gpu ?? -1))].sort((a, b) => a - b);
  for (const gpu of gpus) {
    const mine = support.filter((f) => (f.gpu ?? -1) === gpu);
    const label = gpu < 0 ? 'the GPU' : `GPU ${gpu}`;
    const lowTime = mine.filter((f) => f.code === 'gpu-idle' || f.code === 'gpu-starved');
    if (lowTime.length > 0) {
      const verbs = [...new Set(lowTime.map((f) => (f.code === 'gpu-idle' ? 'idle' : 'starved')))].sort().reverse();
      const t = sum(lowTime.flatMap((f) => f.evidence.spans.map((s) => s.endS - s.startS)));
      const run = lowTime[0]?.evidence.runDurationS;
      parts.push(`${label} was ${verbs.join(' or ')} ${fmtPct(sharePct(t, run) ?? 0)} of the run (${fmtS(t)}, ${amounts(lowTime)})`);
    }
    for (const f of mine.filter((x) => x.code === 'periodic-stall')) {
      parts.push(`${label} stalled ${f.evidence.dipCount ?? f.evidence.spans.length} times, every ${fmtS(f.evidence.periodS ?? 0)} (${amounts([f])})`);
    }
    for (const f of mine.filter((x) => x.code === 'memory-underused')) {
      const peak = f.evidence.peakMemUsedBytes ?? 0;
      const total = f.evidence.memTotalBytes ?? 0;
      const limit = f.evidence.powerLimitW === undefined ? '' : ` of ${fmtW(f.evidence.powerLimitW)}`;
      parts.push(`${label} used at most ${fmtGB(peak)} of ${fmtGB(total)} while busy, drawing ${fmtW(f.evidence.busyPowerW ?? 0)}${limit}`);
    }
  }
  return parts.join('; ');
}

function amounts(fs: Finding[]): string {
  const e = sum(fs.map((f) => f.energyJ));
  const w = sum(fs.map((f) => f.wastedJ));
  return `${fmtJ(e)}, ${fmtJ(w)} wasted`;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function sharePct(part: number, whole: number | undefined): number | undefined {
  return whole === undefined || whole <= 0 ? undefined : Math.round((1000 * part) / whole) / 10;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
