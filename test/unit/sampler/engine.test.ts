import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SamplerEngine } from '../../../src/core/sampler/engine';
import { parseTrace, ReplayBackend } from '../../../src/core/sampler/replay';
import { WorkerSampler } from '../../../src/core/sampler/workerSampler';
import { ownThreadLoop } from '../../../src/core/sampler/ownThreadLoop';

const TRACE = path.join(__dirname, '../../../media/traces/h200-phased-load.jsonl');

function replayAll(intervalMs: number, powerRing: 'auto' | 'on' | 'off' = 'auto'): { engine: SamplerEngine; backend: ReplayBackend } {
  const backend = new ReplayBackend(parseTrace(fs.readFileSync(TRACE, 'utf8')));
  const engine = new SamplerEngine(backend, { intervalMs, powerRing });
  engine.start();
  for (let t = intervalMs; t <= backend.durationMs; t += intervalMs) {
    backend.advanceTo(t);
    engine.tick();
  }
  backend.advanceTo(backend.durationMs);
  engine.finish();
  return { engine, backend };
}

describe('sampler engine on the recorded H200 trace', () => {
  it('reports the energy the hardware counter measured (9615.0 J over the recording)', () => {
    const { engine } = replayAll(100);
    const [e] = engine.energies();
    assert.equal(e?.method, 'counter');
    assert.ok(Math.abs(e!.energyMillijoules / 1000 - 9615.0) < 9615 * 0.005, `got ${e!.energyMillijoules / 1000} J`);
  });

  it('keeps energy within 0.5 % of the counter at any tick interval from 20 ms to 1 s', () => {
    for (const intervalMs of [20, 50, 250, 1000]) {
      const { engine } = replayAll(intervalMs);
      const j = engine.energies()[0]!.energyMillijoules / 1000;
      assert.ok(Math.abs(j - 9615.0) / 9615.0 < 0.005, `${intervalMs} ms: ${j} J`);
    }
  });

  it('emits per-tick samples whose live energy rises monotonically and ends at the counter figure', () => {
    const { engine } = replayAll(100, 'on');
    const { samples, powerPoints } = engine.takeBatch();
    assert.ok(samples.length >= 300, `only ${samples.length} samples`);
    let prev = -1;
    for (const s of samples) {
      assert.ok(s.energyMillijoules! >= prev - 1e-6, `energy went down at ${s.tMs} ms`);
      prev = s.energyMillijoules!;
    }
    assert.ok(Math.abs(prev / 1000 - 9615.0) < 48);
    // With the ring on, every recorded row reaches the power points: nothing between ticks is lost.
    assert.equal(powerPoints.length, 597);
  });

  it('reads memory, clocks and temperature once a second, power and utilisation every tick', () => {
    const { engine } = replayAll(100);
    const samples = engine.takeBatch().samples;
    const withDetail = samples.filter((s) => s.memUsedBytes !== undefined);
    assert.ok(samples.every((s) => s.powerMilliwatts !== undefined && s.utilGpuPct !== undefined));
    assert.ok(withDetail.length >= 29 && withDetail.length <= 33, `${withDetail.length} detailed samples in 30 s`);
    assert.ok(withDetail.every((s) => s.smClockMhz !== undefined && s.temperatureC !== undefined));
  });

  it('by default drains the power ring once a second: every recorded point, one wake-up a second, counter energy', () => {
    const backend = new ReplayBackend(parseTrace(fs.readFileSync(TRACE, 'utf8')));
    const engine = new SamplerEngine(backend, { intervalMs: 100 });
    engine.start();
    // Every GPU has a ring, so the owner is told to wake once a second rather than every 100 ms.
    assert.equal(engine.wakeIntervalMs(), 1000);
    let wakes = 0;
    for (let t = 1000; t <= backend.durationMs; t += 1000, wakes++) {
      backend.advanceTo(t);
      engine.tick();
    }
    backend.advanceTo(backend.durationMs);
    const [e] = engine.finish();
    const { samples, powerPoints } = engine.takeBatch();
    assert.equal(wakes, 30);
    assert.equal(powerPoints.length, 597);
    // The utilization ring keeps the detectors' time resolution: a sample per recorded row, with power.
    assert.ok(samples.length >= 590, `${samples.length} samples`);
    assert.ok(samples.filter((s) => s.utilGpuPct !== undefined).every((s) => s.powerMilliwatts !== undefined));
    assert.ok(samples.every((s, i) => i === 0 || s.tMs >= samples[i - 1]!.tMs), 'samples in time order');
    // Memory, clocks and temperature at every wake-up.
    assert.ok(samples.filter((s) => s.memUsedBytes !== undefined).length >= 30);
    assert.equal(e!.method, 'counter');
    assert.ok(Math.abs(e!.energyMillijoules / 1000 - 9615.0) < 9615 * 0.005, `${e!.energyMillijoules / 1000} J`);
  });

  it('keeps 10 power points a second when asked for 10 samples per second, with the same energy', () => {
    const backend = new ReplayBackend(parseTrace(fs.readFileSync(TRACE, 'utf8')));
    const engine = new SamplerEngine(backend, { intervalMs: 100, powerSamplesPerSecond: 10 });
    engine.start();
    for (let t = 1000; t <= backend.durationMs; t += 1000) {
      backend.advanceTo(t);
      engine.tick();
    }
    backend.advanceTo(backend.durationMs);
    const [e] = engine.finish();
    const n = engine.takeBatch().powerPoints.length;
    // Bins of at least 100 ms over rows ~50 ms apart with jitter: 9.5-10 points a second.
    assert.ok(n >= 270 && n <= 300, `${n} points in 30 s`);
    assert.ok(Math.abs(e!.energyMillijoules / 1000 - 9615.0) < 9615 * 0.005);
  });

  it('shows the full-load phase at about 690 W with util near 100 %', () => {
    const { engine } = replayAll(100);
    const full = engine.takeBatch().samples.filter((s) => s.tMs > 10_000 && s.tMs < 14_000);
    const avgW = full.reduce((a, s) => a + s.powerMilliwatts!, 0) / full.length / 1000;
    assert.ok(avgW > 600 && avgW < 720, `avg ${avgW} W`);
    assert.ok(full.every((s) => s.utilGpuPct! >= 90));
  });
});

