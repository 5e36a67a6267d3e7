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

/** What {@link SummaryAccumulator.result} needs besides the samples it has seen. */
export type SummaryFinal = Omit<SummaryInput, 'samples' | 'powerPoints' | 'base'>;

/** The figures a summary carries. */
export type RunFigures = Pick<RunSummary, 'energyJ' | 'energyMethod' | 'avgPowerW' | 'peakPowerW' | 'avgUtilPct' | 'gpus' | 'durationS'>;

/**
 * Subsets of GPUs whose summed power is tracked exactly, per tick: 2^n sums a tick. Up to 10 GPUs
 * that is at most 1,024 additions a tick (about 10 us); past it only "all GPUs" and the GPUs
 * counted when each tick arrived are tracked (see {@link SummaryAccumulator.noteCounted}).
 */
const MAX_SUBSET_GPUS = 10;

interface GpuAcc {
  peakMw: number;
  utilSum: number;
  utilCount: number;
  peakMemBytes: number | undefined;
  lastMs: number | undefined;
}

/**
 * Streaming figures of a run: every sample is seen once and dropped, so a run of days costs the
 * same memory as a run of a minute. Energy is not accumulated here: it comes exact from the
 * sampler's counters (`energiesMj`). The peak of the summed power is kept for every subset of GPUs,
 * because which GPUs count (attribution) is only final when the run ends.
 */
export class SummaryAccumulator {
  private readonly perGpu = new Map<number, GpuAcc>();
  /** NVML index -> bit in a subset mask (only while the GPU count allows exact subsets). */
  private readonly bitOf = new Map<number, number>();
  private readonly subsetPeakMw: Float64Array | undefined;
  private readonly subsetSum: Float64Array | undefined;
  private readonly tickByBit: Float64Array | undefined;
  /** Fallback for many GPUs: peaks of the sums over the sets given to `noteCounted`. */
  private readonly setPeakMw = new Map<string, number>();
  private countedKey = '';
  private counted: Set<number> | undefined;
  private tickMs: number | undefined;
  private readonly tickPowerMw = new Map<number, number>();

  constructor(gpus: readonly GpuInfo[]) {
    for (const g of gpus) this.perGpu.set(g.index, { peakMw: 0, utilSum: 0, utilCount: 0, peakMemBytes: undefined, lastMs: undefined });
    if (gpus.length <= MAX_SUBSET_GPUS) {
      gpus.forEach((g, i) => this.bitOf.set(g.index, i));
      this.subsetPeakMw = new Float64Array(1 << gpus.length);
      this.subsetSum = new Float64Array(1 << gpus.length);
      this.tickByBit = new Float64Array(gpus.length);
    }
  }

  /** Many-GPU fallback only: the GPUs that count from now on (attribution so far). */
  noteCounted(gpus: readonly number[]): void {
    const key = [...gpus].sort((a, b) => a - b).join(',');
    if (key === this.countedKey) return;
    this.countedKey = key;
    this.counted = new Set(gpus);
  }

  add(s: GpuSample): void {
    let g = this.perGpu.get(s.gpu);
    if (!g) {
      // A GPU not in the probe (should not happen): still counted, without a subset bit.
      g = { peakMw: 0, utilSum: 0, utilCount: 0, peakMemBytes: undefined, lastMs: undefined };
      this.perGpu.set(s.gpu, g);
    }
    if (s.powerMilliwatts !== undefined && s.powerMilliwatts > g.peakMw) g.peakMw = s.powerMilliwatts;
    if (s.utilGpuPct !== undefined) {
      g.utilSum += s.utilGpuPct;
      g.utilCount++;
    }
    if (s.memUsedBytes !== undefined && (g.peakMemBytes === undefined || s.memUsedBytes > g.peakMemBytes)) g.peakMemBytes = s.memUsedBytes;
    g.lastMs = s.tMs;
    if (s.powerMilliwatts === undefined) return;
    // Samples of one tick share its tMs and arrive together: sum them, settle the tick on the next.
    if (this.tickMs !== s.tMs) {
      this.settleTick();
      this.tickMs = s.tMs;
    }
    this.tickPowerMw.set(s.gpu, (this.tickPowerMw.get(s.gpu) ?? 0) + s.powerMilliwatts);
  }

  addPowerPoint(p: PowerPoint): void {
    const g = this.perGpu.get(p.gpu);
    if (g && p.powerMilliwatts > g.peakMw) g.peakMw = p.powerMilliwatts;
  }

