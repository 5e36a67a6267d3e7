import type { GpuInfo, GpuProcessUse } from '../sampler/types';
import { descendsFrom } from './processes';
import type { RunSummary } from './types';

/** How {@link RunAttribution} decides a run's GPUs before any of its processes is seen. */
export interface AttributionOptions {
  gpus: readonly GpuInfo[];
  /** A replay counts every GPU of the trace. */
  replay: boolean;
  /** The launch's own environment: its CUDA_VISIBLE_DEVICES wins over the monitor's. */
  env: Record<string, string | undefined> | undefined;
}

/**
 * Which processes and GPUs are the run's. A process is the run's when it descends from the run's
 * root process; a GPU is the run's once one of those processes is seen on it. Until then the
 * run's CUDA_VISIBLE_DEVICES names the GPUs, else every GPU counts.
 */
export class RunAttribution {
  private readonly runPids = new Set<number>();
  /** PIDs seen on a GPU that are not the run's (other users, other jobs). */
  private readonly foreignPids = new Set<number>();
  private readonly seenOnGpu = new Set<number>();
  /** Per GPU: the run's and everyone's summed SM utilisation, over every process sample. */
  private readonly smShare = new Map<number, { run: number; all: number }>();

  constructor(private readonly o: AttributionOptions) {}

  /** The run's root process, the one every process of the run descends from. */
  addRoot(pid: number): void {
    this.runPids.add(pid);
  }

  /**
   * The run's processes are those `member` accepts, instead of the root's descendants: a
   * container's processes share its cgroup but not a parent (containers.ts).
   */
  setMembership(member: (pid: number) => boolean): void {
    this.member = member;
  }

  private member: ((pid: number) => boolean) | undefined;

  /** Classify the processes a batch saw on the GPUs; `rootPid` is the run's root process. */
  observe(procs: readonly GpuProcessUse[], rootPid: number): void {
    // This runs on the owner's thread (the extension host): classify only PIDs not seen before,
    // each by its parent chain, rather than listing every process on the machine.
    for (const p of procs) {
      if (this.runPids.has(p.pid) || this.foreignPids.has(p.pid)) continue;
      if (this.member ? this.member(p.pid) : descendsFrom(p.pid, rootPid)) this.runPids.add(p.pid);
      else this.foreignPids.add(p.pid);
    }
    const byGpu = new Map<number, { run: number; all: number }>();
    for (const p of procs) {
      const mine = this.runPids.has(p.pid);
      if (mine) this.seenOnGpu.add(p.gpu);
      if (p.smUtilPct !== undefined) {
        const e = byGpu.get(p.gpu) ?? { run: 0, all: 0 };
        e.all += p.smUtilPct;
        if (mine) e.run += p.smUtilPct;
        byGpu.set(p.gpu, e);
      }
    }
    for (const [gpu, e] of byGpu) {
      const acc = this.smShare.get(gpu) ?? { run: 0, all: 0 };
      acc.run += e.run;
      acc.all += e.all;
      this.smShare.set(gpu, acc);
    }
  }

  /** Whether `pid` was classified as the run's (after `observe` saw it). */
  isRunPid(pid: number): boolean {
    return this.runPids.has(pid);
  }

  /** GPUs attributed to the run so far (see `RunSummary.attribution`). */
  runGpus(): { gpus: number[]; attribution: RunSummary['attribution'] } {
    if (this.o.replay) return { gpus: this.o.gpus.map((g) => g.index), attribution: 'processes' };
    if (this.seenOnGpu.size) return { gpus: [...this.seenOnGpu].sort((a, b) => a - b), attribution: 'processes' };
    const cvd = cudaVisibleGpus(this.o.env?.CUDA_VISIBLE_DEVICES ?? process.env.CUDA_VISIBLE_DEVICES, this.o.gpus);
    if (cvd) return { gpus: cvd, attribution: 'cuda_visible_devices' };
    return { gpus: [], attribution: 'all' };
  }

  /** The GPUs whose energy is the run's now: the attributed ones, or all while none is known. */
  countedGpus(): Set<number> {
    const { gpus } = this.runGpus();
    return new Set(gpus.length ? gpus : this.o.gpus.map((g) => g.index));
  }

  /** The run's share of SM utilisation (%) on GPUs it shared with other processes. */
  smSharePct(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [gpu, e] of this.smShare) if (e.all > 0 && e.run < e.all) out.set(gpu, (100 * e.run) / e.all);
    return out;
  }
}

/** CUDA_VISIBLE_DEVICES → NVML indices: UUIDs (full or prefix) exactly; bare integers assume PCI order. */
export function cudaVisibleGpus(value: string | undefined, gpus: readonly GpuInfo[]): number[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const out: number[] = [];
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    if (/^\d+$/.test(item)) {
      const g = gpus.find((x) => x.index === Number(item));
      if (g) out.push(g.index);
    } else {
      const g = gpus.find((x) => x.uuid === item || x.uuid.startsWith(item) || x.uuid === `GPU-${item}`);
      if (g) out.push(g.index);
    }
  }
  return out.length ? [...new Set(out)] : undefined;
}
