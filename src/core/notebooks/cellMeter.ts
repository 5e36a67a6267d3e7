/**
 * The energy of notebook cells. A cell's start and end times come from the notebook's execution
 * summary (wall clock, known once the cell has finished); the GPUs' cumulative energy comes from
 * the sampler ({@link EnergyTimeline}); a cell's figure is the difference over its window.
 */
import { formatJoules, formatPct, formatWatts } from '../units/format';
import type { EnergyTimeline, WindowFigures } from './energyTimeline';
import { SHORT_WINDOW_MS } from './energyTimeline';

/** How a cell's GPUs were chosen. */
export type CellAttribution =
  /** The kernel's processes were seen on these GPUs: only they count. */
  | 'kernel'
  /** No kernel process was found on any GPU (a remote kernel, or one not using a GPU yet): every GPU counts. */
  | 'whole-gpu';

/** A finished cell execution, as the notebook reports it. */
export interface CellExecution {
  /** The notebook's URI (as text) and the cell's index in it when it ran. */
  notebook: string;
  cellIndex: number;
  /** The cell's own document URI (as text), for the editor's items. */
  cellUri: string;
  /** The kernel's execution counter (`[5]`), when it gave one. */
  executionOrder?: number;
  /** Wall-clock times (ms since the Unix epoch) from the execution summary. */
  startWallMs: number;
  endWallMs: number;
  success?: boolean;
}

/** A cell's measured figures: one shape for the cell's status item, its hover, the history and the panel. */
export interface CellEnergy {
  notebook: string;
  cellIndex: number;
  cellUri: string;
  executionOrder?: number;
  /** ISO 8601 start, and seconds since the notebook session's sampling started. */
  startedAt: string;
  startS: number;
  durationS: number;
  success?: boolean;
  /** Energy of the counted GPUs over the cell (J), their summed mean power (W), their mean utilization. */
  energyJ: number;
  avgPowerW: number;
  avgUtilPct?: number;
  /** Per counted GPU. */
  gpus: WindowFigures[];
  attribution: CellAttribution;
  /** The kernel processes that were seen on the counted GPUs. */
  kernelPids?: number[];
  /**
   * How the energy was obtained, in words: the sampler's energy series (hardware counter deltas,
   * integrated power between counter reads) interpolated at the cell's edges; for a cell shorter
   * than two sample periods, from the power samples around it.
   */
  method: string;
}

/** Which GPUs count for a cell, decided when its figures are computed. */
export interface CellAttributionInfo {
  attribution: CellAttribution;
  /** GPUs to count; undefined: all of them. */
  gpus?: number[];
  kernelPids?: number[];
}

export interface CellMeterOptions {
  timeline: EnergyTimeline;
  /** Wall-clock time (ms since the Unix epoch) of the sampler's epoch (its t = 0). */
  epochWallMs: number;
  /** The sampler's tick period (ms): a cell shorter than two of them is labelled so. */
  intervalMs: number;
  /** Which GPUs count for a notebook's cells (the kernel's, or all). */
  attribution: (notebook: string) => CellAttributionInfo;
}

/** Cells wait for the samples after their end; one whose samples never come is dropped with a reason. */
const MAX_PENDING = 10_000;

/**
 * Turns finished cell executions into {@link CellEnergy}. A cell ends before the sampler's next
 * batch reaches the owner (batches come once a second), so cells wait in `pending` until the
 * timeline covers their end; {@link flush} resolves them on each batch.
 */
export class CellMeter {
  private pending: CellExecution[] = [];

  constructor(private readonly o: CellMeterOptions) {}

