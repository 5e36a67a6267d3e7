/**
 * The idle-GPU watchdog: a process that holds GPU memory while its GPU has done nothing for a long
 * time (a notebook kernel left open over lunch, a run's forgotten child) is told to the user once
 * per idle stretch. Pure bookkeeping over the sampler's batches; the editor shows the alert.
 */
import type { GpuProcessUse, GpuSample } from '../sampler/types';

/**
 * Utilization at or below this is idle. NVML reports whole percents, and a GPU with a context but
 * no kernels reads 0; 1 % tolerates the odd housekeeping kernel of a framework's allocator.
 */
export const IDLE_UTIL_PCT = 1;

/** What the user is told. */
export interface IdleAlert {
  pid: number;
  gpu: number;
  /** GPU memory the process holds (bytes), when NVML gave it. */
  memBytes?: number;
  /** Since when (sampler ms) the GPU has been idle with this process on it, and for how long. */
  idleSinceMs: number;
  idleForMs: number;
  /** The GPU's mean power and energy over the idle stretch so far. */
  idlePowerW: number;
  idleEnergyJ: number;
}

interface GpuIdle {
  /** Start of the current idle stretch (sampler ms), undefined while busy. */
  sinceMs: number | undefined;
  /** The GPU's energy (mJ, integrated power) when the stretch began. */
  sinceEnergyMj: number;
  energyMj: number;
  lastMs: number | undefined;
  lastPowerMw: number | undefined;
}

interface ProcState {
  pid: number;
  gpu: number;
  memBytes?: number;
  /** When this process was first seen in the GPU's current idle stretch. */
  firstSeenMs: number;
  /** Energy of the GPU when the process was first seen in the stretch (mJ). */
  energyAtSeenMj: number;
  alerted: boolean;
}

/**
 * Feed it every batch ({@link observe}); it returns the alerts due now. An alert is given once per
 * process and idle stretch; the stretch ends when the GPU works again or the process leaves it.
 * A snoozed process is not alerted until the snooze ends (then once more if still idle).
 */
export class IdleWatchdog {
  private readonly gpus = new Map<number, GpuIdle>();
  private readonly procs = new Map<string, ProcState>();
  private readonly snoozedUntil = new Map<number, number>();
  /** When processes were last listed (sampler ms). */
  private lastListMs: number | undefined;

  constructor(private thresholdMs: number) {}

  setThreshold(ms: number): void {
    this.thresholdMs = ms;
  }

  /** Don't alert about `pid` before `untilMs` (sampler time). */
  snooze(pid: number, untilMs: number): void {
    this.snoozedUntil.set(pid, untilMs);
    for (const p of this.procs.values()) if (p.pid === pid) p.alerted = false;
  }

  /**
   * One batch: its samples (in time order) and, when listed since the previous batch, the
   * processes on each GPU. Returns the alerts due.
   */
  observe(samples: readonly GpuSample[], processes: readonly GpuProcessUse[] | undefined): IdleAlert[] {
    let nowMs = -Infinity;
    for (const s of samples) {
      nowMs = Math.max(nowMs, s.tMs);
      const g = this.gpus.get(s.gpu) ?? { sinceMs: undefined, sinceEnergyMj: 0, energyMj: 0, lastMs: undefined, lastPowerMw: undefined };
      this.gpus.set(s.gpu, g);
      if (s.powerMilliwatts !== undefined && g.lastPowerMw !== undefined && g.lastMs !== undefined && s.tMs > g.lastMs) {
        g.energyMj += ((s.powerMilliwatts + g.lastPowerMw) / 2) * ((s.tMs - g.lastMs) / 1000);
      }
      if (s.powerMilliwatts !== undefined) g.lastPowerMw = s.powerMilliwatts;
      g.lastMs = s.tMs;
      if (s.utilGpuPct === undefined) continue;
      if (s.utilGpuPct <= IDLE_UTIL_PCT) {
        if (g.sinceMs === undefined) {
          g.sinceMs = s.tMs;
          g.sinceEnergyMj = g.energyMj;
        }
      } else if (g.sinceMs !== undefined) {
        // Busy again: every process's idle stretch on this GPU ends.
        g.sinceMs = undefined;
        for (const [k, p] of this.procs) if (p.gpu === s.gpu) this.procs.delete(k);
      }
    }
    if (!Number.isFinite(nowMs)) return [];
    if (processes) {
      this.updateProcesses(processes, nowMs);
      this.lastListMs = nowMs;
    }
    const alerts: IdleAlert[] = [];
    for (const p of this.procs.values()) {
      const g = this.gpus.get(p.gpu);
      if (!g || g.sinceMs === undefined || p.alerted) continue;
      const since = Math.max(g.sinceMs, p.firstSeenMs);
      const idleForMs = nowMs - since;
      if (idleForMs < this.thresholdMs) continue;
      const snooze = this.snoozedUntil.get(p.pid);
      if (snooze !== undefined && nowMs < snooze) continue;
      p.alerted = true;
      const idleEnergyJ = Math.max(0, g.energyMj - p.energyAtSeenMj) / 1000;
      alerts.push({
        pid: p.pid,
        gpu: p.gpu,
        ...(p.memBytes !== undefined ? { memBytes: p.memBytes } : {}),
        idleSinceMs: since,
        idleForMs,
        idlePowerW: idleForMs > 0 ? (idleEnergyJ * 1000) / idleForMs : 0,
        idleEnergyJ,
      });
    }
    return alerts;
  }

  private updateProcesses(processes: readonly GpuProcessUse[], nowMs: number): void {
    const present = new Set<string>();
    for (const u of processes) {
      // A process that holds no memory is not holding the GPU.
      if (u.usedGpuMemoryBytes !== undefined && u.usedGpuMemoryBytes <= 0) continue;
      const key = `${u.gpu}:${u.pid}`;
      present.add(key);
      const g = this.gpus.get(u.gpu);
      if (!g || g.sinceMs === undefined) continue;
      const p = this.procs.get(key);
      if (p) {
        if (u.usedGpuMemoryBytes !== undefined) p.memBytes = u.usedGpuMemoryBytes;
        continue;
      }
      // First seen in this stretch. Lists come every few seconds: in the first list of the
      // stretch, the process was there when it began; a process missing from an earlier list of
      // the stretch arrived since, and its idle time starts now.
      const arrived = this.lastListMs !== undefined && this.lastListMs >= g.sinceMs;
      this.procs.set(key, {
        pid: u.pid,
        gpu: u.gpu,
        ...(u.usedGpuMemoryBytes !== undefined ? { memBytes: u.usedGpuMemoryBytes } : {}),
        firstSeenMs: arrived ? nowMs : g.sinceMs,
        energyAtSeenMj: arrived ? g.energyMj : g.sinceEnergyMj,
        alerted: false,
      });
    }
    for (const k of [...this.procs.keys()]) if (!present.has(k)) this.procs.delete(k);
  }
}
