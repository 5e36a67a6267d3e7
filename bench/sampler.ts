/**
 * `npm run bench:sampler`: what sampling costs, side by side with polling `nvidia-smi`.
 *
 * 1. One full sample of every GPU through Joules (power, util, memory, clocks, temperature,
 *    clock-event reasons, power limit, pstate: what a tick reads), wall and CPU time per GPU.
 * 2. The slow calls (energy counter, power ring, process list), per call.
 * 3. Spawning `nvidia-smi --query-gpu=...` for the same figures (or, where there is no nvidia-smi,
 *    spawning `true`: a lower bound for any approach that spawns a process per poll).
 * 4. The sampler worker running at 10 Hz for a while: CPU time of the whole process above an idle
 *    baseline, in % of one core, and per GPU, scaled to 8 GPUs.
 *
 * Without a GPU, point it at the fake NVML library (as `npm run bench:sampler` does when no NVML
 * loads): JOULES_NVML_LIBRARY=test/fake-nvml/build/libnvidia-ml-fake.so FAKE_NVML_SCENARIO=bench/scenarios/eight-gpus.scn
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { NvmlBackend } from '../src/core/nvml/nvmlBackend';
import { WorkerSampler } from '../src/core/sampler/workerSampler';

const MIN_MEASURE_MS = Number(process.env.BENCH_MIN_MS ?? 1500);
const RUN_S = Number(process.env.BENCH_SECONDS ?? 10);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Repeat `fn` for at least MIN_MEASURE_MS: CPU time is accounted in scheduler ticks, so short
 * loops give meaningless CPU figures.
 */
function measure(label: string, fn: () => void, minMs = MIN_MEASURE_MS): { wallUs: number; cpuUs: number } {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  const c0 = cpuUs();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < minMs) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
  }
  const wallUs = ((performance.now() - t0) * 1000) / n;
  const cpu = (cpuUs() - c0) / n;
  console.log(`${label.padEnd(50)} ${wallUs.toFixed(1).padStart(10)} us wall ${cpu.toFixed(1).padStart(10)} us CPU   (n=${n})`);
  return { wallUs, cpuUs: cpu };
}

function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