  /** A cell finished (its execution summary has start and end). */
  ended(exec: CellExecution): void {
    if (!(exec.endWallMs >= exec.startWallMs)) return;
    this.pending.push(exec);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * Figures of every pending cell the timeline now covers; `skipped` names cells that can have
   * none (they ran before sampling started, or before the kept history).
   */
  flush(): { cells: CellEnergy[]; skipped: Array<{ exec: CellExecution; reason: string }> } {
    const cells: CellEnergy[] = [];
    const skipped: Array<{ exec: CellExecution; reason: string }> = [];
    const still: CellExecution[] = [];
    for (const exec of this.pending) {
      const startMs = exec.startWallMs - this.o.epochWallMs;
      const endMs = exec.endWallMs - this.o.epochWallMs;
      if (startMs < 0) {
        skipped.push({ exec, reason: 'it started before Joules was sampling the GPUs' });
        continue;
      }
      const who = this.o.attribution(exec.notebook);
      const r = this.o.timeline.window(startMs, endMs, who.gpus);
      if (!r.ok) {
        if (r.reason === 'pending' || r.reason === 'empty') still.push(exec);
        else skipped.push({ exec, reason: 'it started before the oldest sample Joules keeps (two days)' });
        continue;
      }
      cells.push(this.figures(exec, startMs, r.gpus, who));
    }
    this.pending = still;
    return { cells, skipped };
  }

  private figures(exec: CellExecution, startMs: number, gpus: WindowFigures[], who: CellAttributionInfo): CellEnergy {
    const durationMs = Math.max(0, exec.endWallMs - exec.startWallMs);
    const energyJ = gpus.reduce((a, g) => a + g.energyJ, 0);
    const utils = gpus.filter((g) => g.avgUtilPct !== undefined);
    const short = durationMs < 2 * this.o.intervalMs;
    return {
      notebook: exec.notebook,
      cellIndex: exec.cellIndex,
      cellUri: exec.cellUri,
      ...(exec.executionOrder !== undefined ? { executionOrder: exec.executionOrder } : {}),
      startedAt: new Date(exec.startWallMs).toISOString(),
      startS: startMs / 1000,
      durationS: durationMs / 1000,
      ...(exec.success !== undefined ? { success: exec.success } : {}),
      energyJ,
      avgPowerW: durationMs > 0 ? (energyJ * 1000) / durationMs : gpus.reduce((a, g) => a + g.avgPowerW, 0),
      ...(utils.length ? { avgUtilPct: utils.reduce((a, g) => a + g.avgUtilPct!, 0) / utils.length } : {}),
      gpus,
      attribution: who.attribution,
      ...(who.kernelPids?.length ? { kernelPids: who.kernelPids } : {}),
      method: durationMs === 0
        ? `ran in under 1 ms (the resolution of the cell's timing): its energy is below ${formatJoules(gpus.reduce((a, g) => a + g.avgPowerW, 0) / 1000)}`
        : short
        ? `shorter than two sample periods (${this.o.intervalMs} ms): from the power samples around it`
        : gpus.some((g) => g.source === 'power')
          ? `the sampled power integrated over the cell (a cell under ${SHORT_WINDOW_MS / 1000} s: the energy counter moves in ~100 ms steps)`
          : 'counter-anchored energy (counter deltas, sampled power between counter reads), interpolated at the cell\'s start and end',
    };
  }
}

/** The cell's status item: `3.2 kJ · 410 W · 87 %`. */
export function cellItemText(c: CellEnergy): string {
  const parts = [formatJoules(c.energyJ), formatWatts(c.avgPowerW)];
  if (c.avgUtilPct !== undefined) parts.push(formatPct(c.avgUtilPct));
  return parts.join(' · ');
}

/** The cell's hover: per-GPU figures, what was counted and how. Plain text lines (Markdown-safe). */
export function cellHoverLines(c: CellEnergy): string[] {
  const lines = [`Cell ${c.executionOrder !== undefined ? `[${c.executionOrder}]` : `#${c.cellIndex + 1}`}: ${formatJoules(c.energyJ)} over ${c.durationS.toFixed(c.durationS < 10 ? 2 : 1)} s`];
  for (const g of c.gpus) {
    lines.push(`GPU ${g.gpu}: ${formatJoules(g.energyJ)} · ${formatWatts(g.avgPowerW)}${g.avgUtilPct !== undefined ? ` · ${formatPct(g.avgUtilPct)} busy` : ''}`);
  }
  lines.push(
    c.attribution === 'kernel'
      ? `Counted: the GPU(s) the kernel's process${(c.kernelPids?.length ?? 0) > 1 ? 'es' : ''} (PID ${(c.kernelPids ?? []).join(', ')}) used.`
      : 'Counted: every GPU (no kernel process was found on a GPU, so whole GPUs are counted, including other users of them).',
  );
  lines.push(`How: ${c.method}.`);
  return lines;
}
