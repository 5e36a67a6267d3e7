import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { NVML_TOTAL_POWER_SAMPLES, NvmlReturn, NvmlValueType } from './constants';
import { nvmlCandidates } from './library';
import { NvmlError, NvmlLoadError } from './nvmlError';

/** An NVML device handle (nvmlDevice_t), opaque to JS. */
export type DeviceHandle = { readonly __nvmlDevice: unique symbol };

type KoffiFn = (...args: unknown[]) => unknown;

/** nvmlMemory_t. */
export interface NvmlMemory {
  totalBytes: number;
  freeBytes: number;
  usedBytes: number;
}

/** nvmlProcessInfo_t (v1, v2 and v3 agree on pid and usedGpuMemory). */
export interface NvmlProcessInfo {
  pid: number;
  /** Undefined when NVML reports NVML_VALUE_NOT_AVAILABLE (e.g. on Windows WDDM). */
  usedGpuMemoryBytes: number | undefined;
}

/** nvmlProcessUtilizationSample_t. */
export interface NvmlProcessUtilization {
  pid: number;
  timeStampUs: number;
  smUtilPct: number;
  memUtilPct: number;
}

/** One nvmlSample_t of NVML_TOTAL_POWER_SAMPLES. */
export interface NvmlPowerSample {
  /** Driver timestamp in microseconds (wall clock, as nvmlSample_t.timeStamp). */
  timeStampUs: number;
  powerMilliwatts: number;
}

// Struct sizes and offsets from nvml.h on LP64 and LLP64 (no field uses `long`, so they agree).
const FIELD_VALUE_SIZE = 40; // nvmlFieldValue_t
const SAMPLE_SIZE = 16; // nvmlSample_t
const PROCESS_INFO_V3_SIZE = 24; // nvmlProcessInfo_t (v2/v3)
const PROCESS_INFO_V1_SIZE = 16; // nvmlProcessInfo_v1_t
const PROCESS_UTIL_SIZE = 32; // nvmlProcessUtilizationSample_t
const PCI_INFO_SIZE = 68; // nvmlPciInfo_t (v3)
/** NVML_VALUE_NOT_AVAILABLE for unsigned long long fields. */
const VALUE_NOT_AVAILABLE_U64 = 0xffffffffffffffffn;

/** Options for {@link Nvml.load}. */
export interface NvmlLoadOptions {
  /** Try only this library (otherwise `JOULES_NVML_LIBRARY`, then the platform's usual places). */
  libraryPath?: string;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
}

/**
 * Typed koffi binding to NVML. Method names mirror nvml.h without the `nvml` prefix; every failure
 * throws {@link NvmlError}. Versioned symbols (`_v3`, `_v2`) are probed at load and fall back to
 * older ones; an optional symbol that is missing makes its method throw FUNCTION_NOT_FOUND.
 *
 * Calls are synchronous: `deviceGetTotalEnergyConsumption` costs ~4 ms on an H200, so this class is
 * meant to be used from the sampler's worker thread, never the extension host's main thread.
 */
export class Nvml {
  private readonly fns = new Map<string, KoffiFn>();
  /** Which versioned symbol each call resolved to, e.g. `deviceGetComputeRunningProcesses` → `_v3`. */
  readonly resolved: Record<string, string> = {};
  private readonly u32 = Buffer.alloc(4);
  private readonly u32b = Buffer.alloc(4);
  private readonly u64 = Buffer.alloc(8);
  private readonly util = Buffer.alloc(8);
  private readonly mem = Buffer.alloc(24);
  private readonly text = Buffer.alloc(256);
  private initialized = 0;

  private constructor(
    /** The library path that loaded. */
    readonly libraryPath: string,
    private readonly lib: LibraryHandle,
  ) {
    this.bind();
  }

