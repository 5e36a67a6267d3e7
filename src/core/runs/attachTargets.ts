/**
 * The processes on the GPUs, as `joules processes` lists them (the candidates for `joules attach`):
 * what NVML says of each (GPU, memory, SM share where it gives one) and what /proc says (user,
 * command line). The /proc side is injectable so it is tested without real processes.
 */
import * as fs from 'node:fs';
import type { GpuProcessUse } from '../sampler/types';
import { containerIdOf } from './containers';

export interface GpuProcessRow {
  gpu: number;
  pid: number;
  /** User name, else the numeric uid; undefined where /proc does not show the process (another PID namespace). */
  user?: string;
  /** The command line, arguments joined by spaces; undefined where not readable. */
  command?: string;
  usedGpuMemoryBytes?: number;
  /** When the process started (ms since the Unix epoch), from /proc/<pid>/stat and the boot time. */
  startedAtMs?: number;
  /** The container the process runs in (its full id, from /proc/<pid>/cgroup; containers.ts), if any. */
  container?: string;
  /** From nvmlDeviceGetProcessUtilization, which NVML gives only while several processes share a GPU (an estimate). */
  smUtilPct?: number;
}

/** `joules processes --json`: each GPU now, with its processes (what the editor's GPU Processes view shows). */
export interface GpuProcessesListing {
  gpus: Array<{
    index: number;
    name: string;
    uuid: string;
    powerW?: number;
    utilPct?: number;
    memUsedBytes?: number;
    memTotalBytes?: number;
    /**
     * The GPU's energy counter (nvmlDeviceGetTotalEnergyConsumption, J since the driver loaded), when
     * the GPU has one: two listings' difference is the GPU's energy in between (the view's
     * "energy of its GPU while listed").
     */
    energyCounterJ?: number;
    /** Undefined where NVML does not list processes on this GPU (not the same as none). */
    processes?: GpuProcessRow[];
  }>;
}

/** How /proc and /etc/passwd are read (real files by default). */
export interface ProcReader {
  status(pid: number): string | undefined;
  cgroup?(pid: number): string | undefined;
  /** /proc/<pid>/stat and /proc/stat (its `btime`), for the start time. */
  stat?(pid: number): string | undefined;
  bootTimeS?(): number | undefined;
  cmdline(pid: number): string | undefined;
  passwd(): string | undefined;
}

const realProc: ProcReader = {
  status: (pid) => readOrUndefined(`/proc/${pid}/status`),
  cgroup: (pid) => readOrUndefined(`/proc/${pid}/cgroup`),
  stat: (pid) => readOrUndefined(`/proc/${pid}/stat`),
  bootTimeS: () => {
    const btime = /^btime (\d+)$/m.exec(readOrUndefined('/proc/stat') ?? '')?.[1];
    return btime === undefined ? undefined : Number(btime);
  },
  cmdline: (pid) => readOrUndefined(`/proc/${pid}/cmdline`),
  passwd: () => readOrUndefined('/etc/passwd'),
};

/** One row per process per GPU, by GPU then pid. */
export function describeGpuProcesses(procs: readonly GpuProcessUse[], reader: ProcReader = realProc): GpuProcessRow[] {
  const users = parsePasswd(reader.passwd() ?? '');
  const rows = procs.map((p): GpuProcessRow => {
    const uid = /^Uid:\s+(\d+)/m.exec(reader.status(p.pid) ?? '')?.[1];
    const cmd = reader.cmdline(p.pid);
    const command = cmd === undefined ? undefined : cmd.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1).join(' ');
    const cgroup = reader.cgroup?.(p.pid);
    const startedAtMs = startTimeMs(reader.stat?.(p.pid), reader.bootTimeS?.());
    const container = cgroup === undefined ? undefined : containerIdOf(cgroup);
    return {
      gpu: p.gpu,
      pid: p.pid,
      ...(uid !== undefined ? { user: users.get(uid) ?? uid } : {}),
      ...(command ? { command } : {}),
      ...(container ? { container } : {}),
      ...(startedAtMs !== undefined ? { startedAtMs } : {}),
      ...(p.usedGpuMemoryBytes !== undefined ? { usedGpuMemoryBytes: p.usedGpuMemoryBytes } : {}),
      ...(p.smUtilPct !== undefined ? { smUtilPct: p.smUtilPct } : {}),
    };
  });
  return rows.sort((a, b) => a.gpu - b.gpu || a.pid - b.pid);
}

/**
 * A process's start (ms since the Unix epoch): field 22 of /proc/<pid>/stat is clock ticks since boot
 * (USER_HZ, 100 on Linux), `btime` of /proc/stat the boot's Unix time. Whole seconds of btime bound
 * its precision to about a second.
 */
export function startTimeMs(stat: string | undefined, bootS: number | undefined): number | undefined {
  if (stat === undefined || bootS === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? bootS * 1000 + (ticks / USER_HZ) * 1000 : undefined;
}

/** Linux's clock ticks per second in /proc (sysconf(_SC_CLK_TCK), 100 on every mainstream kernel). */
const USER_HZ = 100;

/** uid → user name from /etc/passwd text. */
export function parsePasswd(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!)) out.set(f[2]!, f[0]);
  }
  return out;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
