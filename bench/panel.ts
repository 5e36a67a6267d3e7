// Energy panel render cost in headless Chromium: one hour of 10 Hz samples on 8 GPUs (36,000
// samples per GPU, 288,000 points per metric, 6 charts), then live updates of 0.25 s batches
// (2-3 samples per GPU). Prints the initial render, per-update p50/p95/max, full-redraw cost,
// JS heap after GC as updates pile up, and the same work with decimation off.
// Then the load path of a stored run (1 h x 8 GPUs written through the real store): the host's read
// (the run's overview file, and the first open that builds it), the message as VS Code sends it
// (JSON), the page's parse + ingest + first paint; side by side with sending every sample as objects
// (what opening a run cost before the overview file).
// The last line is `update-p95-ms <number>`: p95 of (validate + ingest + redraw) plus the style,
// layout and paint of the frame that shows it.
//
// Run: npx tsx bench/panel.ts   (builds the minified bundle; needs /usr/bin/chromium)
// BENCH_UPDATES=n changes the number of live updates (default 400).
import * as fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import type { GpuInfo } from '../src/core/sampler/types';
import type { RunSummaryView } from '../src/core/protocol/panel';
import { toColumnsView } from '../src/core/protocol/panel';
import type { ToPanel } from '../src/core/protocol/panel';
import { rowToSample, streamSampleRows } from '../src/core/runs/sampleReader';
import { RunStore } from '../src/core/runs/store';
import { storedRunDrawing } from '../src/core/runs/storedRunView';
import type { GpuSample } from '../src/core/sampler/types';
import { toRunView } from '../src/vscode/runViews';
import { writeSyntheticRun } from '../test/support/syntheticRun';
import { buildBundle, launch, openPanel, PanelServer } from '../test/browser/support/harness';
import { h200Info, readTrace, runningSummary } from '../test/support/trace';

const gpuCount = 8;
const hz = 10;
const hourSamples = 3600 * hz;
const liveUpdates = Number(process.env.BENCH_UPDATES ?? 400);

/** Per-tick values to loop over (the recorded H200 trace), offset per GPU. */
interface Shape {
  power: number[];
  util: number[];
  mem: number[];
  sm: number[];
  temp: number[];
}

interface Timing {
  jsMs: number;
  /** Style, layout and paint of the next frame (from its rAF callback to the task after it). */
  frameMs: number;
}

interface BenchWindow {
  __joulesPanelDebug: { receive(m: unknown): void; renderNow(force?: boolean): void; setDecimation(on: boolean): void };
  __joulesPanelState: { bucketLimit: number; columnBytes: number; charts: Record<string, { points: number; redraws: number }[]> };
  __bench: { next: number; energy: number[]; shape: Shape; gpuCount: number; hz: number };
}

// Page-side functions. No named inner functions: tsx's keepNames would call a helper the page lacks.

async function pageSetup(a: { shape: Shape; gpus: GpuInfo[]; summary: RunSummaryView; gpuCount: number; hz: number; hourSamples: number; decimate: boolean }): Promise<{ ingestMs: number; firstRenderMs: number }> {
  const w = window as unknown as BenchWindow;
  const len = a.shape.power.length;
  const energy = new Array<number>(a.gpuCount).fill(0);
  const samples: unknown[] = [];
  for (let i = 0; i < a.hourSamples; i++) {
    for (let k = 0; k < a.gpuCount; k++) {
      const r = (i + k * 37) % len;
      const p = a.shape.power[r] as number;
      energy[k] = (energy[k] as number) + p / a.hz;
      samples.push({ tMs: (i * 1000) / a.hz, gpu: k, powerMilliwatts: p, utilGpuPct: a.shape.util[r], memUsedBytes: a.shape.mem[r], smClockMhz: a.shape.sm[r], temperatureC: a.shape.temp[r], energyMillijoules: energy[k] });
    }
  }
  w.__bench = { next: a.hourSamples, energy, shape: a.shape, gpuCount: a.gpuCount, hz: a.hz };
  w.__joulesPanelDebug.setDecimation(a.decimate);
  let t = performance.now();
  w.__joulesPanelDebug.receive({ type: 'init', live: { summary: a.summary, gpus: a.gpus, samples }, history: [] });
  const ingestMs = performance.now() - t;
  t = performance.now();
  w.__joulesPanelDebug.renderNow();
  return { ingestMs, firstRenderMs: performance.now() - t };
}

