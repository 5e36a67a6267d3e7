/**
 * `npm run bench:longrun`: what the end of a long run costs. Runs of 1 min, 1 h, 8 h and 24 h on 1
 * and 8 GPUs at 10 Hz are synthesized through the real store (RunWriter, samples.jsonl; cached in
 * $JOULES_LONGRUN_CACHE or the temp folder, so a second run skips it), then each case is measured
 * in its own child process (so peak RSS is per case):
 *
 * - end of run: the session's figures (streaming accumulators fed as the samples arrived, as a
 *   live RunSession does) and the analysis (dist/analysisWorker.js: detectors + tree-sitter,
 *   streamed from the store), with the event loop's longest block while it runs;
 * - recovery: the same run found `running` with its monitor dead (RunStore.recoverInterrupted);
 * - panel open: building the message the panel receives for a stored run (the host side:
 *   storedRunDrawing reads the run's overview file, then the JSON message); "first open" is the
 *   same for a run stored without an overview (built once by streaming the samples, then cached);
 *   "zoom" reads 10 minutes from the middle of the run (the whole run when shorter) at full
 *   resolution by seeking through the overview's offset index, then the JSON `range` message;
 * - `joules fix`: the real CLI (dist/cli.js) against the run's script, wall time.
 *
 * The last line is `longrun-worst-main-thread-block-ms N` (target: under 50 at every length).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { analyzeInWorker } from '../src/core/analysis/analysisClient';
import { toColumnsView, toRangeColumnsView } from '../src/core/protocol/panel';
import { MinMaxView } from '../src/core/runs/minMaxView';
import { OffsetIndexBuilder, writeOverview } from '../src/core/runs/overview';
import { rowToSample, streamSampleRowsFrom } from '../src/core/runs/sampleReader';
import type { StoredRun } from '../src/core/runs/store';
import { RunStore, writeJsonAtomic } from '../src/core/runs/store';
import { storedRunDrawing, storedRunRange } from '../src/core/runs/storedRunView';
import { SummaryAccumulator } from '../src/core/runs/summary';
import { toRunView } from '../src/vscode/runViews';
import { writeSyntheticRun } from '../test/support/syntheticRun';

/** The checkout: bench/ from sources (tsx), dist/bench/ when bundled (to run where there is no npm). */
const ROOT = (() => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  throw new Error(`no package.json above ${__dirname}`);
})();
/** How to start this file again as a child: through tsx from sources, plainly when bundled. */
const SELF = __filename.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs'), __filename] : [__filename];
const DIST = path.join(ROOT, 'dist');
const SCRIPT = path.join(ROOT, 'test', 'integration', 'fixtures', 'workspace', 'findings_train.py');
const HZ = 10;
const CASES: Array<{ label: string; durationS: number; gpus: number }> = [];
for (const [label, durationS] of [['1 min', 60], ['1 h', 3600], ['8 h', 8 * 3600], ['24 h', 24 * 3600]] as const) {
  for (const gpus of [1, 8]) CASES.push({ label, durationS, gpus });
}
/** The recovery figure: a 12 h, 8-GPU run. */
const RECOVERY_EXTRA = { label: '12 h', durationS: 12 * 3600, gpus: 8 };

interface ChildResult {
  ok: boolean;
  error?: string;
  ms?: number;
  analysisMs?: number;
  blockMs?: number;
  rssMb?: number;
  /** RSS of the live session's state (view + figures) just before the end of the run. */
  rssBeforeMb?: number;
  bytes?: number;
  findings?: number;
  /** Panel child: the zoomed range read (ms), its longest block, and its message size. */
  zoomMs?: number;
  zoomBlockMs?: number;
  zoomBytes?: number;
}

function caseId(c: { durationS: number; gpus: number }): string {
  return `run-${c.durationS}s-${c.gpus}gpu-${HZ}hz`;
}

