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
  }

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
  constructor(
    message: string,
    readonly tried: string[],
  ) {
    super(message);
  }
}