  /**
   * Load NVML from the first candidate that opens. Throws {@link NvmlLoadError} listing every
   * path tried and why it failed (macOS: NVML does not exist there).
   */
  static load(options: NvmlLoadOptions = {}): Nvml {
    const platform = options.platform ?? process.platform;
    if (platform === 'darwin' && !options.libraryPath && !(options.env ?? process.env).JOULES_NVML_LIBRARY) {
      throw new NvmlLoadError('NVML is not available on macOS (NVIDIA drivers do not support it).', []);
    }
    const candidates = options.libraryPath ? [options.libraryPath] : nvmlCandidates(platform, options.env);
    const failures: string[] = [];
    for (const candidate of candidates) {
      try {
        return new Nvml(candidate, koffi.load(candidate));
      } catch (e) {
        failures.push(`${candidate} (${firstLine(e)})`);
      }
    }
    throw new NvmlLoadError(
      `NVML could not be loaded (is an NVIDIA driver installed?). Tried: ${failures.join('; ') || 'nothing'}. ` +
        'Set JOULES_NVML_LIBRARY to the path of libnvidia-ml.so.1 / nvml.dll if it lives elsewhere.',
      candidates,
    );
  }

  private bind(): void {
    const declare = (name: string, proto: string, symbols: string[]): void => {
      for (const symbol of symbols) {
        try {
          const fn = this.lib.func(proto.replace('%s', symbol)) as KoffiFn;
          this.fns.set(name, fn);
          this.resolved[name] = symbol;
          return;
        } catch {
          // Symbol absent from this driver's NVML: try the next (older) version.
        }
      }
    };
    const dev = 'void *device';
    declare('init', 'int %s()', ['nvmlInit_v2', 'nvmlInit']);
    declare('shutdown', 'int %s()', ['nvmlShutdown']);
    declare('errorString', 'const char *%s(int result)', ['nvmlErrorString']);
    declare('systemGetDriverVersion', 'int %s(void *version, unsigned int length)', ['nvmlSystemGetDriverVersion']);
    declare('systemGetNVMLVersion', 'int %s(void *version, unsigned int length)', ['nvmlSystemGetNVMLVersion']);
    declare('deviceGetCount', 'int %s(void *count)', ['nvmlDeviceGetCount_v2', 'nvmlDeviceGetCount']);
    declare('deviceGetHandleByIndex', 'int %s(unsigned int index, _Out_ void **device)', [
      'nvmlDeviceGetHandleByIndex_v2',
      'nvmlDeviceGetHandleByIndex',
    ]);
    declare('deviceGetName', `int %s(${dev}, void *name, unsigned int length)`, ['nvmlDeviceGetName']);
    declare('deviceGetUUID', `int %s(${dev}, void *uuid, unsigned int length)`, ['nvmlDeviceGetUUID']);
    declare('deviceGetPciInfo', `int %s(${dev}, void *pci)`, ['nvmlDeviceGetPciInfo_v3']);
    declare('deviceGetArchitecture', `int %s(${dev}, void *arch)`, ['nvmlDeviceGetArchitecture']);
    declare('deviceGetPowerUsage', `int %s(${dev}, void *power)`, ['nvmlDeviceGetPowerUsage']);
    declare('deviceGetFieldValues', `int %s(${dev}, int valuesCount, void *values)`, ['nvmlDeviceGetFieldValues']);
    declare('deviceGetTotalEnergyConsumption', `int %s(${dev}, void *energy)`, ['nvmlDeviceGetTotalEnergyConsumption']);
    declare(
      'deviceGetSamples',
      `int %s(${dev}, int type, unsigned long long lastSeenTimeStamp, void *sampleValType, void *sampleCount, void *samples)`,
      ['nvmlDeviceGetSamples'],
    );
    declare('deviceGetUtilizationRates', `int %s(${dev}, void *utilization)`, ['nvmlDeviceGetUtilizationRates']);
    declare('deviceGetMemoryInfo', `int %s(${dev}, void *memory)`, ['nvmlDeviceGetMemoryInfo']);
    declare('deviceGetClockInfo', `int %s(${dev}, int type, void *clock)`, ['nvmlDeviceGetClockInfo']);
    declare('deviceGetTemperature', `int %s(${dev}, int sensorType, void *temp)`, ['nvmlDeviceGetTemperature']);
    declare('deviceGetEnforcedPowerLimit', `int %s(${dev}, void *limit)`, ['nvmlDeviceGetEnforcedPowerLimit']);
    declare('deviceGetPowerManagementLimitConstraints', `int %s(${dev}, void *minLimit, void *maxLimit)`, [
      'nvmlDeviceGetPowerManagementLimitConstraints',
    ]);
    declare('deviceGetCurrentClocksEventReasons', `int %s(${dev}, void *reasons)`, [
      'nvmlDeviceGetCurrentClocksEventReasons',
      'nvmlDeviceGetCurrentClocksThrottleReasons',
    ]);
    declare('deviceGetPerformanceState', `int %s(${dev}, void *pstate)`, ['nvmlDeviceGetPerformanceState']);
    declare('deviceGetComputeRunningProcesses', `int %s(${dev}, void *infoCount, void *infos)`, [
      'nvmlDeviceGetComputeRunningProcesses_v3',
      'nvmlDeviceGetComputeRunningProcesses_v2',
      'nvmlDeviceGetComputeRunningProcesses',
    ]);
    declare(
      'deviceGetProcessUtilization',
      `int %s(${dev}, void *utilization, void *processSamplesCount, unsigned long long lastSeenTimeStamp)`,
      ['nvmlDeviceGetProcessUtilization'],
    );
    if (!this.fns.has('init') || !this.fns.has('deviceGetCount') || !this.fns.has('deviceGetHandleByIndex')) {
      throw new Error(`${this.libraryPath} does not export nvmlInit / nvmlDeviceGetCount: not an NVML library`);
    }
  }

