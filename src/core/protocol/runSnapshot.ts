/**
 * What the panel is sent of a run: what it draws, not every sample. A chart is at most a couple of
 * thousand pixels wide; sending hours of 10 Hz samples per GPU as JSON (396 MB for 8 GPUs x 8 h)
 * only to draw a min/max per pixel column froze the panel. Pure: the host calls it, the webview
 * never needs it. No Node or `vscode` imports.
 */
import type { GpuSample } from '../sampler/types';

/** Time columns of a snapshot: more than any panel chart is wide, so nothing visible is lost. */
export const SNAPSHOT_COLUMNS = 1600;

/**
 * Per GPU and per time column over the run, the samples with the lowest and highest power and the
 * highest utilization, plus the first and last sample of each column: every power spike and dip
 * the chart could show stays, and each kept sample is whole (its cumulative energy counter
 * included, so the energy chart stays exact at every kept point). The last sample of each GPU is
 * always kept: live batches continue after it. Input sorted by `tMs` (per GPU); output sorted by
 * `tMs`. Returns the input itself when it is already small.
 */
export function decimateRunSamples(samples: readonly GpuSample[], columns = SNAPSHOT_COLUMNS): GpuSample[] {
  if (samples.length === 0) return [];
  const gpus = new Set<number>();
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const s of samples) {
    gpus.add(s.gpu);
    if (s.tMs < t0) t0 = s.tMs;
    if (s.tMs > t1) t1 = s.tMs;
  }
  if (samples.length <= 4 * columns * gpus.size || !(t1 > t0)) return samples.slice();
  const width = (t1 - t0) / columns;
  const keep = new Uint8Array(samples.length);
  interface Col { col: number; first: number; last: number; minP: number; maxP: number; maxU: number }
  const open = new Map<number, Col>();
  const flush = (c: Col): void => {
    keep[c.first] = 1;
    keep[c.last] = 1;
    if (c.minP >= 0) keep[c.minP] = 1;
    if (c.maxP >= 0) keep[c.maxP] = 1;
    if (c.maxU >= 0) keep[c.maxU] = 1;
  };
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const col = Math.min(columns - 1, Math.floor((s.tMs - t0) / width));
    let c = open.get(s.gpu);
    if (!c || c.col !== col) {
      if (c) flush(c);
      c = { col, first: i, last: i, minP: -1, maxP: -1, maxU: -1 };
      open.set(s.gpu, c);
    }
    c.last = i;
    const p = s.powerMilliwatts;
    if (p !== undefined) {
      if (c.minP < 0 || p < (samples[c.minP]!.powerMilliwatts ?? Infinity)) c.minP = i;
      if (c.maxP < 0 || p > (samples[c.maxP]!.powerMilliwatts ?? -Infinity)) c.maxP = i;
    }
    const u = s.utilGpuPct;
    if (u !== undefined && (c.maxU < 0 || u > (samples[c.maxU]!.utilGpuPct ?? -Infinity))) c.maxU = i;
  }
  for (const c of open.values()) flush(c);
  const out: GpuSample[] = [];
  for (let i = 0; i < samples.length; i++) if (keep[i]) out.push(samples[i]!);
  return out;
}
