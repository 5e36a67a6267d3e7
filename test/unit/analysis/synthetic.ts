/** Builders of synthetic GPU telemetry for the detector tests. */
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';

/** A stretch of constant behaviour. */
export interface Phase {
  durS: number;
  util?: number;
  powerW: number;
  memBytes?: number;
  reasons?: number;
}

export interface SeriesOptions {
  gpu?: number;
  dtMs?: number;
  startMs?: number;
  /** Cumulative energyMillijoules on each sample (the hardware counter); default true. */
  counter?: boolean;
}

/** Samples every `dtMs` from `startMs` through the phases; the energy counter integrates the power exactly. */
export function series(phases: Phase[], opts: SeriesOptions = {}): GpuSample[] {
  const gpu = opts.gpu ?? 0;
  const dtMs = opts.dtMs ?? 100;
  const out: GpuSample[] = [];
  let t = opts.startMs ?? 0;
  let energyMj = 0;
  let prevW: number | undefined;
  for (const p of phases) {
    const n = Math.round((p.durS * 1000) / dtMs);
    for (let i = 0; i < n; i++) {
      if (prevW !== undefined) energyMj += prevW * dtMs;
      const s: GpuSample = { tMs: t, gpu, powerMilliwatts: p.powerW * 1000, memUsedBytes: p.memBytes ?? 70e9 };
      if (p.util !== undefined) s.utilGpuPct = p.util;
      if (p.reasons !== undefined) s.clockEventReasons = p.reasons;
      if (opts.counter !== false) s.energyMillijoules = energyMj;
      out.push(s);
      prevW = p.powerW;
      t += dtMs;
    }
  }
  return out;
}

/** The time the phases end at (ms), for `endMs`. */
export function endOf(samples: GpuSample[], dtMs = 100): number {
  return (samples[samples.length - 1]?.tMs ?? 0) + dtMs;
}

export function gpuInfo(index: number, extra: Partial<GpuInfo> = {}): GpuInfo {
  return {
    index,
    name: 'Synthetic GPU',
    uuid: `GPU-synthetic-${index}`,
    memTotalBytes: 80e9,
    powerLimitMilliwatts: 700_000,
    powerSource: 'instant',
    energyMethod: 'counter',
    supported: {},
    ...extra,
  };
}

export const BUSY: Phase = { durS: 10, util: 95, powerW: 300 };

/** Merges per-GPU series into one list sorted by time, like the sampler delivers. */
export function merge(...lists: GpuSample[][]): GpuSample[] {
  return lists.flat().sort((a, b) => a.tMs - b.tMs || a.gpu - b.gpu);
}
