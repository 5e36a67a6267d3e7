/** nvmlReturn_t values (nvml.h). Names mirror the header without the `NVML_ERROR_` prefix. */
export const NvmlReturn = {
  SUCCESS: 0,
  UNINITIALIZED: 1,
  INVALID_ARGUMENT: 2,
  NOT_SUPPORTED: 3,
  NO_PERMISSION: 4,
  ALREADY_INITIALIZED: 5,
  NOT_FOUND: 6,
  INSUFFICIENT_SIZE: 7,
  INSUFFICIENT_POWER: 8,
  DRIVER_NOT_LOADED: 9,
  TIMEOUT: 10,
  IRQ_ISSUE: 11,
  LIBRARY_NOT_FOUND: 12,
  FUNCTION_NOT_FOUND: 13,
  CORRUPTED_INFOROM: 14,
  GPU_IS_LOST: 15,
  RESET_REQUIRED: 16,
  OPERATING_SYSTEM: 17,
  LIB_RM_VERSION_MISMATCH: 18,
  IN_USE: 19,
  MEMORY: 20,
  NO_DATA: 21,
  VGPU_ECC_NOT_ENABLED: 22,
  INSUFFICIENT_RESOURCES: 23,
  FREQ_NOT_SUPPORTED: 24,
  ARGUMENT_VERSION_MISMATCH: 25,
  DEPRECATED: 26,
  NOT_READY: 27,
  GPU_NOT_FOUND: 28,
  INVALID_STATE: 29,
  UNKNOWN: 999,
} as const;

export type NvmlReturnName = keyof typeof NvmlReturn;

const namesByCode = new Map<number, NvmlReturnName>(
  (Object.entries(NvmlReturn) as Array<[NvmlReturnName, number]>).map(([name, code]) => [code, name]),
);

/** `NOT_SUPPORTED` for 3; `CODE_<n>` for codes this build does not know. */
export function nvmlReturnName(code: number): string {
  return namesByCode.get(code) ?? `CODE_${code}`;
}

/** nvmlFieldValue_t field ids used by Joules. */
export const NvmlField = {
  /** NVML_FI_DEV_POWER_AVERAGE: the 1 s average (nvidia-smi `power.draw.average`). */
  POWER_AVERAGE: 185,
  /** NVML_FI_DEV_POWER_INSTANT (nvidia-smi `power.draw.instant`). */
  POWER_INSTANT: 186,
} as const;

/** nvmlClockType_t. */
export const NvmlClock = { GRAPHICS: 0, SM: 1, MEM: 2, VIDEO: 3 } as const;

/** nvmlSamplingType_t: NVML_TOTAL_POWER_SAMPLES. */
export const NVML_TOTAL_POWER_SAMPLES = 0;
/** nvmlSamplingType_t: NVML_GPU_UTILIZATION_SAMPLES (percent of time a kernel ran, per driver sample period). */
export const NVML_GPU_UTILIZATION_SAMPLES = 1;

/** nvmlValueType_t. */
export const NvmlValueType = { DOUBLE: 0, UNSIGNED_INT: 1, UNSIGNED_LONG: 2, UNSIGNED_LONG_LONG: 3, SIGNED_LONG_LONG: 4, SIGNED_INT: 5, UNSIGNED_SHORT: 6 } as const;

/** nvmlDeviceArchitecture_t to a name. */
export const NVML_ARCHITECTURES: Record<number, string> = {
  2: 'Kepler',
  3: 'Maxwell',
  4: 'Pascal',
  5: 'Volta',
  6: 'Turing',
  7: 'Ampere',
  8: 'Ada',
  9: 'Hopper',
  10: 'Blackwell',
};
