import type { GpuInfo, GpuSample } from '../core/sampler/types';
import { Emitter } from '../core/events';
import type { Disposable } from '../core/events';
import { WorkerSampler } from '../core/sampler/workerSampler';
import type { EngineBatch } from '../core/sampler/engine';
import type { GpuAvailability } from './gpuAvailability';
import { isGpuUnavailable } from './gpuAvailability';

/** What the wattmeter shows between runs. */
export interface AmbientReading {
  gpus: GpuInfo[];
  /** Latest sample per NVML index. */
  latest: ReadonlyMap<number, GpuSample>;
}

/** A wattmeter reads once a second; a faster tick would only cost NVML calls nobody sees. */
const AMBIENT_INTERVAL_MS = 1000;

/**
 * The "between runs" wattmeter: an NVML sampler worker that lives only while it is wanted (setting
 * on) and no run samples. `pause()` stops it before a run starts its own sampler, so the two never
 * sample at once; `resume()` restarts it after. State changes are applied one at a time in order,
 * so a pause that arrives while the worker is still starting waits for it and then stops it.
 */
export class AmbientMeter {
  private sampler: WorkerSampler | undefined;
  private reading: AmbientReading | undefined;
  private enabled = false;
  private paused = false;
  private disposed = false;
  private queue: Promise<void> = Promise.resolve();
  /** Set after a "no GPU" failure so the worker is not restarted in a loop; cleared by setEnabled. */
  private gaveUp = false;

  constructor(
    private readonly workerFile: string,
    private readonly availability: GpuAvailability,
    private readonly onError: (message: string) => void,
  ) {}

  private readonly updated = new Emitter<[]>();
  private readonly batchEvent = new Emitter<[EngineBatch]>();

  /** Every batch of the wattmeter's sampler (the idle-GPU watchdog reads them); its clock restarts with each sampler. */
  onBatch(listener: (batch: EngineBatch) => void): Disposable {
    return this.batchEvent.subscribe(listener);
  }

  /** The figures, or whether there are any, changed (asynchronously, never during a call into the meter). */
  onDidUpdate(listener: () => void): Disposable {
    return this.updated.subscribe(listener);
  }

  private onUpdate(): void {
    this.updated.fire();
  }

  /** The latest figures, or undefined while stopped or before the first batch. */
  get latest(): AmbientReading | undefined {
    return this.reading;
  }

  get running(): boolean {
    return this.sampler !== undefined;
  }

  /** On and able to run: sampling now, or paused for a run, or starting. */
  get wanted(): boolean {
    return this.enabled && !this.disposed && !this.gaveUp;
  }

  /** Turn the wattmeter on or off (the setting); retries NVML when turned on again. */
  setEnabled(on: boolean): Promise<void> {
    this.enabled = on;
    if (on) this.gaveUp = false;
    return this.reconcile();
  }

  /** Stop sampling while a run samples; resolves once the worker is gone. */
  pause(): Promise<void> {
    this.paused = true;
    return this.reconcile();
  }

  resume(): Promise<void> {
    this.paused = false;
    return this.reconcile();
  }

  dispose(): Promise<void> {
    this.disposed = true;
    return this.reconcile();
  }

  private reconcile(): Promise<void> {
    this.queue = this.queue.then(() => this.apply());
    return this.queue;
  }

  private async apply(): Promise<void> {
    const want = this.enabled && !this.paused && !this.disposed && !this.gaveUp;
    if (want && !this.sampler) await this.startSampler();
    else if (!want && this.sampler) await this.stopSampler();
  }

  private async startSampler(): Promise<void> {
    try {
      const sampler = await WorkerSampler.start({ backend: { kind: 'nvml' }, intervalMs: AMBIENT_INTERVAL_MS, batchMs: AMBIENT_INTERVAL_MS, workerFile: this.workerFile });
      this.availability.available(sampler.gpus.length, 'wattmeter');
      if (sampler.gpus.length === 0) {
        this.gaveUp = true;
        await sampler.finish().catch(() => undefined);
        return;
      }
      this.sampler = sampler;
      const latest = new Map<number, GpuSample>();
      this.reading = { gpus: sampler.gpus, latest };
      sampler.onBatch((batch) => {
        for (const s of batch.samples) latest.set(s.gpu, s);
        this.onUpdate();
        this.batchEvent.fire(batch);
      });
      sampler.onError((message) => this.onError(`ambient wattmeter: ${message}`));
    } catch (e) {
      this.gaveUp = true;
      const message = e instanceof Error ? e.message : String(e);
      if (isGpuUnavailable(e)) this.availability.unavailable(message, 'wattmeter');
      else this.onError(`ambient wattmeter could not start: ${message}`);
    }
    this.onUpdate();
  }

  private async stopSampler(): Promise<void> {
    const sampler = this.sampler;
    this.sampler = undefined;
    this.reading = undefined;
    this.onUpdate();
    if (!sampler) return;
    try {
      // finish() lets the worker call nvmlShutdown; terminate() is the fallback if it is stuck.
      await Promise.race([sampler.finish(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000))]);
    } catch {
      await sampler.terminate();
    }
  }
}
