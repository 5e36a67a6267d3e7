import * as assert from 'node:assert/strict';
import { GpuColumns } from '../../../src/core/analysis/sampleColumns';
import { analyzeTelemetryColumns, analyzeTelemetryWithActivity } from '../../../src/core/analysis/telemetry';
import { encodeSample } from '../../../src/core/runs/sampleCodec';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';
import { syntheticGpu } from '../../support/syntheticRun';

/** A training-like series with stalls, and the knobs that change how energy is computed. */
function series(gpus: GpuInfo[], o: { counterEvery: number; powerGapEvery: number; seconds: number }): GpuSample[] {
  const out: GpuSample[] = [];
  const mJ = new Map<number, number>();
  for (let k = 0; k < o.seconds * 10; k++) {
    const tS = k / 10;
    for (const g of gpus) {
      const busy = tS > 3 && tS % 20 < 15 && !(g.index === 2);
      const w = busy ? 480 + (k % 7) * 3 : 90 + (k % 3);
      mJ.set(g.index, (mJ.get(g.index) ?? 1_000_000) + w * 100);
      const s: GpuSample = { tMs: k * 100, gpu: g.index, utilGpuPct: busy ? 92 : tS % 20 < 17 ? 4 : 0, memUsedBytes: (busy ? 30 : 2) * 2 ** 30, smClockMhz: 1980, temperatureC: 50, clockEventReasons: busy ? 0x4 * (k % 2) : 1, powerLimitMilliwatts: 700_000 };
      if (k % o.powerGapEvery !== 5) s.powerMilliwatts = w * 1000;
      if (k % o.counterEvery === 0) s.energyMillijoules = mJ.get(g.index)!;
      out.push(s);
    }
  }
  return out;
}

function columnsOf(samples: GpuSample[], gpus: GpuInfo[]): Map<number, GpuColumns> {
  const m = new Map(gpus.map((g) => [g.index, new GpuColumns(g.index, 16)]));
  for (const s of samples) {
    const row = Float64Array.from(encodeSample(s).map((v) => (v === null ? Number.NaN : v)));
    m.get(s.gpu)!.pushRow(row, 0);
  }
  return m;
}

describe('analysis over compact columns, one GPU at a time', () => {
  const gpus = [0, 1, 2].map(syntheticGpu);
  const cases: Array<[string, { counterEvery: number; powerGapEvery: number; seconds: number }, number]> = [
    ['the hardware counter on every sample', { counterEvery: 1, powerGapEvery: 1000, seconds: 120 }, 120_000],
    ['the counter on 1 sample in 3 (power integrated instead)', { counterEvery: 3, powerGapEvery: 1000, seconds: 120 }, 120_000],
    ['no counter, missing power readings, exit a tick after the last sample', { counterEvery: 1e9, powerGapEvery: 11, seconds: 90 }, 90_050],
  ];
  for (const [name, o, endMs] of cases) {
    it(`gives the same findings and activity as the object path: ${name}`, () => {
      const all = series(gpus, o);
      const during = all.filter((s) => s.tMs <= endMs - 10_000);
      const after = all.filter((s) => s.tMs > endMs - 10_000);
      const exitMs = endMs - 10_000;
      const byObjects = analyzeTelemetryWithActivity({ gpus, samples: during, runGpus: [0, 1, 2], endMs: exitMs, afterRunSamples: after });
      const byColumns = analyzeTelemetryColumns({ gpus, runGpus: [0, 1, 2], endMs: exitMs, afterRunSamples: after, sources: columnsOf(during, gpus) });
      assert.ok(byObjects.findings.length >= 3, `findings: ${byObjects.findings.map((f) => f.code).join(',')}`);
      assert.deepEqual(byColumns.findings, byObjects.findings);
      assert.deepEqual(byColumns.activity, byObjects.activity);
    });
  }

  it('a GPU\'s columns cost ~48 bytes a sample, a third of the objects they replace', () => {
    const c = new GpuColumns(0, 1024);
    const row = new Float64Array(14).fill(1);
    for (let i = 0; i < 100_000; i++) c.pushRow(row, 0);
    assert.equal(c.length, 100_000);
    assert.ok(c.byteSize() / c.length <= 2 * 48, `${c.byteSize() / c.length} bytes a sample (capacity doubles)`);
  });
});