  /** True when the library exports some version of the call. */
  has(name: string): boolean {
    return this.fns.has(name);
  }

  private call(name: string, ...args: unknown[]): void {
    const fn = this.fns.get(name);
    if (!fn) throw new NvmlError(NvmlReturn.FUNCTION_NOT_FOUND, `nvml${name[0]!.toUpperCase()}${name.slice(1)}`, 'Function not found');
    const rc = fn(...args) as number;
    if (rc !== NvmlReturn.SUCCESS) throw this.error(rc, this.resolved[name] ?? name);
  }

  private error(rc: number, call: string): NvmlError {
    let message: string | undefined;
    try {
      const fn = this.fns.get('errorString');
      message = fn ? (fn(rc) as string) : undefined;
    } catch {
      message = undefined;
    }
    return new NvmlError(rc, call, message);
  }

  /** nvmlInit_v2 (falls back to nvmlInit). Reference-counted like NVML itself. */
  init(): void {
    this.call('init');
    this.initialized++;
  }

  /** nvmlShutdown, once per successful init. */
  shutdown(): void {
    if (this.initialized === 0) return;
    this.initialized--;
    this.call('shutdown');
  }

  /** nvmlErrorString. */
  errorString(code: number): string {
    const fn = this.fns.get('errorString');
    return fn ? String(fn(code)) : `NVML error ${code}`;
  }

  systemGetDriverVersion(): string {
    this.call('systemGetDriverVersion', this.text, this.text.length);
    return cString(this.text);
  }

  systemGetNVMLVersion(): string {
    this.call('systemGetNVMLVersion', this.text, this.text.length);
    return cString(this.text);
  }

  deviceGetCount(): number {
    this.call('deviceGetCount', this.u32);
    return this.u32.readUInt32LE(0);
  }

  deviceGetHandleByIndex(index: number): DeviceHandle {
    const out: unknown[] = [null];
    this.call('deviceGetHandleByIndex', index, out);
    return out[0] as DeviceHandle;
  }

  deviceGetName(device: DeviceHandle): string {
    this.call('deviceGetName', device, this.text, this.text.length);
    return cString(this.text);
  }

  deviceGetUUID(device: DeviceHandle): string {
    this.call('deviceGetUUID', device, this.text, this.text.length);
    return cString(this.text);
  }

  /** nvmlPciInfo_t.busId, e.g. `00000000:19:00.0`. */
  deviceGetPciBusId(device: DeviceHandle): string {
    const buf = Buffer.alloc(PCI_INFO_SIZE);
    this.call('deviceGetPciInfo', device, buf);
    // busIdLegacy[16], then 5 unsigned ints, then busId[32].
    return cString(buf.subarray(36, 68));
  }

