/**
 * A multi-node job's energy from Prometheus series: per GPU, per node, total, J/step over all
 * ranks, and the straggler finding. Pure: takes the series already fetched (promJob.ts fetches).
 */
import { DEFAULT_THRESHOLDS } from '../analysis/thresholds';
import type { EnergyMethod, RunEnergyMethod } from '../sampler/types';
import type { MetricSource } from './metricSources';
import type { PromSeries } from './promClient';
import type { Point, WindowEnergy } from './seriesEnergy';
import { counterIncrease, integratePower, meanOver, medianSpacing } from './seriesEnergy';

/** What was fetched for the window. */
export interface JobSeries {
  source: MetricSource;
  fromS: number;
  toS: number;
  /** Raw samples of the energy counter (unscaled). */
  energy: PromSeries[];
  /** Raw samples of the power gauge. */
  power: PromSeries[];
  /** Utilization on a common grid (query_range), for comparing nodes at the same instants. */
  util: PromSeries[];
  /** The grid's step (s). */
  utilStepS: number;
}

export interface JobGpu {
  host: string;
  /** The GPU's index on its node, as the exporter labels it. */
  gpu: string;
  uuid?: string;
  name?: string;
  energyJ: number;
  /** `counter`: increase of the exporter's energy counter; `integrated`: power integrated here or by the exporter. */
  energyMethod: EnergyMethod;
  /** Seconds of the window the series cover. */
  coveredS: number;
  /** Power spans not bridged (integrated GPUs). */
  gapS: number;
  /** Counter resets seen (exporter restarts). */
  resets: number;
  /** Median scrape interval of the series (s). */
  intervalS: number;
  /**
   * Counter GPUs: the most the figure can be off, from interpolating the counter at the window's
   * ends (at most the counter's increase over each end's scrape interval, times the larger share of
   * that interval on either side of the end). 0 when the ends fall on scrapes.
   */
  errorBoundJ?: number;
  avgPowerW?: number;
  avgUtilPct?: number;
}

export interface JobNode {
  host: string;
  energyJ: number;
  energyMethod: RunEnergyMethod;
  gpus: number;
  avgUtilPct?: number;
  errorBoundJ?: number;
}

export interface StragglerFinding {
  code: 'straggler-node';
  severity: 'warning' | 'information';
  host: string;
  /** Seconds the node sat at or below `lowUtilPct` while the other nodes averaged at least `busyUtilPct`. */
  lowS: number;
  /** That time over the time the other nodes were busy. */
  lowShare: number;
  nodeUtilPct: number;
  othersUtilPct: number;
  /** Energy the node's GPUs drew meanwhile (integrated power), when its power was stored. */
  energyJ?: number;
  message: string;
}

export interface JobReport {
  source: MetricSource['name'];
  fromS: number;
  toS: number;
  energyJ: number;
  energyMethod: RunEnergyMethod;
  /** Sum of the counter GPUs' bounds (integrated GPUs have none: see README "Clusters"). */
  errorBoundJ: number;
  nodes: JobNode[];
  gpus: JobGpu[];
  steps?: number;
  jPerStep?: number;
  findings: StragglerFinding[];
  notes: string[];
}

export interface JobReportOptions {
  /** Steps of the whole job (all ranks together) in the window, for J/step. */
  steps?: number;
  /** A node at or below this utilization is low (default: the run analysis' starved threshold). */
  lowUtilPct?: number;
  /** The other nodes count as busy at or above this mean utilization. */
  busyUtilPct?: number;
  /** A node low for at least this share of the others' busy time is a straggler. */
  minLowShare?: number;
}

const BUSY_UTIL_PCT = 50;
const MIN_LOW_SHARE = 0.25;
/** A straggler stretch shorter than this many grid steps is noise (one late scrape). */
const MIN_LOW_STEPS = 3;
/** Power points further apart than this many scrape intervals are a gap, not bridged. */
const MAX_GAP_INTERVALS = 3;

