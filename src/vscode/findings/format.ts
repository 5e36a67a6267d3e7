/**
 * Words and numbers of the findings in the editor: diagnostic messages, related-information lines,
 * the hover table and the run-end notification. Plain data in, strings out (no `vscode` import),
 * so it is unit-tested without an editor; diagnostics.ts only wraps these in VS Code objects.
 */
import type { EvidenceSpan, Finding, FindingSeverity, SourceRange } from '../../core/analysis/findings';
import { formatBytes as formatGB, formatDuration as formatDurationS, formatJoules as formatEnergyJ, formatPct, formatWatts as formatPowerW } from '../../core/units/format';

/** Which run a finding belongs to, as the diagnostics name it. */
export interface RunLabel {
  id: string;
  name: string;
  /** ISO 8601 wall-clock start (RunSummary.startedAt). */
  startedAt: string;
}

/**
 * Spans listed one by one in the related information (each is a line of the Problems view, so
 * few) and in the hover table; a count and the totals cover the rest.
 */
export const MAX_RELATED_SPANS = 3;
export const MAX_HOVER_SPANS = 8;

/** `14:03:12` for a run started today, `2025-01-05 14:03` otherwise (local time). */
export function formatRunTime(startedAt: string, now: Date = new Date()): string {
  const t = new Date(startedAt);
  if (Number.isNaN(t.getTime())) return startedAt;
  const p = (n: number): string => String(n).padStart(2, '0');
  const sameDay = t.getFullYear() === now.getFullYear() && t.getMonth() === now.getMonth() && t.getDate() === now.getDate();
  return sameDay ? `${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}` : `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}`;
}

/** `run train.py at 14:03:12`. */
export function runText(run: RunLabel, now?: Date): string {
  // Hints shown on open/save come from no run (findingsController's static check).
  if (run.id.startsWith('static:')) return 'static check, no run measured';
  return `run ${run.name} at ${formatRunTime(run.startedAt, now)}`;
}

/** The diagnostic's message: the finding's own (with its measured numbers) and the run it came from. */
export function diagnosticMessage(finding: Finding, run: RunLabel, now?: Date): string {
  return `${finding.message} (${runText(run, now)})`;
}

/** `GPU 0, 1.3-2.8 s: util 5 %, 210 W, 315 J`. */
export function spanText(span: EvidenceSpan, gpu: number | undefined): string {
  const where = gpu === undefined ? '' : `GPU ${gpu}, `;
  return `${where}${span.startS.toFixed(1)}-${span.endS.toFixed(1)} s: util ${formatPct(span.avgUtilPct)}, ${formatPowerW(span.avgPowerW)}, ${formatEnergyJ(span.energyJ)}`;
}

/**
 * Lines for the diagnostic's related information besides `finding.related`: the measured spans
 * (at most `MAX_RELATED_SPANS`, then a count) and the wasted energy. Empty for static findings.
 * `explainedJ`: for a source finding that refers to telemetry findings, their waste (`explainedWasteJ`).
 */
export function evidenceLines(finding: Finding, explainedJ?: number): string[] {
  if (finding.static) return [];
  const spans = finding.evidence.spans;
  const lines = spans.slice(0, MAX_RELATED_SPANS).map((s) => `Measured: ${spanText(s, finding.gpu)}`);
  if (spans.length > MAX_RELATED_SPANS) lines.push(`Measured: ${spans.length - MAX_RELATED_SPANS} more span(s), ${formatDurationS(sumDuration(spans.slice(MAX_RELATED_SPANS)))} in all`);
  const wasted = wastedOf(finding, explainedJ);
  if (wasted > 0) lines.push(`Wasted ${formatEnergyJ(wasted)}: ${finding.wastedMethod}`);
  return lines;
}

/**
 * The README's file name inside the installed extension. vsce stores the README of a package as
 * `readme.md` (lower case) while the source folder has `README.md`; on a case-sensitive file system
 * a link to the wrong one opens "file not found". Checked, not assumed: `exists` tells.
 */
export function readmeFileName(exists: (name: string) => boolean): string {
  return ['README.md', 'readme.md', 'Readme.md'].find(exists) ?? 'README.md';
}

