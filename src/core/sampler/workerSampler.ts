import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { decodeBatch } from './batchCodec';
import { SamplerError } from './samplerError';
import type { SamplerErrorKind } from './samplerError';
import type { EngineBatch, GpuEnergy } from './engine';
import type { GpuInfo } from './types';
import type { BackendSpec, FromWorker, ToWorker, WorkerStartOptions } from './workerProtocol';
import { Emitter } from '../events';
import type { Disposable } from '../events';

/** Options of {@link WorkerSampler.start}. */
export interface SamplerOptions {
  backend: BackendSpec;
  /** Tick period, 20 ms - 10 s (default 100 ms). */
  intervalMs?: number;
  /**
   * Batch period towards the owner (default 1000 ms: the status bar updates once a second, and
   * each message wakes the owner's thread).
   */
  batchMs?: number;
  counterIntervalMs?: number;
  /** See EngineOptions.detailIntervalMs (default 1000). */
  detailIntervalMs?: number;
  /** See EngineOptions.powerRing (default `auto`). */
  powerRing?: 'auto' | 'on' | 'off';
  /** See EngineOptions.powerSamplesPerSecond (default 50, the ring's rate). */
  powerSamplesPerSecond?: number;
  /** Path of the worker script; defaults to the bundled `samplerWorker.js` beside this file. */
  workerFile?: string;
  /**
   * Unset (default): the loop runs in a worker thread, so no NVML call ever blocks the owner (the
   * extension host). `ownThreadLoop` (ownThreadLoop.ts): on the owner's own thread, for the CLI,
   * which has nothing else to do there and saves the second thread's wake-ups (see `npm run
   * bench:sampler`). Passed in rather than imported here, so the extension's bundle never carries
   * the loop, NVML's binding or koffi.
   */
  onOwnThread?: (options: WorkerStartOptions) => LoopChannel;
}

/** What the owner needs of the thread the loop runs on: a Worker, or the loop on this thread. */
export interface LoopChannel {
  postMessage(m: ToWorker): void;
  on(event: 'message', l: (m: FromWorker) => void): unknown;
  off(event: 'message', l: (m: FromWorker) => void): unknown;
  once(event: 'error', l: (e: Error) => void): unknown;
  once(event: 'exit', l: (code: number) => void): unknown;
  terminate(): Promise<number>;
}

export const MIN_INTERVAL_MS = 20;
export const MAX_INTERVAL_MS = 10_000;

type Listener<T extends unknown[]> = (...args: T) => void;

/** What the worker said when it came up. */
export type SamplerReady = Extract<FromWorker, { type: 'ready' }>;

/** Result of {@link WorkerSampler.finish}. */
export interface SamplerFinish {
  batch: EngineBatch;
  energies: GpuEnergy[];
  elapsedMs: number;
  workerActiveMs: number;
  workerLifeMs: number;
}

/**
 * Owner side of the sampling loop: starts it, relays batches, and asks for the final energies. With
 * the default (a worker thread) nothing here touches NVML, so it is safe on the extension host's
 * main thread; with `onOwnThread` (the CLI) the loop runs on the owner's thread.
 */
export class WorkerSampler {
  private readonly batches = new Emitter<[EngineBatch, GpuEnergy[], number]>();
  private readonly errors = new Emitter<[string, SamplerErrorKind]>();
  private readonly replayEnds = new Emitter<[]>();
  private finishing: Promise<SamplerFinish> | undefined;
  private exited = false;
  private markId = 0;
  private readonly marks = new Map<number, (e: { energies: GpuEnergy[]; elapsedMs: number }) => void>();
  /** Latest per-GPU energy, updated with every batch. */
  lastEnergies: GpuEnergy[] = [];
  /** Cumulative busy time of the worker thread's event loop, as of the latest batch (ms). */
  workerActiveMs = 0;

  private constructor(
    private readonly worker: LoopChannel,
    readonly ready: SamplerReady,
  ) {}

  get gpus(): GpuInfo[] {
    return this.ready.gpus;
  }