/** Build the job's report from its series. */
export function jobReport(data: JobSeries, o: JobReportOptions = {}): JobReport {
  const src = data.source;
  const { fromS, toS } = data;
  const notes: string[] = [];
  const gpus = new Map<string, JobGpu>();
  const gpuOf = (labels: Record<string, string>): JobGpu => {
    const host = hostOf(labels, src.hostLabels);
    const gpu = labels[src.gpuLabel] ?? '?';
    const uuid = labels[src.uuidLabel];
    const key = `${host}\u0000${uuid ?? gpu}`;
    let g = gpus.get(key);
    if (!g) {
      g = { host, gpu, ...(uuid ? { uuid } : {}), ...(labels[src.nameLabel] ? { name: labels[src.nameLabel] } : {}), energyJ: 0, energyMethod: 'integrated', coveredS: 0, gapS: 0, resets: 0, intervalS: 0 };
      gpus.set(key, g);
    }
    return g;
  };

  // Power first: every GPU with a power series, and the integrated fallback.
  const powerByGpu = new Map<JobGpu, Point[]>();
  for (const s of data.power) {
    const g = gpuOf(s.labels);
    powerByGpu.set(g, mergePoints(powerByGpu.get(g), s.points));
  }
  const counterByGpu = new Map<JobGpu, { points: Point[]; method: EnergyMethod }>();
  for (const s of data.energy) {
    const g = gpuOf(s.labels);
    const prev = counterByGpu.get(g);
    counterByGpu.set(g, { points: mergePoints(prev?.points, s.points.map(([t, v]) => [t, v * src.energyToJ] as const)), method: src.counterMethod(s.labels) });
  }
  const measured = new Set<JobGpu>();
  for (const g of gpus.values()) {
    const power = powerByGpu.get(g) ?? [];
    const counter = counterByGpu.get(g);
    let e: WindowEnergy | undefined;
    if (counter && counter.points.length >= 2) {
      e = counterIncrease(counter.points, fromS, toS);
      g.energyMethod = counter.method;
      if (counter.method === 'counter') g.errorBoundJ = endBound(counter.points, fromS, toS);
    }
    if ((!e || e.coveredS === 0) && power.length >= 2) {
      const interval = medianSpacing(power);
      e = integratePower(power, fromS, toS, Math.max(1, interval * MAX_GAP_INTERVALS));
      g.energyMethod = 'integrated';
      delete g.errorBoundJ;
    }
    if (!e) continue;
    measured.add(g);
    Object.assign(g, { energyJ: e.energyJ, coveredS: e.coveredS, gapS: e.gapS, resets: e.resets, intervalS: e.intervalS });
    if (e.coveredS > 0) g.avgPowerW = e.energyJ / e.coveredS;
  }

  // Utilization on the common grid: per GPU mean, and per node at each instant for the straggler check.
  const utilGrid = new Map<string, Map<number, number[]>>();
  for (const s of data.util) {
    const g = gpuOf(s.labels);
    const mean = meanOver(s.points, fromS, toS);
    if (mean !== undefined) g.avgUtilPct = mean;
    const byT = utilGrid.get(g.host) ?? new Map<number, number[]>();
    for (const [t, v] of s.points) byT.set(t, [...(byT.get(t) ?? []), v]);
    utilGrid.set(g.host, byT);
  }

  // A GPU without two energy or power samples has no figure: named in a note, not counted as 0 J.
  for (const g of gpus.values()) if (!measured.has(g)) notes.push(`${g.host} GPU ${g.gpu}: fewer than two energy or power samples in the window; no energy figure`);
  const list = [...measured].sort((a, b) => a.host.localeCompare(b.host) || Number(a.gpu) - Number(b.gpu) || a.gpu.localeCompare(b.gpu));
  const nodes = new Map<string, JobNode>();
  for (const g of list) {
    const n = nodes.get(g.host) ?? { host: g.host, energyJ: 0, energyMethod: g.energyMethod, gpus: 0 };
    n.energyJ += g.energyJ;
    n.gpus++;
    if (n.energyMethod !== g.energyMethod) n.energyMethod = 'counter+integrated';
    if (g.errorBoundJ !== undefined) n.errorBoundJ = (n.errorBoundJ ?? 0) + g.errorBoundJ;
    nodes.set(g.host, n);
  }
  for (const n of nodes.values()) {
    const utils = list.filter((g) => g.host === n.host && g.avgUtilPct !== undefined).map((g) => g.avgUtilPct!);
    if (utils.length) n.avgUtilPct = utils.reduce((a, b) => a + b, 0) / utils.length;
  }
  for (const g of list) {
    if (g.coveredS > 0 && g.coveredS < (toS - fromS) * 0.95) notes.push(`${g.host} GPU ${g.gpu}: series cover ${g.coveredS.toFixed(0)} s of the ${(toS - fromS).toFixed(0)} s window (started or stopped inside it)`);
    if (g.gapS > 0) notes.push(`${g.host} GPU ${g.gpu}: ${g.gapS.toFixed(0)} s without power samples, not counted`);
    if (g.resets > 0 && g.energyMethod !== 'integrated') notes.push(`${g.host} GPU ${g.gpu}: energy counter reset ${g.resets} time(s) (exporter restarted); increases after each reset are counted`);
  }
  const nodeList = [...nodes.values()];
  const energyJ = nodeList.reduce((a, n) => a + n.energyJ, 0);
  const methods = new Set(list.map((g) => g.energyMethod));
  const findings = stragglers(utilGrid, data.utilStepS, powerByGpu, o);
  return {
    source: src.name,
    fromS,
    toS,
    energyJ,
    energyMethod: methods.size > 1 ? 'counter+integrated' : (methods.values().next().value ?? 'counter'),
    errorBoundJ: list.reduce((a, g) => a + (g.errorBoundJ ?? 0), 0),
    nodes: nodeList,
    gpus: list,
    ...(o.steps !== undefined && o.steps > 0 ? { steps: o.steps, jPerStep: energyJ / o.steps } : {}),
    findings,
    notes,
  };
}

