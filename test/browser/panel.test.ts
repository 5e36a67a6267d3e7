// The real webview bundle (dist/webview/panel.js) in headless Chromium under the real CSP, fed
// protocol messages built from the recorded H200 trace.
import { formatJoules, formatPct, formatSig } from '../../src/core/units/format';
import * as assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { FromPanel, MarkerView, RunView, ToPanel } from '../../src/core/protocol/panel';
import { toColumnsView, toRangeColumnsView } from '../../src/core/protocol/panel';
import { MinMaxView } from '../../src/core/runs/minMaxView';
import type { GpuSample } from '../../src/core/sampler/types';
import { PanelSession } from '../../src/vscode/panel/panelSession';
import type { PanelRunSource } from '../../src/vscode/panel/panelSession';
import { buildBundle, launch, openPanel, PanelServer } from './support/harness';
import type { PanelPage } from './support/harness';
import {
  batches, h200Info, interleave, readTrace, referenceFigures, runningSummary, runView, stepsEvery, summaryOf,
  traceFindings, traceMarkers, traceSamples,
} from '../support/trace';

const rows = readTrace();
const s0 = traceSamples(rows, 0);
const s1 = traceSamples(rows, 1, 0.8);
const gpus = [h200Info(0), h200Info(1)];
const all = interleave(s0, s1);
const ref = referenceFigures(all);

function close(actual: number | undefined, expected: number, tol = 1e-9): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tol, `${actual} vs ${expected}`);
}

async function streamLive(p: PanelPage, id: string, samples: GpuSample[]): Promise<number> {
  const bs = batches(samples);
  let seq = 0;
  for (const b of bs) await p.post({ type: 'samples', runId: id, seq: ++seq, batch: { samples: b, powerPoints: [], gaps: [] } } satisfies ToPanel);
  return bs.length;
}

