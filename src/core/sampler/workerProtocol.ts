import type { EncodedBatch } from './batchCodec';
import type { GpuEnergy } from './engine';
import type { SamplerErrorKind } from './samplerError';
import type { GpuInfo, UnavailableGpu } from './types';

/** Which telemetry the worker opens. */
export type BackendSpec =
  | { kind: 'nvml'; libraryPath?: string }
  | { kind: 'replay'; tracePath: string; /** Replay N times faster than recorded; Infinity = as fast as possible. */ speed: number };

/** workerData of the sampler worker. */
export interface WorkerStartOptions {
  backend: BackendSpec;
  intervalMs: number;
  /** How often batches are posted (sampler time). */
  batchMs: number;
  counterIntervalMs?: number;
  detailIntervalMs?: number;
  powerRing?: 'auto' | 'on' | 'off';
  /** See EngineOptions.powerSamplesPerSecond. */
  powerSamplesPerSecond?: number;
}

export type ToWorker = { type: 'finish' } | { type: 'mark'; id: number };

export type FromWorker =
  | {
      type: 'ready';
      gpus: GpuInfo[];
      /** GPUs NVML lists that could not be opened; the others are measured. */
      unavailableGpus?: UnavailableGpu[];
      backend: 'nvml' | 'replay';
      driverVersion?: string;
      nvmlVersion?: string;
      libraryPath?: string;
      /** Replays only: length of the recording. */
      replayDurationMs?: number;
    }
  | {
      type: 'batch';
      batch: EncodedBatch;
      energies: GpuEnergy[];
      elapsedMs: number;
      /** Cumulative busy time of the worker's event loop (ms), for overhead figures. */
      workerActiveMs: number;
    }
  | { type: 'mark'; id: number; energies: GpuEnergy[]; elapsedMs: number }
  | { type: 'replayEnded' }
  | {
      type: 'finished';
      batch: EncodedBatch;
      energies: GpuEnergy[];
      elapsedMs: number;
      /** The worker thread's busy time (event-loop utilisation) over its life, for overhead figures. */
      workerActiveMs: number;
      workerLifeMs: number;
    }
  | {
      type: 'error';
      message: string;
      fatal: boolean;
      /** Set where the error was created (NvmlError, NvmlLoadError): the owner decides on it, not on the wording. */
      kind: SamplerErrorKind;
    };