  /** nvmlDeviceArchitecture_t. */
  deviceGetArchitecture(device: DeviceHandle): number {
    this.call('deviceGetArchitecture', device, this.u32);
    return this.u32.readUInt32LE(0);
  }

  /** Milliwatts; a 1 s average on Ampere (except GA100) and newer (nvidia-smi `power.draw`). */
  deviceGetPowerUsage(device: DeviceHandle): number {
    this.call('deviceGetPowerUsage', device, this.u32);
    return this.u32.readUInt32LE(0);
  }

  /**
   * nvmlDeviceGetFieldValues for fields whose value is numeric. Each entry is the value, or the
   * per-field NvmlError (the call itself succeeds when single fields are unsupported).
   */
  deviceGetFieldValues(device: DeviceHandle, fieldIds: readonly number[]): Array<number | NvmlError> {
    const buf = Buffer.alloc(FIELD_VALUE_SIZE * fieldIds.length);
    fieldIds.forEach((id, i) => buf.writeUInt32LE(id, i * FIELD_VALUE_SIZE));
    this.call('deviceGetFieldValues', device, fieldIds.length, buf);
    return fieldIds.map((id, i) => {
      const o = i * FIELD_VALUE_SIZE;
      const rc = buf.readInt32LE(o + 28);
      if (rc !== NvmlReturn.SUCCESS) return this.error(rc, `nvmlDeviceGetFieldValues(${id})`);
      return readValue(buf, o + 32, buf.readInt32LE(o + 24));
    });
  }

  /** Millijoules since the driver loaded (Volta and newer). Costs ~4 ms on an H200. */
  deviceGetTotalEnergyConsumption(device: DeviceHandle): number {
    this.call('deviceGetTotalEnergyConsumption', device, this.u64);
    return Number(this.u64.readBigUInt64LE(0));
  }

  /**
   * NVML_TOTAL_POWER_SAMPLES newer than `lastSeenTimeStampUs`, oldest first: the driver's ring of
   * power readings ~20 ms apart (~2.4 s deep on an H200). An empty array when none are newer.
   */
  deviceGetPowerSamples(device: DeviceHandle, lastSeenTimeStampUs: number, scratch?: Buffer): NvmlPowerSample[] {
    return this.deviceGetSamples(device, NVML_TOTAL_POWER_SAMPLES, lastSeenTimeStampUs, scratch).map((x) => ({ timeStampUs: x.timeStampUs, powerMilliwatts: x.value }));
  }

  /**
   * nvmlDeviceGetSamples of one `samplingType` (nvmlSamplingType_t: 0 total power in mW, 1 GPU
   * utilization in %, ...) newer than `lastSeenTimeStampUs`, oldest first. Empty when none are newer.
   */
  deviceGetSamples(device: DeviceHandle, samplingType: number, lastSeenTimeStampUs: number, scratch?: Buffer): Array<{ timeStampUs: number; value: number }> {
    const valueType = Buffer.alloc(4);
    const count = Buffer.alloc(4);
    const since = BigInt(Math.max(0, Math.floor(lastSeenTimeStampUs)));
    let buf = scratch;
    if (!buf) {
      // A NULL buffer asks for the ring's capacity (one extra driver call: pass a scratch buffer
      // of that size on later drains).
      this.call('deviceGetSamples', device, samplingType, since, valueType, count, null);
      const capacity = count.readUInt32LE(0);
      if (capacity === 0) return [];
      buf = Buffer.alloc(SAMPLE_SIZE * capacity);
    }
    const capacity = Math.floor(buf.length / SAMPLE_SIZE);
    count.writeUInt32LE(capacity, 0);
    try {
      this.call('deviceGetSamples', device, samplingType, since, valueType, count, buf);
    } catch (e) {
      // NOT_FOUND means "no sample newer than lastSeenTimeStamp", not a failure.
      if (NvmlError.is(e, NvmlReturn.NOT_FOUND)) return [];
      if (scratch && NvmlError.is(e, NvmlReturn.INSUFFICIENT_SIZE)) return this.deviceGetSamples(device, samplingType, lastSeenTimeStampUs);
      throw e;
    }
    const n = Math.min(count.readUInt32LE(0), capacity);
    const type = valueType.readInt32LE(0);
    const out: Array<{ timeStampUs: number; value: number }> = [];
    for (let i = 0; i < n; i++) {
      const o = i * SAMPLE_SIZE;
      out.push({ timeStampUs: Number(buf.readBigUInt64LE(o)), value: readValue(buf, o + 8, type) });
    }
    out.sort((a, b) => a.timeStampUs - b.timeStampUs);
    return out;
  }

