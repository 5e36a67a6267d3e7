import type { GpuInfo, GpuProcessUse, GpuSample, UnavailableGpu } from './types';

/** The per-tick readings of one GPU, without time and energy (the engine adds those). */
export type TickReading = Omit<GpuSample, 'tMs' | 'gpu' | 'energyMillijoules'> & {
  /**
   * Set when the GPU's power could not be read on this tick (the error, e.g.
   * "nvmlDeviceGetPowerUsage: Unknown Error (NVML_ERROR_UNKNOWN, 999)"): the engine records a gap
   * rather than bridging it. Not part of the stored sample.
   */
  powerError?: string;
};

/** One GPU as the sampler engine reads it. Implemented over NVML and over a recorded trace. */
export interface DeviceSource {
  readonly info: GpuInfo;
  /**
   * Cheap readings (µs each): power and utilisation always; with `detail`, also memory, clocks,
   * temperature, clock-event reasons, power limit and P-state (they change slowly).
   * Throws an error its backend's `isDeviceLost` recognises when the GPU fell off the bus.
   */
  readTick(detail: boolean, power?: boolean): TickReading;
  /** The hardware energy counter in mJ, or undefined when `info.energyMethod` is `integrated`. Slow (~4 ms). */
  readEnergyCounterMj(): number | undefined;
  /**
   * Power-ring points newer than the last drain, with times on the backend clock (ms); undefined
   * when the drain failed (the error is counted).
   */
  drainPowerRing(): Array<{ tMs: number; powerMilliwatts: number }> | undefined;
  /**
   * Utilization-ring points (NVML_GPU_UTILIZATION_SAMPLES) newer than the last drain, times on the
   * backend clock; absent where the source has no such ring.
   */
  drainUtilizationRing?(): Array<{ tMs: number; utilGpuPct: number }>;
  /** Processes on this GPU (for attribution), or undefined when unsupported. */
  processes(): GpuProcessUse[] | undefined;
}

/** Where telemetry comes from: NVML on this machine, or a recorded trace replayed. */
export interface TelemetryBackend {
  readonly kind: 'nvml' | 'replay';
  readonly devices: DeviceSource[];
  /** GPUs that failed to open: the others are measured without them. */
  readonly unavailable?: UnavailableGpu[];
  readonly driverVersion?: string;
  readonly nvmlVersion?: string;
  /** Monotonic milliseconds on the backend's clock (virtual for a replay). */
  nowMs(): number;
  /** Metrics reported unsupported, once each ("GPU 0: instant power field (NOT_SUPPORTED)"). */
  takeNotices(): string[];
  /** NVML errors by "call: CODE", counted since the last take. */
  takeErrors(): Record<string, number>;
  /**
   * Whether an error a device read threw means the device is gone for good (NVML:
   * NVML_ERROR_GPU_IS_LOST): the engine then closes its series instead of counting a failure. The
   * engine knows no backend's error types; each backend recognises its own.
   */
  isDeviceLost(err: unknown): boolean;
  /**
   * The key under which the engine counts an unexpected read failure in its batch's `errors`
   * (NVML: "call: code"), or undefined for an error the backend does not know.
   */
  errorKey(err: unknown): string | undefined;
  close(): void;
}
