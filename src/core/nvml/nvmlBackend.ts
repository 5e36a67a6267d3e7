import { performance } from 'node:perf_hooks';
import type { DeviceSource, TelemetryBackend, TickReading } from '../sampler/backend';
import type { GpuInfo, GpuProcessUse, MetricName, UnavailableGpu } from '../sampler/types';
import { NVML_ARCHITECTURES, NVML_GPU_UTILIZATION_SAMPLES, NvmlClock, NvmlField, NvmlReturn, nvmlReturnName } from './constants';
import type { DeviceHandle, NvmlLoadOptions } from './nvml';
import { Nvml } from './nvml';
import { NvmlError } from './nvmlError';

const POWER_FIELDS = [NvmlField.POWER_INSTANT, NvmlField.POWER_AVERAGE];
const INSTANT_FIELD = [NvmlField.POWER_INSTANT];

const METRIC_LABELS: Record<MetricName, string> = {
  powerUsage: 'power usage (nvmlDeviceGetPowerUsage)',
  powerInstant: 'instant power field (NVML_FI_DEV_POWER_INSTANT)',
  powerAverageField: '1 s average power field (NVML_FI_DEV_POWER_AVERAGE)',
  powerSamples: 'power sample ring (nvmlDeviceGetSamples)',
  utilizationSamples: 'utilization sample ring (nvmlDeviceGetSamples NVML_GPU_UTILIZATION_SAMPLES)',
  energyCounter: 'energy counter (nvmlDeviceGetTotalEnergyConsumption)',
  utilization: 'utilization (nvmlDeviceGetUtilizationRates)',
  memoryInfo: 'memory info (nvmlDeviceGetMemoryInfo)',
  smClock: 'SM clock (nvmlDeviceGetClockInfo)',
  memClock: 'memory clock (nvmlDeviceGetClockInfo)',
  temperature: 'temperature (nvmlDeviceGetTemperature)',
  powerLimit: 'enforced power limit (nvmlDeviceGetEnforcedPowerLimit)',
  powerLimitConstraints: 'power limit range (nvmlDeviceGetPowerManagementLimitConstraints)',
  clockEventReasons: 'clock-event reasons (nvmlDeviceGetCurrentClocksEventReasons)',
  performanceState: 'performance state (nvmlDeviceGetPerformanceState)',
  computeProcesses: 'running compute processes (nvmlDeviceGetComputeRunningProcesses)',
  processUtilization: 'per-process utilization (nvmlDeviceGetProcessUtilization)',
  architecture: 'architecture (nvmlDeviceGetArchitecture)',
  pciBusId: 'PCI bus id (nvmlDeviceGetPciInfo)',
};

/**
 * NVML-backed telemetry: one capability probe per device at open, then cheap reads per tick.
 * A metric that answers NOT_SUPPORTED (or is missing from the library) is marked unsupported and
 * reported once; any other error on a tick is counted and the field left out for that tick.
 */
export class NvmlBackend implements TelemetryBackend {
  readonly kind = 'nvml' as const;
  readonly devices: NvmlDevice[] = [];
  readonly unavailable: UnavailableGpu[] = [];
  readonly driverVersion?: string;
  readonly nvmlVersion?: string;
  private readonly notices: string[] = [];
  private errors: Record<string, number> = {};
  private closed = false;

  private constructor(readonly nvml: Nvml) {
    nvml.init();
    try {
      this.driverVersion = tryOr(() => nvml.systemGetDriverVersion(), undefined);
      this.nvmlVersion = tryOr(() => nvml.systemGetNVMLVersion(), undefined);
      const count = nvml.deviceGetCount();
      // One by one: a GPU that is lost or fails to open leaves the healthy ones measured.
      for (let i = 0; i < count; i++) {
        try {
          this.devices.push(new NvmlDevice(this, i, nvml.deviceGetHandleByIndex(i)));
        } catch (e) {
          this.unavailable.push({ index: i, error: e instanceof Error ? e.message : String(e) });
        }
      }
    } catch (e) {
      nvml.shutdown();
      throw e;
    }
  }

  /** Load and initialise NVML and probe every device. Throws NvmlLoadError / NvmlError. */
  static open(options: NvmlLoadOptions = {}): NvmlBackend {
    return new NvmlBackend(Nvml.load(options));
  }

  nowMs(): number {
    return performance.now();
  }

  /** @internal */
  notice(text: string): void {
    this.notices.push(text);
  }

