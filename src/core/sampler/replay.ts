import type { DeviceSource, TelemetryBackend, TickReading } from './backend';
import type { GpuInfo, GpuProcessUse } from './types';

/** One line of a recorded trace (the format of media/traces/h200-phased-load.jsonl). */
export interface TraceRow {
  tS: number;
  energyMillijoules?: number;
  powerMilliwatts?: number;
  instantMilliwatts?: number;
  utilGpuPct?: number;
  utilMemPct?: number;
  memUsedBytes?: number;
  smClockMhz?: number;
  temperatureC?: number;
}

/** A recorded trace: rows in time order and the GPU it came from. */
export interface Trace {
  rows: TraceRow[];
  durationS: number;
}

/** Facts of the shipped H200 recording (see media/traces/README.md). */
export const H200_TRACE_GPU: Omit<GpuInfo, 'index' | 'powerSource' | 'energyMethod' | 'supported'> = {
  name: 'NVIDIA H200 (recorded)',
  uuid: 'GPU-recorded-h200-phased-load',
  architecture: 'Hopper',
  // 141 GB HBM3e as NVML reports it on this card (nvidia-smi memory.total 143771 MiB).
  memTotalBytes: 143771 * 1024 * 1024,
  powerLimitMilliwatts: 700_000,
  powerLimitMinMilliwatts: 200_000,
  powerLimitMaxMilliwatts: 700_000,
};

/** Parse a JSONL trace; a bad line throws with its line number, nothing is half-loaded. */
export function parseTrace(text: string, source = 'trace'): Trace {
  const rows: TraceRow[] = [];
  const lines = text.split('\n');
  const num = (v: unknown, field: string, line: number): number | undefined => {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${source}:${line}: field "${field}" is not a number`);
    return n;
  };
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${source}:${i + 1}: not a JSON object`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error(`${source}:${i + 1}: not a JSON object`);
    const tS = num(o.t, 't', i + 1);
    if (tS === undefined) throw new Error(`${source}:${i + 1}: missing "t" (seconds)`);
    if (rows.length && tS < rows[rows.length - 1]!.tS) throw new Error(`${source}:${i + 1}: "t" goes backwards`);
    const row: TraceRow = { tS };
    const set = <K extends keyof TraceRow>(k: K, v: number | undefined): void => {
      if (v !== undefined) row[k] = v;
    };
    set('energyMillijoules', num(o.energy_mJ, 'energy_mJ', i + 1));
    set('powerMilliwatts', num(o.power_mW, 'power_mW', i + 1));
    set('instantMilliwatts', num(o.instant_mW, 'instant_mW', i + 1));
    set('utilGpuPct', num(o.util, 'util', i + 1));
    set('utilMemPct', num(o.memUtil, 'memUtil', i + 1));
    set('memUsedBytes', num(o.memUsed, 'memUsed', i + 1));
    set('smClockMhz', num(o.sm_MHz, 'sm_MHz', i + 1));
    set('temperatureC', num(o.temp, 'temp', i + 1));
    rows.push(row);
  });
  if (rows.length < 2) throw new Error(`${source}: a trace needs at least two samples`);
  return { rows, durationS: rows[rows.length - 1]!.tS };
}

/**
 * Replays a recorded trace as if it were NVML: a virtual clock the driver advances, the readings of
 * the latest row at or before that time (the way a real poll sees the last update), the recorded
 * energy counter, and the recorded instant power as the power ring.
 */
export class ReplayBackend implements TelemetryBackend {
  readonly kind = 'replay' as const;
  readonly devices: DeviceSource[];
  readonly driverVersion = '580.159.04 (recorded)';
  readonly nvmlVersion = '13.580.159.04 (recorded)';
  private virtualMs = 0;

  constructor(
    readonly trace: Trace,
    gpu: Omit<GpuInfo, 'index' | 'powerSource' | 'energyMethod' | 'supported'> = H200_TRACE_GPU,
  ) {
    this.devices = [new ReplayDevice(this, trace, gpu)];
  }

  /** Move the virtual clock (ms since the start of the recording). */
  advanceTo(ms: number): void {
    this.virtualMs = Math.max(this.virtualMs, ms);
  }

  nowMs(): number {
    return this.virtualMs;
  }

  get durationMs(): number {
    return this.trace.durationS * 1000;
  }

  takeNotices(): string[] {
    return [];
  }

  takeErrors(): Record<string, number> {
    return {};
  }

  /** A recording has no failing reads: nothing it throws is a lost device or a counted error. */
  isDeviceLost(): boolean {
    return false;
  }

