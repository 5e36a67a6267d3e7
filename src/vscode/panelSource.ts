import * as vscode from 'vscode';
import type { ExportFormat, RunSummaryView, RunView } from '../core/protocol/panel';
import { clipName } from '../core/protocol/panel';
import type { SampleBatch } from '../core/sampler/types';
import { exportRuns, loadRunViews } from './historyActions';
import type { PanelDataSource } from './panel/panelHost';
import type { RunManager } from './runManager';
import { toSummaryView } from './runViews';

/** The energy panel's view of the run manager and the history (PanelHost's PanelDataSource). */
export class RunManagerPanelSource implements PanelDataSource, vscode.Disposable {
  private readonly sampleEmitter = new vscode.EventEmitter<{ runId: string; batch: SampleBatch }>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly runs: RunManager) {
    this.subscriptions.push(
      runs.onDidStart((run) => {
        const off = run.session.onBatch((batch) => this.sampleEmitter.fire({ runId: run.id, batch }));
        void run.session.done.then(off);
      }),
    );
  }

  current(): RunView | undefined {
    const run = this.runs.current;
    if (!run) return undefined;
    const s = run.session;
    const live = s.live();
    const summary: RunSummaryView = {
      id: s.id,
      name: clipName(s.spec.name ?? run.request.label),
      status: 'running',
      startedAt: s.startedAt.toISOString(),
      durationS: live.elapsedS,
      exitCode: null,
      energyJ: live.energyJ,
      energyMethod: live.energyMethod,
      avgPowerW: live.elapsedS > 0 ? live.energyJ / live.elapsedS : 0,
      peakPowerW: live.powerW ?? 0,
      gpus: live.gpus.map((g) => ({ index: g.index, name: g.name, uuid: s.gpus.find((x) => x.index === g.index)?.uuid ?? '', energyJ: g.energyJ ?? 0, avgPowerW: live.elapsedS > 0 ? (g.energyJ ?? 0) / live.elapsedS : 0 })),
    };
    // The session keeps min/max per time bucket (bounded), not every sample: that is what the charts draw.
    return { summary, gpus: s.gpus, samples: s.viewSamples() };
  }

  async history(): Promise<RunSummaryView[]> {
    return (await this.runs.list()).map(toSummaryView);
  }

  async load(runId: string): Promise<RunView | undefined> {
    await this.runs.ready;
    return loadRunViews(this.runs.store, [runId]).runs[0];
  }

  async exportRuns(runIds: string[], format: ExportFormat): Promise<void> {
    await exportRuns(this.runs.store, runIds, format);
  }

  onSamples(cb: (runId: string, batch: SampleBatch) => void): vscode.Disposable {
    return this.sampleEmitter.event((e) => cb(e.runId, e.batch));
  }

  onRunEnded(cb: (summary: RunSummaryView) => void): vscode.Disposable {
    return this.runs.onDidEnd((e) => cb(toSummaryView(e.summary)));
  }

  dispose(): void {
    for (const d of this.subscriptions.splice(0)) d.dispose();
    this.sampleEmitter.dispose();
  }
}
