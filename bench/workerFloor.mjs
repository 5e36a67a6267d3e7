// What part of the sampler worker's cost is Node itself: the event-loop busy time of (a) a bare
// worker that only wakes 10 times a second and posts 4 small messages a second, (b) the sampler
// replaying a recording (no NVML), (c) the sampler on NVML. Usage: node bench/workerFloor.mjs [seconds]
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[2] ?? 8);
const worker = path.join(root, 'dist/samplerWorker.js');
const trace = path.join(root, 'media/traces/h200-phased-load.jsonl');

async function busyPct(make) {
  const w = make();
  let active = 0;
  w.on('message', (m) => {
    if (typeof m.workerActiveMs === 'number') active = m.workerActiveMs;
  });
  await new Promise((r) => setTimeout(r, 2500));
  const a0 = active;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const pct = ((active - a0) / (performance.now() - t0)) * 100;
  await w.terminate();
  return pct;
}

const bare = `const { parentPort } = require('worker_threads'); const { performance } = require('perf_hooks');
let n = 0; const loop = () => { n++; if (n % 3 === 0) parentPort.postMessage({ workerActiveMs: performance.eventLoopUtilization().active, s: [{ tMs: n, gpu: 0, p: 1 }] }); setTimeout(loop, 100); }; loop();`;
const rows = [
  ['bare worker: 10 wakes/s, 3.3 posts/s', () => new Worker(bare, { eval: true })],
  ['sampler, replayed recording (no NVML)', () => new Worker(worker, { workerData: { backend: { kind: 'replay', tracePath: trace, speed: 1 }, intervalMs: 100, batchMs: 250 } })],
  ['sampler, NVML (all GPUs here)', () => new Worker(worker, { workerData: { backend: { kind: 'nvml' }, intervalMs: 100, batchMs: 250 } })],
];
for (const [label, make] of rows) {
  try {
    console.log(`${label.padEnd(42)} worker busy ${(await busyPct(make)).toFixed(3)} % of one core`);
  } catch (e) {
    console.log(`${label.padEnd(42)} failed: ${e.message}`);
  }
}
