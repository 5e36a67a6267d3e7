import * as assert from 'node:assert/strict';
import { MinMaxView, VIEW_BUCKETS, VIEW_METRICS } from '../../../src/core/runs/minMaxView';
import { SummaryAccumulator, summarizeRun } from '../../../src/core/runs/summary';
import type { GpuSample } from '../../../src/core/sampler/types';
import { syntheticGpu } from '../../support/syntheticRun';

describe('bounded in-memory view and streaming figures', () => {
  it('the live view of 24 h on 8 GPUs at 10 Hz stays at its fixed size and keeps a one-sample spike', () => {
    const view = new MinMaxView(100);
    const capBytes = 8 * (2 * VIEW_METRICS.length + 1) * VIEW_BUCKETS * 8;
    let maxBytes = 0;
    // 24 h x 10 Hz = 864,000 ticks; every 4th tick is enough to cross every merge (keeps the test fast).
    const ticks = 864_000;
    for (let k = 0; k < ticks; k += 4) {
      for (let gpu = 0; gpu < 8; gpu++) {
        view.add({ tMs: k * 100, gpu, powerMilliwatts: k === 600_000 && gpu === 3 ? 699_000 : 300_000, utilGpuPct: 90, memUsedBytes: 1e10 });
      }
      if (k % 40_000 === 0) maxBytes = Math.max(maxBytes, view.byteSize());
    }
    maxBytes = Math.max(maxBytes, view.byteSize());
    assert.ok(maxBytes <= capBytes, `${maxBytes} bytes > cap ${capBytes}`);
    const cols = view.columns(3)!;
    assert.ok(cols.tMs.length <= VIEW_BUCKETS);
    // The bucket holding t = 60,000 s shows the spike as its max, and the neighbours' 300 W as min.
    const k = Math.floor((600_000 * 100) / cols.bucketMs);
    assert.equal(cols.max.powerMilliwatts[k], 699_000);
    assert.equal(cols.min.powerMilliwatts[k], 300_000);
    assert.equal(Math.max(...view.columns(2)!.max.powerMilliwatts), 300_000, 'other GPUs are untouched');
    // Drawn as samples: bounded too, and the spike is there.
    const drawn = view.toSamples();
    assert.ok(drawn.length <= 2 * 8 * VIEW_BUCKETS);
    assert.ok(drawn.some((s) => s.gpu === 3 && s.powerMilliwatts === 699_000));
    // In time order and never after the latest sample: the live batches that follow append cleanly.
    for (let i = 1; i < drawn.length; i++) assert.ok(drawn[i]!.tMs >= drawn[i - 1]!.tMs, `out of order at ${i}`);
    assert.ok(drawn[drawn.length - 1]!.tMs <= (ticks - 4) * 100);
  });

  it('whole-run figures over 2.5 M samples: the peak and memory peak in the last hour count', () => {
    const gpus = [0, 1].map(syntheticGpu);
    const acc = new SummaryAccumulator(gpus);
    const n = 1_250_000; // per GPU: 2.5 M samples, past the old 2 M in-memory cap
    for (let k = 0; k < n; k++) {
      const late = k === n - 100;
      acc.add({ tMs: k * 100, gpu: 0, powerMilliwatts: late ? 650_000 : 400_000, utilGpuPct: k < n / 2 ? 100 : 0, memUsedBytes: late ? 70e9 : 20e9 });
      acc.add({ tMs: k * 100, gpu: 1, powerMilliwatts: 100_000, utilGpuPct: 50 });
    }
    const r = acc.result({ gpus, energiesMj: new Map([[0, 1e9], [1, 2e8]]), runGpus: [], durationMs: n * 100 });
    assert.equal(r.gpus[0]!.peakPowerW, 650);
    assert.equal(r.gpus[0]!.peakMemUsedBytes, 70e9);
    assert.equal(r.gpus[0]!.avgUtilPct, 50, 'utilization averages the whole run, not its first part');
    assert.equal(r.peakPowerW, 750, 'peak of the summed power, tick by tick');
    assert.equal(r.energyJ, 1.2e6, 'energy from the counters, exact');
  });

  it('the peak of summed power follows the final attribution, exactly as over the whole series', () => {
    const gpus = [0, 1, 2].map(syntheticGpu);
    const samples: GpuSample[] = [];
    for (let k = 0; k < 50; k++) {
      for (let g = 0; g < 3; g++) samples.push({ tMs: k * 100, gpu: g, powerMilliwatts: 100_000 + ((k * 37 + g * 101) % 97) * 1000 });
    }
    for (const runGpus of [[0, 2], [1], [0, 1, 2], []]) {
      const counted = new Set(runGpus.length ? runGpus : [0, 1, 2]);
      let want = 0;
      for (let k = 0; k < 50; k++) {
        const sum = samples.filter((s) => s.tMs === k * 100 && counted.has(s.gpu)).reduce((a, s) => a + (s.powerMilliwatts ?? 0), 0);
        want = Math.max(want, sum / 1000);
      }
      const r = summarizeRun({ gpus, samples, powerPoints: [], energiesMj: new Map(), runGpus, durationMs: 5000 });
      assert.equal(r.peakPowerW, want, `GPUs ${runGpus.join(',') || 'all'}`);
    }
  });
});
