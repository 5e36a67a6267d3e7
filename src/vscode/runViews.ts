/**
 * Run records in the shape of the panel protocol (`RunView`), for the panel and the exports.
 * Pure: no `vscode` import.
 */
import type { FindingView, RunSummaryView, RunView } from '../core/protocol/panel';
import type { FindingSummary } from '../core/analysis/findings';
import { runWastedJ } from '../core/analysis/findings';
import type { RunMarker, RunRecord, RunSummary } from '../core/runs/types';
import { clipName } from '../core/protocol/panel';
import type { SampleGap } from '../core/sampler/types';
import type { CarbonSettings } from '../core/units/carbon';
import { carbonViewFields } from '../core/units/carbon';

/** @param carbon the carbon and cost settings: with them, the view carries the run's carbon, cost and relatable units. */
export function toSummaryView(s: RunSummary, carbon?: CarbonSettings): RunSummaryView {
  const methods = new Set(s.gpus.map((g) => g.energyMethod));
  const view: RunSummaryView = {
    id: s.id,
    name: clipName(s.name),
    status: s.status,
    startedAt: s.startedAt,
    durationS: s.durationS,
    exitCode: s.exitCode,
    energyJ: s.energyJ,
    energyMethod: methods.size > 1 || s.energyMethod === 'counter+integrated' ? 'mixed' : s.energyMethod,
    avgPowerW: s.avgPowerW,
    peakPowerW: s.peakPowerW,
    gpus: s.gpus.map((g) => ({
      index: g.index,
      name: g.name,
      uuid: g.uuid,
      energyJ: g.energyJ,
      avgPowerW: g.avgPowerW,
      ...(g.avgUtilPct !== undefined ? { avgUtilPct: g.avgUtilPct } : {}),
    })),
  };
  // The summary's own rule (runSession.ts): the attributed GPUs, or every GPU when none was.
  const attributed = s.gpus.filter((g) => g.attributed).map((g) => g.index);
  view.countedGpus = attributed.length ? attributed : s.gpus.map((g) => g.index);
  if (s.avgUtilPct !== undefined) view.avgUtilPct = s.avgUtilPct;
  // The waste counted once; runs stored before `wastedJ` existed get it from their findings.
  if (s.wastedJ !== undefined) view.idleEnergyJ = s.wastedJ;
  else if (s.findings?.length) view.idleEnergyJ = runWastedJ(s.findings.map(toFindingView));
  if (s.replay) view.replay = true;
  if (s.steps !== undefined) view.steps = s.steps;
  if (s.tokens !== undefined) view.tokens = s.tokens;
  if (s.jPerStep !== undefined) view.jPerStep = s.jPerStep;
  if (s.jPerToken !== undefined) view.jPerToken = s.jPerToken;
  if (carbon) Object.assign(view, carbonViewFields(s.energyJ, carbon));
  if (s.samples !== undefined) view.samples = s.samples;
  if (s.jPerSample !== undefined) view.jPerSample = s.jPerSample;
  if (s.workSource !== undefined) view.workSource = s.workSource;
  if (s.workDetail !== undefined) view.workDetail = clipName(s.workDetail);
  if (s.steadyState !== undefined) view.steadyState = s.steadyState;
  return view;
}

/**
 * A stored finding as the panel shows it. Runs stored by older versions lack `id`, `title`,
 * `stretches` and `static`: they get a positional id, their code as title and one stretch.
 */
export function toFindingView(f: FindingSummary, index = 0): FindingView {
  const stored: Partial<FindingSummary> = f;
  return {
    ...f,
    id: stored.id ?? `${f.code}#${index + 1}`,
    title: stored.title ?? f.code,
    stretches: stored.stretches ?? (f.endS > f.startS ? [{ startS: f.startS, endS: f.endS }] : []),
    static: stored.static ?? false,
  };
}

/** A marker's label on the charts: a window's two edges say which edge they are. */
export function markerLabel(m: RunMarker): string {
  if (!m.window) return m.label;
  const edge = m.window === 'begin' ? 'begin' : m.closedAtRunEnd ? 'end, at the run\'s end: never closed' : 'end';
  return clipName(`${m.label} (${edge})`);
}

export function toRunView(record: Pick<RunRecord, 'summary' | 'gpus' | 'samples'> & { gaps?: SampleGap[] }, carbon?: CarbonSettings): RunView {
  const view: RunView = { summary: toSummaryView(record.summary, carbon), gpus: record.gpus, samples: record.samples };
  if (record.summary.findings?.length) view.findings = record.summary.findings.map(toFindingView);
  // `::joules mark` lines: drawn as event lines on the charts.
  if (record.summary.markers?.length) view.markers = record.summary.markers.map((m) => ({ tS: m.tS, label: markerLabel(m), kind: 'event' }));
  // When the run reached its steps: Compare aligns runs "by training step" with these.
  if (record.summary.stepPoints?.length) view.steps = record.summary.stepPoints;
  if (record.gaps?.length) view.gaps = record.gaps;
  return view;
}
