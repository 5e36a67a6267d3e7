/**
 * A Prometheus job's window kept in the run history (`joules job --save`, and the editor's "Show
 * Prometheus Job"): a run of kind `job` whose "GPUs" are the job's GPUs across nodes (named
 * `host GPU n`), with their scraped power and utilization as samples, so the panel, Compare and the
 * exports show a multi-node job as they show a run. Its energy is the job report's (counter
 * increases or integrated power, per GPU), never re-derived from the drawing.
 */
import * as os from 'node:os';
import { makeRunId } from '../runs/lifecycle';
import { MinMaxView } from '../runs/minMaxView';
import type { RunStore, StoredRun } from '../runs/store';
import { SummaryAccumulator } from '../runs/summary';
import type { RunSummary } from '../runs/types';
import type { GpuInfo, GpuSample } from '../sampler/types';
import type { JobReport, JobSeries } from './jobReport';
import { hostOf } from './jobReport';

/** What a saved job says about where it came from (RunSummary.job). */
export interface JobOrigin {
  prometheus: string;
  selector: string;
  source: JobReport['source'];
  errorBoundJ: number;
  nodes: JobReport['nodes'];
  findings: JobReport['findings'];
  notes: string[];
}

/** The record's samples: per job GPU, its power points in the window, with the utilization grid's value at each. */
export function jobSamples(report: JobReport, data: JobSeries): { gpus: GpuInfo[]; samples: GpuSample[] } {
  const src = data.source;
  const keyOf = (labels: Record<string, string>): string => `${hostOf(labels, src.hostLabels)}\u0000${labels[src.gpuLabel] ?? '?'}`;
  const gpus: GpuInfo[] = report.gpus.map((g, index) => ({
    index,
    name: `${g.host} GPU ${g.gpu}${g.name ? ` (${g.name})` : ''}`,
    uuid: g.uuid ?? `${g.host}/${g.gpu}`,
    powerSource: 'average',
    energyMethod: g.energyMethod,
    ...(g.energyMethod === 'integrated' ? { energyMethodReason: 'no energy counter in Prometheus for this GPU: its power series integrated' } : {}),
    supported: {},
  }));
  const indexOf = new Map(report.gpus.map((g, i) => [`${g.host}\u0000${g.gpu}`, i]));
  const utilOf = new Map<number, Array<[number, number]>>();
  for (const s of data.util) {
    const i = indexOf.get(keyOf(s.labels));
    if (i !== undefined) utilOf.set(i, s.points);
  }
  const samples: GpuSample[] = [];
  for (const s of data.power) {
    const i = indexOf.get(keyOf(s.labels));
    if (i === undefined) continue;
    const util = utilOf.get(i) ?? [];
    let u = 0;
    let energyMj = 0;
    let prev: [number, number] | undefined;
    for (const [t, w] of s.points) {
      if (t < data.fromS || t > data.toS || !Number.isFinite(w)) continue;
      // Trapezoids for the cumulative drawing only (the figure is the report's).
      if (prev) energyMj += ((prev[1] + w) / 2) * (t - prev[0]) * 1000;
      prev = [t, w];
      while (u + 1 < util.length && util[u + 1]![0] <= t) u++;
      const ut = util[u];
      samples.push({
        tMs: (t - data.fromS) * 1000,
        gpu: i,
        powerMilliwatts: w * 1000,
        energyMillijoules: energyMj,
        ...(ut && ut[0] <= t && Number.isFinite(ut[1]) ? { utilGpuPct: ut[1] } : {}),
      });
    }
  }
  samples.sort((a, b) => a.tMs - b.tMs || a.gpu - b.gpu);
  return { gpus, samples };
}

/**
 * Writes the job's window to the history; returns the stored record. `id`: replace that record (a
 * job followed live is one record, rewritten at each refresh).
 */
export function saveJobRecord(store: RunStore, report: JobReport, data: JobSeries, o: { prometheus: string; selector: string; name?: string; command: string[]; id?: string }): StoredRun {
  const { gpus, samples } = jobSamples(report, data);
  const name = o.name ?? `job ${o.selector}`;
  if (o.id !== undefined) {
    const old = store.readMeta(o.id);
    if (old && old.kind !== 'job') throw new Error(`run ${o.id} is not a job: it is not replaced`);
    store.delete(o.id);
  }
  const id = o.id ?? makeRunId(name);
  const writer = store.create(id);
  const durationMs = Math.max(0, (report.toS - report.fromS) * 1000);
  const view = new MinMaxView(Math.max(1000, (report.gpus[0]?.intervalS ?? 15) * 1000));
  const acc = new SummaryAccumulator(gpus);
  for (const s of samples) {
    view.add(s);
    acc.add(s);
  }
  writer.appendBatch(samples, [], []);
  const figures = acc.result({
    gpus,
    energiesMj: new Map(report.gpus.map((g, i) => [i, g.energyJ * 1000])),
    runGpus: gpus.map((g) => g.index),
    durationMs,
  });
  const job: JobOrigin = {
    prometheus: o.prometheus,
    selector: o.selector,
    source: report.source,
    errorBoundJ: report.errorBoundJ,
    nodes: report.nodes,
    findings: report.findings,
    notes: report.notes,
  };
  const summary: RunSummary = {
    schema: 1,
    id,
    name,
    kind: 'job',
    status: 'succeeded',
    startedAt: new Date(report.fromS * 1000).toISOString(),
    exitCode: null,
    command: o.command,
    cwd: process.cwd(),
    ...figures,
    energyJ: report.energyJ,
    energyMethod: report.energyMethod,
    avgPowerW: durationMs > 0 ? (report.energyJ * 1000) / durationMs : 0,
    attribution: 'all',
    sampleIntervalMs: Math.round((report.gpus[0]?.intervalS ?? 1) * 1000),
    ...(report.steps !== undefined && report.jPerStep !== undefined ? { steps: report.steps, jPerStep: report.jPerStep } : {}),
    job,
  };
  const meta: StoredRun = { ...summary, gpuInfo: gpus, runGpus: gpus.map((g) => g.index), monitorPid: process.pid, monitorHost: os.hostname() };
  writer.flush();
  writer.writeOverview(id, view);
  writer.writeMeta(meta);
  writer.close();
  return meta;
}
