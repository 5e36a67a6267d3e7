import assert from 'node:assert/strict';
import { decimateRunSamples } from '../../../src/core/protocol/runSnapshot';
import type { GpuSample } from '../../../src/core/sampler/types';

function hours(h: number, gpus: number): GpuSample[] {
  const out: GpuSample[] = [];
  for (let t = 0; t < h * 3_600_000; t += 100) {
    for (let g = 0; g < gpus; g++) {
      // A single 100 ms spike to 990 W at 1 h 30 min on GPU 1, otherwise 300-400 W.
      const spike = g === 1 && t === 5_400_000;
      out.push({ tMs: t, gpu: g, powerMilliwatts: spike ? 990_000 : 300_000 + ((t / 100) % 7) * 15_000, utilGpuPct: 90, energyMillijoules: t * 350 });
    }
  }
  return out;
}

describe('run snapshot: what the panel draws, not every sample', () => {
  it('sends a bounded number of whole samples, keeping every spike and each GPU\'s last sample', () => {
    const all = hours(2, 2);
    const snap = decimateRunSamples(all, 800);
    assert.ok(snap.length <= 2 * 800 * 5, `${snap.length} samples`);
    assert.ok(snap.length < all.length / 20, `${snap.length} of ${all.length}`);
    assert.ok(snap.some((s) => s.gpu === 1 && s.powerMilliwatts === 990_000), 'the spike is kept');
    for (const g of [0, 1]) assert.equal(snap.filter((s) => s.gpu === g).at(-1)?.tMs, all.filter((s) => s.gpu === g).at(-1)?.tMs);
    for (let i = 1; i < snap.length; i++) assert.ok(snap[i]!.tMs >= snap[i - 1]!.tMs, 'in time order');
    // Kept samples are whole: their energy counter is the recorded one.
    assert.ok(snap.every((s) => s.energyMillijoules === s.tMs * 350));
  });

  it('leaves a short run untouched', () => {
    const few = hours(0.01, 1);
    assert.deepEqual(decimateRunSamples(few, 800), few);
  });
});
