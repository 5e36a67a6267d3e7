/**
 * Sample batches cross the worker boundary as typed arrays (transferred, not cloned field by
 * field): one Float64Array of sample columns and one of power points. Structured clone of a few
 * hundred small objects a second costs more on both threads than one buffer each; the owner
 * rebuilds plain objects for its consumers.
 */
import type { EngineBatch } from './engine';
import type { GpuSample, PowerPoint } from './types';

/** GpuSample fields in column order; a missing field travels as NaN. */
const SAMPLE_FIELDS = [
  'tMs', 'gpu', 'powerMilliwatts', 'powerAverageMilliwatts', 'utilGpuPct', 'utilMemPct', 'memUsedBytes', 'smClockMhz',
  'memClockMhz', 'temperatureC', 'clockEventReasons', 'powerLimitMilliwatts', 'pstate', 'energyMillijoules',
] as const satisfies ReadonlyArray<keyof GpuSample>;
const S = SAMPLE_FIELDS.length;

/** An EngineBatch as it crosses the worker boundary. */
export interface EncodedBatch extends Omit<EngineBatch, 'samples' | 'powerPoints'> {
  /** `SAMPLE_FIELDS.length` numbers per sample. */
  sampleColumns: Float64Array;
  /** tMs, gpu, powerMilliwatts per point. */
  powerColumns: Float64Array;
}

export function encodeBatch(b: EngineBatch): { encoded: EncodedBatch; transfer: ArrayBuffer[] } {
  const samples = new Float64Array(b.samples.length * S);
  b.samples.forEach((x, i) => {
    for (let k = 0; k < S; k++) samples[i * S + k] = x[SAMPLE_FIELDS[k]!] ?? NaN;
  });
  const power = new Float64Array(b.powerPoints.length * 3);
  b.powerPoints.forEach((p, i) => {
    power[i * 3] = p.tMs;
    power[i * 3 + 1] = p.gpu;
    power[i * 3 + 2] = p.powerMilliwatts;
  });
  const { samples: _s, powerPoints: _p, ...rest } = b;
  return { encoded: { ...rest, sampleColumns: samples, powerColumns: power }, transfer: [samples.buffer, power.buffer] };
}

export function decodeBatch(e: EncodedBatch): EngineBatch {
  const samples: GpuSample[] = [];
  const c = e.sampleColumns;
  for (let o = 0; o + S <= c.length; o += S) {
    const x: Partial<Record<(typeof SAMPLE_FIELDS)[number], number>> = {};
    for (let k = 0; k < S; k++) {
      const v = c[o + k]!;
      if (!Number.isNaN(v)) x[SAMPLE_FIELDS[k]!] = v;
    }
    samples.push(x as GpuSample);
  }
  const powerPoints: PowerPoint[] = [];
  const p = e.powerColumns;
  for (let o = 0; o + 3 <= p.length; o += 3) powerPoints.push({ tMs: p[o]!, gpu: p[o + 1]!, powerMilliwatts: p[o + 2]! });
  const { sampleColumns: _s, powerColumns: _p, ...rest } = e;
  return { ...rest, samples, powerPoints };
}
