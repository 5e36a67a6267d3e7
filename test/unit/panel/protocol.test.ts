// The panel's pure pieces (protocol validation, decimation, comparison, running figures, export,
// HTML/CSP), checked in Node before the browser suite relies on them.
import * as assert from 'node:assert/strict';
import { compareRuns, timeToStep } from '../../../src/core/protocol/compare';
import { decimateMinMax, decimateMinMaxColumns, lttb, MinMaxBuckets } from '../../../src/core/protocol/decimate';
import type { XY } from '../../../src/core/protocol/decimate';
import { runsToCsv, runsToJson } from '../../../src/core/protocol/exportFormat';
import { LiveStats } from '../../../src/core/protocol/liveStats';
import { clipName, isToPanel, parseFromPanel, ProtocolLimits } from '../../../src/core/protocol/panel';
import { toSummaryView } from '../../../src/vscode/runViews';
import type { RunSummary } from '../../../src/core/runs/types';
import type { ToPanel } from '../../../src/core/protocol/panel';
import { panelCsp, panelHtml } from '../../../src/vscode/panel/panelHtml';
import { h200Info, interleave, readTrace, referenceFigures, runView, summaryOf, traceSamples } from '../../support/trace';

const rows = readTrace();
const s0 = traceSamples(rows, 0);
const gpus = [h200Info(0)];
const run = runView(summaryOf('run-a', 'baseline', s0, gpus), gpus, s0);

