/**
 * Why the sampler could not measure, as a kind rather than a sentence: the worker thread passes
 * errors on as structured clones, which keep an Error's message but not its class, so the kind
 * travels beside the message (workerProtocol `error`) and the editor decides on it, not on wording.
 */

/**
 * - `no-library`: NVML could not be loaded (no driver installed, not an NVML library, macOS).
 * - `driver`: NVML loaded but could not start (driver not loaded, library/driver version mismatch,
 *   any other failure of nvmlInit or nvmlDeviceGetCount).
 * - `no-gpu`: NVML started but found no GPU.
 * - `permission`: the user may not open the GPUs (NVML_ERROR_NO_PERMISSION).
 * - `lost`: the GPU fell off the bus (NVML_ERROR_GPU_IS_LOST).
 * - `other`: anything else (a bad trace, a bug): not a statement about this machine's GPUs.
 */
export type SamplerErrorKind = 'no-library' | 'driver' | 'no-gpu' | 'permission' | 'lost' | 'other';

const KINDS: ReadonlySet<string> = new Set<SamplerErrorKind>(['no-library', 'driver', 'no-gpu', 'permission', 'lost', 'other']);

/** The kind an error carries (NvmlError and NvmlLoadError set one where they are created), else `other`. */
export function samplerErrorKind(e: unknown): SamplerErrorKind {
  const kind = typeof e === 'object' && e !== null && 'kind' in e ? e.kind : undefined;
  return typeof kind === 'string' && KINDS.has(kind) ? (kind as SamplerErrorKind) : 'other';
}

/** A sampler failure on the owner's side of the worker: the worker's message, and its kind. */
export class SamplerError extends Error {
  override readonly name = 'SamplerError';
  constructor(
    message: string,
    readonly kind: SamplerErrorKind,
  ) {
    super(message);
  }
}
