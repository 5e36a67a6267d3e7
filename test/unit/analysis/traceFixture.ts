/** Loads the recorded H200 trace (media/traces/h200-phased-load.jsonl) as sampler types. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';

interface TraceLine {
  t: number;
  energy_mJ: string;
  power_mW: number;
  util: number;
  memUsed: string;
  sm_MHz: number;
  temp: number;
}

export const H200_TRACE_PATH = join(__dirname, '..', '..', '..', 'media', 'traces', 'h200-phased-load.jsonl');

/** The GPU of the recording: H200 141 GB, 700 W limit, 1 s average power, hardware counter. */
export const H200_INFO: GpuInfo = {
  index: 0,
  name: 'NVIDIA H200',
  uuid: 'GPU-trace-h200',
  architecture: 'Hopper',
  memTotalBytes: 150754820096,
  powerLimitMilliwatts: 700000,
  powerSource: 'average',
  energyMethod: 'counter',
  supported: { powerUsage: true, energyCounter: true, utilization: true, memoryInfo: true },
};

/** Every line as a GpuSample of GPU 0; energy relative to the first line. */
export function loadH200Trace(): GpuSample[] {
  const lines = readFileSync(H200_TRACE_PATH, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const rows = lines.map((l) => JSON.parse(l) as TraceLine);
  const e0 = Number(rows[0]?.energy_mJ ?? 0);
  return rows.map((r) => ({
    tMs: r.t * 1000,
    gpu: 0,
    powerMilliwatts: r.power_mW,
    utilGpuPct: r.util,
    memUsedBytes: Number(r.memUsed),
    smClockMhz: r.sm_MHz,
    temperatureC: r.temp,
    energyMillijoules: Number(r.energy_mJ) - e0,
  }));
}