function cacheRoot(): string {
  return process.env.JOULES_LONGRUN_CACHE ?? path.join(os.tmpdir(), 'joules-longrun-cache');
}

/** The synthetic store of one case (written once, reused while the generator is unchanged). */
function ensureCase(c: { durationS: number; gpus: number }): { store: RunStore; id: string } {
  const root = path.join(cacheRoot(), 'runs');
  const store = new RunStore(root);
  const id = caseId(c);
  const done = path.join(root, id, '.complete');
  const generator = fs.statSync(path.join(ROOT, 'test', 'support', 'syntheticRun.ts')).mtimeMs;
  if (fs.existsSync(done) && Number(fs.readFileSync(done, 'utf8')) === generator) return { store, id };
  fs.rmSync(path.join(root, id), { recursive: true, force: true });
  const script = path.join(cacheRoot(), 'train.py');
  fs.mkdirSync(cacheRoot(), { recursive: true });
  fs.copyFileSync(SCRIPT, script);
  const t0 = performance.now();
  writeSyntheticRun(store, { id, gpus: c.gpus, durationS: c.durationS, hz: HZ, scriptPath: script });
  fs.writeFileSync(done, String(generator));
  process.stderr.write(`synthesized ${id}: ${(fs.statSync(store.samplesFile(id)).size / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return { store, id };
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Longest event-loop block while `fn` runs (1 ms resolution). */
async function watchingBlocks<T>(fn: () => Promise<T>): Promise<{ value: T; blockMs: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  // Let the monitor's timer observe the last stretch.
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return { value, blockMs: h.max / 1e6, ms };
}

/** Child: the end of a run, as RunSession does it once the process has exited. */
async function childEnd(root: string, id: string): Promise<ChildResult> {
  const store = new RunStore(root);
  const meta = store.readMeta(id)!;
  // During the run (not timed): every batch went through the session's bounded view and figures,
  // and the writer noted where each line went (the overview's offset index).
  const figures = new SummaryAccumulator(meta.gpuInfo);
  const view = new MinMaxView(1000 / HZ);
  const index = new OffsetIndexBuilder();
  const energies = new Map<number, number>();
  let samplesBytes = 0;
  await streamSampleRowsFrom(
    store.samplesFile(id),
    {
      row: (v, o) => {
        const s = rowToSample(v, o);
        figures.add(s);
        view.add(s);
        if (s.energyMillijoules !== undefined) energies.set(s.gpu, s.energyMillijoules);
      },
    },
    {
      onLine: (span) => {
        index.line(span.offset, span.samples, span.minMs, span.maxMs);
        samplesBytes = span.offset + span.bytes;
      },
    },
  );
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  const input = { gpus: meta.gpuInfo, runGpus: meta.runGpus, endMs: meta.durationS * 1000 };
  let analysisMs = 0;
  let findings = 0;
  const { blockMs, ms } = await watchingBlocks(async () => {
    const summary = { ...meta, ...figures.result({ ...input, energiesMj: energies, durationMs: input.endMs }) };
    const t0 = performance.now();
    const result = await analyzeInWorker(
      { ...input, summary, samplesFile: store.samplesFile(id) },
      { workerFile: path.join(DIST, 'analysisWorker.js'), wasmDir: path.join(DIST, 'wasm') },
    );
    analysisMs = performance.now() - t0;
    findings = result.findings.length;
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-longrun-end-'));
    writeJsonAtomic(path.join(outDir, 'run.json'), { ...summary, findings: result.summaries });
    // The stored run's overview, from the live view (RunWriter.writeOverview): no pass over the samples.
    writeOverview(outDir, { runId: id, samples: view.sampleCount, samplesBytes, malformedLines: 0, capacity: view.capacity, bucketMs: view.bucketMs, columns: view.allColumns(), gaps: [], index: index.result() });
    fs.rmSync(outDir, { recursive: true, force: true });
  });
  return { ok: true, ms, analysisMs, blockMs, rssMb: peakRssMb(), rssBeforeMb, findings };
}

/** Child: recovery of the run left `running` by a dead monitor (a private copy of its run.json). */
async function childRecover(root: string, id: string): Promise<ChildResult> {
  const meta = new RunStore(root).readMeta(id)!;
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-longrun-recover-'));
  try {
    fs.mkdirSync(path.join(tmpRoot, id));
    const running: StoredRun = { ...meta, status: 'running', durationS: 0, energyJ: 0, gpus: [], monitorPid: 2 ** 22 + 4321, monitorHost: os.hostname() };
    writeJsonAtomic(path.join(tmpRoot, id, 'run.json'), running);
    fs.symlinkSync(path.join(root, id, 'samples.jsonl'), path.join(tmpRoot, id, 'samples.jsonl'));
    const store = new RunStore(tmpRoot);
    const { value, blockMs, ms } = await watchingBlocks(() => store.recoverInterruptedDetailed());
    if (value.failed.length || Math.abs((value.recovered[0]?.energyJ ?? -1) - meta.energyJ) > 1e-6) {
      const got = value.recovered[0]?.energyJ;
      return { ok: false, error: value.failed[0]?.error ?? `energy ${got} J, stored ${meta.energyJ} J` };
    }
    return { ok: true, ms, blockMs, rssMb: peakRssMb() };
  } finally {
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
}

/**
 * A private copy of a run's folder for the panel children (run.json copied, samples.jsonl linked),
 * so the overview they build and read never lands in the shared cache.
 */
function panelRoot(root: string, id: string): string {
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-longrun-panel-'));
  fs.mkdirSync(path.join(tmpRoot, id));
  fs.copyFileSync(path.join(root, id, 'run.json'), path.join(tmpRoot, id, 'run.json'));
  fs.symlinkSync(path.join(root, id, 'samples.jsonl'), path.join(tmpRoot, id, 'samples.jsonl'));
  return tmpRoot;
}

/** What the panel's host builds and posts when a stored run is opened (panelSource.load). */
async function openMessage(store: RunStore, id: string, expect: 'overview' | 'rebuilt'): Promise<number> {
  const drawn = (await storedRunDrawing(store, id))!;
  if (drawn.source !== expect) throw new Error(`opened from ${drawn.source}, expected ${expect}`);
  const view = { ...toRunView({ summary: drawn.summary, gpus: drawn.summary.gpuInfo, samples: [], gaps: drawn.gaps }), drawing: toColumnsView(drawn.columns, 0, drawn.bucketMs) };
  // VS Code serializes webview messages as JSON.
  return JSON.stringify({ type: 'showRuns', view: 'run', runs: [view] }).length;
}

/** Child: the first open of a run stored without an overview (built from the samples, then stored). */
async function childPanelFirst(root: string, id: string): Promise<ChildResult> {
  const store = new RunStore(root);
  try {
    const { value: bytes, blockMs, ms } = await watchingBlocks(() => openMessage(store, id, 'rebuilt'));
    return { ok: true, ms, blockMs, bytes, rssMb: peakRssMb() };
  } catch (e) {
    return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}`, rssMb: peakRssMb() };
  }
}

