// The host side of the panel protocol, without VS Code: what reaches a visible, hidden or
// re-shown panel, and what happens to what the webview sends.
import * as assert from 'node:assert/strict';
import type { ExportFormat, RangeView, RunView, ToPanel } from '../../../src/core/protocol/panel';
import { isToPanel, rangeViewColumns, toRangeColumnsView } from '../../../src/core/protocol/panel';
import { MinMaxView } from '../../../src/core/runs/minMaxView';
import { PanelSession } from '../../../src/vscode/panel/panelSession';
import type { PanelLog, PanelPort, PanelRunSource } from '../../../src/vscode/panel/panelSession';
import { batches, h200Info, readTrace, runningSummary, runView, summaryOf, traceSamples } from '../../support/trace';

const rows = readTrace();
const samples = traceSamples(rows, 0);
const gpus = [h200Info(0)];
const past = runView(summaryOf('past-1', 'baseline', samples, gpus), gpus, samples);

class FakePort implements PanelPort {
  visible = true;
  readonly sent: ToPanel[] = [];
  post(m: ToPanel): Promise<boolean> {
    this.sent.push(m);
    return Promise.resolve(true);
  }
}

class FakeSource implements PanelRunSource {
  live: RunView | undefined = runView(runningSummary('live-1', 'train.py'), gpus, []);
  exports: [string[], ExportFormat][] = [];
  failExport = false;
  current(): RunView | undefined {
    return this.live;
  }
  history(): Promise<RunView['summary'][]> {
    return Promise.resolve([past.summary]);
  }
  load(runId: string): Promise<RunView | undefined> {
    return Promise.resolve(runId === past.summary.id ? past : undefined);
  }
  /** The range from the past run's samples, through the host's own view (as storedRunRange does). */
  range(runId: string, requestId: number, startMs: number, endMs: number): Promise<RangeView | undefined> {
    if (runId !== past.summary.id) return Promise.resolve(undefined);
    const view = new MinMaxView(Math.max(100, (endMs - startMs) / 2047), 2048, startMs);
    for (const x of past.samples) if (x.tMs >= startMs && x.tMs <= endMs) view.add(x);
    return Promise.resolve({ runId, requestId, startMs, endMs, bucketMs: view.bucketMs, columns: view.allColumns().map(toRangeColumnsView) });
  }
  exportRuns(runIds: string[], format: ExportFormat): Promise<void> {
    if (this.failExport) return Promise.reject(new Error('disk full'));
    this.exports.push([runIds, format]);
    return Promise.resolve();
  }
}

