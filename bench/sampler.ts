/**
 * `npm run bench:sampler`: what sampling costs, measured the way a run pays it.
 *
 * 1. Paced passes, not hot loops: each NVML pass runs on a timer at the period a run uses (every
 *    100 ms for tick reads, every 1 s for ring drains and the counter), so caches, the driver and
 *    the JIT are as cold as in a run (a hot loop reads 6-10x cheaper on the fake library). CPU per
 *    pass is the process's CPU time across the pass.
 * 2. Spawning `nvidia-smi --query-gpu=...` per poll (or `true` where there is no nvidia-smi).
 * 3. The real owner: a monitored run (RunSession: worker, batches, store, attribution, live
 *    figures) of `sleep`, with ring sampling (the default) and with 10 Hz ticking, whole-process
 *    CPU above an idle baseline over the steady part of the run; then ring sampling with the loop
 *    on the owner's thread instead of a worker (what the CLI does).
 * Every figure is measured on all the GPUs NVML lists here; nothing is scaled from one GPU.
 *
 * Without a GPU, `npm run bench:sampler` points it at the fake NVML library with 8 GPUs and says so.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { NvmlBackend } from '../src/core/nvml/nvmlBackend';
import { RunSession } from '../src/core/runs/runSession';
import { RunStore } from '../src/core/runs/store';
import { ownThreadLoop } from '../src/core/sampler/ownThreadLoop';

const RUN_S = Number(process.env.BENCH_SECONDS ?? 10);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Run `fn` `passes` times, one pass every `paceMs`; report wall and CPU per pass. */
async function paced(label: string, paceMs: number, passes: number, fn: () => void): Promise<{ wallUs: number; cpuUs: number }> {
  fn(); // first call: lazy buffers, symbol resolution
  let wall = 0;
  let cpu = 0;
  for (let i = 0; i < passes; i++) {
    await sleep(paceMs);
    const c0 = cpuUs();
    const t0 = performance.now();
    fn();
    wall += performance.now() - t0;
    cpu += cpuUs() - c0;
  }
  const r = { wallUs: (wall * 1000) / passes, cpuUs: cpu / passes };
  console.log(`${label.padEnd(58)} ${r.wallUs.toFixed(1).padStart(9)} us wall ${r.cpuUs.toFixed(1).padStart(9)} us CPU  (${passes} passes, one per ${paceMs} ms)`);
  return r;
}

function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Whole-process CPU (% of one core) of a monitored `sleep`, above idle, after its first 2 s. */
async function ownerRun(powerRing: 'auto' | 'off', idlePctOfCore: number, workerFile: string | undefined, thread: 'worker' | 'main' = 'worker'): Promise<{ pct: number; samples: number; points: number }> {
  const store = new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'joules-bench-')));
  const session = await RunSession.start(
    { command: 'sleep', args: [String(RUN_S + 2)], cwd: os.tmpdir() },
    { store, sampler: { backend: { kind: 'nvml' }, intervalMs: 100, powerRing, ...(thread === 'main' ? { onOwnThread: ownThreadLoop } : {}), ...(workerFile ? { workerFile } : {}) } },
  );
  let samples = 0;
  let points = 0;
  session.onBatch((b) => {
    samples += b.samples.length;
    points += b.powerPoints.length;
  });
  await sleep(2000);
  const c0 = cpuUs();
  const t0 = performance.now();
  const s0 = samples;
  const p0 = points;
  await sleep(RUN_S * 1000);
  const pct = (100 * (cpuUs() - c0)) / 1000 / (performance.now() - t0) - idlePctOfCore;
  const n = { samples: samples - s0, points: points - p0 };
  await session.done;
  fs.rmSync(store.root, { recursive: true, force: true });
  return { pct, ...n };
}

