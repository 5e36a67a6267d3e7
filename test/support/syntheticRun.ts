/**
 * Synthetic stored runs of any length, written through the real store (RunWriter), for the long-run
 * tests and `npm run bench:longrun`. The telemetry is a training loop that stalls on data loading:
 * 50 s busy (95 % util, ~520 W) then 10 s starved (5 %, ~230 W), with a little deterministic noise,
 * the energy counter integrated from the power, and one 690 W spike on GPU 0 in the run's last
 * minute (so a summary that only covers the start of the run misses it).
 */
import * as os from 'node:os';
import type { StoredRun } from '../../src/core/runs/store';
import type { RunStore } from '../../src/core/runs/store';
import { SummaryAccumulator } from '../../src/core/runs/summary';
import type { GpuInfo, GpuSample } from '../../src/core/sampler/types';

export interface SyntheticRunOptions {
  id: string;
  gpus: number;
  durationS: number;
  hz: number;
  /** The run's Python script (for source findings and `joules fix`). */
  scriptPath?: string;
  /** Record left `running` by a dead monitor (for recovery); default: a finished run. */
  interrupted?: boolean;
  /** Seconds of samples per line (the sampler batches a few times a second). Default 0.5. */
  batchS?: number;
}

export const SPIKE_W = 690;
const MEM_TOTAL = 80 * 1024 ** 3;

export function syntheticGpu(index: number): GpuInfo {
  return {
    index,
    name: 'NVIDIA H100 80GB HBM3 (synthetic)',
    uuid: `GPU-00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    architecture: 'Hopper',
    memTotalBytes: MEM_TOTAL,
    powerLimitMilliwatts: 700_000,
    powerSource: 'instant',
    energyMethod: 'counter',
    supported: {},
  };
}

/** Write the run into `store`; returns its record and the exact figures the summary must show. */
export function writeSyntheticRun(store: RunStore, o: SyntheticRunOptions): { meta: StoredRun; expected: { energyJ: number; peakPowerW: number; samples: number } } {
  const gpus = Array.from({ length: o.gpus }, (_, i) => syntheticGpu(i));
  const writer = store.create(o.id);
  const meta: StoredRun = {
    schema: 1,
    id: o.id,
    name: o.id,
    status: o.interrupted ? 'running' : 'succeeded',
    startedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    durationS: o.interrupted ? 0 : o.durationS,
    exitCode: o.interrupted ? null : 0,
    command: ['python3', o.scriptPath ?? 'train.py'],
    cwd: os.tmpdir(),
    ...(o.scriptPath ? { scriptPath: o.scriptPath } : {}),
    energyJ: 0,
    energyMethod: 'counter',
    avgPowerW: 0,
    peakPowerW: 0,
    gpus: [],
    attribution: 'processes',
    sampleIntervalMs: 1000 / o.hz,
    gpuInfo: gpus,
    runGpus: gpus.map((g) => g.index),
    // A pid that does not exist on this host: recovery treats the monitor as dead.
    monitorPid: o.interrupted ? 2 ** 22 + 4321 : process.pid,
    monitorHost: os.hostname(),
  };
  writer.writeMeta(meta);
  const dtMs = 1000 / o.hz;
  const n = Math.floor(o.durationS * o.hz);
  const perLine = Math.max(1, Math.round((o.batchS ?? 0.5) * o.hz));
  const energyMj = new Float64Array(o.gpus);
  const spikeTick = Math.max(0, n - Math.round(30 * o.hz));
  let seed = 12345;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  let batch: GpuSample[] = [];
  let peakSumMw = 0;
  const figures = new SummaryAccumulator(gpus);
  for (let k = 0; k < n; k++) {
    const tMs = Math.round(k * dtMs * 1000) / 1000;
    const phase = (k / o.hz) % 60;
    const busy = phase < 50 && k / o.hz >= 2;
    let sumMw = 0;
    for (let g = 0; g < o.gpus; g++) {
      let powerMw = Math.round((busy ? 520_000 : 230_000) + 8_000 * noise());
      if (g === 0 && k === spikeTick) powerMw = SPIKE_W * 1000;
      sumMw += powerMw;
      if (k > 0) energyMj[g]! += (powerMw * dtMs) / 1000;
      batch.push({
        tMs,
        gpu: g,
        powerMilliwatts: powerMw,
        utilGpuPct: busy ? 95 : 5,
        utilMemPct: busy ? 44 : 3,
        memUsedBytes: 24 * 1024 ** 3,
        smClockMhz: 1980,
        memClockMhz: 2619,
        temperatureC: busy ? 55 : 50,
        clockEventReasons: 0,
        powerLimitMilliwatts: 700_000,
        pstate: 0,
        energyMillijoules: Math.round(energyMj[g]!),
        powerAverageMilliwatts: powerMw,
      });
    }
    if (sumMw > peakSumMw) peakSumMw = sumMw;
    if ((k + 1) % perLine === 0 || k === n - 1) {
      for (const x of batch) figures.add(x);
      writer.appendBatch(batch, [], []);
      batch = [];
      // Flush now and then, as the writer's 1 s timer does: bounded memory whatever the length.
      if ((k + 1) % (perLine * 64) === 0) writer.flush();
    }
  }
  const energyJ = energyMj.reduce((a, e) => a + Math.round(e), 0) / 1000;
  if (!o.interrupted) {
    // A finished run's record carries its summary, as RunSession writes it at the end.
    const energiesMj = new Map(gpus.map((g) => [g.index, Math.round(energyMj[g.index]!)]));
    Object.assign(meta, figures.result({ gpus, energiesMj, runGpus: meta.runGpus, durationMs: o.durationS * 1000 }));
    writer.writeMeta(meta);
  }
  writer.close();
  return { meta, expected: { energyJ, peakPowerW: peakSumMw / 1000, samples: n * o.gpus } };
}