/** One live update of `ticks` sampler ticks (0.25 s at 10 Hz is 2 or 3), timed to the frame that shows it. */
async function pageUpdate(a: { runId: string; ticks: number; force: boolean }): Promise<Timing> {
  const w = window as unknown as BenchWindow;
  const b = w.__bench;
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  const batch: unknown[] = [];
  for (let i = b.next; i < b.next + a.ticks; i++) {
    for (let k = 0; k < b.gpuCount; k++) {
      const r = (i + k * 37) % b.shape.power.length;
      const p = b.shape.power[r] as number;
      b.energy[k] = (b.energy[k] as number) + p / b.hz;
      batch.push({ tMs: (i * 1000) / b.hz, gpu: k, powerMilliwatts: p, utilGpuPct: b.shape.util[r], memUsedBytes: b.shape.mem[r], smClockMhz: b.shape.sm[r], temperatureC: b.shape.temp[r], energyMillijoules: b.energy[k] });
    }
  }
  b.next += a.ticks;
  const t = performance.now();
  if (a.ticks > 0) w.__joulesPanelDebug.receive({ type: 'samples', runId: a.runId, batch: { samples: batch, powerPoints: [], gaps: [] } });
  w.__joulesPanelDebug.renderNow(a.force);
  const jsMs = performance.now() - t;
  // The task after the next rAF callback runs once that frame's style, layout and paint are done.
  const frameMs = await new Promise<number>((r) => requestAnimationFrame(() => {
    const f = performance.now();
    setTimeout(() => r(performance.now() - f), 0);
  }));
  return { jsMs, frameMs };
}

/** The page's side of opening a stored run: parse the JSON VS Code delivers, ingest, first paint. */
async function pageLoad(a: { text: string; init: string }): Promise<{ parseMs: number; ingestMs: number; renderMs: number; paintMs: number }> {
  const w = window as unknown as BenchWindow;
  w.__joulesPanelDebug.receive(JSON.parse(a.init));
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  let t = performance.now();
  const msg = JSON.parse(a.text) as unknown;
  const parseMs = performance.now() - t;
  t = performance.now();
  w.__joulesPanelDebug.receive(msg);
  const ingestMs = performance.now() - t;
  t = performance.now();
  w.__joulesPanelDebug.renderNow(true);
  const renderMs = performance.now() - t;
  const paintMs = await new Promise<number>((r) => requestAnimationFrame(() => {
    const f = performance.now();
    setTimeout(() => r(performance.now() - f), 0);
  }));
  return { parseMs, ingestMs, renderMs, paintMs };
}

// Node side.

async function threadTimeMs(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return (metrics.find((m) => m.name === 'ThreadTime')?.value ?? Number.NaN) * 1000;
}

async function heapUsed(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  return (await cdp.send('Runtime.getHeapUsage')).usedSize;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

const ms = (v: number, digits = 2): string => `${v.toFixed(digits)} ms`;
const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;
const spread = (xs: number[]): string => `p50 ${ms(pct(xs, 50))}, p95 ${ms(pct(xs, 95))}, max ${ms(Math.max(...xs))}`;

interface CaseResult {
  ingestMs: number;
  firstRenderMs: number;
  updates: Timing[];
  cpuMs: number[];
  full: Timing[];
  heap: number[];
  columnBytes: number;
  points: number;
  bucketLimit: number;
  liveRedraws: number;
}

async function runCase(page: Page, shape: Shape, decimate: boolean, updates: number, fullRedraws: number): Promise<CaseResult> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const summary = runningSummary('bench-hour', 'bench: 1 h, 8 GPUs, 10 Hz');
  const gpus = Array.from({ length: gpuCount }, (_, i) => h200Info(i));
  const heap = [await heapUsed(cdp)];
  const setup = await page.evaluate(pageSetup, { shape, gpus, summary, gpuCount, hz, hourSamples, decimate });
  // Also collects the 288k-object init message, which would otherwise land in the first update.
  heap.push(await heapUsed(cdp));
  const redrawCount = (): Promise<number> => page.evaluate(() => Object.values((window as unknown as BenchWindow).__joulesPanelState.charts).reduce((a, c) => a + (c[0]?.redraws ?? 0), 0));
  const redrawsBefore = await redrawCount();
  const timings: Timing[] = [];
  const cpuMs: number[] = [];
  for (let u = 0; u < updates; u++) {
    if (u === Math.floor(updates / 2)) heap.push(await heapUsed(cdp));
    const before = await threadTimeMs(cdp);
    timings.push(await page.evaluate(pageUpdate, { runId: summary.id, ticks: u % 2 === 0 ? 3 : 2, force: false }));
    cpuMs.push((await threadTimeMs(cdp)) - before);
  }
  const liveRedraws = (await redrawCount()) - redrawsBefore;
  const full: Timing[] = [];
  for (let i = 0; i < fullRedraws; i++) full.push(await page.evaluate(pageUpdate, { runId: summary.id, ticks: 0, force: true }));
  heap.push(await heapUsed(cdp));
  const st = await page.evaluate(() => {
    const s = (window as unknown as BenchWindow).__joulesPanelState;
    return { bucketLimit: s.bucketLimit, columnBytes: s.columnBytes, points: Object.values(s.charts).reduce((a, c) => a + c.reduce((b, d) => b + d.points, 0), 0) };
  });
  return { ...setup, ...st, updates: timings, cpuMs, full, heap, liveRedraws };
}