  /** @internal */
  countError(e: unknown, call: string): void {
    const key = NvmlError.is(e) ? `${e.call}: ${nvmlReturnName(e.code)}` : `${call}: ${e instanceof Error ? e.message : String(e)}`;
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }

  takeNotices(): string[] {
    return this.notices.splice(0);
  }

  takeErrors(): Record<string, number> {
    const e = this.errors;
    this.errors = {};
    return e;
  }

  isDeviceLost(err: unknown): boolean {
    return NvmlError.is(err, NvmlReturn.GPU_IS_LOST);
  }

  errorKey(err: unknown): string | undefined {
    return NvmlError.is(err) ? `${err.call}: ${err.code}` : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    tryOr(() => this.nvml.shutdown(), undefined);
  }
}

/** One NVML device with its probed capabilities. */
export class NvmlDevice implements DeviceSource {
  readonly info: GpuInfo;
  private readonly supported: Partial<Record<MetricName, boolean>> = {};
  private lastRingTimeStampUs = 0;
  private ringScratch: Buffer | undefined;
  private lastUtilTimeStampUs = 0;
  private utilScratch: Buffer | undefined;
  private lastProcUtilTimeStampUs = 0;
  /** The last error `read` counted, so a tick can say why its power reading is missing. */
  private lastReadError: string | undefined;
  /** Offset from NVML's wall-clock microsecond timestamps to this process's monotonic ms clock. */
  private readonly wallToMonoMs = performance.now() - Date.now();

  constructor(
    private readonly backend: NvmlBackend,
    readonly index: number,
    private readonly handle: DeviceHandle,
  ) {
    const nvml = backend.nvml;
    const h = handle;
    const name = nvml.deviceGetName(h);
    const uuid = nvml.deviceGetUUID(h);
    const probe = <T>(metric: MetricName, read: () => T): T | undefined => {
      try {
        const value = read();
        this.supported[metric] = true;
        return value;
      } catch (e) {
        // A GPU lost while it is being opened is not opened at all.
        if (NvmlError.is(e, NvmlReturn.GPU_IS_LOST)) throw e;
        if (NvmlError.isUnsupported(e)) {
          this.supported[metric] = false;
        } else {
          // Transient or unexpected (e.g. NOT_FOUND before the first sample): keep trying per tick.
          this.supported[metric] = true;
          backend.countError(e, METRIC_LABELS[metric]);
        }
        return undefined;
      }
    };
    const pciBusId = probe('pciBusId', () => nvml.deviceGetPciBusId(h));
    const arch = probe('architecture', () => nvml.deviceGetArchitecture(h));
    const mem = probe('memoryInfo', () => nvml.deviceGetMemoryInfo(h));
    probe('powerUsage', () => nvml.deviceGetPowerUsage(h));
    const fields = probe('powerInstant', () => {
      const [instant, average] = nvml.deviceGetFieldValues(h, [NvmlField.POWER_INSTANT, NvmlField.POWER_AVERAGE]);
      if (average instanceof NvmlError) this.supported.powerAverageField = !NvmlError.isUnsupported(average);
      else this.supported.powerAverageField = true;
      if (instant instanceof NvmlError) throw instant;
      return instant;
    });
    void fields;
    const energy = probe('energyCounter', () => nvml.deviceGetTotalEnergyConsumption(h));
    probe('powerSamples', () => nvml.deviceGetPowerSamples(h, 0));
    probe('utilizationSamples', () => nvml.deviceGetSamples(h, NVML_GPU_UTILIZATION_SAMPLES, 0));
    probe('utilization', () => nvml.deviceGetUtilizationRates(h));
    probe('smClock', () => nvml.deviceGetClockInfo(h, NvmlClock.SM));
    probe('memClock', () => nvml.deviceGetClockInfo(h, NvmlClock.MEM));
    probe('temperature', () => nvml.deviceGetTemperature(h));
    const limit = probe('powerLimit', () => nvml.deviceGetEnforcedPowerLimit(h));
    const range = probe('powerLimitConstraints', () => nvml.deviceGetPowerManagementLimitConstraints(h));
    probe('clockEventReasons', () => nvml.deviceGetCurrentClocksEventReasons(h));
    probe('performanceState', () => nvml.deviceGetPerformanceState(h));
    probe('computeProcesses', () => nvml.deviceGetComputeRunningProcesses(h));
    probe('processUtilization', () => nvml.deviceGetProcessUtilization(h, 0));

    for (const [metric, ok] of Object.entries(this.supported) as Array<[MetricName, boolean]>) {
      if (!ok) backend.notice(`GPU ${index}: ${METRIC_LABELS[metric]} is not supported`);
    }
    const energyMethod = this.supported.energyCounter && energy !== undefined ? 'counter' : 'integrated';
    this.info = {
      index,
      name,
      uuid,
      ...(pciBusId !== undefined ? { pciBusId } : {}),
      ...(arch !== undefined ? { architecture: NVML_ARCHITECTURES[arch] ?? `arch ${arch}` } : {}),
      ...(mem ? { memTotalBytes: mem.totalBytes } : {}),
      ...(limit !== undefined ? { powerLimitMilliwatts: limit } : {}),
      ...(range ? { powerLimitMinMilliwatts: range.minMilliwatts, powerLimitMaxMilliwatts: range.maxMilliwatts } : {}),
      powerSource: this.supported.powerInstant ? 'instant' : 'average',
      energyMethod,
      ...(energyMethod === 'integrated'
        ? {
            energyMethodReason: this.supported.energyCounter === false
              ? 'the energy counter (nvmlDeviceGetTotalEnergyConsumption) is not supported on this GPU (pre-Volta or vGPU); energy is integrated from sampled power'
              : 'the energy counter failed at start; energy is integrated from sampled power',
          }
        : {}),
      supported: { ...this.supported },
    };
  }

