/**
 * The sampling loop on the owner's own thread (the CLI's choice: it has nothing else to do there),
 * behind the worker's message interface. Its own module, passed to WorkerSampler as `onOwnThread`,
 * so that only what asks for it (the CLI, tests, benchmarks) bundles the loop and NVML's binding.
 */
import { EventEmitter } from 'node:events';
import { startSamplerLoop } from './samplerLoop';
import type { LoopChannel } from './workerSampler';
import type { ToWorker, WorkerStartOptions } from './workerProtocol';

/**
 * The sampling loop on the owner's thread, behind the same message interface as the worker:
 * messages are delivered on a later turn of the event loop (as a worker's are), never re-entrantly.
 */
class OwnThreadChannel extends EventEmitter implements LoopChannel {
  private handle: ((m: ToWorker) => void) | undefined;
  private exited = false;

  constructor(options: WorkerStartOptions) {
    super();
    setImmediate(() => {
      this.handle = startSamplerLoop(options, {
        post: (m) => setImmediate(() => this.emit('message', m)),
        ended: () => this.exit(),
      });
    });
  }

  postMessage(m: ToWorker): void {
    const h = this.handle;
    if (h && !this.exited) setImmediate(() => h(m));
  }

  terminate(): Promise<number> {
    // Stops the loop's timers and closes the telemetry; the final figures are not awaited.
    if (!this.exited) this.handle?.({ type: 'finish' });
    this.exit();
    return Promise.resolve(0);
  }

  private exit(): void {
    if (this.exited) return;
    this.exited = true;
    // After the messages posted before it, as a worker's exit follows its last message.
    setImmediate(() => setImmediate(() => this.emit('exit', 0)));
  }
}

/** `WorkerSampler.start({ ..., onOwnThread: ownThreadLoop })`: sample on this thread. */
export function ownThreadLoop(options: WorkerStartOptions): LoopChannel {
  return new OwnThreadChannel(options);
}
