/**
 * Protocol messages built from the recorded H200 trace (media/traces/h200-phased-load.jsonl), and
 * reference figures computed straight from its rows, independently of the panel's code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuInfo, GpuSample } from '../../src/core/sampler/types';
import type { FindingView, MarkerView, RunSummaryView, RunView, StepPoint } from '../../src/core/protocol/panel';

export interface TraceRow {
  t: number;
  energy_mJ: string;
  power_mW: number;
  instant_mW: number;
  util: number;
  memUtil: number;
  memUsed: string;
  sm_MHz: number;
  temp: number;
}

export const repoRoot = join(__dirname, '..', '..');

export function readTrace(): TraceRow[] {
  const text = readFileSync(join(repoRoot, 'media', 'traces', 'h200-phased-load.jsonl'), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as TraceRow);
}

/** NVML reports 143771 MiB on this H200. */
export const h200MemTotalBytes = 143771 * 1024 * 1024;

export function h200Info(index: number): GpuInfo {
  return {
    index,
    name: 'NVIDIA H200',
    uuid: `GPU-5f3c0000-0000-0000-0000-00000000000${index}`,
    architecture: 'Hopper',
    memTotalBytes: h200MemTotalBytes,
    powerLimitMilliwatts: 700_000,
    powerLimitMinMilliwatts: 200_000,
    powerLimitMaxMilliwatts: 700_000,
    powerSource: 'average',
    energyMethod: 'counter',
    supported: { powerUsage: true, energyCounter: true, utilization: true, memoryInfo: true, smClock: true, temperature: true },
  };
}

/**
 * Samples of the trace as GPU `gpu`. GPU 0 is the recording as is; other GPUs scale its power and
 * energy by `scale` (a synthetic second card, for multi-GPU layouts).
 */
export function traceSamples(rows: TraceRow[], gpu = 0, scale = 1): GpuSample[] {
  const e0 = Number(rows[0]?.energy_mJ ?? 0);
  return rows.map((r) => ({
    tMs: Math.round(r.t * 1000),
    gpu,
    powerMilliwatts: Math.round(r.power_mW * scale),
    utilGpuPct: r.util,
    utilMemPct: r.memUtil,
    memUsedBytes: Number(r.memUsed),
    smClockMhz: r.sm_MHz,
    temperatureC: r.temp,
    powerLimitMilliwatts: 700_000,
    energyMillijoules: Math.round((Number(r.energy_mJ) - e0) * scale),
  }));
}

/** Interleaves per-GPU sample lists by time (GPU order within a tick), as the sampler delivers them. */
export function interleave(...perGpu: GpuSample[][]): GpuSample[] {
  return perGpu.flat().sort((a, b) => a.tMs - b.tMs || a.gpu - b.gpu);
}

/** The phases the README lists for this recording. */
export const traceMarkers: MarkerView[] = [
  { tS: 0, label: 'CUDA init', kind: 'phase' },
  { tS: 5, label: 'idle', kind: 'phase' },
  { tS: 9.2, label: 'full', kind: 'phase' },
  { tS: 14.9, label: 'starved', kind: 'phase' },
  { tS: 19.9, label: 'full', kind: 'phase' },
  { tS: 24.7, label: 'idle', kind: 'phase' },
];

export function energyBetween(samples: GpuSample[], startS: number, endS: number): number {
  // Counter difference between the samples nearest the span's ends.
  const inSpan = samples.filter((s) => s.tMs / 1000 >= startS && s.tMs / 1000 <= endS);
  const first = inSpan[0];
  const last = inSpan[inSpan.length - 1];
  return first && last ? ((last.energyMillijoules ?? 0) - (first.energyMillijoules ?? 0)) / 1000 : 0;
}

export function traceFindings(samples: GpuSample[]): FindingView[] {
  const starved = energyBetween(samples, 14.9, 19.9);
  const idle = energyBetween(samples, 5, 9);
  return [
    { id: 'gpu-starved:gpu0:between-kernels', code: 'gpu-starved', severity: 'warning', title: 'GPU starved', message: 'Utilization about 3 % while the program ran small kernels between host sleeps.', startS: 14.9, endS: 19.9, stretches: [{ startS: 14.9, endS: 19.9 }], energyJ: starved, wastedJ: starved * 0.8, gpu: 0, static: false },
    { id: 'gpu-idle:all', code: 'gpu-idle', severity: 'information', title: 'GPU idle', message: 'No kernels for 4 s while the process held the GPU.', startS: 5, endS: 9, stretches: [{ startS: 5, endS: 9 }], energyJ: idle, wastedJ: idle, static: false },
  ];
}