  /** Capacity of the power ring (entries), for sizing a scratch buffer. */
  deviceGetPowerSamplesCapacity(device: DeviceHandle): number {
    return this.deviceGetSamplesCapacity(device, NVML_TOTAL_POWER_SAMPLES);
  }

  /** Capacity of one sample ring (entries), for sizing a scratch buffer. */
  deviceGetSamplesCapacity(device: DeviceHandle, samplingType: number): number {
    const valueType = Buffer.alloc(4);
    const count = Buffer.alloc(4);
    this.call('deviceGetSamples', device, samplingType, 0n, valueType, count, null);
    return count.readUInt32LE(0);
  }

  /** nvmlUtilization_t: percent of time a kernel / memory access was active (nvidia-smi `utilization.*`). */
  deviceGetUtilizationRates(device: DeviceHandle): { gpuPct: number; memoryPct: number } {
    this.call('deviceGetUtilizationRates', device, this.util);
    return { gpuPct: this.util.readUInt32LE(0), memoryPct: this.util.readUInt32LE(4) };
  }

  deviceGetMemoryInfo(device: DeviceHandle): NvmlMemory {
    this.call('deviceGetMemoryInfo', device, this.mem);
    return {
      totalBytes: Number(this.mem.readBigUInt64LE(0)),
      freeBytes: Number(this.mem.readBigUInt64LE(8)),
      usedBytes: Number(this.mem.readBigUInt64LE(16)),
    };
  }

  /** MHz of an nvmlClockType_t clock. */
  deviceGetClockInfo(device: DeviceHandle, clockType: number): number {
    this.call('deviceGetClockInfo', device, clockType, this.u32);
    return this.u32.readUInt32LE(0);
  }

  /** Degrees C of NVML_TEMPERATURE_GPU. */
  deviceGetTemperature(device: DeviceHandle): number {
    this.call('deviceGetTemperature', device, 0, this.u32);
    return this.u32.readUInt32LE(0);
  }

  /** Milliwatts (nvidia-smi `power.limit`). */
  deviceGetEnforcedPowerLimit(device: DeviceHandle): number {
    this.call('deviceGetEnforcedPowerLimit', device, this.u32);
    return this.u32.readUInt32LE(0);
  }

  /** Milliwatts (nvidia-smi `power.min_limit`, `power.max_limit`). */
  deviceGetPowerManagementLimitConstraints(device: DeviceHandle): { minMilliwatts: number; maxMilliwatts: number } {
    this.call('deviceGetPowerManagementLimitConstraints', device, this.u32, this.u32b);
    return { minMilliwatts: this.u32.readUInt32LE(0), maxMilliwatts: this.u32b.readUInt32LE(0) };
  }

  /** Bitmask of clock-event reasons (falls back to the older ...ThrottleReasons symbol). */
  deviceGetCurrentClocksEventReasons(device: DeviceHandle): number {
    this.call('deviceGetCurrentClocksEventReasons', device, this.u64);
    // Defined bits fit in 32 bits; Number keeps the mask usable with bit operators on the low word.
    return Number(this.u64.readBigUInt64LE(0) & 0xffffffffn);
  }

  /** P-state 0-15 (32: unknown). */
  deviceGetPerformanceState(device: DeviceHandle): number {
    this.call('deviceGetPerformanceState', device, this.u32);
    return this.u32.readInt32LE(0);
  }

