/**
 * Sampler worker thread entry. Every NVML call happens here, never on the owner's thread: the
 * energy counter alone costs ~4 ms a call on an H200 (tails to ~27 ms). The loop itself is
 * samplerLoop.ts.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { startSamplerLoop } from './samplerLoop';
import type { FromWorker, ToWorker, WorkerStartOptions } from './workerProtocol';

const port = parentPort;
if (!port) throw new Error('the sampler worker must run in a worker thread');

const handle = startSamplerLoop(workerData as WorkerStartOptions, {
  post: (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer),
  activeMs: () => {
    const elu = performance.eventLoopUtilization();
    return { activeMs: elu.active, lifeMs: elu.active + elu.idle };
  },
  ended: () => port.close(),
});
if (handle) port.on('message', (m: ToWorker) => handle(m));
