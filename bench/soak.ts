/**
 * `npm run bench:soak`: a monitored run of 8 fake GPUs (test/fake-nvml) sampled every 20 ms, with
 * the fake library's scenario clock running fast (FAKE_NVML_SPEED) so that the GPUs play a
 * simulated 24 h training day (50 s busy / 10 s data stall, every minute) in a few minutes of
 * wall time. It prints, at 1/4, 1/2, 3/4 and the end of the run: the process's RSS now and its peak
 * so far, the store's bytes per GPU-hour, and what the end of the run costs at that point (the
 * analysis of the store so far, in a separate probe process so it does not inflate the soak's own
 * RSS); then the real end of the run (stop -> summary + analysis in the worker). Peak RSS must not
 * grow with the run's length. Last line: `soak-peak-rss-mb N`.
 *
 *   npm run bench:soak                      # 240 s of wall time = 24 h simulated
 *   JOULES_SOAK_S=60 npm run bench:soak     # shorter (the scenario clock scales with it)
 *   node dist/bench/soak.js                 # bundled (npm run build), e.g. on a quiet machine
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyzeInWorker } from '../src/core/analysis/analysisClient';
import type { AnalysisInput } from '../src/core/runs/runSession';
import { RunSession } from '../src/core/runs/runSession';
import { RunStore } from '../src/core/runs/store';

/** The checkout: bench/ from sources (tsx), dist/bench/ when bundled (to run where there is no npm). */
const ROOT = (() => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  throw new Error(`no package.json above ${__dirname}`);
})();
/** How to start this file again as a child: through tsx from sources, plainly when bundled. */
const SELF = __filename.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs'), __filename] : [__filename];
const DIST = path.join(ROOT, 'dist');
const GPUS = 8;
const INTERVAL_MS = 20;
const SIMULATED_S = 24 * 3600;

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** A training day for 8 GPUs: each minute 50 s busy (~520 W, 95 %), then a 10 s data stall. */
function writeDayScenario(file: string): void {
  const lines: string[] = ['system driver=580.159.04 nvml=12.580.159.04'];
  for (let g = 0; g < GPUS; g++) {
    lines.push(`device name="NVIDIA H100 80GB HBM3 (fake)" arch=hopper mem_total=81559MiB power_limit=700W`);
    for (let t = 0; t < SIMULATED_S; t += 60) {
      lines.push(`at ${t} power=${515 + g}W util=95 mem_util=44 mem_used=24GiB sm_clock=1980 temp=55 reasons=0x0 pstate=0`);
      lines.push(`at ${t + 50} power=${228 + g}W util=5 mem_util=3 sm_clock=1980 temp=50 reasons=0x0`);
    }
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

interface Probe {
  ms: number;
  rssMb: number;
  findings: number;
}

/** The end-of-run analysis of the store so far, in a fresh process (its memory is not the soak's). */
function probe(input: AnalysisInput): Promise<Probe | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...SELF, '--probe', JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Probe);
      } catch {
        resolve(`probe failed (${code}): ${err.trim().split('\n').pop() ?? ''}`);
      }
    });
  });
}