async function main(): Promise<void> {
  const backend = NvmlBackend.open();
  const gpus = backend.devices.length;
  console.log(`NVML ${backend.nvmlVersion ?? '?'}, driver ${backend.driverVersion ?? '?'}, library ${backend.nvml.libraryPath}`);
  console.log(`${gpus} GPU(s): ${[...new Set(backend.devices.map((d) => d.info.name))].join(', ')}; every figure below covers all of them (nothing scaled)`);
  console.log('');
  const all = backend.devices;
  const tick = await paced(`tick pass: power + util, ${gpus} GPU(s)`, 100, 50, () => all.forEach((d) => d.readTick(false)));
  const full = await paced(`full pass: every metric, ${gpus} GPU(s)`, 100, 30, () => all.forEach((d) => d.readTick(true)));
  const ringOk = all.every((d) => d.info.supported.powerSamples);
  const ring = ringOk
    ? await paced(`ring pass: power + utilization rings + every metric, ${gpus} GPU(s)`, 1000, 8, () =>
        all.forEach((d) => {
          d.drainPowerRing();
          d.drainUtilizationRing();
          d.readTick(true, false);
        }),
      )
    : undefined;
  const d0 = all[0]!;
  if (d0.info.energyMethod === 'counter') await paced('energy counter, 1 GPU', 1000, 5, () => d0.readEnergyCounterMj());
  await paced('process list, 1 GPU', 1000, 5, () => d0.processes());
  backend.close();
  console.log('');

  const smi = findOnPath('nvidia-smi');
  const query = ['--query-gpu=power.draw,utilization.gpu,utilization.memory,memory.used,clocks.sm,clocks.mem,temperature.gpu,clocks_event_reasons.active,power.limit,pstate', '--format=csv,noheader,nounits'];
  const spawnCmd = smi ?? findOnPath('true') ?? '/bin/true';
  const spawn = await paced(smi ? 'spawn nvidia-smi --query-gpu=... (all GPUs)' : 'spawn `true` (no nvidia-smi here: a lower bound)', 100, 10, () => {
    spawnSync(spawnCmd, smi ? query : [], { stdio: 'ignore' });
  });
  // The spawned child's CPU is not in process.cpuUsage: compare wall time per poll.
  const ratioWall = spawn.wallUs / full.wallUs;
  console.log(`ratio: one full pass of all GPUs through Joules is ${ratioWall.toFixed(0)}x cheaper (wall) than ${smi ? 'nvidia-smi' : 'spawning `true`'}`);
  const perS = (us: number, hz: number): number => (us * hz * 100) / 1e6;
  console.log(
    `NVML reads per second of a run: ticking at 10 Hz ${(perS(tick.cpuUs, 9) + perS(full.cpuUs, 1)).toFixed(4)} % of a core` +
      (ring ? `; ring sampling (one pass a second, 50 Hz power) ${perS(ring.cpuUs, 1).toFixed(4)} %` : '; no power ring here'),
  );
  console.log('');

  // The whole owner: idle baseline first (this process doing nothing), then a run each way.
  const i0 = cpuUs();
  const it0 = performance.now();
  await sleep(3000);
  const idlePct = (100 * (cpuUs() - i0)) / 1000 / (performance.now() - it0);
  const workerFile = fs.existsSync(path.join(__dirname, 'samplerWorker.js')) ? path.join(__dirname, 'samplerWorker.js') : undefined;
  const ringRun = ringOk ? await ownerRun('auto', idlePct, workerFile) : undefined;
  const tickRun = await ownerRun('off', idlePct, workerFile);
  // The CLI's choice: the same loop on the owner's own thread (no second thread waking up).
  const mainRun = await ownerRun(ringOk ? 'auto' : 'off', idlePct, workerFile, 'main');
  const line = (label: string, r: { pct: number; samples: number; points: number }): void =>
    console.log(`${label.padEnd(44)} ${r.pct.toFixed(3).padStart(7)} % of a core above idle; ${(r.samples / RUN_S).toFixed(0)} samples/s, ${(r.points / RUN_S).toFixed(0)} power points/s (${gpus} GPUs, ${RUN_S} s steady)`);
  if (ringRun) line('monitored run, ring sampling (default)', ringRun);
  line('monitored run, ticking at 10 Hz', tickRun);
  line(`monitored run, ${ringOk ? 'ring sampling' : 'ticking'} on the owner's thread`, mainRun);
  console.log(`ratio-vs-spawn ${ratioWall.toFixed(0)}`);
  if (ringRun) console.log(`ring-vs-tick-process-cpu ${(ringRun.pct / Math.max(1e-6, tickRun.pct)).toFixed(2)}`);
  console.log(`main-thread-vs-worker-process-cpu ${(mainRun.pct / Math.max(1e-6, (ringRun ?? tickRun).pct)).toFixed(2)}`);
  console.log(`process-cpu-pct ${(ringRun ?? tickRun).pct.toFixed(4)}`);
}

main().catch((e: unknown) => {
  console.error(`bench:sampler: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
