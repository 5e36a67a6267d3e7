/**
 * Which GPU processes are a notebook's kernel. A kernel the editor started (the Jupyter extension's,
 * or any controller's) is a process tree under the extension host; its command line names a kernel
 * (`python -m ipykernel_launcher -f …/kernel-….json`, `xpython`, IJulia's `kernel.jl`). With several
 * notebooks open, a kernel belongs to the notebook whose folder is its working directory (the
 * Jupyter extension starts kernels there). A kernel on a remote server is not under the extension
 * host: then no kernel is found and the whole GPU counts, labelled so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GpuProcessUse } from '../sampler/types';
import { descendsFrom } from '../runs/processes';

/** What a kernel's command line looks like: "kernel" in any argument (ipykernel_launcher, kernel-….json, kernel.jl). */
const KERNEL_COMMAND = /kernel/i;

/** How the process table is read (injected for tests). */
export interface ProcessTable {
  /** Whether `pid` descends from `ancestor` (or is it). */
  descendsFrom(pid: number, ancestor: number): boolean;
  /** Arguments joined by spaces, or undefined when the process is gone or unreadable. */
  commandLine(pid: number): string | undefined;
  /** The working directory, or undefined when unreadable. */
  cwd(pid: number): string | undefined;
}

/** The machine's process table (Linux /proc; elsewhere nothing can be told). */
export const procTable: ProcessTable = {
  descendsFrom,
  commandLine(pid) {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      return undefined;
    }
  },
  cwd(pid) {
    try {
      return fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return undefined;
    }
  },
};

/** A kernel process seen on a GPU. */
export interface KernelOnGpu {
  pid: number;
  gpu: number;
  commandLine: string;
  cwd?: string;
}

/**
 * Tells kernels among the processes NVML lists. Each PID is classified once (a kernel or not),
 * like a run's attribution, so a busy GPU's list costs a few /proc reads per new process only.
 */
export class KernelFinder {
  private readonly verdicts = new Map<number, KernelOnGpu['commandLine'] | null>();

  constructor(
    /** The extension host's PID: kernels the editor started descend from it. */
    private readonly hostPid: number,
    /** PIDs whose trees are not kernels (Joules' own runs, started by the same host). */
    private readonly excluded: () => readonly number[],
    private readonly table: ProcessTable = procTable,
  ) {}

  /** The kernels among `procs`. */
  kernels(procs: readonly GpuProcessUse[]): KernelOnGpu[] {
    const out: KernelOnGpu[] = [];
    for (const p of procs) {
      let verdict = this.verdicts.get(p.pid);
      if (verdict === undefined) {
        verdict = this.classify(p.pid);
        this.verdicts.set(p.pid, verdict);
        // Bounded: PIDs are reused, and a long session sees many.
        if (this.verdicts.size > 10_000) this.verdicts.delete(this.verdicts.keys().next().value!);
      }
      if (verdict === null) continue;
      const cwd = this.table.cwd(p.pid);
      out.push({ pid: p.pid, gpu: p.gpu, commandLine: verdict, ...(cwd ? { cwd } : {}) });
    }
    return out;
  }

  private classify(pid: number): string | null {
    if (!this.table.descendsFrom(pid, this.hostPid)) return null;
    if (this.excluded().some((root) => this.table.descendsFrom(pid, root))) return null;
    const cmd = this.table.commandLine(pid);
    return cmd !== undefined && KERNEL_COMMAND.test(cmd) ? cmd : null;
  }
}

/**
 * The kernels of one notebook among those found: all of them when it is the only notebook being
 * measured, else those whose working directory is the notebook's folder (none when that is not
 * unique: then the whole GPU counts, which the figures say).
 */
export function kernelsOfNotebook(notebookPath: string, kernels: readonly KernelOnGpu[], notebooksOpen: readonly string[]): KernelOnGpu[] {
  if (notebooksOpen.length <= 1) return [...kernels];
  const dir = path.dirname(notebookPath);
  const sameDir = notebooksOpen.filter((n) => path.dirname(n) === dir);
  if (sameDir.length !== 1) return [];
  return kernels.filter((k) => k.cwd !== undefined && path.resolve(k.cwd) === path.resolve(dir));
}