async function childProbe(json: string): Promise<void> {
  const input = JSON.parse(json) as AnalysisInput;
  const t0 = performance.now();
  const r = await analyzeInWorker(input, { workerFile: path.join(DIST, 'analysisWorker.js'), wasmDir: path.join(DIST, 'wasm') });
  const result: Probe = { ms: performance.now() - t0, rssMb: peakRssBytes() / 2 ** 20, findings: r.findings.length };
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function main(): Promise<void> {
  const wallS = Number(process.env.JOULES_SOAK_S ?? 240);
  if (!(wallS >= 8)) throw new Error(`JOULES_SOAK_S must be at least 8 (got ${process.env.JOULES_SOAK_S})`);
  if (!fs.existsSync(path.join(DIST, 'analysisWorker.js'))) throw new Error('dist/analysisWorker.js missing: run `node scripts/build.mjs` first');
  const speed = SIMULATED_S / wallS;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-soak-'));
  const scenario = path.join(tmp, 'day.scn');
  writeDayScenario(scenario);
  // JOULES_FAKE_NVML_LIB: a prebuilt fake library (a machine without a C compiler).
  const prebuilt = process.env.JOULES_FAKE_NVML_LIB;
  if (!prebuilt && !__filename.endsWith('.ts')) throw new Error('the bundled soak needs JOULES_FAKE_NVML_LIB=<path of libnvidia-ml-fake.so> (npm run bench:soak builds it)');
  if (prebuilt) {
    process.env.FAKE_NVML_SCENARIO = scenario;
    process.env.FAKE_NVML_SPEED = String(speed);
  }
  // Imported only when needed: it builds the library with a C compiler.
  const lib = prebuilt ?? (await (await import('../test/support/fakeNvml')).fakeNvml(scenario, { speed }));
  const store = new RunStore(path.join(tmp, 'runs'));
  process.stdout.write(
    `bench:soak  ${GPUS} fake GPUs every ${INTERVAL_MS} ms, ${wallS} s of wall time = ${(SIMULATED_S / 3600).toFixed(0)} h simulated (FAKE_NVML_SPEED=${speed}); ` +
      `${os.cpus().length} CPUs, node ${process.version}, loadavg ${os.loadavg()[0]!.toFixed(2)}\n`,
  );
  const rssStart = process.memoryUsage().rss;
  let endAnalysisMs = 0;
  const session = await RunSession.start(
    { command: 'sleep', args: [String(wallS + 60)], cwd: tmp, name: 'soak' },
    {
      store,
      sampler: { backend: { kind: 'nvml', libraryPath: lib }, intervalMs: INTERVAL_MS },
      stopGraceS: 1,
      analyze: async (input) => {
        const t0 = performance.now();
        const r = await analyzeInWorker(input, { workerFile: path.join(DIST, 'analysisWorker.js'), wasmDir: path.join(DIST, 'wasm') });
        endAnalysisMs = performance.now() - t0;
        return r.findings;
      },
    },
  );
  const t0 = performance.now();
  let samples = 0;
  session.onBatch((b) => (samples += b.samples.length));
  process.stdout.write('point   wall    simulated  samples     rss now   peak rss  view     store      B/GPU-h(20ms)  B/sim GPU-h  end-of-run analysis (probe)\n');
  const rows: string[] = [];
  const peaks: number[] = [];
  for (const q of [1, 2, 3]) {
    await new Promise((r) => setTimeout(r, t0 + (q * wallS * 1000) / 4 - performance.now()));
    const wallH = (performance.now() - t0) / 3.6e6;
    const size = fs.existsSync(session.samplesFile) ? fs.statSync(session.samplesFile).size : 0;
    const peak = peakRssBytes();
    peaks.push(peak);
    const rssNow = process.memoryUsage().rss;
    const live = session.live();
    const input: AnalysisInput = { summary: { ...store.readMeta(session.id)! }, gpus: session.gpus, runGpus: session.gpus.map((g) => g.index), endMs: live.elapsedS * 1000, samplesFile: session.samplesFile };
    const p = await probe(input);
    const line =
      `${q}/4     ${(wallH * 3600).toFixed(0).padStart(4)} s  ${((wallH * 3600 * speed) / 3600).toFixed(1).padStart(6)} h  ${samples.toLocaleString('en-US').padStart(10)}  ` +
      `${mb(rssNow).padStart(8)}  ${mb(peak).padStart(8)}  ${`${(session.view.byteSize() / 1e6).toFixed(1)} MB`.padStart(7)}  ${`${(size / 1e6).toFixed(1)} MB`.padStart(9)}  ` +
      `${(size / (GPUS * wallH)).toExponential(2).padStart(13)}  ${(size / (GPUS * wallH * speed)).toExponential(2).padStart(11)}  ` +
      (typeof p === 'string' ? p : `${(p.ms / 1000).toFixed(2)} s, ${p.rssMb.toFixed(0)} MB peak in the probe, ${p.findings} findings`);
    rows.push(line);
    process.stdout.write(line + '\n');
  }
  await new Promise((r) => setTimeout(r, t0 + wallS * 1000 - performance.now()));
  const peakSampling = peakRssBytes();
  peaks.push(peakSampling);
  const size = fs.statSync(session.samplesFile).size;
  const tStop = performance.now();
  const summary = await session.stop();
  const endMs = performance.now() - tStop;
  const peakAll = peakRssBytes();
  const wallH = (tStop - t0) / 3.6e6;
  process.stdout.write(
    `end     ${(wallH * 3600).toFixed(0).padStart(4)} s  ${((wallH * 3600 * speed) / 3600).toFixed(1).padStart(6)} h  ${samples.toLocaleString('en-US').padStart(10)}  ` +
      `${mb(process.memoryUsage().rss).padStart(8)}  ${mb(peakSampling).padStart(8)}  ${`${(session.view.byteSize() / 1e6).toFixed(1)} MB`.padStart(7)}  ${`${(size / 1e6).toFixed(1)} MB`.padStart(9)}  ` +
      `${(size / (GPUS * wallH)).toExponential(2).padStart(13)}  ${(size / (GPUS * wallH * speed)).toExponential(2).padStart(11)}  ` +
      `end of run ${(endMs / 1000).toFixed(2)} s (analysis ${(endAnalysisMs / 1000).toFixed(2)} s in the worker)\n`,
  );
  process.stdout.write(
    `run: ${summary.status}, ${summary.durationS.toFixed(1)} s, ${(summary.energyJ / 3.6e6).toFixed(2)} kWh simulated, peak ${summary.peakPowerW.toFixed(0)} W, ` +
      `${summary.findings?.length ?? 0} findings${summary.errors ? `, errors ${JSON.stringify(summary.errors)}` : ''}\n`,
  );
  const growth = peaks[peaks.length - 1]! - peaks[0]!;
  process.stdout.write(
    `peak RSS while sampling: ${peaks.map(mb).join(' -> ')} (1/4 -> end; ${growth >= 0 ? '+' : ''}${mb(growth)}); at start ${mb(rssStart)}; with the end-of-run analysis ${mb(peakAll)}\n`,
  );
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stdout.write(`soak-peak-rss-mb ${(peakAll / 2 ** 20).toFixed(0)}\n`);
}

if (process.argv[2] === '--probe') {
  childProbe(process.argv[3]!).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench:soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
