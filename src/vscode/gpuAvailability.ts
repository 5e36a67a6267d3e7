/**
 * Whether this machine has GPUs Joules can measure, as learnt from the last sampler start (the
 * ambient wattmeter's or a run's). No `vscode` import: unit-tested.
 */
import { assertNever } from '../core/protocol/panel';
import { SamplerError } from '../core/sampler/samplerError';
import { Emitter } from '../core/events';
import type { Disposable } from '../core/events';

export type GpuState =
  | { kind: 'unknown' }
  | { kind: 'available'; gpuCount: number }
  /**
   * `detail`: why, in NVML's or the loader's words (shown in the tooltip and the error).
   * `source`: who found out; a run's start already told the user in its own error message.
   */
  | { kind: 'unavailable'; detail: string; source: 'wattmeter' | 'run' };

/** A run or the wattmeter could not open NVML, or NVML lists no GPU. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
  constructor(readonly detail: string) {
    super(`no NVIDIA GPU to measure: ${detail}`);
  }
}

/**
 * Whether a sampler start failure means "no GPU here" (rather than a bug). The sampler rejects
 * `start` with a {@link SamplerError} whose kind was set where NVML failed (NvmlLoadError,
 * NvmlError from nvmlInit / nvmlDeviceGetCount); anything else (a bad interval, a crashed worker,
 * a broken trace) is not about this machine's GPUs.
 */
export function isGpuUnavailable(e: unknown): boolean {
  if (!(e instanceof SamplerError)) return false;
  switch (e.kind) {
    case 'no-library':
    case 'driver':
    case 'no-gpu':
    case 'permission':
    case 'lost':
      return true;
    case 'other':
      return false;
    default:
      return assertNever(e.kind);
  }
}

type Listener = (state: GpuState) => void;

export class GpuAvailability {
  private current: GpuState = { kind: 'unknown' };
  private readonly changed = new Emitter<[GpuState]>();

  get state(): GpuState {
    return this.current;
  }

  available(gpuCount: number, source: 'wattmeter' | 'run'): void {
    if (gpuCount === 0) this.set({ kind: 'unavailable', detail: 'NVML loaded but lists no GPU', source });
    else this.set({ kind: 'available', gpuCount });
  }

  unavailable(detail: string, source: 'wattmeter' | 'run'): void {
    this.set({ kind: 'unavailable', detail, source });
  }

  onDidChange(listener: Listener): Disposable {
    return this.changed.subscribe(listener);
  }

  private set(state: GpuState): void {
    if (JSON.stringify(state) === JSON.stringify(this.current)) return;
    this.current = state;
    this.changed.fire(state);
  }
}