  /** Run `read` for a supported metric; unsupported → undefined, lost GPU → rethrow, other → counted. */
  private read<T>(metric: MetricName, read: () => T): T | undefined {
    if (this.supported[metric] === false) return undefined;
    try {
      return read();
    } catch (e) {
      if (NvmlError.is(e, NvmlReturn.GPU_IS_LOST)) throw e;
      if (NvmlError.isUnsupported(e)) {
        this.supported[metric] = false;
        this.backend.notice(`GPU ${this.index}: ${METRIC_LABELS[metric]} is not supported`);
      } else {
        this.backend.countError(e, METRIC_LABELS[metric]);
        this.lastReadError = e instanceof Error ? e.message : String(e);
      }
      return undefined;
    }
  }

  /** A failed entry of a field-values answer counts like a failed call (it was silently dropped before). */
  private fieldFailed(metric: MetricName, e: NvmlError): void {
    const message = e.message;
    if (e.code === NvmlReturn.GPU_IS_LOST) throw e;
    if (NvmlError.isUnsupported(e)) {
      if (this.supported[metric] === false) return;
      this.supported[metric] = false;
      this.backend.notice(`GPU ${this.index}: ${METRIC_LABELS[metric]} is not supported`);
      return;
    }
    this.backend.countError(e, METRIC_LABELS[metric]);
    this.lastReadError = message;
  }

  readTick(detail: boolean, power = true): TickReading {
    const nvml = this.backend.nvml;
    const h = this.handle;
    const r: TickReading = {};
    this.lastReadError = undefined;
    // One field-values call returns both the instant and the 1 s average power (~5 us on an H200).
    if (power && this.supported.powerInstant) {
      const both = this.supported.powerAverageField === true;
      const values = this.read('powerInstant', () => nvml.deviceGetFieldValues(h, both ? POWER_FIELDS : INSTANT_FIELD));
      if (values) {
        const [instant, average] = values;
        if (typeof instant === 'number') r.powerMilliwatts = instant;
        else if (instant) this.fieldFailed('powerInstant', instant);
        if (typeof average === 'number') r.powerAverageMilliwatts = average;
        else if (average) this.fieldFailed('powerAverageField', average);
      }
    }
    if (power && r.powerMilliwatts === undefined && this.info.powerSource === 'average') {
      const p = this.read('powerUsage', () => nvml.deviceGetPowerUsage(h));
      if (p !== undefined) r.powerMilliwatts = p;
    }
    if (r.powerMilliwatts === undefined && r.powerAverageMilliwatts === undefined && this.lastReadError !== undefined) {
      r.powerError = this.lastReadError;
    }
    const util = this.read('utilization', () => nvml.deviceGetUtilizationRates(h));
    if (util) {
      r.utilGpuPct = util.gpuPct;
      r.utilMemPct = util.memoryPct;
    }
    if (!detail) return r;
    const mem = this.read('memoryInfo', () => nvml.deviceGetMemoryInfo(h));
    if (mem) r.memUsedBytes = mem.usedBytes;
    const sm = this.read('smClock', () => nvml.deviceGetClockInfo(h, NvmlClock.SM));
    if (sm !== undefined) r.smClockMhz = sm;
    const memClock = this.read('memClock', () => nvml.deviceGetClockInfo(h, NvmlClock.MEM));
    if (memClock !== undefined) r.memClockMhz = memClock;
    const temp = this.read('temperature', () => nvml.deviceGetTemperature(h));
    if (temp !== undefined) r.temperatureC = temp;
    const reasons = this.read('clockEventReasons', () => nvml.deviceGetCurrentClocksEventReasons(h));
    if (reasons !== undefined) r.clockEventReasons = reasons;
    const limit = this.read('powerLimit', () => nvml.deviceGetEnforcedPowerLimit(h));
    if (limit !== undefined) r.powerLimitMilliwatts = limit;
    const pstate = this.read('performanceState', () => nvml.deviceGetPerformanceState(h));
    if (pstate !== undefined) r.pstate = pstate;
    return r;
  }

