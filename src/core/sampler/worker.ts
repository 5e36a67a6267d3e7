/**
 * Sampler worker thread entry. Every NVML call happens here, never on the owner's thread: the
 * energy counter alone costs ~4 ms a call on an H200 (tails to ~27 ms).
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { NvmlBackend } from '../nvml/nvmlBackend';
import type { TelemetryBackend } from './backend';
import { encodeBatch } from './batchCodec';
import { SamplerEngine } from './engine';
import { parseTrace, ReplayBackend } from './replay';
import type { FromWorker, ToWorker, WorkerStartOptions } from './workerProtocol';

const port = parentPort;
if (!port) throw new Error('the sampler worker must run in a worker thread');
const options = workerData as WorkerStartOptions;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let backend: TelemetryBackend;
try {
  if (options.backend.kind === 'nvml') {
    backend = NvmlBackend.open(options.backend.libraryPath ? { libraryPath: options.backend.libraryPath } : {});
  } else {
    const text = fs.readFileSync(options.backend.tracePath, 'utf8');
    backend = new ReplayBackend(parseTrace(text, options.backend.tracePath));
  }
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e), fatal: true });
  process.exit(0);
}

const engine = new SamplerEngine(backend, {
  intervalMs: options.intervalMs,
  ...(options.counterIntervalMs ? { counterIntervalMs: options.counterIntervalMs } : {}),
  ...(options.detailIntervalMs ? { detailIntervalMs: options.detailIntervalMs } : {}),
  ...(options.powerRing ? { powerRing: options.powerRing } : {}),
  ...(options.powerSamplesPerSecond ? { powerSamplesPerSecond: options.powerSamplesPerSecond } : {}),
});
const replay = backend instanceof ReplayBackend ? backend : undefined;
post({
  type: 'ready',
  gpus: engine.gpus,
  ...(backend.unavailable?.length ? { unavailableGpus: backend.unavailable } : {}),
  backend: backend.kind,
  ...(backend.driverVersion ? { driverVersion: backend.driverVersion } : {}),
  ...(backend.nvmlVersion ? { nvmlVersion: backend.nvmlVersion } : {}),
  ...(backend instanceof NvmlBackend ? { libraryPath: backend.nvml.libraryPath } : {}),
  ...(replay ? { replayDurationMs: replay.durationMs } : {}),
});

engine.start();
let finished = false;
let lastBatchMs = 0;
let timer: NodeJS.Timeout | undefined;
let replayEndPosted = false;

function postBatchIfDue(force: boolean): void {
  const elapsedMs = engine.elapsedMs();
  if (!force && elapsedMs - lastBatchMs < options.batchMs) return;
  lastBatchMs = elapsedMs;
  const { encoded, transfer } = encodeBatch(engine.takeBatch());
  post({ type: 'batch', batch: encoded, energies: engine.energies(), elapsedMs, workerActiveMs: performance.eventLoopUtilization().active }, transfer);
}

function safeTick(): void {
  try {
    engine.tick();
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e), fatal: false });
  }
}

if (replay) {
  // Virtual time: each step advances the recording by one interval and sleeps interval / speed.
  const spec = options.backend as Extract<WorkerStartOptions['backend'], { kind: 'replay' }>;
  const sleepMs = Number.isFinite(spec.speed) && spec.speed > 0 ? options.intervalMs / spec.speed : 0;
  let virtualMs = 0;
  const step = (): void => {
    if (finished) return;
    if (virtualMs >= replay.durationMs) {
      if (!replayEndPosted) {
        replayEndPosted = true;
        postBatchIfDue(true);
        post({ type: 'replayEnded' });
      }
      return;
    }
    const wakeMs = engine.wakeIntervalMs();
    virtualMs = Math.min(virtualMs + wakeMs, replay.durationMs);
    replay.advanceTo(virtualMs);
    safeTick();
    postBatchIfDue(false);
    timer = sleepMs > 0 ? setTimeout(step, (sleepMs * wakeMs) / options.intervalMs) : (setImmediate(step) as unknown as NodeJS.Timeout);
  };
  step();
} else {
  // Drift-free schedule: ticks stay on the wake-up grid; a late tick is not made up twice. The
  // period is re-read each time: a GPU whose ring fails sends the engine back to ticking.
  let nextMs = backend.nowMs() + engine.wakeIntervalMs();
  const loop = (): void => {
    if (finished) return;
    safeTick();
    postBatchIfDue(false);
    const now = backend.nowMs();
    const wakeMs = engine.wakeIntervalMs();
    nextMs += wakeMs;
    if (nextMs < now) nextMs = now + wakeMs;
    timer = setTimeout(loop, Math.min(nextMs - now, wakeMs));
  };
  timer = setTimeout(loop, engine.wakeIntervalMs());
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'mark':
      engine.readCountersNow();
      post({ type: 'mark', id: m.id, energies: engine.energies(), elapsedMs: engine.elapsedMs() });
      break;
    case 'finish': {
      finished = true;
      if (timer) clearTimeout(timer);
      const energies = engine.finish();
      const elu = performance.eventLoopUtilization();
      const { encoded, transfer } = encodeBatch(engine.takeBatch());
      post({
        type: 'finished',
        batch: encoded,
        energies,
        elapsedMs: engine.elapsedMs(),
        workerActiveMs: elu.active,
        workerLifeMs: elu.active + elu.idle,
      }, transfer);
      backend.close();
      port.close();
      break;
    }
  }
});
