/**
 * Plain-data telemetry types shared by the sampler, the run store, the analysis, the CLI and
 * (through the panel protocol) the webview. No Node or `vscode` imports here: the webview bundles it.
 */

/**
 * Where a power figure came from.
 * - `instant`: nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT = 186), nvidia-smi `power.draw.instant`.
 * - `average`: nvmlDeviceGetPowerUsage, a 1 s moving average on Ampere (except GA100) and newer,
 *   nvidia-smi `power.draw` (`power.draw.average` on recent drivers).
 * - `ring`: nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES), the driver's ~20 ms power ring.
 */
export type PowerSource = 'instant' | 'average' | 'ring';

/**
 * How a run's energy was obtained.
 * - `counter`: deltas of nvmlDeviceGetTotalEnergyConsumption (Volta and newer), the hardware figure.
 * - `integrated`: trapezoid integration of sampled power, used where the counter is not supported
 *   (pre-Volta, many vGPUs) or failed; the record says why.
 */
export type EnergyMethod = 'counter' | 'integrated';

/**
 * How a run's energy figure was obtained in the end: a GPU whose counter failed mid-run (or at the
 * final read, or that was lost between counter reads) is `counter+integrated`: counter deltas up to
 * its last good read, integrated power after it.
 */
export type RunEnergyMethod = EnergyMethod | 'counter+integrated';

/** How one GPU's energy so far was obtained, and the time each method covers. */
export interface EnergyAccount {
  method: RunEnergyMethod;
  /** Time covered by energy-counter deltas (ms). */
  counterMs: number;
  /** Time covered by integrated power (ms). */
  integratedMs: number;
  /** Time with no power reading and no counter to cover it: its energy is not in the figure (ms). */
  gapMs: number;
  /** The counter's first failed read of a failure that lasted (ms since the epoch). */
  counterFailedAtMs?: number;
  /** Counter GPUs: the raw counter delta over the counter spans, for checking against nvidia-smi by hand. */
  counterDeltaMillijoules?: number;
}

/** Metrics the capability probe checks once per device. */
export type MetricName =
  | 'powerUsage'
  | 'powerInstant'
  | 'powerAverageField'
  | 'powerSamples'
  | 'utilizationSamples'
  | 'energyCounter'
  | 'utilization'
  | 'memoryInfo'
  | 'smClock'
  | 'memClock'
  | 'temperature'
  | 'powerLimit'
  | 'powerLimitConstraints'
  | 'clockEventReasons'
  | 'performanceState'
  | 'computeProcesses'
  | 'processUtilization'
  | 'architecture'
  | 'pciBusId';

/** One GPU as the sampler sees it: identity, static figures and what it supports. */
export interface GpuInfo {
  /** NVML index (PCI order; differs from CUDA order, so match by `uuid`). */
  index: number;
  name: string;
  uuid: string;
  pciBusId?: string;
  /** e.g. `Hopper`, from nvmlDeviceGetArchitecture. */
  architecture?: string;
  memTotalBytes?: number;
  /** Enforced power limit at probe time (nvidia-smi `power.limit`). */
  powerLimitMilliwatts?: number;
  powerLimitMinMilliwatts?: number;
  powerLimitMaxMilliwatts?: number;
  /** Which power reading the tick samples carry. */
  powerSource: Exclude<PowerSource, 'ring'>;
  energyMethod: EnergyMethod;
  /** Why the energy method is `integrated` (e.g. "energy counter not supported (NVML_ERROR_NOT_SUPPORTED)"). */
  energyMethodReason?: string;
  /** What the capability probe found, per metric. */
  supported: Partial<Record<MetricName, boolean>>;
}

/** A GPU NVML lists but that could not be opened (lost before the start, handle or identity failed). */
export interface UnavailableGpu {
  /** NVML index. */
  index: number;
  /** The failed call and its error, e.g. "nvmlDeviceGetHandleByIndex: GPU is lost (NVML_ERROR_GPU_IS_LOST, 15)". */
  error: string;
}

/** Clock-event reason bits (nvml.h `nvmlClocksEventReason*`, formerly "throttle reasons"). */
export const ClockEventReason = {
  GpuIdle: 0x1,
  ApplicationsClocksSetting: 0x2,
  SwPowerCap: 0x4,
  HwSlowdown: 0x8,
  SyncBoost: 0x10,
  SwThermalSlowdown: 0x20,
  HwThermalSlowdown: 0x40,
  HwPowerBrakeSlowdown: 0x80,
  DisplayClockSetting: 0x100,
} as const;

/** One GPU at one sampler tick. Absent fields were unsupported or failed on this tick. */
export interface GpuSample {
  /** Milliseconds since the sampler's epoch (the run's start). */
  tMs: number;
  /** NVML index of the GPU. */
  gpu: number;
  /** Power at this tick, from `GpuInfo.powerSource` (nvidia-smi `power.draw.instant` / `power.draw`). */
  powerMilliwatts?: number;
  /** NVML_FI_DEV_POWER_AVERAGE, the 1 s average (nvidia-smi `power.draw.average`); integrated for live energy. */
  powerAverageMilliwatts?: number;
  /** nvidia-smi `utilization.gpu`: share of time a kernel ran in the last sample period. */
  utilGpuPct?: number;
  /** nvidia-smi `utilization.memory`. */
  utilMemPct?: number;
  /** nvidia-smi `memory.used`. */
  memUsedBytes?: number;
  /** nvidia-smi `clocks.sm`. */
  smClockMhz?: number;
  /** nvidia-smi `clocks.mem`. */
  memClockMhz?: number;
  /** nvidia-smi `temperature.gpu`. */
  temperatureC?: number;
  /** Bitmask of `ClockEventReason` (nvidia-smi `clocks_event_reasons.active`). */
  clockEventReasons?: number;
  /** Enforced power limit (nvidia-smi `power.limit`). */
  powerLimitMilliwatts?: number;
  /** Performance state P0-P15 (nvidia-smi `pstate`). */
  pstate?: number;
  /** Energy of this GPU since the epoch, by `GpuInfo.energyMethod`. */
  energyMillijoules?: number;
}

/** One point of the driver's power ring (about 20 ms apart), so no power is lost between ticks. */
export interface PowerPoint {
  gpu: number;
  tMs: number;
  powerMilliwatts: number;
}

/** A gap in a GPU's series, e.g. NVML_ERROR_GPU_IS_LOST mid-run. */
export interface SampleGap {
  gpu: number;
  startMs: number;
  /** Undefined while the gap is still open. */
  endMs?: number;
  reason: string;
}

/** What the sampler delivers to its owner a few times a second. */
export interface SampleBatch {
  samples: GpuSample[];
  powerPoints: PowerPoint[];
  gaps: SampleGap[];
}

/** Per-process view of a GPU at one tick (for attribution). */
export interface GpuProcessUse {
  gpu: number;
  pid: number;
  usedGpuMemoryBytes?: number;
  /** SM utilisation of this process from nvmlDeviceGetProcessUtilization (an estimate, per NVML). */
  smUtilPct?: number;
}