  readEnergyCounterMj(): number | undefined {
    if (this.info.energyMethod !== 'counter') return undefined;
    return this.read('energyCounter', () => this.backend.nvml.deviceGetTotalEnergyConsumption(this.handle));
  }

  drainPowerRing(): Array<{ tMs: number; powerMilliwatts: number }> | undefined {
    if (!this.ringScratch) {
      const capacity = this.read('powerSamples', () => this.backend.nvml.deviceGetPowerSamplesCapacity(this.handle));
      if (!capacity) return capacity === 0 ? [] : undefined;
      this.ringScratch = Buffer.alloc(16 * capacity);
    }
    const scratch = this.ringScratch;
    const samples = this.read('powerSamples', () => this.backend.nvml.deviceGetPowerSamples(this.handle, this.lastRingTimeStampUs, scratch));
    if (!samples) return undefined;
    if (samples.length === 0) return [];
    this.lastRingTimeStampUs = samples[samples.length - 1]!.timeStampUs;
    return samples.map((s) => ({ tMs: s.timeStampUs / 1000 + this.wallToMonoMs, powerMilliwatts: s.powerMilliwatts }));
  }

  drainUtilizationRing(): Array<{ tMs: number; utilGpuPct: number }> {
    if (!this.supported.utilizationSamples) return [];
    if (!this.utilScratch) {
      const capacity = this.read('utilizationSamples', () => this.backend.nvml.deviceGetSamplesCapacity(this.handle, NVML_GPU_UTILIZATION_SAMPLES));
      if (!capacity) return [];
      this.utilScratch = Buffer.alloc(16 * capacity);
    }
    const scratch = this.utilScratch;
    const samples = this.read('utilizationSamples', () =>
      this.backend.nvml.deviceGetSamples(this.handle, NVML_GPU_UTILIZATION_SAMPLES, this.lastUtilTimeStampUs, scratch),
    );
    if (!samples || samples.length === 0) return [];
    this.lastUtilTimeStampUs = samples[samples.length - 1]!.timeStampUs;
    return samples.map((s) => ({ tMs: s.timeStampUs / 1000 + this.wallToMonoMs, utilGpuPct: s.value }));
  }

  processes(): GpuProcessUse[] | undefined {
    const procs = this.read('computeProcesses', () => this.backend.nvml.deviceGetComputeRunningProcesses(this.handle));
    if (!procs) return undefined;
    // Per-process utilisation costs milliseconds on an H200 and only matters when processes share
    // the GPU (to split its energy): ask for it only then.
    const utils =
      procs.length > 1
        ? (this.read('processUtilization', () => this.backend.nvml.deviceGetProcessUtilization(this.handle, this.lastProcUtilTimeStampUs)) ?? [])
        : [];
    const smByPid = new Map<number, number>();
    for (const u of utils) {
      this.lastProcUtilTimeStampUs = Math.max(this.lastProcUtilTimeStampUs, u.timeStampUs);
      smByPid.set(u.pid, Math.max(smByPid.get(u.pid) ?? 0, u.smUtilPct));
    }
    return procs.map((p) => ({
      gpu: this.index,
      pid: p.pid,
      ...(p.usedGpuMemoryBytes !== undefined ? { usedGpuMemoryBytes: p.usedGpuMemoryBytes } : {}),
      ...(smByPid.has(p.pid) ? { smUtilPct: smByPid.get(p.pid)! } : {}),
    }));
  }
}

function tryOr<T, F>(fn: () => T, fallback: F): T | F {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
