import * as vscode from 'vscode';
import { toFindingSummary } from '../core/analysis/findings';
import type { ExportFormat, FindingView, LiveFiguresView, RangeView, RunSummaryView, RunView } from '../core/protocol/panel';
import { clipName, toColumnsView, toRangeColumnsView } from '../core/protocol/panel';
import type { LiveStatus } from '../core/runs/types';
import { storedRunDrawing, storedRunRange } from '../core/runs/storedRunView';
import type { PanelLog } from './panel/panelSession';
import { exportRuns } from './historyActions';
import type { PanelDataSource } from './panel/panelHost';
import type { LiveBatch } from './panel/panelSession';
import type { ActiveRun, RunManager } from './runManager';
import { markerLabel, toFindingView, toRunView, toSummaryView } from './runViews';
import type { CarbonSettings } from '../core/units/carbon';
import { carbonViewFields } from '../core/units/carbon';

/** The live figures as the panel protocol carries them. */
export function liveFiguresView(l: LiveStatus): LiveFiguresView {
  return {
    elapsedS: l.elapsedS,
    energyJ: l.energyJ,
    ...(l.powerW !== undefined ? { powerW: l.powerW } : {}),
    avgPowerW: l.avgPowerW,
    peakPowerW: l.peakPowerW,
    ...(l.avgUtilPct !== undefined ? { avgUtilPct: l.avgUtilPct } : {}),
    countedGpus: l.countedGpus,
    energyMethod: l.energyMethod,
    ...(l.work ? { work: l.work } : {}),
  };
}

/** The energy panel's view of the run manager and the history (PanelHost's PanelDataSource). */
export class RunManagerPanelSource implements PanelDataSource, vscode.Disposable {
  private readonly sampleEmitter = new vscode.EventEmitter<LiveBatch>();
  private readonly findingsEmitter = new vscode.EventEmitter<{ runId: string; findings: FindingView[] }>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Batches of the live run numbered so far (the snapshot's `seq`). */
  private live: { runId: string; seq: number } | undefined;

  /**
   * @param log where rebuilt or unstorable run overviews are reported (one line each).
   * @param carbon the carbon and cost settings, read at each use (a changed setting applies to the next view).
   */
  constructor(
    private readonly runs: RunManager,
    private readonly log?: PanelLog,
    private readonly carbon?: () => CarbonSettings,
  ) {
    this.subscriptions.push(
      runs.onDidStart((run) => this.follow(run)),
      // The run's end event carries its findings: the panel shows them as soon as the run ends.
      runs.onDidEnd((e) => this.findingsEmitter.fire({ runId: e.summary.id, findings: e.findings.map((f, i) => toFindingView(toFindingSummary(f), i)) })),
    );
    // The panel is built on first use, often in the middle of a run: follow that run too, or
    // the panel would freeze at its first snapshot.
    if (runs.current) this.follow(runs.current);
  }

  private follow(run: ActiveRun): void {
    if (this.live?.runId === run.id) return;
    const state = { runId: run.id, seq: 0 };
    this.live = state;
    const batches = run.session.onBatch((batch) => {
      state.seq++;
      this.sampleEmitter.fire({ runId: run.id, seq: state.seq, batch, live: liveFiguresView(run.session.live()) });
    });
    void run.session.done.then(() => batches.dispose());
  }

  current(): RunView | undefined {
    const run = this.runs.current;
    if (!run) return undefined;
    if (this.live?.runId !== run.id) this.follow(run);
    const s = run.session;
    const live = s.live();
    const summary: RunSummaryView = {
      id: s.id,
      name: clipName(s.spec.name ?? run.request.label),
      status: 'running',
      ...(s.replay ? { replay: true } : {}),
      startedAt: s.startedAt.toISOString(),
      durationS: live.elapsedS,
      exitCode: null,
      energyJ: live.energyJ,
      energyMethod: live.energyMethod,
      avgPowerW: live.avgPowerW,
      peakPowerW: live.peakPowerW,
      ...(live.avgUtilPct !== undefined ? { avgUtilPct: live.avgUtilPct } : {}),
      gpus: live.gpus.map((g) => ({ index: g.index, name: g.name, uuid: s.gpus.find((x) => x.index === g.index)?.uuid ?? '', energyJ: g.energyJ ?? 0, avgPowerW: live.elapsedS > 0 ? (g.energyJ ?? 0) / live.elapsedS : 0 })),
      ...(this.carbon ? carbonViewFields(live.energyJ, this.carbon()) : {}),
    };
    const markers = s.runMarkers().map((m) => ({ tS: m.tS, label: markerLabel(m), kind: 'event' as const }));
    // The session keeps min/max per time bucket (bounded), not every sample: that is what the charts
    // draw. With it, the number of the last batch it includes: the batches after it follow.
    return { summary, gpus: s.gpus, samples: s.viewSamples(), seq: this.live?.seq ?? 0, live: liveFiguresView(live), ...(markers.length ? { markers } : {}) };
  }

  async history(): Promise<RunSummaryView[]> {
    const carbon = this.carbon?.();
    return (await this.runs.list()).map((r) => toSummaryView(r, carbon));
  }

  async load(runId: string): Promise<RunView | undefined> {
    await this.runs.ready;
    // The run's overview file: what the panel draws, whatever the run's length (built once if missing).
    const drawn = await storedRunDrawing(this.runs.store, runId, (m) => this.log?.warn(m));
    if (!drawn) return undefined;
    // As columns: the panel turns them into points, the host builds no sample objects.
    return { ...toRunView({ summary: drawn.summary, gpus: drawn.summary.gpuInfo, samples: [], gaps: drawn.gaps }, this.carbon?.()), drawing: toColumnsView(drawn.columns, 0, drawn.bucketMs) };
  }

  async range(runId: string, requestId: number, startMs: number, endMs: number): Promise<RangeView | undefined> {
    await this.runs.ready;
    const r = await storedRunRange(this.runs.store, runId, startMs, endMs, (m) => this.log?.warn(m));
    return r ? { runId, requestId, startMs: r.startMs, endMs: r.endMs, bucketMs: r.bucketMs, columns: r.columns.map(toRangeColumnsView) } : undefined;
  }

  async exportRuns(runIds: string[], format: ExportFormat): Promise<void> {
    await exportRuns(this.runs.store, runIds, format, undefined, this.carbon?.());
  }

  onSamples(cb: (e: LiveBatch) => void): vscode.Disposable {
    return this.sampleEmitter.event(cb);
  }

  onRunEnded(cb: (summary: RunSummaryView) => void): vscode.Disposable {
    return this.runs.onDidEnd((e) => cb(toSummaryView(e.summary, this.carbon?.())));
  }

  onFindings(cb: (runId: string, findings: FindingView[]) => void): vscode.Disposable {
    return this.findingsEmitter.event((e) => cb(e.runId, e.findings));
  }

  dispose(): void {
    for (const d of this.subscriptions.splice(0)) d.dispose();
    this.sampleEmitter.dispose();
    this.findingsEmitter.dispose();
  }
}
