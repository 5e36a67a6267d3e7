/**
 * Per-rank figures of a run whose process tree spans several GPUs (torchrun, accelerate, mpirun,
 * a hand-written launcher): each of the run's processes NVML lists on a GPU is a rank; its rank
 * number comes from its RANK / LOCAL_RANK environment (as torchrun sets them) where readable, and
 * its energy is that of the GPU(s) it mainly ran on.
 */
import type { GpuProcessUse } from '../sampler/types';
import { readEnv } from './attach';

/** One rank of a run. */
export interface RankFigure {
  /** Process id of the rank. */
  pid: number;
  /** RANK from its environment (global rank), when readable. */
  rank?: number;
  /** LOCAL_RANK from its environment, when readable. */
  localRank?: number;
  /** The GPUs it used most memory on (its CUDA device; usually one). */
  gpus: number[];
  /** Energy of those GPUs over the run; a GPU that several ranks called theirs is split evenly among them. */
  energyJ: number;
  /** Set when one of its GPUs was another rank's too (its energy then split). */
  sharedGpu?: true;
}

interface RankState {
  pid: number;
  rank?: number;
  localRank?: number;
  /** Peak memory per GPU this process held. */
  memByGpu: Map<number, number>;
}

/** Most ranks tracked (a run of 8 nodes x 8 GPUs is 64; the cap only bounds a pathological tree). */
const MAX_RANKS = 1024;

export class RankTracker {
  private readonly ranks = new Map<number, RankState>();

  constructor(private readonly envOf: (pid: number) => Record<string, string> = readEnv) {}

  /** Take in a process list; `isRunPid` says which processes are the run's. */
  observe(procs: readonly GpuProcessUse[], isRunPid: (pid: number) => boolean): void {
    for (const p of procs) {
      if (!isRunPid(p.pid)) continue;
      let r = this.ranks.get(p.pid);
      if (!r) {
        if (this.ranks.size >= MAX_RANKS) continue;
        // Read once, at first sight: a rank's environment does not change.
        const env = this.envOf(p.pid);
        r = { pid: p.pid, memByGpu: new Map(), ...intField('rank', env.RANK), ...intField('localRank', env.LOCAL_RANK) };
        this.ranks.set(p.pid, r);
      }
      r.memByGpu.set(p.gpu, Math.max(r.memByGpu.get(p.gpu) ?? 0, p.usedGpuMemoryBytes ?? 0));
    }
  }

  /**
   * Per-rank figures given each GPU's energy over the run, or undefined unless the run's processes
   * spanned at least two GPUs (a single-GPU run has nothing to split).
   */
  figures(energyJByGpu: ReadonlyMap<number, number>): RankFigure[] | undefined {
    const home = new Map<number, number[]>();
    for (const r of this.ranks.values()) {
      let best = -1;
      for (const m of r.memByGpu.values()) best = Math.max(best, m);
      home.set(r.pid, [...r.memByGpu].filter(([, m]) => m === best).map(([g]) => g).sort((a, b) => a - b));
    }
    const owners = new Map<number, number>();
    for (const gpus of home.values()) for (const g of gpus) owners.set(g, (owners.get(g) ?? 0) + 1);
    if (owners.size < 2) return undefined;
    const out: RankFigure[] = [];
    for (const r of this.ranks.values()) {
      const gpus = home.get(r.pid)!;
      const shared = gpus.some((g) => (owners.get(g) ?? 0) > 1);
      out.push({
        pid: r.pid,
        ...(r.rank !== undefined ? { rank: r.rank } : {}),
        ...(r.localRank !== undefined ? { localRank: r.localRank } : {}),
        gpus,
        energyJ: gpus.reduce((s, g) => s + (energyJByGpu.get(g) ?? 0) / (owners.get(g) ?? 1), 0),
        ...(shared ? { sharedGpu: true as const } : {}),
      });
    }
    // By rank where known, else by GPU.
    return out.sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || (a.gpus[0] ?? 0) - (b.gpus[0] ?? 0) || a.pid - b.pid);
  }
}

function intField<K extends string>(key: K, v: string | undefined): Partial<Record<K, number>> {
  if (v === undefined || !/^\d+$/.test(v.trim())) return {};
  return { [key]: Number(v) } as Partial<Record<K, number>>;
}