export function summaryOf(id: string, name: string, samples: GpuSample[], gpus: GpuInfo[], extra: Partial<RunSummaryView> = {}): RunSummaryView {
  const f = referenceFigures(samples);
  return {
    id,
    name,
    status: 'succeeded',
    startedAt: '2025-11-20T10:00:00.000Z',
    durationS: f.durationS,
    exitCode: 0,
    energyJ: f.energyJ,
    energyMethod: 'counter',
    avgPowerW: f.avgPowerW,
    peakPowerW: f.peakPowerW,
    avgUtilPct: f.avgUtilPct,
    gpus: gpus.map((g) => ({ index: g.index, name: g.name, uuid: g.uuid, energyJ: f.perGpuEnergyJ.get(g.index) ?? 0, avgPowerW: (f.perGpuEnergyJ.get(g.index) ?? 0) / f.durationS })),
    ...extra,
  };
}

export function runningSummary(id: string, name: string): RunSummaryView {
  return {
    id, name, status: 'running', startedAt: '2025-11-20T10:00:00.000Z', durationS: 0, exitCode: null,
    energyJ: 0, energyMethod: 'counter', avgPowerW: 0, peakPowerW: 0, gpus: [],
  };
}

export function runView(summary: RunSummaryView, gpus: GpuInfo[], samples: GpuSample[], more: Partial<RunView> = {}): RunView {
  return { summary, gpus, samples, ...more };
}

/** Steps every `periodS` seconds of the full-load phases (a stand-in training loop). */
export function stepsEvery(periodS: number, endS: number): StepPoint[] {
  const out: StepPoint[] = [];
  for (let i = 0; i * periodS <= endS; i++) out.push({ tS: i * periodS, step: i });
  return out;
}

export interface Reference {
  durationS: number;
  energyJ: number;
  avgPowerW: number;
  peakPowerW: number;
  avgUtilPct: number;
  maxPowerW: number;
  minPowerW: number;
  perGpuEnergyJ: Map<number, number>;
}

/** Figures from the samples by the definitions the panel documents, written out plainly. */
export function referenceFigures(samples: GpuSample[]): Reference {
  const lastEnergy = new Map<number, number>();
  const ticks = new Map<number, number>();
  let utilSum = 0;
  let utilN = 0;
  let maxT = 0;
  let maxPowerW = -Infinity;
  let minPowerW = Infinity;
  for (const s of samples) {
    lastEnergy.set(s.gpu, (s.energyMillijoules ?? 0) / 1000);
    const w = (s.powerMilliwatts ?? 0) / 1000;
    ticks.set(s.tMs, (ticks.get(s.tMs) ?? 0) + w);
    maxPowerW = Math.max(maxPowerW, w);
    minPowerW = Math.min(minPowerW, w);
    if (s.utilGpuPct !== undefined) {
      utilSum += s.utilGpuPct;
      utilN++;
    }
    maxT = Math.max(maxT, s.tMs);
  }
  const energyJ = [...lastEnergy.values()].reduce((a, b) => a + b, 0);
  const durationS = maxT / 1000;
  return {
    durationS,
    energyJ,
    avgPowerW: energyJ / durationS,
    peakPowerW: Math.max(...ticks.values()),
    avgUtilPct: utilSum / utilN,
    maxPowerW,
    minPowerW,
    perGpuEnergyJ: lastEnergy,
  };
}

/** Splits samples into batches of `periodMs` of sampler time (0.25 s is what the sampler sends). */
export function batches(samples: GpuSample[], periodMs = 250): GpuSample[][] {
  const out: GpuSample[][] = [];
  for (const s of samples) {
    const k = Math.floor(s.tMs / periodMs);
    (out[k] ??= []).push(s);
  }
  return out.filter((b) => b.length > 0);
}