/** A text change as the editor reports it: the replaced range and the new text. */
export interface TextChange {
  range: SourceRange;
  text: string;
}

/**
 * Where a diagnostic's range lies after an edit: shifted when the edit is on earlier lines,
 * unchanged when it is on later lines, undefined when the edit touches its lines (its numbers
 * describe text that changed, so it waits for the next run).
 */
export function rangeAfterChange(r: SourceRange, change: TextChange): SourceRange | undefined {
  const c = change.range;
  if (c.startLine > r.endLine) return r;
  if (c.endLine < r.startLine) {
    const delta = (change.text.match(/\n/g)?.length ?? 0) - (c.endLine - c.startLine);
    return { ...r, startLine: r.startLine + delta, endLine: r.endLine + delta };
  }
  return undefined;
}

/** Fragment of the README section that explains a code (`README.md#finding-<code>`). */
export function readmeFragment(code: string): string {
  return `finding-${code}`;
}

/** Key of a located finding by file, range and code: diagnostics carry no data, so code actions find the finding by this. */
export function findingKey(file: string, range: SourceRange, code: string): string {
  return `${file}|${range.startLine}:${range.startCharacter}-${range.endLine}:${range.endCharacter}|${code}`;
}

/**
 * Hover Markdown for one located finding: the spans (time, avg util, avg power, energy), the other
 * measured figures, the wasted energy and how it was computed, and a link to the README section.
 */
export function hoverMarkdown(finding: Finding, run: RunLabel, docLink: string | undefined, now?: Date, explainedJ?: number): string {
  const out: string[] = [];
  out.push(`**Joules: ${escapeMd(finding.title)}** (${finding.severity}, ${escapeMd(runText(run, now))})`, '');
  if (finding.static) {
    out.push('Static hint: nothing measured in this run supports it.', '');
  }
  const spans = finding.evidence.spans;
  if (spans.length > 0) {
    const gpu = finding.gpu === undefined ? '' : `GPU ${finding.gpu} `;
    out.push(`| ${gpu}span | duration | avg util | avg power | energy |`, '|---|---:|---:|---:|---:|');
    for (const s of spans.slice(0, MAX_HOVER_SPANS)) {
      const d = s.endS - s.startS;
      out.push(`| ${s.startS.toFixed(1)}-${s.endS.toFixed(1)} s | ${formatDurationS(d)} | ${formatPct(s.avgUtilPct)} | ${formatPowerW(s.avgPowerW)} | ${formatEnergyJ(s.energyJ)} |`);
    }
    if (spans.length > MAX_HOVER_SPANS) out.push(`| ${spans.length - MAX_HOVER_SPANS} more | | | | |`);
    if (spans.length > 1) {
      const t = sumDuration(spans);
      const e = spans.reduce((a, s) => a + s.energyJ, 0);
      const u = t > 0 ? spans.reduce((a, s) => a + s.avgUtilPct * (s.endS - s.startS), 0) / t : 0;
      out.push(`| **all ${spans.length}** | ${formatDurationS(t)} | ${formatPct(u)} | ${formatPowerW(t > 0 ? e / t : 0)} | ${formatEnergyJ(e)} |`);
    }
    out.push('');
  }
  const figures = figureRows(finding, explainedJ);
  if (figures.length > 0) {
    out.push('| figure | value |', '|---|---:|', ...figures.map(([k, v]) => `| ${k} | ${v} |`), '');
  }
  out.push(`Wasted energy: ${escapeMd(finding.wastedMethod)}`);
  if (docLink !== undefined) out.push('', `[What ${finding.code} means and how to fix it](${docLink})`);
  return out.join('\n');
}