  private settleTick(): void {
    if (this.tickPowerMw.size === 0) return;
    if (this.subsetSum && this.subsetPeakMw && this.tickByBit) {
      let present = 0;
      const byBit = this.tickByBit;
      for (const [gpu, mw] of this.tickPowerMw) {
        const bit = this.bitOf.get(gpu);
        if (bit === undefined) continue;
        present |= 1 << bit;
        byBit[bit] = mw;
      }
      // sum[mask] = sum[mask without its lowest bit] + power of that bit: one addition per subset.
      const sums = this.subsetSum;
      sums[0] = 0;
      for (let mask = 1; mask < sums.length; mask++) {
        const low = mask & -mask;
        const v = (sums[mask ^ low] ?? 0) + ((present & low) !== 0 ? (byBit[31 - Math.clz32(low)] ?? 0) : 0);
        sums[mask] = v;
        if (v > (this.subsetPeakMw[mask] ?? 0)) this.subsetPeakMw[mask] = v;
      }
    } else {
      let all = 0;
      let counted = 0;
      for (const [gpu, mw] of this.tickPowerMw) {
        all += mw;
        if (!this.counted || this.counted.has(gpu)) counted += mw;
      }
      this.setPeakMw.set('*', Math.max(this.setPeakMw.get('*') ?? 0, all));
      this.setPeakMw.set(this.countedKey, Math.max(this.setPeakMw.get(this.countedKey) ?? 0, counted));
    }
    this.tickPowerMw.clear();
  }

  private peakSumMw(counted: Set<number>, all: boolean): number {
    if (this.subsetPeakMw) {
      let mask = 0;
      for (const gpu of counted) {
        const bit = this.bitOf.get(gpu);
        if (bit !== undefined) mask |= 1 << bit;
      }
      return this.subsetPeakMw[mask] ?? 0;
    }
    if (all) return this.setPeakMw.get('*') ?? 0;
    return this.setPeakMw.get([...counted].sort((a, b) => a - b).join(',')) ?? this.setPeakMw.get(this.countedKey) ?? 0;
  }

  /** The figures of everything added so far. Can be called more than once (live and at the end). */
  result(input: SummaryFinal): RunFigures {
    this.settleTick();
    this.tickMs = undefined;
    const durationS = Math.max(0, input.durationMs / 1000);
    const countAll = input.runGpus.length === 0;
    const counted = new Set(countAll ? input.gpus.map((g) => g.index) : input.runGpus);
    const perGpu: GpuRunSummary[] = input.gpus.map((g) => {
      const acc = this.perGpu.get(g.index);
      const energyJ = (input.energiesMj.get(g.index) ?? 0) / 1000;
      const lastMs = acc?.lastMs ?? input.durationMs;
      // A lost GPU's average covers the time it was seen, not the whole run.
      const seenS = Math.max(1e-9, Math.min(durationS, lastMs / 1000) || durationS);
      const summary: GpuRunSummary = {
        index: g.index,
        name: g.name,
        uuid: g.uuid,
        energyJ,
        avgPowerW: seenS > 0 ? energyJ / seenS : 0,
        peakPowerW: (acc?.peakMw ?? 0) / 1000,
        energyMethod: g.energyMethod,
        powerSource: g.powerSource,
        attributed: input.runGpus.includes(g.index),
      };
      if (acc && acc.utilCount > 0) summary.avgUtilPct = acc.utilSum / acc.utilCount;
      if (acc?.peakMemBytes !== undefined) summary.peakMemUsedBytes = acc.peakMemBytes;
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
    // Peak of the summed power of the counted GPUs, tick by tick.
    let peakW = this.peakSumMw(counted, countAll) / 1000;
    if (run.length === 1) peakW = Math.max(peakW, run[0]!.peakPowerW);
    const utils = run.map((g) => g.avgUtilPct).filter((u): u is number => u !== undefined);
    const out: RunFigures = {
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
}

/** The figures of a run from its samples and final energies. Pure; used on arrays (tests, small runs). */
export function summarizeRun(input: SummaryInput): RunFigures {
  const acc = new SummaryAccumulator(input.gpus);
  for (const s of input.samples) acc.add(s);
  for (const p of input.powerPoints) acc.addPowerPoint(p);
  return acc.result(input);
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
