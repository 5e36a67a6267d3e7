import * as assert from 'node:assert/strict';
import type { DeviceSource, TelemetryBackend } from '../../../src/core/sampler/backend';
import type { EngineBatch } from '../../../src/core/sampler/engine';
import { SamplerEngine } from '../../../src/core/sampler/engine';
import { WorkerSampler } from '../../../src/core/sampler/workerSampler';
import { fakeNvml, writeScenario } from '../../support/fakeNvml';

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

  it('a ring that fails sends its GPU back to ticking, and says so', async () => {
    const base = 'device arch=hopper\nat 0 power=300W util=100\n';
    const failing = await sample(writeScenario(`${base}fault error gpu=0 metric=samples code=unknown from=1.5\n`), 3000);
    assert.ok(failing.notices.some((n) => /GPU 0: the power sample ring failed; power is read by ticking every 100 ms from now on/.test(n)), failing.notices.join('\n'));
    const late = failing.samples.filter((x) => x.tMs > 2500 && x.powerMilliwatts !== undefined).length;
    assert.ok(late >= 3, `${late} power readings after the fallback`);
  });

  it('a ring that answers but never fills is not trusted past 3 s: power is ticked, live energy moves', () => {
    let nowMs = 0;
    const source: DeviceSource = {
      info: { index: 0, name: 'vGPU', uuid: 'GPU-v', powerSource: 'average', energyMethod: 'counter', supported: { powerSamples: true } },
      readTick: (_detail, power = true) => (power ? { powerMilliwatts: 200_000, utilGpuPct: 50 } : { utilGpuPct: 50 }),
      readEnergyCounterMj: () => 1_000_000, // a counter that only moves at the end
      drainPowerRing: () => [],
      processes: () => undefined,
    };
    const backend: TelemetryBackend = { kind: 'nvml', devices: [source], nowMs: () => nowMs, takeNotices: () => [], takeErrors: () => ({}), isDeviceLost: () => false, errorKey: () => undefined, close: () => undefined };
    const engine = new SamplerEngine(backend, { intervalMs: 100 });
    engine.start();
    assert.equal(engine.wakeIntervalMs(), 1000);
    for (nowMs = 1000; nowMs <= 4000; nowMs += 1000) engine.tick();
    assert.equal(engine.wakeIntervalMs(), 100);
    for (nowMs = 4100; nowMs <= 5000; nowMs += 100) engine.tick();
    const batch = engine.takeBatch();
    assert.ok(batch.notices.some((n) => /GPU 0: the power sample ring gave no samples for 3 s; power is read by ticking every 100 ms/.test(n)), batch.notices.join('\n'));
    // Ticked power carries the live energy forward between counter reads: ~200 W x 0.9 s.
    assert.ok(engine.energies()[0]!.energyMillijoules > 150_000, `${engine.energies()[0]!.energyMillijoules} mJ`);
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
