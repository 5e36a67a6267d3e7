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

/** The energy of a process's GPU since the view first listed the process (from the GPU's counter). */
export interface GpuEnergySince {
  energyJ: number;
  seconds: number;
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
    ? `\nGPU ${p.gpu} used ${formatJoules(since.energyJ)} (${formatWatts(since.energyJ / since.seconds)}) in the ${formatDuration(since.seconds)} since this view first listed the process (the GPU's energy counter; the whole GPU, shared with any other process on it)`
    : '';
  return { label: `${p.pid} ${short}`, description: parts.join(' · '), tooltip: `pid ${p.pid}, user ${p.user ?? 'unknown'}\n${cmd}${energy}` };
}

/**
 * Per process and GPU, the GPU's counter and the time when a listing first showed the process:
 * later listings give the GPU's energy since then. Bounded by the processes listed now.
 */
export class FirstSeenCounters {
  private readonly first = new Map<string, { counterJ: number; atMs: number }>();

  /** Records a listing (at `nowMs`) and forgets processes no longer listed. */
  update(listing: GpuProcessesListing, nowMs: number): void {
    const present = new Set<string>();
    for (const g of listing.gpus) {
      for (const p of g.processes ?? []) {
        const key = `${g.index}:${p.pid}`;
        present.add(key);
        if (!this.first.has(key) && g.energyCounterJ !== undefined) this.first.set(key, { counterJ: g.energyCounterJ, atMs: nowMs });
      }
    }
    for (const k of [...this.first.keys()]) if (!present.has(k)) this.first.delete(k);
  }

  since(listing: GpuProcessesListing, p: GpuProcessRow, nowMs: number): GpuEnergySince | undefined {
    const f = this.first.get(`${p.gpu}:${p.pid}`);
    const counter = listing.gpus.find((g) => g.index === p.gpu)?.energyCounterJ;
    if (!f || counter === undefined) return undefined;
    return { energyJ: Math.max(0, counter - f.counterJ), seconds: (nowMs - f.atMs) / 1000 };
  }
}

