/**
 * Whether this machine has GPUs Joules can measure, as learnt from the last sampler start (the
 * ambient wattmeter's or a run's). No `vscode` import: unit-tested.
 */

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
 * Whether a sampler start failure means "no GPU here" (rather than a bug). The worker passes the
 * error on as text only (workerProtocol `error.message`), so this reads NvmlLoadError's and
 * nvmlInit's wording: "NVML could not be loaded ...", "NVML is not available on macOS", or an
 * NvmlError from nvmlInit/nvmlDeviceGetCount (e.g. DRIVER_NOT_LOADED).
 */
export function isGpuUnavailable(e: unknown): boolean {
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return /\bNVML\b|nvmlInit|nvmlDeviceGetCount|not an NVML library|libnvidia-ml|nvml\.dll/i.test(message);
}

type Listener = (state: GpuState) => void;

export class GpuAvailability {
  private current: GpuState = { kind: 'unknown' };
  private readonly listeners = new Set<Listener>();

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

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private set(state: GpuState): void {
    if (JSON.stringify(state) === JSON.stringify(this.current)) return;
    this.current = state;
    for (const l of this.listeners) l(state);
  }
}