interface LoadResult {
  label: string;
  hostMs: number;
  bytes: number;
  stringifyMs: number;
  page: { parseMs: number; ingestMs: number; renderMs: number; paintMs: number };
}

/** A stored 1 h x 8 GPU run opened both ways, each in a fresh page. */
async function loadPath(browser: Awaited<ReturnType<typeof launch>>, base: string): Promise<{ rebuildMs: number; results: LoadResult[] }> {
  const root = fs.mkdtempSync(path.join(tmpdir(), 'joules-bench-panel-'));
  try {
    const store = new RunStore(root);
    const id = 'bench-stored-1h-8gpu';
    writeSyntheticRun(store, { id, gpus: gpuCount, durationS: 3600, hz });
    const summary = store.readMeta(id);
    if (!summary) throw new Error('the synthetic run was not stored');
    const init = JSON.stringify({ type: 'init', history: [toRunView({ summary, gpus: summary.gpuInfo, samples: [] }).summary] } satisfies ToPanel);
    // First open of a run stored without an overview (an older run): built once, then cached.
    const t = performance.now();
    await storedRunDrawing(store, id);
    const rebuildMs = performance.now() - t;
    const results: LoadResult[] = [];
    const measure = async (label: string, build: () => Promise<ToPanel>): Promise<void> => {
      const t0 = performance.now();
      const msg = await build();
      const hostMs = performance.now() - t0;
      const t1 = performance.now();
      const text = JSON.stringify(msg);
      const stringifyMs = performance.now() - t1;
      const p = await openPanel(browser, base, { testMode: true, width: 1200, height: 900 });
      const page = await p.page.evaluate(pageLoad, { text, init });
      await p.page.close();
      results.push({ label, hostMs, bytes: Buffer.byteLength(text), stringifyMs, page });
    };
    await measure('overview file (what Joules sends)', async () => {
      const drawn = await storedRunDrawing(store, id);
      if (!drawn) throw new Error('no drawing');
      const view = { ...toRunView({ summary: drawn.summary, gpus: drawn.summary.gpuInfo, samples: [], gaps: drawn.gaps }), drawing: toColumnsView(drawn.columns, 0, drawn.bucketMs) };
      return { type: 'showRuns', view: 'run', runs: [view] };
    });
    await measure('every sample as objects (before)', async () => {
      const samples: GpuSample[] = [];
      await streamSampleRows(store.samplesFile(id), { row: (v, o) => samples.push(rowToSample(v, o)) });
      return { type: 'showRuns', view: 'run', runs: [toRunView({ summary, gpus: summary.gpuInfo, samples })] };
    });
    return { rebuildMs, results };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  buildBundle(true);
  const rows = readTrace();
  const shape: Shape = {
    power: rows.map((r) => r.power_mW),
    util: rows.map((r) => r.util),
    mem: rows.map((r) => Number(r.memUsed)),
    sm: rows.map((r) => r.sm_MHz),
    temp: rows.map((r) => r.temp),
  };
  const server = new PanelServer();
  const base = await server.start();
  const browser = await launch();
  try {
    const results: CaseResult[] = [];
    for (const decimate of [true, false]) {
      const p = await openPanel(browser, base, { testMode: true, width: 1200, height: 900 });
      results.push(await runCase(p.page, shape, decimate, decimate ? liveUpdates : 5, decimate ? 20 : 2));
      await p.page.close();
    }
    const [d, raw] = results as [CaseResult, CaseResult];
    const total = (t: Timing): number => t.jsMs + t.frameMs;
    const added = Math.floor(liveUpdates / 2) * 2.5 * gpuCount;
    console.log(`panel bench: ${gpuCount} GPUs x ${hourSamples} samples (1 h at ${hz} Hz) = ${hourSamples * gpuCount} points per metric, 6 charts; Chromium ${browser.version()} headless, software rendering; load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} CPUs`);
    console.log(`decimation: plot width ${d.bucketLimit} px -> ${d.points} points handed to Chart.js over all charts (undecimated: ${raw.points})`);
    console.log(`initial: validate + ingest ${ms(d.ingestMs, 0)}, first render ${ms(d.firstRenderMs, 1)} (undecimated ${ms(raw.firstRenderMs, 0)}, ${(raw.firstRenderMs / d.firstRenderMs).toFixed(1)}x)`);
    console.log(`live update, ${d.updates.length} x 0.25 s batches (${2 * gpuCount}-${3 * gpuCount} samples): JS (validate + ingest + redraw) ${spread(d.updates.map((t) => t.jsMs))}`);
    const totals = d.updates.map(total);
    console.log(`  including the frame that shows it (style, layout, paint): ${spread(totals)} (slowest: update #${totals.indexOf(Math.max(...totals)) + 1})`);
    console.log(`  renderer main-thread CPU per update (with the benchmark's own DevTools calls): ${spread(d.cpuMs)}`);
    console.log(`  chart redraws: ${d.liveRedraws} of ${6 * d.updates.length} (a chart redraws at once on a new pixel column or axis step, else its last column within ~1 s, one chart per render)`);
    console.log(`full redraw of all 6 charts (new column, resize, theme), ${d.full.length} times: ${spread(d.full.map(total))}; undecimated p50 ${ms(pct(raw.full.map(total), 50), 0)} (${(pct(raw.full.map(total), 50) / pct(d.full.map(total), 50)).toFixed(0)}x)`);
    console.log(`live update without decimation, ${raw.updates.length} updates: p50 ${ms(pct(raw.updates.map(total), 50), 0)} (${(pct(raw.updates.map(total), 50) / pct(d.updates.map(total), 50)).toFixed(0)}x the decimated p50)`);
    const [h0 = 0, hLoaded = 0, h1 = 0, h2 = 0] = d.heap;
    console.log(`JS heap after GC: empty panel ${mb(h0)}, 1 h loaded ${mb(hLoaded)}, + ${Math.floor(liveUpdates / 2)} updates ${mb(h1)}, + ${liveUpdates - Math.floor(liveUpdates / 2)} more ${mb(h2)} (${((h2 - h1) / added).toFixed(0)} B per added sample); sample columns (typed arrays, not in the JS heap figure) ${mb(d.columnBytes)}`);
    const load = await loadPath(browser, base);
    console.log(`stored run, 1 h x ${gpuCount} GPUs at ${hz} Hz: first open without an overview builds it in ${ms(load.rebuildMs, 0)} (once, then cached)`);
    for (const r of load.results) {
      const all = r.hostMs + r.stringifyMs + r.page.parseMs + r.page.ingestMs + r.page.renderMs + r.page.paintMs;
      console.log(`  ${r.label.padEnd(36)} host read ${ms(r.hostMs, 0)}, JSON ${mb(r.bytes)} in ${ms(r.stringifyMs, 0)}, page parse ${ms(r.page.parseMs, 0)}, ingest ${ms(r.page.ingestMs, 0)}, render ${ms(r.page.renderMs, 0)}, paint ${ms(r.page.paintMs, 0)}: ${ms(all, 0)} to the first painted frame`);
    }
    const [ov, objs] = load.results;
    if (ov && objs) {
      const sum = (r: LoadResult): number => r.hostMs + r.stringifyMs + r.page.parseMs + r.page.ingestMs + r.page.renderMs + r.page.paintMs;
      console.log(`load-vs-every-sample ${(sum(ov) / sum(objs)).toFixed(3)} (time), ${(ov.bytes / objs.bytes).toFixed(4)} (bytes)`);
    }
    console.log(`update-p95-ms ${pct(d.updates.map(total), 95).toFixed(2)}`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