function logRecorder(): PanelLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('panel session (host side)', () => {
  it('answers ready with init, streams samples while visible, posts nothing while hidden, catches up on show', async () => {
    const source = new FakeSource();
    const port = new FakePort();
    const s = new PanelSession(source, logRecorder());
    s.attach(port);
    await s.receive({ type: 'ready' });
    assert.deepEqual(port.sent.map((m) => m.type), ['init']);
    const [b1, b2, b3] = batches(samples);
    s.samples({ runId: 'live-1', seq: 1, batch: { samples: b1 ?? [], powerPoints: [], gaps: [] } });
    assert.equal(port.sent.length, 2);
    port.visible = false;
    s.visibilityChanged(false);
    s.samples({ runId: 'live-1', seq: 2, batch: { samples: b2 ?? [], powerPoints: [], gaps: [] } });
    s.runEnded(past.summary);
    assert.equal(port.sent.length, 2, 'a hidden panel receives nothing');
    assert.equal(s.counters.skippedHidden, 2);
    source.live = runView(runningSummary('live-1', 'train.py'), gpus, [...(b1 ?? []), ...(b2 ?? []), ...(b3 ?? [])]);
    port.visible = true;
    s.visibilityChanged(true);
    await flush();
    const last = port.sent[port.sent.length - 1];
    assert.equal(last?.type, 'init');
    assert.equal(last?.type === 'init' ? last.live?.samples.length : -1, (b1?.length ?? 0) + (b2?.length ?? 0) + (b3?.length ?? 0));
  });

  it('sends init instead of samples for a run the webview has not seen', async () => {
    const source = new FakeSource();
    const port = new FakePort();
    const s = new PanelSession(source, logRecorder());
    s.attach(port);
    await s.receive({ type: 'ready' });
    source.live = runView(runningSummary('live-2', 'next'), gpus, samples.slice(0, 3));
    s.samples({ runId: 'live-2', seq: 1, batch: { samples: samples.slice(0, 3), powerPoints: [], gaps: [] } });
    s.samples({ runId: 'live-2', seq: 2, batch: { samples: samples.slice(3, 6), powerPoints: [], gaps: [] } });
    await flush();
    assert.deepEqual(port.sent.map((m) => m.type), ['init', 'init']);
    s.samples({ runId: 'live-2', seq: 3, batch: { samples: samples.slice(6, 9), powerPoints: [], gaps: [] } });
    assert.deepEqual(port.sent.map((m) => m.type), ['init', 'init', 'samples']);
  });

  it('drops and logs invalid messages; serves selectRun, compare, export; re-sends the selection in init', async () => {
    const source = new FakeSource();
    const port = new FakePort();
    const log = logRecorder();
    const s = new PanelSession(source, log);
    s.attach(port);
    for (const bad of [null, { type: 'selectRun' }, { type: 'export', runIds: ['a'], format: 'exe' }, { type: 'ready', x: 1 }]) await s.receive(bad);
    assert.equal(s.counters.rejected, 4);
    assert.equal(log.lines.filter((l) => l.startsWith('warn Energy panel: dropped')).length, 4);
    assert.equal(port.sent.length, 0);

    await s.receive({ type: 'selectRun', runId: 'past-1' });
    assert.equal(port.sent[0]?.type, 'showRuns');
    await s.receive({ type: 'selectRun', runId: 'nope' });
    assert.deepEqual(port.sent[1], { type: 'notice', level: 'error', message: 'Run nope was not found in the history.' });
    await s.receive({ type: 'ready' });
    const init = port.sent[2];
    assert.equal(init?.type === 'init' ? init.selected?.[0]?.summary.id : undefined, 'past-1');
    await s.receive({ type: 'showLive' });
    await s.receive({ type: 'ready' });
    const init2 = port.sent[3];
    assert.equal(init2?.type === 'init' ? init2.selected?.length : -1, 0);

    await s.receive({ type: 'export', runIds: ['past-1'], format: 'csv' });
    assert.deepEqual(source.exports, [[['past-1'], 'csv']]);
    source.failExport = true;
    await s.receive({ type: 'export', runIds: ['past-1'], format: 'json' });
    assert.deepEqual(port.sent[port.sent.length - 1], { type: 'notice', level: 'error', message: 'Export failed: disk full' });
    await s.receive({ type: 'log', level: 'warn', message: 'dropped a malformed message' });
    assert.ok(log.lines.includes('warn Energy panel (webview): dropped a malformed message'));
  });

  it('answers zoom with the range as typed columns the webview accepts; refuses a malformed zoom', async () => {
    const source = new FakeSource();
    const port = new FakePort();
    const log = logRecorder();
    const s = new PanelSession(source, log);
    s.attach(port);
    const startMs = past.samples[10]!.tMs;
    const endMs = past.samples[60]!.tMs;
    await s.receive({ type: 'zoom', runId: past.summary.id, requestId: 7, startMs, endMs });
    const answer = port.sent.at(-1);
    assert.equal(answer?.type, 'range');
    assert.ok(isToPanel(JSON.parse(JSON.stringify(answer))), 'the answer survives JSON (as VS Code posts it) and validates');
    if (answer?.type !== 'range') return;
    assert.equal(answer.range.requestId, 7);
    const cols = rangeViewColumns(answer.range);
    const want = Math.max(...past.samples.filter((x) => x.tMs >= startMs && x.tMs <= endMs).map((x) => x.powerMilliwatts ?? 0));
    assert.equal(Math.max(...cols[0]!.max.powerMilliwatts.filter((v) => !Number.isNaN(v))), want);
    assert.equal(cols[0]!.tMs[0], startMs);
    const sent = port.sent.length;
    await s.receive({ type: 'zoom', runId: past.summary.id, requestId: 8, startMs: 5000, endMs: 5000 });
    await s.receive({ type: 'zoom', runId: past.summary.id, requestId: 9, startMs: 0, endMs: 10, extra: 1 });
    assert.equal(port.sent.length, sent, 'nothing answered to an empty or padded zoom');
    assert.equal(log.lines.filter((l) => l.includes('dropped an invalid message')).length, 2);
    await s.receive({ type: 'zoom', runId: 'nope', requestId: 10, startMs: 0, endMs: 10 });
    assert.equal(port.sent.at(-1)?.type, 'notice');
  });

  it('refuses a range whose columns do not match their length', () => {
    const view = new MinMaxView(100);
    view.add({ tMs: 0, gpu: 0, powerMilliwatts: 1 });
    view.add({ tMs: 100, gpu: 0, powerMilliwatts: 2 });
    const range = { runId: 'r', requestId: 1, startMs: 0, endMs: 1000, bucketMs: 100, columns: view.allColumns().map(toRangeColumnsView) };
    assert.equal(isToPanel({ type: 'range', range }), true);
    const broken = { ...range, columns: [{ ...range.columns[0]!, energyMj: [null] }] };
    assert.equal(isToPanel({ type: 'range', range: broken }), false);
    const nan = { ...range, columns: [{ ...range.columns[0]!, min: { ...range.columns[0]!.min, powerMilliwatts: ['x', 1] } }] };
    assert.equal(isToPanel({ type: 'range', range: nan }), false);
  });
});