/** The measured figures of a finding that are set, as (label, value) rows. */
function figureRows(f: Finding, explainedJ: number | undefined): Array<[string, string]> {
  const e = f.evidence;
  const rows: Array<[string, string]> = [];
  const add = (label: string, value: string | undefined): void => {
    if (value !== undefined) rows.push([label, value]);
  };
  const opt = <T>(v: T | undefined, fmt: (x: T) => string): string | undefined => (v === undefined ? undefined : fmt(v));
  if (!f.static) {
    // A correlated source finding's joules are its telemetry findings': shown, but not as its own energy.
    if (!f.correlatedWith?.length) add('energy', formatEnergyJ(f.energyJ));
    add('wasted', `**${formatEnergyJ(wastedOf(f, explainedJ))}**`);
  }
  add("share of the run's energy", opt(e.shareOfRunEnergyPct, formatPct));
  add("share of the run's time", opt(e.shareOfRunTimePct, formatPct));
  add('run energy', opt(e.runEnergyJ, formatEnergyJ));
  add('run duration', opt(e.runDurationS, formatDurationS));
  add('idle floor (context open, no kernel)', opt(e.idleFloorW, formatPowerW));
  add('busy time', opt(e.busyS, formatDurationS));
  add('busy power', opt(e.busyPowerW, formatPowerW));
  add('busy util', opt(e.busyAvgUtilPct, formatPct));
  add('first kernel at', opt(e.firstKernelS, formatDurationS));
  add('stalls', opt(e.dipCount, (n) => `${n}, every ${formatDurationS(e.periodS ?? 0)}, ${formatDurationS(e.dipMedianS ?? 0)} each`));
  add('peak memory', opt(e.peakMemUsedBytes, (b) => (e.memTotalBytes === undefined ? formatGB(b) : `${formatGB(b)} of ${formatGB(e.memTotalBytes)}`)));
  add('memory held after exit', opt(e.heldMemBytes, formatGB));
  add('power limit', opt(e.powerLimitW, formatPowerW));
  add('throttled share of busy time', opt(e.throttledShareOfBusyPct, formatPct));
  add('SM clock', opt(e.smClockMhz, (m) => `${m.toFixed(0)} MHz`));
  add('temperature', opt(e.temperatureC, (c) => `${c.toFixed(0)} C`));
  return rows;
}

/** A finding's own waste, or for one that refers to telemetry findings, theirs (counted there). */
function wastedOf(f: Finding, explainedJ: number | undefined): number {
  return f.correlatedWith?.length ? (explainedJ ?? 0) : f.wastedJ;
}

const SEVERITY_RANK: Record<FindingSeverity, number> = { warning: 0, information: 1, hint: 2 };

/**
 * The one finding a run-end notification is about, or undefined: findings without a source line
 * (a diagnostic already shows the others) that no located measured finding explains (same spans),
 * warnings and informations only, the most wasted energy first (a 14 % finding before a 4 % one,
 * whatever their severities), then the most severe.
 */
export function notificationFinding(findings: Finding[]): Finding | undefined {
  const explained = new Set<string>();
  for (const f of findings) {
    if (f.range === undefined || f.static) continue;
    for (const s of f.evidence.spans) explained.add(spanKey(f.gpu, s));
  }
  const candidates = findings.filter(
    (f) => f.range === undefined && f.severity !== 'hint' && !(f.evidence.spans.length > 0 && f.evidence.spans.every((s) => explained.has(spanKey(f.gpu, s)))),
  );
  return candidates.sort((a, b) => b.wastedJ - a.wastedJ || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.energyJ - a.energyJ)[0];
}

/** `Joules: GPU 0 idle 9.4 s in run train.py at 14:03:12. <message> (+2 more findings)`. */
export function notificationText(finding: Finding, run: RunLabel, others: number, now?: Date): string {
  const more = others > 0 ? ` (+${others} more finding${others === 1 ? '' : 's'} in the panel)` : '';
  return `Joules: ${finding.title} in ${runText(run, now)}. ${finding.message}${more}`;
}

function spanKey(gpu: number | undefined, s: EvidenceSpan): string {
  return `${gpu ?? -1}:${s.startS}:${s.endS}`;
}

function sumDuration(spans: EvidenceSpan[]): number {
  return spans.reduce((a, s) => a + (s.endS - s.startS), 0);
}

/** Markdown-escapes text that comes from findings (titles, methods). */
export function escapeMd(text: string): string {
  return text.replace(/[\\`*_[\]|<>#]/g, (c) => `\\${c}`);
}
