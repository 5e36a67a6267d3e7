import * as assert from 'node:assert/strict';
import type { EngineBatch } from '../../../src/core/sampler/engine';
import { WorkerSampler } from '../../../src/core/sampler/workerSampler';
import { fakeNvml } from '../../support/fakeNvml';

/** Run the sampler worker on the fake NVML library for `ms`, collecting everything it delivers. */
async function sample(scenario: string, ms: number, options: { powerSamplesPerSecond?: number } = {}) {
  const lib = await fakeNvml(scenario);
  const sampler = await WorkerSampler.start({ backend: { kind: 'nvml', libraryPath: lib }, intervalMs: 100, ...options });
  const batches: EngineBatch[] = [];
  sampler.onBatch((b) => batches.push(b));
  await new Promise((r) => setTimeout(r, ms));
  const fin = await sampler.finish();
  batches.push(fin.batch);
  return {
    batchesBeforeFinish: batches.length - 1,
    samples: batches.flatMap((b) => b.samples),
    powerPoints: batches.flatMap((b) => b.powerPoints),
    notices: batches.flatMap((b) => b.notices),
    fin,
  };
}

describe('ring sampling through the worker (fake NVML)', function () {
  this.timeout(60_000);

  it('wakes about once a second, yet records 50 Hz power and the counter\'s energy', async () => {
    const r = await sample('constant-300w.scn', 3200);
    const s = r.fin.elapsedMs / 1000;
    // One wake-up a second reads the slow metrics; the ring gives the power detail.
    const wakes = r.samples.filter((x) => x.memUsedBytes !== undefined).length;
    assert.ok(wakes >= 3 && wakes <= 5, `${wakes} wake-ups in ${s} s`);
    assert.ok(r.powerPoints.length >= 48 * (s - 0.2), `${r.powerPoints.length} power points in ${s} s`);
    assert.ok(r.powerPoints.every((p) => p.powerMilliwatts === 300_000));
    assert.ok(r.batchesBeforeFinish <= Math.ceil(s), `${r.batchesBeforeFinish} batches in ${s} s`);
    // The utilization ring (1/6 s on the fake) gives samples between wake-ups.
    assert.ok(r.samples.length >= 5 * (s - 0.5), `${r.samples.length} samples`);
    const e = r.fin.energies[0]!;
    assert.equal(e.method, 'counter');
    assert.ok(Math.abs(e.energyMillijoules / 1000 - 300 * s) <= 61, `${e.energyMillijoules / 1000} J in ${s} s`);
  });

  it('keeps the resolution asked for: 10 power samples a second', async () => {
    const r = await sample('constant-300w.scn', 2200, { powerSamplesPerSecond: 10 });
    const s = r.fin.elapsedMs / 1000;
    assert.ok(r.powerPoints.length >= 9 * (s - 0.3) && r.powerPoints.length <= 10 * s + 2, `${r.powerPoints.length} points in ${s} s`);
  });

  it('falls back to ticking on a GPU without a power ring, and says so', async () => {
    const r = await sample('pascal-no-counter.scn', 1600);
    assert.ok(r.notices.some((n) => /GPU 0: no power sample ring; power is read by ticking every 100 ms/.test(n)), r.notices.join('\n'));
    const withPower = r.samples.filter((x) => x.powerMilliwatts !== undefined).length;
    assert.ok(withPower >= 12, `${withPower} power readings in 1.6 s`);
    assert.equal(r.powerPoints.length, 0);
    assert.equal(r.fin.energies[0]!.method, 'integrated');
  });
});