describe('panel protocol: validation', () => {
  it('accepts the messages the host sends', () => {
    const good: ToPanel[] = [
      { type: 'init', live: run, history: [run.summary], selected: [run] },
      { type: 'init', history: [] },
      { type: 'samples', runId: 'run-a', seq: 1, batch: { samples: s0.slice(0, 5), powerPoints: [{ gpu: 0, tMs: 10, powerMilliwatts: 80_000 }], gaps: [{ gpu: 0, startMs: 100, reason: 'GPU is lost' }] } },
      { type: 'runEnded', summary: run.summary },
      { type: 'findings', runId: 'run-a', findings: [{ id: 'gpu-idle:gpu0', code: 'gpu-idle', severity: 'information', title: 'Idle', message: 'm', startS: 1, endS: 2, stretches: [{ startS: 1, endS: 2 }], energyJ: 5, wastedJ: 5, static: false }] },
      { type: 'showRuns', view: 'compare', runs: [run, run] },
      { type: 'history', history: [run.summary] },
      { type: 'notice', level: 'error', message: 'Run x was not found.' },
    ];
    for (const m of good) assert.equal(isToPanel(m), true, m.type);
  });

  it('one run named with over 1,000 characters no longer makes the panel refuse the whole history', () => {
    const long = `${'a'.repeat(4000)}\u{1F600}tail`;
    const stored = (id: string, name: string): RunSummary => ({ ...(run.summary as unknown as RunSummary), id, name, gpus: [] });
    const history = [stored('r1', 'short'), stored('r2', long), stored('r3', 'x'.repeat(ProtocolLimits.nameChars))].map((s) => toSummaryView(s));
    // Before: the raw name went out and the validator (rightly) refused the message.
    assert.equal(isToPanel({ type: 'history', history: [history[0], { ...history[1]!, name: long }] }), false);
    assert.equal(isToPanel({ type: 'history', history }), true);
    assert.equal(history[0]!.name, 'short');
    assert.equal(history[2]!.name.length, ProtocolLimits.nameChars, 'a name at the limit is kept whole');
    assert.equal(history[1]!.name.length, ProtocolLimits.nameChars);
    assert.ok(history[1]!.name.startsWith('aaa') && history[1]!.name.endsWith('\u2026'));
    // Cut before a surrogate pair, never through it.
    const emoji = clipName(`${'b'.repeat(998)}\u{1F600}zz`);
    assert.equal(emoji, `${'b'.repeat(998)}\u2026`);
  });

  it('rejects wrong types, non-finite numbers, extra-long strings and unknown types', () => {
    const badSample = (patch: Record<string, unknown>): unknown => ({ type: 'samples', runId: 'r', seq: 1, batch: { samples: [{ ...s0[0], ...patch }], powerPoints: [], gaps: [] } });
    const bad: unknown[] = [
      null, undefined, 7, 'init', [], {}, { type: 'unknown' }, { type: 'init' },
      badSample({ powerMilliwatts: Number.NaN }),
      badSample({ powerMilliwatts: Number.POSITIVE_INFINITY }),
      badSample({ tMs: -1 }),
      badSample({ gpu: 0.5 }),
      badSample({ utilGpuPct: 101 }),
      badSample({ memUsedBytes: '644939776' }),
      { type: 'samples', runId: 'x'.repeat(ProtocolLimits.idChars + 1), batch: { samples: [], powerPoints: [], gaps: [] } },
      { type: 'samples', runId: '', batch: { samples: [], powerPoints: [], gaps: [] } },
      { type: 'runEnded', summary: { ...run.summary, energyJ: '9615' } },
      { type: 'runEnded', summary: { ...run.summary, status: 'exploded' } },
      { type: 'runEnded', summary: { ...run.summary, startedAt: 'yesterday' } },
      { type: 'runEnded', summary: { ...run.summary, name: 'n'.repeat(ProtocolLimits.nameChars + 1) } },
      { type: 'findings', runId: 'r', findings: [{ id: 'c', code: 'c', severity: 'information', title: 't', message: 'm', startS: 5, endS: 1, stretches: [], energyJ: 1, wastedJ: 1, static: false }] },
      { type: 'showRuns', view: 'run', runs: [] },
      { type: 'showRuns', view: 'grid', runs: [run] },
      { type: 'notice', level: 'info', message: 'x'.repeat(ProtocolLimits.textChars + 1) },
      { type: 'init', history: [], live: { ...run, gpus: [{ ...gpus[0], powerSource: 'ring' }] } },
    ];
    bad.forEach((m, i) => assert.equal(isToPanel(m), false, `case ${i}`));
  });

  it('parses webview messages strictly and returns fresh copies', () => {
    assert.deepEqual(parseFromPanel({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseFromPanel({ type: 'export', runIds: ['a', 'b'], format: 'csv' }), { type: 'export', runIds: ['a', 'b'], format: 'csv' });
    const ids = ['a', 'b'];
    const parsed = parseFromPanel({ type: 'compare', runIds: ids });
    assert.ok(parsed && parsed.type === 'compare' && parsed.runIds !== ids);
    const bad: unknown[] = [
      null, {}, { type: 'ready', extra: 1 }, { type: 'selectRun' }, { type: 'selectRun', runId: 5 },
      { type: 'selectRun', runId: 'x'.repeat(ProtocolLimits.idChars + 1) },
      { type: 'compare', runIds: ['a'] }, { type: 'compare', runIds: ['a', 'a'] },
      { type: 'compare', runIds: Array.from({ length: ProtocolLimits.compareRuns + 1 }, (_, i) => `r${i}`) },
      { type: 'export', runIds: ['a'], format: 'xlsx' }, { type: 'export', runIds: [], format: 'csv' },
      { type: 'log', level: 'debug', message: 'x' }, { type: 'openFile', path: '/etc/passwd' },
    ];
    bad.forEach((m, i) => assert.equal(parseFromPanel(m), undefined, `case ${i}`));
  });
});

describe('panel protocol: decimation', () => {
  const noisy: XY[] = Array.from({ length: 10_000 }, (_, i) => ({ x: i / 10, y: Math.sin(i / 50) * 100 + ((i * 7919) % 13) }));
  noisy[4321] = { x: 432.1, y: 5000 };
  noisy[777] = { x: 77.7, y: -5000 };

  it('min/max keeps every spike and dip, at most 2 points per column, in x order', () => {
    const out = decimateMinMax(noisy, 300);
    assert.ok(out.length <= 600 && out.length >= 300);
    assert.equal(Math.max(...out.map((p) => p.y)), 5000);
    assert.equal(Math.min(...out.map((p) => p.y)), -5000);
    for (let i = 1; i < out.length; i++) assert.ok((out[i] as XY).x >= (out[i - 1] as XY).x);
  });

  it('returns short series untouched (minus unreadable values)', () => {
    const xs = [0, 1, 2, 3];
    const ys = [1, Number.NaN, 3, 4];
    assert.deepEqual(decimateMinMaxColumns(xs, ys, 4, 100), [{ x: 0, y: 1 }, { x: 2, y: 3 }, { x: 3, y: 4 }]);
  });

  it('LTTB keeps the ends and the requested count', () => {
    const out = lttb(noisy, 500);
    assert.equal(out.length, 500);
    assert.deepEqual(out[0], noisy[0]);
    assert.deepEqual(out[499], noisy[noisy.length - 1]);
    assert.ok(out.some((p) => p.y === 5000), 'the spike is the largest triangle in its bucket');
  });

  it('the incremental buckets match batch min/max: bounded output, extremes kept, tail-only rebuilds', () => {
    const b = new MinMaxBuckets(256, 1 / 1024);
    for (const p of noisy) b.push(p.x, p.y);
    const pts = b.points();
    assert.ok(b.bucketCount <= 256 && b.bucketCount > 128);
    assert.ok(pts.length <= 512);
    assert.equal(Math.max(...pts.map((p) => p.y)), 5000);
    assert.equal(Math.min(...pts.map((p) => p.y)), -5000);
    // Appending within the last bucket keeps the finished buckets' points (same objects).
    const head = pts[0];
    b.push(999.95, 42);
    assert.equal(b.points()[0], head);
    b.push(1000, Number.NaN);
    assert.ok(b.points().length <= 512);
  });
});

describe('panel protocol: figures and comparison', () => {
  it('totals count only the run\'s GPUs: a GPU sampled beside the run keeps its figures but adds nothing', () => {
    const s1 = traceSamples(rows, 1, 0.8);
    const all = interleave(s0, s1);
    const ticks: number[] = [];
    const stats = new LiveStats((_t, w) => ticks.push(w));
    stats.setCounted([0]);
    for (const s of all) stats.add(s);
    stats.endTick();
    const f = stats.figures();
    const only0 = referenceFigures(s0);
    assert.ok(Math.abs(f.energyJ - only0.energyJ) < 1e-9, `${f.energyJ} J vs GPU 0's ${only0.energyJ} J`);
    assert.ok(Math.abs((f.avgUtilPct ?? 0) - only0.avgUtilPct) < 1e-9);
    assert.ok(Math.abs(Math.max(...ticks) - only0.peakPowerW) < 1e-9, 'the total power line is GPU 0\'s');
    assert.equal(f.gpus.length, 2, 'GPU 1 keeps its own figures');
    // And the stored summary says which GPUs those are: the attributed ones, or all when none was.
    const sum = (attributed: boolean[]): RunSummary => ({
      schema: 1, id: 'r', name: 'x', status: 'succeeded', startedAt: '2026-01-01T00:00:00Z', durationS: 1, exitCode: 0, command: ['x'], cwd: '/', energyJ: 1,
      energyMethod: 'counter', avgPowerW: 1, peakPowerW: 1, attribution: 'processes', sampleIntervalMs: 100,
      gpus: attributed.map((a, i) => ({ index: i, name: 'g', uuid: `GPU-${i}`, energyJ: 1, avgPowerW: 1, peakPowerW: 1, energyMethod: 'counter', powerSource: 'instant', attributed: a })),
    });
    assert.deepEqual(toSummaryView(sum([true, false])).countedGpus, [0]);
    assert.deepEqual(toSummaryView(sum([false, false])).countedGpus, [0, 1]);
  });

  it('running figures equal the reference computed from the recorded trace', () => {
    const s1 = traceSamples(rows, 1, 0.8);
    const all = interleave(s0, s1);
    const stats = new LiveStats();
    for (const s of all) stats.add(s);
    const f = stats.figures();
    const ref = referenceFigures(all);
    assert.ok(Math.abs(f.energyJ - ref.energyJ) < 1e-9);
    assert.equal(f.durationS, ref.durationS);
    assert.ok(Math.abs(f.avgPowerW - ref.avgPowerW) < 1e-9);
    assert.ok(Math.abs(f.peakPowerW - ref.peakPowerW) < 1e-9);
    assert.ok(Math.abs((f.avgUtilPct ?? 0) - ref.avgUtilPct) < 1e-9);
    // The README's figure for this recording: the counter advanced 9615.0 J.
    assert.ok(Math.abs((f.gpus[0]?.energyJ ?? 0) - 9615.0) < 0.5, String(f.gpus[0]?.energyJ));
  });

  it('integrates power where the sampler sent no energy (within 0.1 % of the counter here)', () => {
    const stats = new LiveStats();
    for (const s of s0) stats.add({ ...s, energyMillijoules: undefined });
    // README: trapezoid over power_mW gave 9621.5 J over the whole recording.
    assert.ok(Math.abs(stats.figures().energyJ - 9615) / 9615 < 0.001);
  });

  it('compareRuns gives signed deltas and J/step from steps', () => {
    const a = { ...run.summary, energyJ: 1000, durationS: 100, avgPowerW: 10, peakPowerW: 20, steps: 50 };
    const b = { ...run.summary, id: 'b', energyJ: 800, durationS: 90, avgPowerW: 8.9, peakPowerW: 25, steps: 50 };
    const rows2 = compareRuns(a, b);
    const e = rows2.find((r) => r.metric === 'energyJ');
    assert.deepEqual([e?.delta, e?.deltaPct], [-200, -20]);
    const jps = rows2.find((r) => r.metric === 'jPerStep');
    assert.deepEqual([jps?.a, jps?.b, jps?.delta], [20, 16, -4]);
    assert.equal(rows2.some((r) => r.metric === 'jPerToken'), false);
  });

  it('maps time to steps by interpolation, undefined outside the record', () => {
    const steps = [{ tS: 1, step: 0 }, { tS: 3, step: 10 }, { tS: 4, step: 30 }];
    assert.equal(timeToStep(steps, 2), 5);
    assert.equal(timeToStep(steps, 3.5), 20);
    assert.equal(timeToStep(steps, 0.5), undefined);
    assert.equal(timeToStep(steps, 5), undefined);
  });

  it('exports CSV with one row per sample and quoted names, and tagged JSON', () => {
    const named = runView({ ...run.summary, name: '=cmd, "quoted"' }, gpus, s0.slice(0, 3));
    const csv = runsToCsv([named]).trimEnd().split('\n');
    assert.equal(csv.length, 4);
    assert.match(csv[1] ?? '', /^run-a,"'=cmd, ""quoted""",0\.055,0,84\.403,0,/);
    const json = JSON.parse(runsToJson([named])) as { format: string; runs: unknown[] };
    assert.equal(json.format, 'joules-runs');
    assert.equal(json.runs.length, 1);
  });
});

describe('panel HTML', () => {
  it('carries the strict CSP with the nonce and loads only bundled files', () => {
    const html = panelHtml({ cspSource: 'https://x.vscode-cdn.net', nonce: 'abcdefghijklmnop1234', scriptUri: 'https://x.vscode-cdn.net/panel.js', styleUri: 'https://x.vscode-cdn.net/panel.css' });
    assert.equal(panelCsp('https://x.vscode-cdn.net', 'N'), "default-src 'none'; img-src https://x.vscode-cdn.net data:; style-src https://x.vscode-cdn.net 'nonce-N'; script-src 'nonce-N'; font-src https://x.vscode-cdn.net");
    assert.ok(html.includes(`content="default-src 'none'; img-src https://x.vscode-cdn.net data:; style-src https://x.vscode-cdn.net 'nonce-abcdefghijklmnop1234'`));
    assert.ok(html.includes('<script nonce="abcdefghijklmnop1234" src="https://x.vscode-cdn.net/panel.js">'));
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.doesNotMatch(html, /https?:\/\/(?!x\.vscode-cdn\.net)/);
    assert.throws(() => panelHtml({ cspSource: 'x', nonce: '"><script>', scriptUri: '', styleUri: '' }));
  });
});
