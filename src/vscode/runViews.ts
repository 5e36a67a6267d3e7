/**
 * Run records in the shape of the panel protocol (`RunView`), for the panel and the exports.
 * Pure: no `vscode` import.
 */
import type { FindingSeverity, FindingView, RunSummaryView, RunView } from '../core/protocol/panel';
import type { FindingSummary, RunRecord, RunSummary } from '../core/runs/types';
import type { GpuInfo, GpuSample, SampleGap } from '../core/sampler/types';

export function toSummaryView(s: RunSummary): RunSummaryView {
  const methods = new Set(s.gpus.map((g) => g.energyMethod));
  const view: RunSummaryView = {
    id: s.id,
    name: s.name,
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
  if (s.avgUtilPct !== undefined) view.avgUtilPct = s.avgUtilPct;
  const idle = (s.findings ?? []).reduce((a, f) => a + f.wastedJ, 0);
  if (s.findings?.length) view.idleEnergyJ = idle;
  return view;
}

const SEVERITY: Record<FindingSummary['severity'], FindingSeverity> = { warning: 'warning', information: 'info', hint: 'info' };

export function toFindingView(f: FindingSummary): FindingView {
  return {
    code: f.code,
    severity: SEVERITY[f.severity],
    title: f.code,
    message: f.message,
    startS: f.startS,
    endS: f.endS,
    energyJ: f.energyJ,
    wastedJ: f.wastedJ,
    ...(f.gpu !== undefined ? { gpu: f.gpu } : {}),
  };
}

export function toRunView(record: Pick<RunRecord, 'summary' | 'gpus' | 'samples'> & { gaps?: SampleGap[] }): RunView {
  const view: RunView = { summary: toSummaryView(record.summary), gpus: record.gpus, samples: record.samples };
  if (record.summary.findings?.length) view.findings = record.summary.findings.map(toFindingView);
  if (record.gaps?.length) view.gaps = record.gaps;
  return view;
}

/** The live run so far, as a RunView with a summary of the figures up to now. */
export function liveRunView(summary: RunSummary, gpus: GpuInfo[], samples: GpuSample[]): RunView {
  return { summary: toSummaryView(summary), gpus, samples: samples.slice() };
}