async function main(): Promise<void> {
  const backend = NvmlBackend.open();
  const gpus = backend.devices.length;
  console.log(`NVML ${backend.nvmlVersion ?? '?'}, driver ${backend.driverVersion ?? '?'}, library ${backend.nvml.libraryPath}`);
  console.log(`${gpus} GPU(s): ${[...new Set(backend.devices.map((d) => d.info.name))].join(', ')}`);
  console.log('');

  const fast = measure(`tick: power + util, all ${gpus} GPU(s)`, () => {
    for (const d of backend.devices) d.readTick(false);
  });
  const full = measure(`full sample (every metric), all ${gpus} GPU(s)`, () => {
    for (const d of backend.devices) d.readTick(true);
  });
  const perGpuFastCpuUs = fast.cpuUs / gpus;
  const perGpuFullCpuUs = full.cpuUs / gpus;
  console.log(`${'  = full sample per GPU'.padEnd(50)} ${(full.wallUs / gpus).toFixed(1).padStart(10)} us wall ${perGpuFullCpuUs.toFixed(1).padStart(10)} us CPU`);
  const d0 = backend.devices[0]!;
  const energy = d0.info.energyMethod === 'counter' ? measure('energy counter (1 GPU)', () => d0.readEnergyCounterMj(), 500) : undefined;
  const ring = d0.info.supported.powerSamples ? measure('power ring drain (1 GPU)', () => d0.drainPowerRing(), 500) : undefined;
  const procs = measure('process list (1 GPU)', () => d0.processes(), 500);
    backend.close();
  console.log('');

  const smi = findOnPath('nvidia-smi');
  const query = ['--query-gpu=power.draw,utilization.gpu,utilization.memory,memory.used,clocks.sm,clocks.mem,temperature.gpu,clocks_event_reasons.active,power.limit,pstate', '--format=csv,noheader,nounits'];
  let spawn: { wallUs: number; cpuUs: number; label: string };
  if (smi) {
    const r = measure('spawn nvidia-smi --query-gpu=... (all GPUs)', () => {
      spawnSync(smi, query, { stdio: 'ignore' });
    }, 1000);
    spawn = { ...r, label: 'nvidia-smi' };
  } else {
    const t = findOnPath('true') ?? '/bin/true';
    const r = measure('spawn `true` (no nvidia-smi here: lower bound)', () => {
      spawnSync(t, [], { stdio: 'ignore' });
    }, 1000);
    spawn = { ...r, label: 'spawning `true` (lower bound for nvidia-smi)' };
  }
  // nvidia-smi answers for all GPUs in one spawn: compare per full poll of all GPUs.
  // (CPU time of the spawned child is not in process.cpuUsage, so wall time is the fair measure.)
  const ratioWall = spawn.wallUs / full.wallUs;
  console.log(`ratio: one full sample of all GPUs through Joules is ${ratioWall.toFixed(0)}x cheaper (wall) than ${spawn.label}`);
  console.log('');

  // Modelled steady-state cost at 10 Hz for 8 GPUs with the defaults: fast reads every tick, the
  // full sample once a second, the counter once a minute, processes every 5 s, ring only if asked.
  const perS = (cpu: number, hz: number): number => (cpu * hz * 100) / 1e6;
  const model8 = perS(perGpuFastCpuUs * 8, 9) + perS(perGpuFullCpuUs * 8, 1) + (energy ? perS(energy.cpuUs * 8, 1 / 60) : 0) + perS(procs.cpuUs * 8, 1 / 5);
  console.log(`modelled NVML CPU for 8 GPUs at 10 Hz (defaults): ${model8.toFixed(4)} % of one core`);
  if (ring) console.log(`  + power ring on (powerRing: on, drained every 1 s): ${perS(ring.cpuUs * 8, 1).toFixed(4)} % more`);
  console.log(`  (for comparison: the full sample every tick would be ${perS(perGpuFullCpuUs * 8, 10).toFixed(4)} %, the counter every second ${energy ? perS(energy.cpuUs * 8, 1).toFixed(3) : 'n/a'} %)`);
  console.log('');

  // The real worker at 10 Hz: its event-loop busy time, and the whole process's CPU above idle.
  const idleC0 = cpuUs();
  await new Promise((r) => setTimeout(r, RUN_S * 1000));
  const idleCpuUs = cpuUs() - idleC0;
  const workerFile = fs.existsSync(path.join(__dirname, 'samplerWorker.js')) ? path.join(__dirname, 'samplerWorker.js') : undefined;
  const results: string[] = [];
  let overhead8 = NaN;
  let workerBusyAuto = NaN;
  for (const powerRing of ['auto', 'on'] as const) {
    const sampler = await WorkerSampler.start({ backend: { kind: 'nvml' }, intervalMs: 100, powerRing, ...(workerFile ? { workerFile } : {}) });
    let samples = 0;
    sampler.onBatch((b) => (samples += b.samples.length));
    // Steady state only: NVML init, the capability probe and module loading happen first.
    await new Promise((r) => setTimeout(r, 2000));
    const c0 = cpuUs();
    const a0 = sampler.workerActiveMs;
    const s0 = samples;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, RUN_S * 1000));
    const busyCpuUs = cpuUs() - c0;
    const activeMs = sampler.workerActiveMs - a0;
    const wallS = (performance.now() - t0) / 1000;
    const n = samples - s0;
    await sampler.finish();
    const workerPct = (100 * activeMs) / 1000 / wallS;
    const processPct = (100 * Math.max(0, busyCpuUs - idleCpuUs)) / 1e6 / wallS;
    // The worker's timers and messages cost the same for 1 or 8 GPUs; only NVML reads grow with
    // the GPU count. So 8 GPUs = what was measured here + the per-GPU NVML cost of the missing GPUs.
    const perGpuNvmlPct = model8 / 8;
    const per8 = processPct + Math.max(0, 8 - gpus) * perGpuNvmlPct;
    if (powerRing === 'auto') {
      overhead8 = per8;
      workerBusyAuto = workerPct;
    }
    results.push(
      `sampler worker, 10 Hz, powerRing=${powerRing}, steady ${wallS.toFixed(1)} s: ${n} GPU samples; worker thread busy ${workerPct.toFixed(3)} % of one core; ` +
        `process CPU above idle ${processPct.toFixed(3)} % of one core for ${gpus} GPU(s); for 8 GPUs (+ NVML cost of ${Math.max(0, 8 - gpus)} more) ${per8.toFixed(3)} %`,
    );
  }
  for (const r of results) console.log(r);
  console.log(`ratio-vs-spawn ${ratioWall.toFixed(0)}`);
  console.log(`modelled-nvml-8gpu-10hz-pct ${model8.toFixed(4)}`);
  console.log(`estimated-process-8gpu-10hz-pct ${overhead8.toFixed(4)}`);
  console.log(`measured-worker-busy-pct ${workerBusyAuto.toFixed(4)}`);
}

main().catch((e: unknown) => {
  console.error(`bench:sampler: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