  /** Compute processes on the device (_v3, falling back to _v2 and v1). */
  deviceGetComputeRunningProcesses(device: DeviceHandle): NvmlProcessInfo[] {
    const symbol = this.resolved.deviceGetComputeRunningProcesses ?? '';
    const size = symbol.endsWith('_v3') || symbol.endsWith('_v2') ? PROCESS_INFO_V3_SIZE : PROCESS_INFO_V1_SIZE;
    const count = Buffer.alloc(4);
    let capacity = 8;
    // The list can grow between the two calls: retry a few times on INSUFFICIENT_SIZE.
    for (let attempt = 0; attempt < 4; attempt++) {
      const buf = Buffer.alloc(size * capacity);
      count.writeUInt32LE(capacity, 0);
      try {
        this.call('deviceGetComputeRunningProcesses', device, count, buf);
      } catch (e) {
        if (NvmlError.is(e, NvmlReturn.INSUFFICIENT_SIZE)) {
          capacity = Math.max(capacity * 2, count.readUInt32LE(0) + 4);
          continue;
        }
        throw e;
      }
      const n = Math.min(count.readUInt32LE(0), capacity);
      const out: NvmlProcessInfo[] = [];
      for (let i = 0; i < n; i++) {
        const o = i * size;
        const used = buf.readBigUInt64LE(o + 8);
        out.push({ pid: buf.readUInt32LE(o), usedGpuMemoryBytes: used === VALUE_NOT_AVAILABLE_U64 ? undefined : Number(used) });
      }
      return out;
    }
    throw new NvmlError(NvmlReturn.INSUFFICIENT_SIZE, symbol, 'process list kept growing');
  }

  /** Per-process SM/memory utilisation samples newer than `lastSeenTimeStampUs`. */
  deviceGetProcessUtilization(device: DeviceHandle, lastSeenTimeStampUs: number): NvmlProcessUtilization[] {
    const count = Buffer.alloc(4);
    const since = BigInt(Math.max(0, Math.floor(lastSeenTimeStampUs)));
    try {
      // NULL buffer: NVML answers INSUFFICIENT_SIZE with the count it needs.
      this.call('deviceGetProcessUtilization', device, null, count, since);
    } catch (e) {
      if (NvmlError.is(e, NvmlReturn.NOT_FOUND)) return [];
      if (!NvmlError.is(e, NvmlReturn.INSUFFICIENT_SIZE)) throw e;
    }
    const capacity = count.readUInt32LE(0);
    if (capacity === 0) return [];
    const buf = Buffer.alloc(PROCESS_UTIL_SIZE * capacity);
    try {
      this.call('deviceGetProcessUtilization', device, buf, count, since);
    } catch (e) {
      if (NvmlError.is(e, NvmlReturn.NOT_FOUND)) return [];
      throw e;
    }
    const n = Math.min(count.readUInt32LE(0), capacity);
    const out: NvmlProcessUtilization[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * PROCESS_UTIL_SIZE;
      out.push({
        pid: buf.readUInt32LE(o),
        timeStampUs: Number(buf.readBigUInt64LE(o + 8)),
        smUtilPct: buf.readUInt32LE(o + 16),
        memUtilPct: buf.readUInt32LE(o + 20),
      });
    }
    return out;
  }
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

function readValue(buf: Buffer, offset: number, valueType: number): number {
  switch (valueType) {
    case NvmlValueType.DOUBLE:
      return buf.readDoubleLE(offset);
    case NvmlValueType.UNSIGNED_INT:
      return buf.readUInt32LE(offset);
    case NvmlValueType.UNSIGNED_LONG:
    case NvmlValueType.UNSIGNED_LONG_LONG:
      return Number(buf.readBigUInt64LE(offset));
    case NvmlValueType.SIGNED_LONG_LONG:
      return Number(buf.readBigInt64LE(offset));
    case NvmlValueType.SIGNED_INT:
      return buf.readInt32LE(offset);
    case NvmlValueType.UNSIGNED_SHORT:
      return buf.readUInt16LE(offset);
    default:
      return buf.readUInt32LE(offset);
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}
