/**
 * The sampling loop: opens the telemetry (NVML or a recorded trace), ticks the engine on its
 * schedule and posts batches, mark answers and the final figures as messages. The same loop runs
 * in the sampler worker thread (the extension: no NVML call on the extension host's thread) or on
 * the CLI's own thread, which has nothing else to do (see WorkerSampler's `thread` option).
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { NvmlBackend } from '../nvml/nvmlBackend';
import type { TelemetryBackend } from './backend';
import { samplerErrorKind } from './samplerError';
import { encodeBatch } from './batchCodec';
import { SamplerEngine } from './engine';
import { parseTrace, ReplayBackend } from './replay';
import type { FromWorker, ToWorker, WorkerStartOptions } from './workerProtocol';

export interface SamplerLoopHost {
  post(m: FromWorker, transfer?: ArrayBuffer[]): void;
  /**
   * Busy time of the thread the loop runs on (ms), for overhead figures. Without it (the loop on a
   * thread that does other work), the loop's own time is counted: its ticks, reads and messages.
   */
  activeMs?(): { activeMs: number; lifeMs: number };
  /** The loop has ended (finished, or the telemetry failed to open): release the thread or channel. */
  ended(): void;
}

/**
 * Starts the loop; returns the handler for the owner's messages, or undefined when the telemetry
 * could not be opened (a fatal `error` has been posted and `ended` called).
 */
export function startSamplerLoop(options: WorkerStartOptions, host: SamplerLoopHost): ((m: ToWorker) => void) | undefined {
  const post = host.post;
  const bornMs = performance.now();
  let ownMs = 0;
  const timed = <T>(fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      ownMs += performance.now() - t0;
    }
  };
  const busy = (): { activeMs: number; lifeMs: number } => host.activeMs?.() ?? { activeMs: ownMs, lifeMs: performance.now() - bornMs };
  let backend: TelemetryBackend;
  try {
    if (options.backend.kind === 'nvml') {
      backend = NvmlBackend.open(options.backend.libraryPath ? { libraryPath: options.backend.libraryPath } : {});
    } else {
      const text = fs.readFileSync(options.backend.tracePath, 'utf8');
      backend = new ReplayBackend(parseTrace(text, options.backend.tracePath));
    }
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e), fatal: true, kind: samplerErrorKind(e) });
    host.ended();
    return undefined;
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

  const postBatchIfDue = (force: boolean): void => {
    const elapsedMs = engine.elapsedMs();
    if (!force && elapsedMs - lastBatchMs < options.batchMs) return;
    lastBatchMs = elapsedMs;
    const { encoded, transfer } = encodeBatch(engine.takeBatch());
    post({ type: 'batch', batch: encoded, energies: engine.energies(), elapsedMs, workerActiveMs: busy().activeMs }, transfer);
  };

  const safeTick = (): void => {
    try {
      engine.tick();
    } catch (e) {
      post({ type: 'error', message: e instanceof Error ? e.message : String(e), fatal: false, kind: samplerErrorKind(e) });
    }
  };

  if (replay) {
    // Virtual time: each step advances the recording by one interval and sleeps interval / speed.
    const spec = options.backend as Extract<WorkerStartOptions['backend'], { kind: 'replay' }>;
    const sleepMs = Number.isFinite(spec.speed) && spec.speed > 0 ? options.intervalMs / spec.speed : 0;
    let virtualMs = 0;
    const step = (): void => timed(() => {
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
    });
    step();
  } else {
    // Drift-free schedule: ticks stay on the wake-up grid; a late tick is not made up twice. The
    // period is re-read each time: a GPU whose ring fails sends the engine back to ticking.
    let nextMs = backend.nowMs() + engine.wakeIntervalMs();
    const loop = (): void => timed(() => {
      if (finished) return;
      safeTick();
      postBatchIfDue(false);
      const now = backend.nowMs();
      const wakeMs = engine.wakeIntervalMs();
      nextMs += wakeMs;
      if (nextMs < now) nextMs = now + wakeMs;
      timer = setTimeout(loop, Math.min(nextMs - now, wakeMs));
    });
    timer = setTimeout(loop, engine.wakeIntervalMs());
  }

  return (m: ToWorker): void => timed(() => {
    switch (m.type) {
      case 'mark':
        if (finished) return;
        engine.readCountersNow();
        post({ type: 'mark', id: m.id, energies: engine.energies(), elapsedMs: engine.elapsedMs() });
        break;
      case 'finish': {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        const energies = engine.finish();
        const b = busy();
        const { encoded, transfer } = encodeBatch(engine.takeBatch());
        post({ type: 'finished', batch: encoded, energies, elapsedMs: engine.elapsedMs(), workerActiveMs: b.activeMs, workerLifeMs: b.lifeMs }, transfer);
        backend.close();
        host.ended();
        break;
      }
    }
  });
}
