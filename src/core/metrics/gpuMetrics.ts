/**
 * What `joules exporter` and `joules run --metrics-port` publish: the latest reading of every GPU
 * and the energy of each run this process measures, as metric families (exposition.ts writes them).
 * Fed by the sampler's batches; holds one reading per GPU and one entry per run, so nothing here
 * grows with time.
 */
import type { GpuInfo, GpuSample } from '../sampler/types';
import type { RunStatus } from '../runs/types';
import type { MetricFamily, MetricSample } from './exposition';

/** Metric names, shared with the Prometheus source that reads them back (src/core/cluster). */
export const JOULES_METRICS = {
  power: 'joules_gpu_power_watts',
  energy: 'joules_gpu_energy_joules',
  util: 'joules_gpu_utilization_percent',
  memUsed: 'joules_gpu_memory_used_bytes',
  memTotal: 'joules_gpu_memory_total_bytes',
  temperature: 'joules_gpu_temperature_celsius',
  up: 'joules_gpu_up',
  samplingStart: 'joules_sampling_start_time_seconds',
  runEnergy: 'joules_run_energy_joules',
  runState: 'joules_run_state',
} as const;

const RUN_STATES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'stopped', 'interrupted'];

interface RunEntry {
  id: string;
  name: string;
  energyJ: number;
  status: RunStatus;
}

/** The exporter's state: latest sample per GPU, energy per run. */
export class GpuMetrics {
  private readonly latest = new Map<number, GpuSample>();
  private readonly energyMj = new Map<number, number>();
  private readonly lost = new Set<number>();
  private readonly runs = new Map<string, RunEntry>();

  /**
   * @param host the `host` label of every series (the node's name as the cluster knows it).
   * @param gpus the GPUs sampled.
   * @param samplingStartMs wall-clock time (ms since 1970) of the sampler's epoch: the energy
   *   counters count from there, so a restart shows up as a counter reset.
   */
  constructor(
    readonly host: string,
    private readonly gpus: readonly GpuInfo[],
    private readonly samplingStartMs: number,
  ) {}

  /** Take in a batch's samples (any order); a GPU's newest sample wins. */
  addSamples(samples: readonly GpuSample[]): void {
    for (const s of samples) {
      const prev = this.latest.get(s.gpu);
      if (!prev || s.tMs >= prev.tMs) this.latest.set(s.gpu, mergeSample(prev, s));
      // The sampler's per-sample energy never decreases; keep the highest in case batches interleave.
      if (s.energyMillijoules !== undefined) this.energyMj.set(s.gpu, Math.max(this.energyMj.get(s.gpu) ?? 0, s.energyMillijoules));
    }
  }

  /**
   * Energies read at a scrape (the sampler's `mark()`: the hardware counter read just now), so the
   * scraped counter is as of the scrape's time rather than the last batch's (up to a second older).
   */
  addEnergies(energies: ReadonlyArray<{ gpu: number; energyMillijoules: number }>): void {
    for (const e of energies) this.energyMj.set(e.gpu, Math.max(this.energyMj.get(e.gpu) ?? 0, e.energyMillijoules));
  }

  /** A GPU that fell off the bus: `joules_gpu_up` goes to 0 and its gauges are no longer published. */
  markLost(gpu: number): void {
    this.lost.add(gpu);
  }

  /** Create or update a run's series. */
  setRun(id: string, name: string, energyJ: number, status: RunStatus): void {
    const prev = this.runs.get(id);
    this.runs.set(id, { id, name, status, energyJ: Math.max(prev?.energyJ ?? 0, energyJ) });
  }

  /** The metric families as of now. */
  families(): MetricFamily[] {
    const power: MetricSample[] = [];
    const energy: MetricSample[] = [];
    const util: MetricSample[] = [];
    const memUsed: MetricSample[] = [];
    const memTotal: MetricSample[] = [];
    const temp: MetricSample[] = [];
    const up: MetricSample[] = [];
    for (const g of this.gpus) {
      const labels = { host: this.host, gpu: String(g.index), uuid: g.uuid, name: g.name };
      const lost = this.lost.has(g.index);
      up.push({ labels, value: lost ? 0 : 1 });
      // The counter is published while the GPU is lost too: its last value stays the truth.
      const mj = this.energyMj.get(g.index);
      if (mj !== undefined) energy.push({ labels: { ...labels, method: g.energyMethod }, value: mj / 1000 });
      if (g.memTotalBytes !== undefined) memTotal.push({ labels, value: g.memTotalBytes });
      const s = this.latest.get(g.index);
      if (!s || lost) continue;
      if (s.powerMilliwatts !== undefined) power.push({ labels, value: s.powerMilliwatts / 1000 });
      if (s.utilGpuPct !== undefined) util.push({ labels, value: s.utilGpuPct });
      if (s.memUsedBytes !== undefined) memUsed.push({ labels, value: s.memUsedBytes });
      if (s.temperatureC !== undefined) temp.push({ labels, value: s.temperatureC });
    }
    const runEnergy: MetricSample[] = [];
    const runState: MetricSample[] = [];
    for (const r of this.runs.values()) {
      const labels = { host: this.host, run_id: r.id, run_name: r.name };
      runEnergy.push({ labels, value: r.energyJ });
      for (const st of RUN_STATES) runState.push({ labels: { ...labels, state: st }, value: st === r.status ? 1 : 0 });
    }
    const M = JOULES_METRICS;
    return [
      { name: M.power, type: 'gauge', unit: 'watts', help: 'GPU power draw (NVML; the instant reading where supported, else the 1 s average).', samples: power },
      {
        name: M.energy,
        type: 'counter',
        unit: 'joules',
        help: 'GPU energy since the exporter started sampling. method="counter": the NVML hardware energy counter, read at each scrape; method="integrated": the GPU has no usable counter, its power is integrated (as of the last sampler batch).',
        samples: energy,
      },
      { name: M.util, type: 'gauge', unit: 'percent', help: 'GPU utilization (NVML: share of time a kernel ran).', samples: util },
      { name: M.memUsed, type: 'gauge', unit: 'bytes', help: 'GPU memory used.', samples: memUsed },
      { name: M.memTotal, type: 'gauge', unit: 'bytes', help: 'GPU memory total.', samples: memTotal },
      { name: M.temperature, type: 'gauge', unit: 'celsius', help: 'GPU temperature.', samples: temp },
      { name: M.up, type: 'gauge', help: '1 while the GPU is sampled, 0 once it was lost (NVML_ERROR_GPU_IS_LOST).', samples: up },
      { name: M.samplingStart, type: 'gauge', unit: 'seconds', help: 'Unix time at which the energy counters of this exporter started counting.', samples: [{ labels: { host: this.host }, value: this.samplingStartMs / 1000 }] },
      { name: M.runEnergy, type: 'counter', unit: 'joules', help: 'Energy of a run measured by this process (its attributed GPUs).', samples: runEnergy },
      { name: M.runState, type: 'gauge', help: 'State of a run measured by this process: 1 for its current state, 0 for the others.', samples: runState },
    ];
  }
}

/** Slow fields (memory, temperature) come every second; keep the last known value between them. */
function mergeSample(prev: GpuSample | undefined, s: GpuSample): GpuSample {
  if (!prev) return s;
  return {
    ...s,
    memUsedBytes: s.memUsedBytes ?? prev.memUsedBytes,
    temperatureC: s.temperatureC ?? prev.temperatureC,
    powerMilliwatts: s.powerMilliwatts ?? prev.powerMilliwatts,
    utilGpuPct: s.utilGpuPct ?? prev.utilGpuPct,
  } as GpuSample;
}