/** Child: opening a run with its overview (after childPanelFirst stored it), then a zoom into it. */
async function childPanel(root: string, id: string): Promise<ChildResult> {
  const store = new RunStore(root);
  try {
    const { value: bytes, blockMs, ms } = await watchingBlocks(() => openMessage(store, id, 'overview'));
    const durationMs = store.readMeta(id)!.durationS * 1000;
    const spanMs = Math.min(durationMs, 10 * 60_000);
    const startMs = (durationMs - spanMs) / 2;
    const zoom = await watchingBlocks(async () => {
      const r = (await storedRunRange(store, id, startMs, startMs + spanMs))!;
      const range = { runId: id, requestId: 1, startMs: r.startMs, endMs: r.endMs, bucketMs: r.bucketMs, columns: r.columns.map(toRangeColumnsView) };
      return JSON.stringify({ type: 'range', range }).length;
    });
    return { ok: true, ms, blockMs, bytes, rssMb: peakRssMb(), zoomMs: zoom.ms, zoomBlockMs: zoom.blockMs, zoomBytes: zoom.value };
  } catch (e) {
    return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}`, rssMb: peakRssMb() };
  }
}

function runChild(mode: string, root: string, id: string): ChildResult {
  // The panel's paths read a bounded overview or stream through a bounded view: 1 GB is plenty,
  // and a regression fails fast.
  const heapMb = mode === 'panel' || mode === 'panelFirst' ? 1024 : 6144;
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, ...SELF, '--child', mode, root, id], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ChildResult;
  } catch {
    const why = r.signal ? `killed (${r.signal})` : `exit ${r.status}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 120)}`;
    return { ok: false, error: why };
  }
}

function runFix(root: string, id: string): ChildResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), 'fix', id, '--store', root], { encoding: 'utf8', timeout: 300_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) return { ok: false, error: (r.stderr.trim() || `exit ${r.status}`).slice(0, 120) };
  const fixes = r.stdout.split('\n').filter((l) => /:\d+: /.test(l)).length;
  return { ok: true, ms, findings: fixes };
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function cell(r: ChildResult, pick: (r: ChildResult) => string): string {
  return r.ok ? pick(r) : `FAILED`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(DIST, 'analysisWorker.js'))) throw new Error('dist/analysisWorker.js missing: run `node scripts/build.mjs` first');
  process.stdout.write(`bench:longrun  ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, ${HZ} Hz, loadavg ${os.loadavg()[0]!.toFixed(2)}\n`);
  const header = ['run', 'samples', 'store', 'end of run', '(analysis)', 'main block', 'RSS before', 'peak RSS', 'recover', 'rec. block', 'rec. RSS', 'panel open', 'pnl block', 'panel msg', 'panel RSS', 'first open', '1st block', '1st RSS', 'zoom', 'zoom block', 'zoom msg', 'joules fix'];
  const widths = [13, 10, 9, 11, 11, 11, 10, 9, 9, 10, 9, 11, 10, 10, 10, 11, 10, 9, 9, 11, 9, 11];
  process.stdout.write(header.map((h, i) => pad(h, widths[i]!)).join(' ') + '\n');
  let worst = 0;
  let worstWhere = '';
  const failures: string[] = [];
  // --quick: the 1 min and 1 h cases only (a smoke test of the bench itself).
  const quick = process.argv.includes('--quick');
  const rows: Array<{ c: (typeof CASES)[number]; endOnly: boolean }> = CASES.filter((c) => !quick || c.durationS <= 3600).map((c) => ({ c, endOnly: false }));
  if (!quick) rows.push({ c: RECOVERY_EXTRA, endOnly: true });
  for (const { c, endOnly } of rows) {
    const { store, id } = ensureCase(c);
    const bytes = fs.statSync(store.samplesFile(id)).size;
    const samples = Math.floor(c.durationS * HZ) * c.gpus;
    const end = endOnly ? { ok: false, error: 'not measured' } : runChild('end', store.root, id);
    const rec = runChild('recover', store.root, id);
    let panelFirst: ChildResult = { ok: false, error: 'not measured' };
    let panel: ChildResult = { ok: false, error: 'not measured' };
    if (!endOnly) {
      const tmpRoot = panelRoot(store.root, id);
      try {
        panelFirst = runChild('panelFirst', tmpRoot, id);
        panel = panelFirst.ok ? runChild('panel', tmpRoot, id) : { ok: false, error: 'no overview (first open failed)' };
      } finally {
        fs.rmSync(tmpRoot, { recursive: true, force: true });
      }
    }
    const zoom: ChildResult = panel.ok ? { ok: true, ms: panel.zoomMs, blockMs: panel.zoomBlockMs, bytes: panel.zoomBytes } : panel;
    const fix = endOnly ? { ok: false, error: 'not measured' } : runFix(store.root, id);
    // Every path here runs on the extension host's main thread: the end of a run, recovery, panel open.
    for (const [what, r] of [['end of run', end], ['recovery', rec], ['panel open', panel], ['first panel open', panelFirst], ['zoom', zoom]] as const) {
      if (r.ok && (r.blockMs ?? 0) > worst) {
        worst = r.blockMs ?? 0;
        worstWhere = `${what}, ${c.label} x ${c.gpus} GPU`;
      }
    }
    for (const [what, r] of [['end of run', end], ['recovery', rec], ['panel open', panel], ['first panel open', panelFirst], ['joules fix', fix]] as const) {
      if (!r.ok && r.error !== 'not measured') failures.push(`${c.label} x ${c.gpus} GPU ${what}: ${r.error}`);
    }
    const skip = (r: ChildResult, f: (r: ChildResult) => string): string => (r.error === 'not measured' ? '' : cell(r, f));
    const cols = [
      `${c.label} x ${c.gpus}`,
      samples.toLocaleString('en-US'),
      `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`,
      skip(end, (r) => fmtMs(r.ms)),
      skip(end, (r) => fmtMs(r.analysisMs)),
      skip(end, (r) => fmtMs(r.blockMs)),
      skip(end, (r) => `${r.rssBeforeMb!.toFixed(0)} MB`),
      skip(end, (r) => `${r.rssMb!.toFixed(0)} MB`),
      cell(rec, (r) => fmtMs(r.ms)),
      cell(rec, (r) => fmtMs(r.blockMs)),
      cell(rec, (r) => `${r.rssMb!.toFixed(0)} MB`),
      skip(panel, (r) => fmtMs(r.ms)),
      skip(panel, (r) => fmtMs(r.blockMs)),
      skip(panel, (r) => `${(r.bytes! / 1e6).toFixed(1)} MB`),
      skip(panel, (r) => `${r.rssMb!.toFixed(0)} MB`),
      skip(panelFirst, (r) => fmtMs(r.ms)),
      skip(panelFirst, (r) => fmtMs(r.blockMs)),
      skip(panelFirst, (r) => `${r.rssMb!.toFixed(0)} MB`),
      skip(zoom, (r) => fmtMs(r.ms)),
      skip(zoom, (r) => fmtMs(r.blockMs)),
      skip(zoom, (r) => `${(r.bytes! / 1e6).toFixed(1)} MB`),
      skip(fix, (r) => fmtMs(r.ms)),
    ];
    process.stdout.write(cols.map((s, i) => pad(s, widths[i]!)).join(' ') + '\n');
  }
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  process.stdout.write(
    'end of run = summary figures + analysis in the worker (streamed from the store); main block = longest event-loop block meanwhile;\n' +
      'RSS before = the process with the live view and figures of the whole run, before the end; peak RSS = with the analysis worker (same process).\n' +
      'panel open = reading the stored overview + the JSON message; first open = a run stored without one (built from the samples once, then stored);\n' +
      'zoom = 10 min from the middle of the run (the whole run when shorter) at full resolution, read by seeking, + the JSON message.\n',
  );
  process.stdout.write(`worst main-thread block: ${worstWhere}\n`);
  process.stdout.write(`longrun-worst-main-thread-block-ms ${worst.toFixed(1)}\n`);
}

if (process.argv[2] === '--child') {
  const [mode, root, id] = process.argv.slice(3) as [string, string, string];
  const run = mode === 'end' ? childEnd : mode === 'recover' ? childRecover : mode === 'panelFirst' ? childPanelFirst : childPanel;
  run(root, id).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => process.stdout.write(JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }) + '\n'),
  );
} else {
  main().catch((e: unknown) => {
    process.stderr.write(`bench:longrun failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
