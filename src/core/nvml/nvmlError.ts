import type { SamplerErrorKind } from '../sampler/samplerError';
import { nvmlReturnName, NvmlReturn } from './constants';

/** One error type for every failed NVML call: the return code, the call, and NVML's own message. */
export class NvmlError extends Error {
  override readonly name = 'NvmlError';

  constructor(
    /** nvmlReturn_t of the failed call. */
    readonly code: number,
    /** The NVML function that failed, e.g. `nvmlDeviceGetPowerUsage`. */
    readonly call: string,
    /** nvmlErrorString(code), when the library could give it. */
    readonly nvmlMessage?: string,
  ) {
    super(`${call}: ${nvmlMessage ?? nvmlReturnName(code)} (NVML_ERROR_${nvmlReturnName(code)}, ${code})`);
    this.kind = nvmlErrorKind(code, call);
  }

  /** What the failure says about this machine's GPUs; see {@link nvmlErrorKind}. */
  readonly kind: SamplerErrorKind;

  /** `NvmlError.is(e, NvmlReturn.NOT_SUPPORTED)`. Without a code: any NvmlError. */
  static is(e: unknown, code?: number): e is NvmlError {
    return e instanceof NvmlError && (code === undefined || e.code === code);
  }

  /** The metric cannot be read on this device or driver: report once, then stop asking. */
  static isUnsupported(e: unknown): boolean {
    return (
      e instanceof NvmlError &&
      (e.code === NvmlReturn.NOT_SUPPORTED || e.code === NvmlReturn.FUNCTION_NOT_FOUND || e.code === NvmlReturn.NO_PERMISSION)
    );
  }
}

/** NVML could not be loaded at all; lists every place that was tried. */
export class NvmlLoadError extends Error {
  override readonly name = 'NvmlLoadError';
  readonly kind: SamplerErrorKind = 'no-library';
  constructor(
    message: string,
    readonly tried: string[],
  ) {
    super(message);
  }
}

/** The calls that start NVML: when one fails, NVML itself did not come up on this machine. */
const START_CALL = /^nvml(Init|DeviceGetCount)(_v\d+)?$/;

/**
 * The kind of a failed NVML call, from its return code (nvml.h) and, for codes that say nothing
 * specific, whether it was one of the calls that start NVML: any failure there leaves nothing to
 * measure, whatever the code (UNKNOWN included), so it is the driver's, not Joules'.
 */
export function nvmlErrorKind(code: number, call: string): SamplerErrorKind {
  switch (code) {
    case NvmlReturn.NO_PERMISSION:
      return 'permission';
    case NvmlReturn.GPU_IS_LOST:
      return 'lost';
    case NvmlReturn.GPU_NOT_FOUND:
      return 'no-gpu';
    case NvmlReturn.DRIVER_NOT_LOADED:
    case NvmlReturn.LIB_RM_VERSION_MISMATCH:
      return 'driver';
    default:
      return START_CALL.test(call) ? 'driver' : 'other';
  }
}
