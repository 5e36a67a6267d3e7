import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SamplerEngine } from '../../../src/core/sampler/engine';
import { parseTrace, ReplayBackend } from '../../../src/core/sampler/replay';
import { WorkerSampler } from '../../../src/core/sampler/workerSampler';

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

  it('drains no power ring by default where the energy counter works (it costs ~0.6 ms a drain)', () => {
    const { engine } = replayAll(100);
    assert.equal(engine.takeBatch().powerPoints.length, 0);
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
    assert.ok(batches > 10, `${batches} batches`);
    assert.ok(samples >= 300);
    const j = fin.energies[0]!.energyMillijoules / 1000;
    assert.ok(Math.abs(j - 9615.0) / 9615.0 < 0.005, `${j} J`);
  });

  it('rejects an interval outside 20 ms - 10 s with a clear error', async () => {
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'replay', tracePath: TRACE, speed: 1 }, intervalMs: 5 }), /20-10000 ms/);
  });

  it('rejects a missing trace with the path in the message', async () => {
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'replay', tracePath: '/nonexistent/trace.jsonl', speed: 1 } }), /nonexistent/);
  });
});
