/**
 * The pure part of the GPU Processes view (no `vscode` import, so it is unit-tested): reading
 * `joules processes --json`, the words of each row, and the energy of a process's GPU since it was listed.
 */
import type { GpuProcessesListing, GpuProcessRow } from '../core/runs/attachTargets';
import { formatBytes, formatDuration, formatJoules, formatWatts } from '../core/units/format';

type ListedGpu = GpuProcessesListing['gpus'][number];

/** Parse the CLI's listing; throws with one line when it is not one. */
export function parseListing(text: string): GpuProcessesListing {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`joules processes gave no JSON: ${text.slice(0, 120)}`);
  }
  const gpus = (data as { gpus?: unknown }).gpus;
  if (!Array.isArray(gpus)) throw new Error('joules processes gave no GPU list');
  for (const g of gpus as ListedGpu[]) {
    if (typeof g.index !== 'number' || typeof g.name !== 'string') throw new Error('joules processes gave a GPU without index or name');
    if (g.processes !== undefined && !Array.isArray(g.processes)) throw new Error(`joules processes gave GPU ${g.index} a process list that is not a list`);
  }
  return data as GpuProcessesListing;
}

/** `GPU 0 · NVIDIA H100` and `300 W · 90 % · 30.0 GiB / 80.0 GiB · 2 processes`. */
export function gpuText(g: ListedGpu): { label: string; description: string } {
  const parts = [formatWatts(g.powerW)];
  if (g.utilPct !== undefined) parts.push(`${g.utilPct} %`);
  if (g.memUsedBytes !== undefined) parts.push(`${formatBytes(g.memUsedBytes)}${g.memTotalBytes !== undefined ? ` / ${formatBytes(g.memTotalBytes)}` : ''}`);
  const n = g.processes?.length;
  parts.push(n === undefined ? 'process list not supported' : n === 1 ? '1 process' : `${n} processes`);
  return { label: `GPU ${g.index} · ${g.name}`, description: parts.join(' · ') };
}

/** The energy of a process's GPU since the process started, or since the view first listed it (from the GPU's counter). */
export interface GpuEnergySince {
  energyJ: number;
  seconds: number;
  /** `started`: the process started while the view was listing, so its whole life is covered. */
  since: 'started' | 'listed';
}

/** `12345 python3 train.py` and `alice · 4.0 GiB · SM 80 % · GPU 0: 1.2 kJ in 12.0 s`; the whole command line in the tooltip. */
export function processText(p: GpuProcessRow, attached: boolean, since?: GpuEnergySince): { label: string; description: string; tooltip: string } {
  const cmd = p.command ?? '(not visible from here: another PID namespace?)';
  const short = cmd.length > 80 ? `${cmd.slice(0, 79)}…` : cmd;
  const parts = [p.user ?? '?'];
  if (p.usedGpuMemoryBytes !== undefined) parts.push(formatBytes(p.usedGpuMemoryBytes));
  if (p.smUtilPct !== undefined) parts.push(`SM ${p.smUtilPct} % (estimate)`);
  if (since && since.seconds > 0) parts.push(`GPU ${p.gpu}: ${formatJoules(since.energyJ)} in ${formatDuration(since.seconds)}`);
  if (p.container) parts.push(`container ${p.container.slice(0, 12)}`);
  if (attached) parts.push('attached');
  const energy = since && since.seconds > 0
    ? `\nGPU ${p.gpu} used ${formatJoules(since.energyJ)} (${formatWatts(since.energyJ / since.seconds)}) in the ${formatDuration(since.seconds)} since ${since.since === 'started' ? 'the process started' : 'this view first listed the process (it started before the view was open)'} (the GPU's energy counter; the whole GPU, shared with any other process on it)`
    : '';
  return { label: `${p.pid} ${short}`, description: parts.join(' · '), tooltip: `pid ${p.pid}, user ${p.user ?? 'unknown'}\n${cmd}${energy}` };
}

/** Counter points kept per GPU: at the view's 5 s refresh, about two days. */
const MAX_COUNTER_POINTS = 35_000;

/**
 * Per GPU, the energy counter at each listing; per process, when a listing first showed it. A
 * process that started after the first listing gets its GPU's energy since it started (the counter
 * interpolated at its start); one that was already there, since it was first listed. Bounded.
 */
export class FirstSeenCounters {
  private readonly first = new Map<string, { counterJ: number; atMs: number }>();
  private readonly history = new Map<number, Array<[atMs: number, counterJ: number]>>();

  /** Records a listing (at `nowMs`) and forgets processes no longer listed. */
  update(listing: GpuProcessesListing, nowMs: number): void {
    const present = new Set<string>();
    for (const g of listing.gpus) {
      if (g.energyCounterJ !== undefined) {
        const h = this.history.get(g.index) ?? [];
        h.push([nowMs, g.energyCounterJ]);
        if (h.length > MAX_COUNTER_POINTS) h.splice(0, h.length - MAX_COUNTER_POINTS);
        this.history.set(g.index, h);
      }
      for (const p of g.processes ?? []) {
        const key = `${g.index}:${p.pid}`;
        present.add(key);
        if (!this.first.has(key) && g.energyCounterJ !== undefined) this.first.set(key, { counterJ: g.energyCounterJ, atMs: nowMs });
      }
    }
    for (const k of [...this.first.keys()]) if (!present.has(k)) this.first.delete(k);
  }

  since(listing: GpuProcessesListing, p: GpuProcessRow, nowMs: number): GpuEnergySince | undefined {
    const counter = listing.gpus.find((g) => g.index === p.gpu)?.energyCounterJ;
    if (counter === undefined) return undefined;
    const atStart = p.startedAtMs === undefined ? undefined : this.counterAt(p.gpu, p.startedAtMs);
    if (atStart !== undefined && p.startedAtMs !== undefined) return { energyJ: Math.max(0, counter - atStart), seconds: (nowMs - p.startedAtMs) / 1000, since: 'started' };
    const f = this.first.get(`${p.gpu}:${p.pid}`);
    if (!f) return undefined;
    return { energyJ: Math.max(0, counter - f.counterJ), seconds: (nowMs - f.atMs) / 1000, since: 'listed' };
  }

  /** The GPU's counter at `tMs`, between two listings; undefined before the first one. */
  private counterAt(gpu: number, tMs: number): number | undefined {
    const h = this.history.get(gpu);
    if (!h?.length || tMs < h[0]![0]) return undefined;
    for (let i = h.length - 1; i >= 0; i--) {
      const [t, c] = h[i]!;
      if (t > tMs) continue;
      const next = h[i + 1];
      return next ? c + ((next[1] - c) * (tMs - t)) / (next[0] - t) : c;
    }
    return undefined;
  }
}