describe('energy panel in Chromium', function () {
  let server: PanelServer;
  let browser: Browser;
  let base: string;
  const pages: PanelPage[] = [];
  const open = async (o: Parameters<typeof openPanel>[2] = {}): Promise<PanelPage> => {
    const p = await openPanel(browser, base, o);
    pages.push(p);
    return p;
  };

  before(async () => {
    buildBundle();
    server = new PanelServer();
    base = await server.start();
    browser = await launch();
  });

  afterEach(async () => {
    for (const p of pages.splice(0)) {
      assert.deepEqual(p.pageErrors, [], 'no uncaught errors in the page');
      assert.deepEqual(await p.cspViolations(), [], 'nothing blocked by the CSP');
      assert.deepEqual(p.consoleErrors, []);
      await p.page.close();
    }
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('loads under the strict CSP, says ready once, and shows an empty state', async () => {
    const p = await open();
    assert.deepEqual(await p.posted(), [{ type: 'ready' }]);
    const csp = await p.page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    assert.match(csp ?? '', /^default-src 'none'; img-src http:\/\/127\.0\.0\.1:\d+ data:; style-src http:\/\/127\.0\.0\.1:\d+ 'nonce-[^']+'; script-src 'nonce-[^']+'; font-src/);
    const st = await p.state();
    assert.equal(st.tab, 'run');
    assert.equal(st.shownRunId, undefined);
    assert.ok(await p.page.isVisible('text=No run to show yet'));
    // An inline script without the nonce must not run: the policy is really enforced.
    await p.page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = 1';
      document.body.append(s);
    });
    assert.equal(await p.page.evaluate(() => (window as unknown as { __injected?: number }).__injected), undefined);
    assert.equal((await p.cspViolations()).length, 1);
    await p.page.evaluate(() => ((window as unknown as { __cspViolations: string[] }).__cspViolations.length = 0));
    p.consoleErrors.length = 0;
  });

  it('live run: keeps every sample, draws a series per GPU with the power limit, cards equal the figures from the samples', async () => {
    const p = await open();
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py --phased'), gpus, [], { markers: traceMarkers }), history: [] } satisfies ToPanel);
    const sent = await streamLive(p, 'live-1', all);
    const st = await p.settle();
    assert.deepEqual(st.samplesPerGpu, { 0: s0.length, 1: s1.length });
    assert.equal(st.received.samples, sent);
    assert.equal(st.dropped, 0);
    assert.ok(st.renderCount < sent / 4, `redraws are batched: ${st.renderCount} for ${sent} batches`);

    const power = st.charts.power ?? [];
    assert.deepEqual(power.map((d) => d.label), ['GPU 0', 'GPU 1', 'Power limit 700 W']);
    for (const [i, samples] of [s0, s1].entries()) {
      const d = power[i];
      const watts = samples.map((s) => (s.powerMilliwatts ?? 0) / 1000);
      assert.ok(d && d.points <= 2 * st.bucketLimit && d.points >= Math.min(samples.length, st.bucketLimit / 2), `points ${d?.points}`);
      assert.equal(d.maxY, Math.max(...watts), 'the peak survives decimation');
      assert.equal(d.minY, Math.min(...watts), 'so does the lowest reading');
    }
    assert.deepEqual(Object.keys(st.charts).sort(), ['energy', 'mem', 'power', 'sm', 'temp', 'util']);
    assert.deepEqual(st.charts.energy?.map((d) => d.label), ['All GPUs', 'GPU 0', 'GPU 1']);
    assert.equal(st.chartTitles.energy, 'Cumulative energy (Wh)');
    assert.equal(st.chartTitles.mem, 'Memory used (GiB of 140 GiB)');
    assert.match(st.powerSource, /1 s moving average \(nvmlDeviceGetPowerUsage/);

    const f = st.figures;
    assert.equal(f?.source, 'live');
    close(f?.energyJ, ref.energyJ);
    close(f?.durationS, ref.durationS);
    close(f?.avgPowerW, ref.avgPowerW);
    close(f?.peakPowerW, ref.peakPowerW);
    close(f?.avgUtilPct, ref.avgUtilPct);
    const card = (k: string): { value: string; detail: string } | undefined => st.cards.find((c) => c.key === k);
    assert.equal(card('energy')?.value, `${(ref.energyJ / 3600).toFixed(2)} Wh`);
    // The same words as the CLI and the status bar (src/core/units/format.ts).
    assert.equal(card('energy')?.detail, formatJoules(ref.energyJ));
    assert.equal(card('duration')?.value, `${ref.durationS.toFixed(1)} s`);
    assert.equal(card('avgPower')?.value, `${ref.avgPowerW.toFixed(0)} W`);
    assert.equal(card('peakPower')?.value, `${Math.round(ref.peakPowerW).toLocaleString('en-US')} W`);
    assert.equal(card('avgUtil')?.value, formatPct(ref.avgUtilPct));
    assert.equal(card('method')?.value, 'Hardware counter');
    assert.equal(card('jPerStep'), undefined, 'no steps, no J/step card');
    // The per-GPU table is the charts' text equivalent.
    const cells = await p.page.$$eval('.gpu-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.children, (c) => c.textContent ?? '')));
    assert.equal(cells.length, 2);
    assert.equal(cells[0]?.[1], `${(9615 / 3600).toFixed(2)} Wh (9,615 J)`);
    assert.equal(cells[0]?.[3], `${Math.max(...s0.map((s) => (s.powerMilliwatts ?? 0) / 1000)).toFixed(0)} W`);
    assert.match((await p.page.getAttribute('.chart-power canvas', 'aria-label')) ?? '', /Power \(W\) of 2 GPUs, 0:00 to 0:30/);
  });

  it('draws a short run point for point and an hour at 10 Hz with a few points per pixel column, spikes kept', async () => {
    const p = await open();
    const short = s0.slice(0, 100).map((s) => ({ ...s }));
    await p.post({ type: 'init', live: runView(runningSummary('short', 'short'), [h200Info(0)], short), history: [] } satisfies ToPanel);
    let st = await p.settle();
    assert.equal(st.charts.power?.[0]?.points, 100);
    assert.deepEqual(st.charts.power?.[0]?.first, { x: short[0]!.tMs / 1000, y: short[0]!.powerMilliwatts! / 1000 });

    const hour: GpuSample[] = [];
    for (let i = 0; i < 36_000; i++) {
      const base = rows[i % rows.length]!;
      hour.push({ tMs: i * 100, gpu: 0, powerMilliwatts: base.power_mW, utilGpuPct: base.util, energyMillijoules: i * 30_000 });
    }
    hour[23_456]!.powerMilliwatts = 950_000; // one 100 ms spike in an hour
    hour[5_000]!.powerMilliwatts = 10_000;
    await p.post({ type: 'init', live: runView(runningSummary('hour', 'hour'), [h200Info(0)], hour), history: [] } satisfies ToPanel);
    st = await p.settle();
    assert.equal(st.samplesPerGpu['0'], 36_000, 'full data kept');
    const d = st.charts.power?.[0];
    assert.ok(d && d.points <= 2 * st.bucketLimit, `${d?.points} points for ${st.bucketLimit} columns`);
    assert.equal(d.maxY, 950);
    assert.equal(d.minY, 10);

    // A batch that lands inside the last pixel column, within its min and max, redraws no chart
    // (cards still move); one that starts a new column redraws them all.
    const redraws = (s: typeof st): number[] => Object.values(s.charts).map((c) => c[0]?.redraws ?? 0);
    const before = redraws(st);
    await p.post({ type: 'samples', runId: 'hour', seq: 1, batch: { samples: [{ tMs: 3_599_950, gpu: 0, powerMilliwatts: hour[35_999]!.powerMilliwatts, utilGpuPct: hour[35_999]!.utilGpuPct, energyMillijoules: hour[35_999]!.energyMillijoules }], powerPoints: [], gaps: [] } } satisfies ToPanel);
    st = await p.settle();
    assert.equal(st.samplesPerGpu['0'], 36_001);
    assert.deepEqual(redraws(st), before);
    await p.post({ type: 'samples', runId: 'hour', seq: 2, batch: { samples: [{ tMs: 3_700_000, gpu: 0, powerMilliwatts: 500_000, utilGpuPct: 50, energyMillijoules: 1.2e9 }], powerPoints: [], gaps: [] } } satisfies ToPanel);
    st = await p.settle();
    assert.ok(redraws(st).every((n, i) => n === (before[i] ?? 0) + 1), `${redraws(st).join()} vs ${before.join()}`);
  });

  it('run end: the host summary replaces the running figures and the run joins the history', async () => {
    const p = await open();
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py'), gpus, all), history: [] } satisfies ToPanel);
    await p.settle();
    const final = summaryOf('live-1', 'train.py', all, gpus, { steps: 400, tokens: 1_638_400, carbonG: 0.27, carbonSource: 'grid average 56 gCO2/kWh', cost: { amount: 0.0012, currency: 'EUR', source: '0.25 EUR/kWh' }, relatable: [{ label: 'smartphone charges', value: 0.36, source: 'US EPA, 0.0133 kWh per charge' }] });
    await p.post({ type: 'runEnded', summary: final } satisfies ToPanel);
    const st = await p.settle();
    assert.equal(st.figures?.source, 'host');
    assert.deepEqual(st.history.runIds, ['live-1']);
    const card = (k: string): string | undefined => st.cards.find((c) => c.key === k)?.value;
    assert.equal(card('jPerStep'), `${(final.energyJ / 400).toFixed(1)} J/step`);
    assert.equal(card('jPerToken'), `${(final.energyJ / 1_638_400).toFixed(3)} J/token`);
    assert.equal(card('carbon'), '0.270 g CO₂e');
    assert.equal(card('cost'), '0.001 EUR');
    assert.equal(card('relatable'), '0.360 smartphone charges');
    assert.equal(await p.page.textContent('.run-status'), 'succeeded');
  });

  it('live run: the carbon and cost cards follow its energy at the host\'s rate per joule; relatable units come at its end', async () => {
    const p = await open();
    const carbonSource = 'World 2024 average, no region set, Ember via OWID (CC BY 4.0): 473 g/kWh';
    const rates = { carbonG: 0, carbonSource, carbonGPerJ: 473 / 3.6e6, cost: { amount: 0, currency: 'EUR', source: 'your price: 0.3 EUR/kWh' }, costPerJ: 0.3 / 3.6e6 };
    await p.post({ type: 'init', live: runView({ ...runningSummary('live-c', 'train.py'), ...rates }, gpus, []), history: [] } satisfies ToPanel);
    await streamLive(p, 'live-c', all);
    const st = await p.settle();
    const card = (k: string): { value: string; detail: string } | undefined => st.cards.find((c) => c.key === k);
    close(st.figures?.energyJ, ref.energyJ);
    assert.equal(card('carbon')?.value, `${formatSig((st.figures!.energyJ * 473) / 3.6e6)} g CO₂e`);
    assert.equal(card('carbon')?.detail, carbonSource);
    assert.equal(card('cost')?.value, `${formatSig((st.figures!.energyJ * 0.3) / 3.6e6)} EUR`);
    assert.equal(card('relatable'), undefined);
  });

  it('`::joules mark` lines are drawn on the charts of a stored run, at their times', async () => {
    const p = await open();
    const marks: MarkerView[] = [{ tS: 3, label: 'epoch 1', kind: 'event' }, { tS: 12.5, label: 'epoch 2', kind: 'event' }, { tS: 9.2, label: 'full', kind: 'phase' }];
    const stored = runView(summaryOf('marks-1', 'train.py', all, gpus), gpus, all, { markers: marks });
    await p.post({ type: 'init', history: [stored.summary] } satisfies ToPanel);
    await p.post({ type: 'showRuns', view: 'run', runs: [stored] } satisfies ToPanel);
    const st = await p.settle();
    assert.deepEqual(st.events.map((e) => [e.x, e.label]), [[3, 'epoch 1'], [12.5, 'epoch 2']]);
  });

  it('findings arrive as bands, a table and the idle/starved card', async () => {
    const p = await open();
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py'), gpus, all, { markers: traceMarkers }), history: [] } satisfies ToPanel);
    const findings = traceFindings(s0);
    await p.post({ type: 'findings', runId: 'live-1', findings } satisfies ToPanel);
    const st = await p.settle();
    const rowsText = await p.page.$$eval('.findings tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-code')));
    assert.deepEqual(rowsText, ['gpu-idle', 'gpu-starved']);
    const wasted = findings.reduce((a, f) => a + f.wastedJ, 0);
    close(st.figures?.idleEnergyJ, wasted, 0.05);
    assert.equal(st.cards.find((c) => c.key === 'idle')?.detail.split(' · ')[0], `${Math.round(wasted).toLocaleString('en-US')} J`);
  });

  it('counts waste once: a source line that explains a finding, and a stall inside a starved stretch, add nothing', async () => {
    const p = await open();
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py'), gpus, all), history: [] } satisfies ToPanel);
    const [starved, idle] = traceFindings(s0);
    assert.ok(starved && idle);
    // A stall finding inside the starved stretch on the same GPU, and a source line pointing at the starved finding.
    const stall = { ...starved, id: 'periodic-stall:gpu0', code: 'periodic-stall' as const, title: 'GPU 0 stalled', startS: 16, endS: 18, stretches: [{ startS: 16, endS: 18 }], energyJ: 10, wastedJ: 1 };
    const line = { ...starved, id: 'dataloader-workers:/p/train.py:11', code: 'dataloader-workers' as const, title: 'DataLoader without worker processes', correlatedWith: [starved.id], energyJ: 0, wastedJ: 0, file: '/p/train.py', line: 11 };
    await p.post({ type: 'findings', runId: 'live-1', findings: [starved, idle, stall, line] } satisfies ToPanel);
    const st = await p.settle();
    close(st.figures?.idleEnergyJ, starved.wastedJ + idle.wastedJ, 0.05);
    // The source line's row shows the starved finding's waste as counted above, not as its own.
    const lineRow = await p.page.$eval('.findings tbody tr[data-code="dataloader-workers"]', (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''));
    assert.equal(lineRow[2], '—');
    assert.match(lineRow[3] ?? '', /counted above/);
  });

  it('draws a finding of several stretches as one band per stretch, each finding in its own row', async () => {
    const p = await open();
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py'), gpus, all), history: [] } satisfies ToPanel);
    const [starved, idle] = traceFindings(s0);
    assert.ok(starved && idle);
    const split = { ...idle, startS: 2, endS: 12, stretches: [{ startS: 2, endS: 4 }, { startS: 10, endS: 12 }] };
    await p.post({ type: 'findings', runId: 'live-1', findings: [split, starved] } satisfies ToPanel);
    const st = await p.settle();
    const bands = st.bands.filter((b) => b.kind === 'finding');
    assert.deepEqual(bands.map((b) => [b.startX, b.endX, b.lane]), [[2, 4, 0], [10, 12, 0], [14.9, 19.9, 1]]);
    // Nothing tints the busy time between the two stretches (4 s to 10 s).
    assert.ok(!bands.some((b) => b.startX < 10 && b.endX > 4), JSON.stringify(bands));
  });

  it('ignores malformed messages, keeps working, and reports them to the host', async () => {
    const p = await open();
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py'), gpus, all.slice(0, 20)), history: [] } satisfies ToPanel);
    await p.settle();
    const okBatch = { samples: all.slice(20, 40), powerPoints: [], gaps: [] };
    const sample = all[30]!;
    const bad: unknown[] = [
      null, 42, 'init', [], {}, { type: 'nope' }, { type: 'init' },
      { type: 'samples', runId: 'live-1', seq: 1, batch: { samples: [{ ...sample, powerMilliwatts: Number.NaN }], powerPoints: [], gaps: [] } },
      { type: 'samples', runId: 'live-1', seq: 1, batch: { samples: [{ ...sample, tMs: Number.POSITIVE_INFINITY }], powerPoints: [], gaps: [] } },
      { type: 'samples', runId: 'live-1', seq: 1, batch: { samples: [{ ...sample, gpu: -1 }], powerPoints: [], gaps: [] } },
      { type: 'samples', runId: 'live-1', seq: 1, batch: { samples: 'many', powerPoints: [], gaps: [] } },
      { type: 'samples', runId: 'x'.repeat(100_000), batch: okBatch },
      { type: 'samples', runId: 'some-other-run', batch: okBatch },
      { type: 'runEnded', summary: { ...summaryOf('live-1', 'n', all, gpus), energyJ: '1' } },
      { type: 'findings', runId: 'live-1', findings: [{ id: 'c', code: 'c', severity: 'fatal', title: 't', message: 'm', startS: 1, endS: 2, stretches: [], energyJ: 1, wastedJ: 1, static: false }] },
      { type: 'showRuns', view: 'run', runs: [] },
      { type: 'notice', level: 'info', message: 'x'.repeat(100_000) },
      { type: 'init', history: [{ ...summaryOf('a', 'a', all, gpus), startedAt: 'yesterday' }] },
    ];
    for (const m of bad) await p.post(m);
    let st = await p.settle();
    assert.equal(st.dropped, bad.length);
    assert.equal(st.errors, 0);
    assert.deepEqual(st.samplesPerGpu, { 0: 10, 1: 10 });
    assert.equal(st.shownRunId, 'live-1');
    const logs = (await p.posted()).filter((m): m is Extract<FromPanel, { type: 'log' }> => m.type === 'log');
    assert.equal(logs.length, bad.length);
    assert.ok(logs.every((l) => l.level === 'warn' && l.message.length < 200));
    await p.post({ type: 'samples', runId: 'live-1', seq: 1, batch: okBatch } satisfies ToPanel);
    st = await p.settle();
    assert.deepEqual(st.samplesPerGpu, { 0: 20, 1: 20 }, 'still works after the flood');
    // A re-sent batch (same sequence number) is recognised, not counted twice.
    await p.post({ type: 'samples', runId: 'live-1', seq: 1, batch: okBatch } satisfies ToPanel);
    st = await p.settle();
    assert.deepEqual(st.samplesPerGpu, { 0: 20, 1: 20 });
    assert.equal(st.batchesSkipped.duplicate, 1);
    p.consoleErrors.length = 0;
  });

  it('follows the theme: body class and variables change the chart colours (screenshots in .work/)', async () => {
    const p = await open({ theme: 'dark' });
    const live = runView(runningSummary('live-1', 'train.py --phased'), gpus, all, { markers: traceMarkers, findings: traceFindings(s0) });
    await p.post({ type: 'init', live, history: [] } satisfies ToPanel);
    let st = await p.settle();
    assert.equal(st.theme, 'dark');
    assert.deepEqual(st.charts.power?.map((d) => d.color), ['#3794ff', '#d18616', '#f14c4c']);
    const darkBg = await p.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await p.screenshot('panel-dark.png');

    await p.setTheme('light');
    await p.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { theme: string } }).__joulesPanelState.theme === 'light');
    st = await p.settle();
    assert.deepEqual(st.charts.power?.map((d) => d.color), ['#1a85ff', '#d18616', '#e51400']);
    assert.equal(st.charts.energy?.[0]?.color, '#3b3b3b', 'the total follows --vscode-foreground');
    assert.notEqual(await p.page.evaluate(() => getComputedStyle(document.body).backgroundColor), darkBg);
    await p.screenshot('panel-light.png');

    await p.setTheme('high-contrast');
    await p.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { theme: string } }).__joulesPanelState.theme === 'high-contrast');
    st = await p.settle();
    assert.equal(st.palette.lineWidth, 2);
    await p.screenshot('panel-high-contrast.png');
  });

  it('opened in the middle of a run: a snapshot, then every batch after it, to the end of the run (no freeze, no gap, no duplicate)', async () => {
    const bs = batches(all);
    let seq = 0;
    let live: RunView = { ...runView(runningSummary('live-1', 'train.py'), gpus, []), seq: 0 };
    let ended = false;
    const source: PanelRunSource = {
      current: () => (ended ? undefined : live),
      history: () => Promise.resolve([]),
      load: () => Promise.resolve(undefined),
      range: () => Promise.resolve(undefined),
      exportRuns: () => Promise.resolve(),
    };
    const session = new PanelSession(source, { info: () => undefined, warn: () => undefined, error: () => undefined });
    const produce = (b: GpuSample[]): void => {
      live = { ...live, samples: [...live.samples, ...b], seq: ++seq };
      session.samples({ runId: 'live-1', seq, batch: { samples: b, powerPoints: [], gaps: [] } });
    };
    // A third of the run has gone by before the panel exists.
    const third = Math.floor(bs.length / 3);
    for (const b of bs.slice(0, third)) produce(b);
    // Like VS Code, messages posted before the page exists are delivered once it does, in order.
    let pageReady: (p: PanelPage) => void = () => undefined;
    const pageP = new Promise<PanelPage>((r) => (pageReady = r));
    let chain = Promise.resolve();
    session.attach({ visible: true, post: (m) => { chain = chain.then(async () => (await pageP).post(m)); return chain.then(() => true); } });
    const page = await open({ toHost: (m) => void session.receive(m) });
    pageReady(page);
    await page.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { received: Record<string, number> } }).__joulesPanelState.received.init === 1);
    let st = await page.settle();
    assert.equal(st.seq, third, 'the snapshot says which batches it holds');
    // A batch re-sent by the host after the snapshot is skipped; one lost in transit triggers a new snapshot.
    await page.post({ type: 'samples', runId: 'live-1', seq: third, batch: { samples: bs[third - 1] ?? [], powerPoints: [], gaps: [] } });
    for (const b of bs.slice(third)) {
      produce(b);
      await new Promise((r) => setTimeout(r, 0));
    }
    ended = true;
    session.runEnded(summaryOf('live-1', 'train.py', all, gpus));
    await chain;
    st = await page.settle();
    assert.equal(st.seq, bs.length);
    assert.deepEqual(st.batchesSkipped, { duplicate: 1, gap: 0 });
    assert.deepEqual(st.samplesPerGpu, { 0: s0.length, 1: s1.length }, 'the charts reach the end of the run');
    assert.equal(st.charts.power?.[0]?.last?.x, (s0.at(-1)?.tMs ?? 0) / 1000);
    assert.equal(st.cards.find((c) => c.key === 'energy')?.detail, formatJoules(ref.energyJ));
  });

  it('labels the demo a replay, never "Live", and its cards show the host\'s live figures (the run\'s GPU only)', async () => {
    const p = await open();
    const live = { elapsedS: 10, energyJ: 3000, powerW: 300, avgPowerW: 300, peakPowerW: 300, avgUtilPct: 100, countedGpus: [0], energyMethod: 'counter' as const };
    await p.post({ type: 'init', live: { ...runView({ ...runningSummary('demo-1', 'demo: recorded H200 phased load'), replay: true }, gpus, all.slice(0, 200)), seq: 0, live }, history: [] } satisfies ToPanel);
    const st = await p.settle();
    assert.equal(await p.page.textContent('.run-title'), 'Replay: demo: recorded H200 phased load');
    // Two GPUs were sent, the run uses GPU 0: the cards count it alone, as the status bar does.
    assert.equal(st.figures?.energyJ, 3000);
    assert.equal(st.cards.find((c) => c.key === 'energy')?.detail, formatJoules(3000));
    assert.equal(st.cards.find((c) => c.key === 'avgPower')?.value, '300 W');
  });

  it('asks for a new snapshot when a batch went missing, instead of drawing a run with a hole', async () => {
    const p = await open();
    await p.post({ type: 'init', live: { ...runView(runningSummary('live-1', 'train.py'), gpus, all.slice(0, 20)), seq: 4 }, history: [] } satisfies ToPanel);
    await p.settle();
    await p.post({ type: 'samples', runId: 'live-1', seq: 6, batch: { samples: all.slice(20, 40), powerPoints: [], gaps: [] } } satisfies ToPanel);
    const st = await p.settle();
    assert.deepEqual(st.samplesPerGpu, { 0: 10, 1: 10 }, 'the batch after the hole is not drawn');
    assert.equal(st.batchesSkipped.gap, 1);
    assert.equal((await p.posted()).filter((m) => m.type === 'ready').length, 2, 'ready again: the host answers with a full init');
  });

  it('hidden then visible: nothing is posted while hidden and the rebuilt page catches up from init', async () => {
    let live: RunView = runView(runningSummary('live-1', 'train.py'), gpus, [], { markers: traceMarkers });
    const source: PanelRunSource = {
      current: () => live,
      history: () => Promise.resolve([]),
      load: () => Promise.resolve(undefined),
      range: () => Promise.resolve(undefined),
      exportRuns: () => Promise.resolve(),
    };
    const session = new PanelSession(source, { info: () => undefined, warn: () => undefined, error: () => undefined });
    let page: PanelPage | undefined;
    let visible = true;
    // Like VS Code, hold messages posted before the page exists and deliver them once it does.
    const queued: ToPanel[] = [];
    session.attach({
      get visible() { return visible; },
      post: async (m) => {
        if (page) await page.post(m);
        else queued.push(m);
        return true;
      },
    });
    const flushQueued = async (): Promise<void> => {
      for (const m of queued.splice(0)) await page?.post(m);
    };
    const toHost = (m: FromPanel): void => void session.receive(m);

    page = await open({ toHost });
    await flushQueued();
    await page.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { received: Record<string, number> } }).__joulesPanelState.received.init === 1);
    const bs = batches(all);
    const half = Math.floor(bs.length / 2);
    let seq = 0;
    const deliver = async (b: GpuSample[]): Promise<void> => {
      live = { ...live, samples: [...live.samples, ...b], seq: ++seq };
      session.samples({ runId: 'live-1', seq, batch: { samples: b, powerPoints: [], gaps: [] } });
      await new Promise((r) => setTimeout(r, 0));
    };
    for (const b of bs.slice(0, half)) await deliver(b);
    await page.page.click('vscode-tab-header[data-tab="history"]');
    let st = await page.settle();
    const seen = st.samplesPerGpu;
    assert.ok((seen['0'] ?? 0) > 0);

    // VS Code hides the panel and, with retainContextWhenHidden off, destroys the page.
    visible = false;
    session.visibilityChanged(false);
    const saved = await page.savedState();
    const postedBefore = session.counters.posted;
    await page.page.close();
    pages.splice(pages.indexOf(page), 1);
    page = undefined;
    for (const b of bs.slice(half)) await deliver(b);
    assert.equal(session.counters.posted, postedBefore, 'a hidden panel receives nothing');

    // Shown again: a fresh page with the saved UI state says ready and gets everything.
    visible = true;
    page = await open({ toHost, savedState: saved });
    await flushQueued();
    session.visibilityChanged(true);
    await page.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { samplesPerGpu: Record<string, number> } }).__joulesPanelState.samplesPerGpu['0'] === 597);
    st = await page.settle();
    assert.deepEqual(st.samplesPerGpu, { 0: s0.length, 1: s1.length });
    assert.equal(st.tab, 'history', 'the tab the user was on comes back');
    close(st.figures?.energyJ, ref.energyJ);
  });

  it('export buttons ask the host for the shown run(s) in the chosen format', async () => {
    const p = await open();
    const past = runView(summaryOf('past-1', 'baseline', s0, [h200Info(0)]), [h200Info(0)], s0);
    await p.post({ type: 'init', history: [past.summary], selected: [past] } satisfies ToPanel);
    await p.settle();
    await p.page.click('#run-export-csv');
    await p.page.click('#run-export-json');
    const exports = (await p.posted()).filter((m) => m.type === 'export');
    assert.deepEqual(exports, [
      { type: 'export', runIds: ['past-1'], format: 'csv' },
      { type: 'export', runIds: ['past-1'], format: 'json' },
    ]);
  });

  it('a stored run sent as its overview columns (no sample objects) draws every bucket\'s min and max', async () => {
    const p = await open();
    const view = new MinMaxView(100);
    for (const x of s0) view.add(x);
    view.add({ tMs: s0.at(-1)!.tMs + 100, gpu: 0, powerMilliwatts: 987_000 });
    const stored = { ...runView(summaryOf('past-1', 'baseline', s0, [h200Info(0)]), [h200Info(0)], []), drawing: toColumnsView(view.allColumns(), 0, view.bucketMs) };
    await p.post({ type: 'init', history: [stored.summary], selected: [stored] } satisfies ToPanel);
    const st = await p.settle();
    assert.equal(st.shownRunId, 'past-1');
    const d = st.charts.power?.[0];
    assert.equal(d?.maxY, 987);
    assert.equal(d.minY, Math.min(...s0.map((x) => x.powerMilliwatts ?? Infinity)) / 1000);
  });

  it('zoom: a drag over the power chart asks the host for that range, draws its answer, ignores a stale one, and resets', async () => {
    const p = await open();
    const past = runView(summaryOf('past-1', 'baseline', s0, [h200Info(0)]), [h200Info(0)], s0);
    await p.post({ type: 'init', history: [past.summary], selected: [past] } satisfies ToPanel);
    let st = await p.settle();
    assert.equal(st.zoom, undefined);
    const wholeFirstX = st.charts.power?.[0]?.first?.x ?? NaN;
    const box = await p.page.locator('figure[data-chart="power"] canvas').boundingBox();
    assert.ok(box);
    const y = box.y + box.height / 2;
    await p.page.mouse.move(box.x + box.width * 0.4, y);
    await p.page.mouse.down();
    await p.page.mouse.move(box.x + box.width * 0.6, y, { steps: 4 });
    await p.page.mouse.up();
    const zooms = (await p.posted()).filter((m): m is Extract<FromPanel, { type: 'zoom' }> => m.type === 'zoom');
    assert.equal(zooms.length, 1);
    const z = zooms[0]!;
    const endS = s0.at(-1)!.tMs / 1000;
    assert.equal(z.runId, 'past-1');
    assert.ok(z.startMs > 0.2 * endS * 1000 && z.endMs < 0.8 * endS * 1000 && z.endMs > z.startMs, `${z.startMs}-${z.endMs} of ${endS} s`);
    st = await p.settle();
    assert.equal(st.zoom?.pending, true);

    // The host's answer: the range through its own min/max view, as typed columns.
    const answer = (requestId: number, scale: number): ToPanel => {
      const view = new MinMaxView(Math.max(1, (z.endMs - z.startMs) / 2047), 2048, z.startMs);
      for (const x of s0) if (x.tMs >= z.startMs && x.tMs <= z.endMs) view.add({ ...x, powerMilliwatts: (x.powerMilliwatts ?? 0) * scale });
      return { type: 'range', range: { runId: 'past-1', requestId, startMs: z.startMs, endMs: z.endMs, bucketMs: view.bucketMs, columns: view.allColumns().map(toRangeColumnsView) } };
    };
    await p.post(answer(z.requestId, 1));
    st = await p.settle();
    assert.equal(st.zoom?.pending, false);
    const d = st.charts.power?.[0];
    const inRange = s0.filter((x) => x.tMs >= z.startMs && x.tMs <= z.endMs);
    assert.ok(d?.first && d.last && d.first.x >= z.startMs / 1000 && d.last.x <= z.endMs / 1000, `${JSON.stringify(d?.first)} .. ${JSON.stringify(d?.last)}`);
    assert.equal(d.maxY, Math.max(...inRange.map((x) => x.powerMilliwatts ?? 0)) / 1000, 'the range\'s peak is drawn');
    assert.match(await p.page.locator('.zoom-text').innerText(), /at full resolution/);
    await p.screenshot('panel-zoom.png');

    // An answer to an earlier request (the user zoomed again meanwhile) changes nothing.
    await p.post(answer(z.requestId + 100, 3));
    st = await p.settle();
    assert.equal(st.charts.power?.[0]?.maxY, d.maxY);

    await p.page.click('#zoom-reset');
    st = await p.settle();
    assert.equal(st.zoom, undefined);
    assert.equal(st.charts.power?.[0]?.first?.x, wholeFirstX, 'back to the whole run');

    // The range control does the same from the keyboard.
    await p.page.fill('#zoom-from', '10');
    await p.page.fill('#zoom-to', '20');
    await p.page.click('#zoom-apply');
    const typed = (await p.posted()).filter((m): m is Extract<FromPanel, { type: 'zoom' }> => m.type === 'zoom').at(-1);
    assert.deepEqual(typed && [typed.startMs, typed.endMs], [10_000, 20_000]);
  });

  it('keyboard: Tab reaches the tabs, run actions and GPU toggles; arrows and Enter switch tabs; Enter opens a run', async () => {
    const p = await open();
    const past = summaryOf('past-1', 'baseline', s0, [h200Info(0)]);
    await p.post({ type: 'init', live: runView(runningSummary('live-1', 'train.py'), gpus, all), history: [past] } satisfies ToPanel);
    await p.settle();
    const stops: string[] = [];
    for (let i = 0; i < 8; i++) {
      await p.page.keyboard.press('Tab');
      stops.push(await p.focused());
    }
    for (const want of ['vscode-tab-header#run', 'vscode-button#run-export-csv', 'vscode-button#run-export-json', 'vscode-checkbox#']) {
      assert.ok(stops.some((s) => s.startsWith(want)), `${want} not in ${stops.join(', ')}`);
    }
    // Enter on a focused export button is a click.
    await p.page.focus('#run-export-csv');
    await p.page.keyboard.press('Enter');
    assert.ok((await p.posted()).some((m) => m.type === 'export' && m.format === 'csv'));
    // Tab headers: arrows move, Enter selects.
    await p.page.focus('vscode-tab-header[data-tab="run"]');
    await p.page.keyboard.press('ArrowRight');
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { tab: string } }).__joulesPanelState.tab === 'history');
    await p.page.focus('button[data-open="past-1"]');
    await p.page.keyboard.press('Enter');
    assert.ok((await p.posted()).some((m) => m.type === 'selectRun' && m.runId === 'past-1'));
  });

  it('history and comparison: tick runs, compare, deltas match the summaries, align by time or step', async () => {
    const p = await open({ height: 1000 });
    const g0 = [h200Info(0)];
    const a = runView(summaryOf('run-a', 'bs=32 before', s0, g0, { steps: 300 }), g0, s0, { steps: stepsEvery(0.1, 30) });
    // "The fix": the same work finishing at 24.7 s at 90 % of the power.
    const fixedRows = rows.filter((r) => r.t <= 24.7);
    const sb = traceSamples(fixedRows, 0, 0.9);
    const b = runView(summaryOf('run-b', 'bs=32 with prefetch', sb, g0, { steps: 300, startedAt: '2025-11-20T11:00:00.000Z' }), g0, sb, { steps: stepsEvery(24.7 / 300, 24.7) });
    await p.post({ type: 'init', history: [a.summary, b.summary] } satisfies ToPanel);
    await p.page.click('vscode-tab-header[data-tab="history"]');
    await p.settle();
    // History's J/step column: the run's energy over the steps it reported.
    const jPerStepCells = await p.page.$$eval('tr[data-run] td:last-child', (tds) => tds.map((t) => t.textContent));
    assert.deepEqual([...jPerStepCells].sort(), [formatSig(a.summary.energyJ / 300), formatSig(b.summary.energyJ / 300)].sort());
    await p.page.click('vscode-checkbox[data-run="run-a"]');
    await p.page.click('vscode-checkbox[data-run="run-b"]');
    await p.page.click('#compare-selected');
    assert.deepEqual((await p.posted()).filter((m) => m.type === 'compare'), [{ type: 'compare', runIds: ['run-a', 'run-b'] }]);
    await p.screenshot('history-dark.png');

    await p.post({ type: 'showRuns', view: 'compare', runs: [a, b] } satisfies ToPanel);
    let st = await p.settle();
    assert.equal(st.tab, 'compare');
    const rowsB = st.compare.rows[0] ?? [];
    const get = (m: string): (typeof rowsB)[number] | undefined => rowsB.find((r) => r.metric === m);
    close(get('energyJ')?.delta, b.summary.energyJ - a.summary.energyJ);
    close(get('energyJ')?.deltaPct, (100 * (b.summary.energyJ - a.summary.energyJ)) / a.summary.energyJ);
    close(get('durationS')?.delta, b.summary.durationS - a.summary.durationS);
    close(get('avgPowerW')?.delta, b.summary.avgPowerW - a.summary.avgPowerW);
    close(get('jPerStep')?.delta, b.summary.energyJ / 300 - a.summary.energyJ / 300);
    const saved = a.summary.energyJ - b.summary.energyJ;
    assert.equal(st.compare.verdicts[0], `bs=32 with prefetch used ${Math.round(saved).toLocaleString('en-US')} J (${((100 * saved) / a.summary.energyJ).toFixed(1)} %) less energy than bs=32 before.`);
    const energyRow = await p.page.$$eval('.deltas tr[data-metric="energyJ"] td', (tds) => tds.map((t) => t.textContent));
    assert.equal(energyRow[2], `−${Math.round(saved).toLocaleString('en-US')} J (−${((100 * saved) / a.summary.energyJ).toFixed(1)} %)`);
    assert.deepEqual(st.compare.charts.power?.map((d) => d.label), ['bs=32 before', 'bs=32 with prefetch']);
    close(st.compare.charts.energy?.[1]?.last?.y, b.summary.energyJ / 3600, 1e-6);
    assert.equal(st.compare.align, 'time');
    assert.equal(st.compare.stepAvailable, true);
    await p.screenshot('compare-time-dark.png');

    await p.page.click('vscode-radio[value="step"]');
    await p.page.waitForFunction(() => (window as unknown as { __joulesPanelState: { compare: { align: string } } }).__joulesPanelState.compare.align === 'step');
    st = await p.settle();
    close(st.compare.charts.power?.[0]?.last?.x, 300, 1.5);
    close(st.compare.charts.power?.[1]?.last?.x, 300, 1.5);
    await p.screenshot('compare-step-dark.png');

    await p.page.click('#compare-export-json');
    assert.deepEqual((await p.posted()).filter((m) => m.type === 'export'), [{ type: 'export', runIds: ['run-a', 'run-b'], format: 'json' }]);

    // Two runs of the same script: told apart by their start times, in the verdict, legend and charts.
    const same = (v: typeof a, id: string): typeof a => ({ ...v, summary: { ...v.summary, id, name: 'train.py' } });
    await p.post({ type: 'showRuns', view: 'compare', runs: [same(a, 'run-c'), same(b, 'run-d')] } satisfies ToPanel);
    st = await p.settle();
    const labels = st.compare.charts.power?.map((d) => d.label) ?? [];
    assert.equal(labels.length, 2);
    assert.ok(labels.every((l) => l.startsWith('train.py (')), JSON.stringify(labels));
    assert.notEqual(labels[0], labels[1]);
    assert.equal(st.compare.verdicts[0], `${labels[1]} used ${Math.round(saved).toLocaleString('en-US')} J (${((100 * saved) / a.summary.energyJ).toFixed(1)} %) less energy than ${labels[0]}.`);

    // Two GPUs sampled, the run used GPU 0: the compare lines count GPU 0, as the table does.
    const twoGpu = (id: string): RunView => {
      const v = runView(summaryOf(id, `${id}.py`, s0, gpus), gpus, all);
      return { ...v, summary: { ...v.summary, countedGpus: [0] } };
    };
    const [c, d] = [twoGpu('run-e'), twoGpu('run-f')];
    await p.post({ type: 'showRuns', view: 'compare', runs: [c, d] } satisfies ToPanel);
    st = await p.settle();
    close(st.compare.charts.energy?.[0]?.last?.y, c.summary.energyJ / 3600, 1e-6);
    close(st.compare.rows[0]?.find((r) => r.metric === 'energyJ')?.a, c.summary.energyJ);
  });
});
