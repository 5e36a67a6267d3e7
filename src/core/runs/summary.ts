import type { EnergyAccount, GpuInfo, GpuSample, PowerPoint, RunEnergyMethod } from '../sampler/types';
import type { GpuRunSummary, RunSummary } from './types';

/** Inputs of {@link summarizeRun}. */
export interface SummaryInput {
  base?: Partial<RunSummary>;
  gpus: GpuInfo[];
  samples: GpuSample[];
  powerPoints: PowerPoint[];
  /** Final energy per GPU index (mJ), from the sampler. */
  energiesMj: Map<number, number>;
  /** Per GPU index: how the sampler obtained that energy (methods, coverage, counter failure, loss). */
  accounts?: Map<number, EnergyAccount & { lostAtMs?: number }>;
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
    const account = input.accounts?.get(g.index);
    if (account) withAccount(summary, account);
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
    energyMethod: runMethod(run.map((g) => g.energyMethod)),
    avgPowerW: durationS > 0 ? energyJ / durationS : 0,
    peakPowerW: peakW,
    gpus: perGpu,
  };
  if (utils.length) out.avgUtilPct = utils.reduce((a, b) => a + b, 0) / utils.length;
  return out;
}

function runMethod(methods: RunEnergyMethod[]): RunEnergyMethod {
  if (methods.length > 0 && methods.every((m) => m === 'counter')) return 'counter';
  if (methods.every((m) => m === 'integrated')) return 'integrated';
  return 'counter+integrated';
}

/** Carry the sampler's account of a GPU's energy into its summary, with a reason a person can read. */
function withAccount(g: GpuRunSummary, a: EnergyAccount & { lostAtMs?: number }): void {
  g.energyMethod = a.method;
  g.counterS = a.counterMs / 1000;
  g.integratedS = a.integratedMs / 1000;
  if (a.gapMs > 0) g.gapS = a.gapMs / 1000;
  if (a.counterFailedAtMs !== undefined) g.counterFailedAtS = a.counterFailedAtMs / 1000;
  if (a.lostAtMs !== undefined) g.lostAtS = a.lostAtMs / 1000;
  const reasons: string[] = [];
  if (a.counterFailedAtMs !== undefined) {
    reasons.push(
      `the energy counter failed at ${(a.counterFailedAtMs / 1000).toFixed(1)} s; energy after its last good read is integrated from sampled power`,
    );
  }
  if (a.lostAtMs !== undefined) {
    reasons.push(`the GPU was lost at ${(a.lostAtMs / 1000).toFixed(1)} s (NVML_ERROR_GPU_IS_LOST); energy after the last counter read is integrated from sampled power`);
  }
  if (a.gapMs > 0) reasons.push(`${(a.gapMs / 1000).toFixed(1)} s without power readings are not counted`);
  if (reasons.length) g.energyMethodReason = [g.energyMethod === 'integrated' ? g.energyMethodReason : undefined, ...reasons].filter(Boolean).join('; ');
}

/** A run's energy method, in words (the CLI summary and the Markdown report). */
export function describeRunEnergyMethod(method: RunEnergyMethod): string {
  switch (method) {
    case 'counter':
      return 'hardware energy counter';
    case 'integrated':
      return 'integrated from sampled power';
    case 'counter+integrated':
      return 'hardware counter, then integrated power where it failed (per GPU below)';
  }
}

/**
 * How a GPU's energy was obtained, in words: "counter", "integrated power", or "counter, then
 * integrated power after the counter failed at 12.3 s" (the CLI and the exports print this).
 */
export function describeGpuEnergyMethod(g: Pick<GpuRunSummary, 'energyMethod' | 'counterS' | 'integratedS' | 'gapS' | 'counterFailedAtS' | 'lostAtS'>): string {
  const span = (s: number | undefined): string => (s !== undefined ? ` for ${s.toFixed(1)} s` : '');
  let text: string;
  switch (g.energyMethod) {
    case 'counter':
      text = 'counter';
      break;
    case 'integrated':
      text = g.counterFailedAtS !== undefined ? `integrated power (the counter failed at ${g.counterFailedAtS.toFixed(1)} s)` : 'integrated power';
      break;
    case 'counter+integrated': {
      // The failure is seen at the first failed read, which can come well after the last good one.
      const why =
        g.counterFailedAtS !== undefined
          ? ` after the counter failed (a read failed at ${g.counterFailedAtS.toFixed(1)} s)`
          : g.lostAtS !== undefined
            ? ` until the GPU was lost at ${g.lostAtS.toFixed(1)} s`
            : '';
      text = `counter${span(g.counterS)}, then integrated power${span(g.integratedS)}${why}`;
      break;
    }
  }
  if (g.gapS) text += `; ${g.gapS.toFixed(1)} s without power readings not counted`;
  return text;
}