  errorKey(): string | undefined {
    return undefined;
  }

  close(): void {}
}

class ReplayDevice implements DeviceSource {
  readonly info: GpuInfo;
  private ringCursor = 0;
  private utilCursor = 0;
  private readonly hasCounter: boolean;

  constructor(
    private readonly backend: ReplayBackend,
    private readonly trace: Trace,
    gpu: Omit<GpuInfo, 'index' | 'powerSource' | 'energyMethod' | 'supported'>,
  ) {
    this.hasCounter = trace.rows.every((r) => r.energyMillijoules !== undefined);
    const hasInstant = trace.rows.every((r) => r.instantMilliwatts !== undefined);
    this.info = {
      ...gpu,
      index: 0,
      powerSource: hasInstant ? 'instant' : 'average',
      energyMethod: this.hasCounter ? 'counter' : 'integrated',
      ...(this.hasCounter ? {} : { energyMethodReason: 'the recording has no energy counter; energy is integrated from its power' }),
      supported: {
        powerUsage: true,
        powerInstant: hasInstant,
        powerSamples: hasInstant,
        // The recording's rows stand in for the driver's utilization ring.
        utilizationSamples: true,
        energyCounter: this.hasCounter,
        utilization: true,
        memoryInfo: true,
        smClock: true,
        temperature: true,
        powerLimit: true,
      },
    };
  }

  /** Index of the latest row at or before the virtual time (the first row before it starts). */
  private rowIndexAt(ms: number): number {
    const rows = this.trace.rows;
    let lo = 0;
    let hi = rows.length - 1;
    const tS = ms / 1000;
    if (tS <= rows[0]!.tS) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rows[mid]!.tS <= tS) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  readTick(detail: boolean): TickReading {
    const row = this.trace.rows[this.rowIndexAt(this.backend.nowMs())]!;
    const power = this.info.powerSource === 'instant' ? row.instantMilliwatts : row.powerMilliwatts;
    const r: TickReading = {};
    if (power !== undefined) r.powerMilliwatts = power;
    if (this.info.powerSource === 'instant' && row.powerMilliwatts !== undefined) r.powerAverageMilliwatts = row.powerMilliwatts;
    if (row.utilGpuPct !== undefined) r.utilGpuPct = row.utilGpuPct;
    if (row.utilMemPct !== undefined) r.utilMemPct = row.utilMemPct;
    if (!detail) return r;
    if (row.memUsedBytes !== undefined) r.memUsedBytes = row.memUsedBytes;
    if (row.smClockMhz !== undefined) r.smClockMhz = row.smClockMhz;
    if (row.temperatureC !== undefined) r.temperatureC = row.temperatureC;
    if (this.info.powerLimitMilliwatts !== undefined) r.powerLimitMilliwatts = this.info.powerLimitMilliwatts;
    // The recording has no clock-event reasons; util 0 is what NVML's GpuIdle bit reports then.
    if (row.utilGpuPct !== undefined) r.clockEventReasons = row.utilGpuPct === 0 ? 0x1 : 0;
    return r;
  }

  readEnergyCounterMj(): number | undefined {
    if (!this.hasCounter) return undefined;
    return this.trace.rows[this.rowIndexAt(this.backend.nowMs())]!.energyMillijoules;
  }

  drainPowerRing(): Array<{ tMs: number; powerMilliwatts: number }> {
    if (this.info.powerSource !== 'instant') return [];
    const rows = this.trace.rows;
    const nowS = this.backend.nowMs() / 1000;
    const out: Array<{ tMs: number; powerMilliwatts: number }> = [];
    while (this.ringCursor < rows.length && rows[this.ringCursor]!.tS <= nowS) {
      const r = rows[this.ringCursor++]!;
      out.push({ tMs: r.tS * 1000, powerMilliwatts: r.instantMilliwatts! });
    }
    return out;
  }

  drainUtilizationRing(): Array<{ tMs: number; utilGpuPct: number }> {
    const rows = this.trace.rows;
    const nowS = this.backend.nowMs() / 1000;
    const out: Array<{ tMs: number; utilGpuPct: number }> = [];
    while (this.utilCursor < rows.length && rows[this.utilCursor]!.tS <= nowS) {
      const r = rows[this.utilCursor++]!;
      if (r.utilGpuPct !== undefined) out.push({ tMs: r.tS * 1000, utilGpuPct: r.utilGpuPct });
    }
    return out;
  }

  processes(): GpuProcessUse[] | undefined {
    return undefined;
  }
}