  /** Start the worker; resolves once NVML (or the trace) is open and the epoch is set. */
  static start(options: SamplerOptions): Promise<WorkerSampler> {
    const intervalMs = options.intervalMs ?? 100;
    if (!(intervalMs >= MIN_INTERVAL_MS && intervalMs <= MAX_INTERVAL_MS)) {
      return Promise.reject(new RangeError(`sample interval must be ${MIN_INTERVAL_MS}-${MAX_INTERVAL_MS} ms, got ${intervalMs}`));
    }
    const data: WorkerStartOptions = {
      backend: options.backend,
      intervalMs,
      batchMs: options.batchMs ?? 1000,
      ...(options.counterIntervalMs ? { counterIntervalMs: options.counterIntervalMs } : {}),
      ...(options.detailIntervalMs ? { detailIntervalMs: options.detailIntervalMs } : {}),
      ...(options.powerRing ? { powerRing: options.powerRing } : {}),
      ...(options.powerSamplesPerSecond ? { powerSamplesPerSecond: options.powerSamplesPerSecond } : {}),
    };
    let worker: LoopChannel;
    if (options.onOwnThread) {
      worker = options.onOwnThread(data);
    } else {
      worker = new Worker(options.workerFile ?? defaultWorkerFile(), { workerData: data });
    }
    return new Promise((resolve, reject) => {
      let sampler: WorkerSampler | undefined;
      worker.on('message', (m: FromWorker) => {
        if (!sampler) {
          if (m.type === 'ready') {
            sampler = new WorkerSampler(worker, m);
            resolve(sampler);
          } else if (m.type === 'error') {
            reject(new SamplerError(m.message, m.kind));
            void worker.terminate();
          }
          return;
        }
        sampler.onMessage(m);
      });
      worker.once('error', (e) => {
        if (!sampler) reject(e);
        else sampler.emitError(`sampler worker crashed: ${e.message}`, 'other');
      });
      worker.once('exit', (code) => {
        if (!sampler) reject(new Error(`sampler worker exited (${code}) before it was ready`));
        else sampler.exited = true;
      });
    });
  }


  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'batch':
        this.lastEnergies = m.energies;
        this.workerActiveMs = m.workerActiveMs;
        // Decoded only when someone listens.
        if (this.batches.listening) this.batches.fire(decodeBatch(m.batch), m.energies, m.elapsedMs);
        break;
      case 'mark':
        this.marks.get(m.id)?.({ energies: m.energies, elapsedMs: m.elapsedMs });
        this.marks.delete(m.id);
        break;
      case 'replayEnded':
        this.replayEnds.fire();
        break;
      case 'error':
        this.emitError(m.message, m.kind);
        break;
      case 'ready':
      case 'finished':
        break;
    }
  }

  private emitError(message: string, kind: SamplerErrorKind): void {
    this.errors.fire(message, kind);
  }

  /** Batches of samples, with each GPU's energy so far and the sampler's elapsed time. */
  onBatch(listener: Listener<[EngineBatch, GpuEnergy[], number]>): Disposable {
    return this.batches.subscribe(listener);
  }

  /** Non-fatal sampler errors, with their kind (fatal ones reject `start` with a {@link SamplerError}). */
  onError(listener: Listener<[string, SamplerErrorKind]>): Disposable {
    return this.errors.subscribe(listener);
  }

  /** Replays only: the recording has been played to its end. */
  onReplayEnded(listener: Listener<[]>): Disposable {
    return this.replayEnds.subscribe(listener);
  }

  /** Read the energy counters now (a window boundary such as a step or phase marker). */
  mark(): Promise<{ energies: GpuEnergy[]; elapsedMs: number }> {
    const id = ++this.markId;
    return new Promise((resolve) => {
      this.marks.set(id, resolve);
      this.post({ type: 'mark', id });
    });
  }

  /** Stop sampling: a last tick and counter read, then the worker exits. Idempotent. */
  finish(): Promise<SamplerFinish> {
    if (this.finishing) return this.finishing;
    this.finishing = new Promise<SamplerFinish>((resolve, reject) => {
      if (this.exited) {
        reject(new Error('sampler worker already exited'));
        return;
      }
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'finished') {
          this.worker.off('message', onMessage);
          this.lastEnergies = m.energies;
          resolve({ batch: decodeBatch(m.batch), energies: m.energies, elapsedMs: m.elapsedMs, workerActiveMs: m.workerActiveMs, workerLifeMs: m.workerLifeMs });
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', () => reject(new Error('sampler worker exited before finishing')));
      this.post({ type: 'finish' });
    });
    return this.finishing;
  }

  /** Stop the worker without waiting for final figures. */
  async terminate(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }

  private post(m: ToWorker): void {
    if (!this.exited) this.worker.postMessage(m);
  }
}

function defaultWorkerFile(): string {
  // Bundled: dist/samplerWorker.js sits beside dist/cli.js and dist/extension.js.
  const bundled = path.join(__dirname, 'samplerWorker.js');
  if (fs.existsSync(bundled)) return bundled;
  // From sources (tests): a CommonJS shim that registers tsx in the worker and loads the source.
  const source = path.join(__dirname, 'worker.dev.cjs');
  if (fs.existsSync(source)) return source;
  throw new Error(`sampler worker not found beside ${__dirname}`);
}
