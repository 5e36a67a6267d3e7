import type { GpuSample } from '../sampler/types';

/** Columns of a sample row in samples.jsonl (see store.ts for the whole format); null = not measured. */
export const SAMPLE_COLUMNS = [
  'tMs',
  'gpu',
  'powerMilliwatts',
  'utilGpuPct',
  'utilMemPct',
  'memUsedBytes',
  'smClockMhz',
  'memClockMhz',
  'temperatureC',
  'clockEventReasons',
  'powerLimitMilliwatts',
  'pstate',
  'energyMillijoules',
  'powerAverageMilliwatts',
] as const satisfies ReadonlyArray<keyof GpuSample>;

export function encodeSample(s: GpuSample): Array<number | null> {
  return SAMPLE_COLUMNS.map((c) => (s[c] === undefined ? null : (s[c] as number)));
}

/** A sample row back to a sample; undefined when it has no finite time and GPU. Hot: millions a run. */
export function decodeSample(row: unknown): GpuSample | undefined {
  if (!Array.isArray(row) || row.length < 2) return undefined;
  const t: unknown = row[0];
  const gpu: unknown = row[1];
  if (typeof t !== 'number' || !Number.isFinite(t) || typeof gpu !== 'number' || !Number.isFinite(gpu)) return undefined;
  const s: GpuSample = { tMs: t, gpu };
  const n = Math.min(row.length, SAMPLE_COLUMNS.length);
  for (let i = 2; i < n; i++) {
    const v: unknown = row[i];
    if (typeof v === 'number' && Number.isFinite(v)) s[SAMPLE_COLUMNS[i]!] = v;
  }
  return s;
}
