import type { GpuInfo, GpuSample, PowerPoint } from '../sampler/types';
import type { GpuRunSummary, RunSummary } from './types';

/** Inputs of {@link summarizeRun}. */
export interface SummaryInput {
  base?: Partial<RunSummary>;
  gpus: GpuInfo[];
  samples: GpuSample[];
  powerPoints: PowerPoint[];
  /** Final energy per GPU index (mJ), from the sampler. */
  energiesMj: Map<number, number>;
  /** GPUs attributed to the run; empty means none could be told, so all count. */
  runGpus: number[];
  durationMs: number;
  /** Per GPU: the run's share of SM activity when it shared the GPU (an estimate). */
  smSharePct?: Map<number, number>;
}

/** The figures of a run from its samples and final energies. Pure; used live, at the end and on recovery. */
export function summarizeRun(input: SummaryInput): Pick<
  RunSummary,
  'energyJ' | 'energyMethod' | 'avgPowerW' | 'peakPowerW' | 'avgUtilPct' | 'gpus' | 'durationS'
> {
  const durationS = Math.max(0, input.durationMs / 1000);
  const counted = new Set(input.runGpus.length ? input.runGpus : input.gpus.map((g) => g.index));
  const perGpu: GpuRunSummary[] = input.gpus.map((g) => {
    const own = input.samples.filter((s) => s.gpu === g.index);
    const energyJ = (input.energiesMj.get(g.index) ?? 0) / 1000;
    let peakMw = 0;
    for (const s of own) if (s.powerMilliwatts !== undefined && s.powerMilliwatts > peakMw) peakMw = s.powerMilliwatts;
    for (const p of input.powerPoints) if (p.gpu === g.index && p.powerMilliwatts > peakMw) peakMw = p.powerMilliwatts;
    const utils = own.map((s) => s.utilGpuPct).filter((u): u is number => u !== undefined);
    const mems = own.map((s) => s.memUsedBytes).filter((m): m is number => m !== undefined);
    const lastMs = own.length ? own[own.length - 1]!.tMs : input.durationMs;
    // A lost GPU's average covers the time it was seen, not the whole run.
    const seenS = Math.max(1e-9, Math.min(durationS, lastMs / 1000) || durationS);
    const summary: GpuRunSummary = {
      index: g.index,
      name: g.name,
      uuid: g.uuid,
      energyJ,
      avgPowerW: seenS > 0 ? energyJ / seenS : 0,
      peakPowerW: peakMw / 1000,
      energyMethod: g.energyMethod,
      powerSource: g.powerSource,
      attributed: input.runGpus.includes(g.index),
    };
    if (utils.length) summary.avgUtilPct = utils.reduce((a, b) => a + b, 0) / utils.length;
    if (mems.length) summary.peakMemUsedBytes = Math.max(...mems);
    if (g.memTotalBytes !== undefined) summary.memTotalBytes = g.memTotalBytes;
    if (g.energyMethodReason) summary.energyMethodReason = g.energyMethodReason;
    const share = input.smSharePct?.get(g.index);
    if (share !== undefined) summary.runSmSharePct = share;
    return summary;
  });
  const run = perGpu.filter((g) => counted.has(g.index));
  const energyJ = run.reduce((a, g) => a + g.energyJ, 0);
  // Peak of the summed power: take per-tick sums of the counted GPUs.
  const sums = new Map<number, number>();
  for (const s of input.samples) {
    if (counted.has(s.gpu) && s.powerMilliwatts !== undefined) sums.set(s.tMs, (sums.get(s.tMs) ?? 0) + s.powerMilliwatts);
  }
  let peakW = 0;
  for (const v of sums.values()) peakW = Math.max(peakW, v / 1000);
  if (run.length === 1) peakW = Math.max(peakW, run[0]!.peakPowerW);
  const utils = run.map((g) => g.avgUtilPct).filter((u): u is number => u !== undefined);
  const out: ReturnType<typeof summarizeRun> = {
    durationS,
    energyJ,
    energyMethod: run.length > 0 && run.every((g) => g.energyMethod === 'counter') ? 'counter' : 'integrated',
    avgPowerW: durationS > 0 ? energyJ / durationS : 0,
    peakPowerW: peakW,
    gpus: perGpu,
  };
  if (utils.length) out.avgUtilPct = utils.reduce((a, b) => a + b, 0) / utils.length;
  return out;
}