/**
 * A node whose GPUs sat low while the other nodes were busy, at the same instants of the grid. In
 * a synchronous job every rank should be busy together; a node that is not waits (on its input,
 * on a slower peer, on a failed collective), and its GPUs' draw meanwhile buys nothing.
 */
function stragglers(grid: Map<string, Map<number, number[]>>, stepS: number, powerByGpu: Map<JobGpu, Point[]>, o: JobReportOptions): StragglerFinding[] {
  const low = o.lowUtilPct ?? DEFAULT_THRESHOLDS.starvedUtilPct;
  const busy = o.busyUtilPct ?? BUSY_UTIL_PCT;
  const minShare = o.minLowShare ?? MIN_LOW_SHARE;
  const hosts = [...grid.keys()];
  if (hosts.length < 2) return [];
  const nodeAt = (h: string, t: number): number | undefined => {
    const v = grid.get(h)!.get(t);
    return v && v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const times = [...new Set(hosts.flatMap((h) => [...grid.get(h)!.keys()]))].sort((a, b) => a - b);
  const out: StragglerFinding[] = [];
  for (const h of hosts) {
    let busySteps = 0;
    const lowTimes: number[] = [];
    let nodeSum = 0;
    let othersSum = 0;
    for (const t of times) {
      const mine = nodeAt(h, t);
      const others = hosts.filter((x) => x !== h).map((x) => nodeAt(x, t)).filter((v): v is number => v !== undefined);
      if (mine === undefined || !others.length) continue;
      const othersMean = others.reduce((a, b) => a + b, 0) / others.length;
      if (othersMean < busy) continue;
      busySteps++;
      if (mine <= low) {
        lowTimes.push(t);
        nodeSum += mine;
        othersSum += othersMean;
      }
    }
    if (lowTimes.length < MIN_LOW_STEPS || busySteps === 0) continue;
    const lowShare = lowTimes.length / busySteps;
    if (lowShare < minShare) continue;
    const lowS = lowTimes.length * stepS;
    // The node's draw over the low instants: its power integrated over each grid step ending there.
    let energyJ: number | undefined;
    for (const [g, pts] of powerByGpu) {
      if (g.host !== h) continue;
      const maxGap = Math.max(1, medianSpacing(pts) * MAX_GAP_INTERVALS);
      for (const t of lowTimes) energyJ = (energyJ ?? 0) + integratePower(pts, t - stepS, t, maxGap).energyJ;
    }
    const nodeUtilPct = nodeSum / lowTimes.length;
    const othersUtilPct = othersSum / lowTimes.length;
    out.push({
      code: 'straggler-node',
      severity: lowShare >= 0.5 ? 'warning' : 'information',
      host: h,
      lowS,
      lowShare,
      nodeUtilPct,
      othersUtilPct,
      ...(energyJ !== undefined ? { energyJ } : {}),
      message:
        `Node ${h}: its GPUs sat at ${nodeUtilPct.toFixed(0)} % utilization for ${lowS.toFixed(0)} s (${(lowShare * 100).toFixed(0)} % of the time the other nodes were busy, at ${othersUtilPct.toFixed(0)} %)` +
        (energyJ !== undefined ? `, drawing ${energyJ.toFixed(0)} J meanwhile` : '') +
        '. In a synchronous job every node is busy together: this one waited (input pipeline, a slower peer, a stalled collective) or was given no work.',
    });
  }
  return out;
}

/** Interpolation bound at the window's ends (see JobGpu.errorBoundJ). */
function endBound(points: Point[], fromS: number, toS: number): number {
  const pts = [...points].sort((a, b) => a[0] - b[0]);
  let bound = 0;
  for (const t of [fromS, toS]) {
    const i = pts.findIndex((p) => p[0] > t);
    if (i <= 0) continue;
    const [t0, v0] = pts[i - 1]!;
    const [t1, v1] = pts[i]!;
    if (t === t0) continue;
    const f = (t - t0) / (t1 - t0);
    const inc = v1 >= v0 ? v1 - v0 : v1;
    bound += Math.max(f, 1 - f) * inc;
  }
  return bound;
}

export function hostOf(labels: Record<string, string>, hostLabels: readonly string[]): string {
  for (const l of hostLabels) if (labels[l]) return labels[l]!;
  return 'unknown';
}

/** Two series of one GPU (e.g. a relabelled duplicate) merge by time; the first value at a time wins. */
function mergePoints(a: readonly Point[] | undefined, b: readonly Point[]): Point[] {
  if (!a) return [...b];
  const byT = new Map<number, number>();
  for (const [t, v] of [...a, ...b]) if (!byT.has(t)) byT.set(t, v);
  return [...byT.entries()].sort((x, y) => x[0] - y[0]);
}