describe('sampler worker thread', () => {
  it('replays the trace in a worker and delivers batches and the final energy', async () => {
    const sampler = await WorkerSampler.start({ backend: { kind: 'replay', tracePath: TRACE, speed: Infinity }, intervalMs: 100 });
    assert.equal(sampler.ready.backend, 'replay');
    assert.equal(sampler.gpus[0]?.energyMethod, 'counter');
    let batches = 0;
    let samples = 0;
    sampler.onBatch((b) => {
      batches++;
      samples += b.samples.length;
    });
    await new Promise<void>((resolve) => sampler.onReplayEnded(resolve));
    const fin = await sampler.finish();
    samples += fin.batch.samples.length;
    // At most one batch a second of sampler time crosses the thread boundary.
    assert.ok(batches >= 20 && batches <= 31, `${batches} batches`);
    assert.ok(samples >= 300, `${samples} samples`);
    const j = fin.energies[0]!.energyMillijoules / 1000;
    assert.ok(Math.abs(j - 9615.0) / 9615.0 < 0.005, `${j} J`);
  });

  it('on the owner\'s thread (the CLI): the same batches, marks and final energy as in the worker', async () => {
    const run = async (thread: 'worker' | 'main'): Promise<{ samples: number; energyJ: number; mark: number; batches: number }> => {
      const sampler = await WorkerSampler.start({ backend: { kind: 'replay', tracePath: TRACE, speed: Infinity }, intervalMs: 100, ...(thread === 'main' ? { onOwnThread: ownThreadLoop } : {}) });
      let samples = 0;
      let batches = 0;
      sampler.onBatch((b) => {
        batches++;
        samples += b.samples.length;
      });
      const mark = await sampler.mark();
      await new Promise<void>((resolve) => sampler.onReplayEnded(resolve));
      const fin = await sampler.finish();
      samples += fin.batch.samples.length;
      return { samples, energyJ: fin.energies[0]!.energyMillijoules / 1000, mark: mark.elapsedMs, batches };
    };
    const worker = await run('worker');
    const main = await run('main');
    assert.equal(main.samples, worker.samples);
    assert.ok(Math.abs(main.energyJ - 9615.0) < 9615 * 0.005, `${main.energyJ} J`);
    assert.equal(main.energyJ, worker.energyJ);
    assert.ok(main.batches >= 25 && main.batches <= 31, `${main.batches} batches`);
    assert.ok(main.mark >= 0);
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'replay', tracePath: '/nonexistent/trace.jsonl', speed: 1 }, onOwnThread: ownThreadLoop }), /nonexistent/);
  });

  it('rejects an interval outside 20 ms - 10 s with a clear error', async () => {
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'replay', tracePath: TRACE, speed: 1 }, intervalMs: 5 }), /20-10000 ms/);
  });

  it('rejects a missing trace with the path in the message', async () => {
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'replay', tracePath: '/nonexistent/trace.jsonl', speed: 1 } }), /nonexistent/);
  });
});
