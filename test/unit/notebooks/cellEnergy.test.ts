import * as assert from 'assert';
import { CellMeter, cellHoverLines, cellItemText } from '../../../src/core/notebooks/cellMeter';
import { EnergyTimeline } from '../../../src/core/notebooks/energyTimeline';
import type { GpuSample } from '../../../src/core/sampler/types';

/** Samples every `stepMs` from 0 to `endMs` of a GPU drawing `powerW(t)` (energy integrated exactly for piecewise-constant power). */
function series(gpu: number, endMs: number, stepMs: number, powerW: (tMs: number) => number, util: (tMs: number) => number): GpuSample[] {
  const out: GpuSample[] = [];
  let energyMj = 0;
  for (let t = 0; t <= endMs; t += stepMs) {
    // Power constant over each step, equal to its value at the step's end.
    if (t > 0) energyMj += powerW(t) * stepMs;
    out.push({ tMs: t, gpu, powerMilliwatts: powerW(t) * 1000, energyMillijoules: energyMj, utilGpuPct: util(t) });
  }
  return out;
}

describe('notebook cell energy', () => {
  it('a window is the difference of the cumulative energy, interpolated at its edges', () => {
    const tl = new EnergyTimeline();
    // 300 W until 10 s, 100 W after; util 90 % then 10 %.
    tl.add(series(0, 20_000, 100, (t) => (t <= 10_000 ? 300 : 100), (t) => (t <= 10_000 ? 90 : 10)));
    const r = tl.window(5_000, 15_050);
    assert.ok(r.ok);
    const g = r.gpus[0]!;
    // 5 s x 300 W + 5.05 s x 100 W = 1,500 + 505 J.
    assert.ok(Math.abs(g.energyJ - 2005) < 1e-6, String(g.energyJ));
    assert.ok(Math.abs(g.avgPowerW - 2005 / 10.05) < 1e-6);
    assert.ok(Math.abs(g.avgUtilPct! - (5 * 90 + 5.05 * 10) / 10.05) < 1e-6, String(g.avgUtilPct));
  });

  it('a window past the newest sample is pending; one before the kept history has expired', () => {
    const tl = new EnergyTimeline(100, 10, 1000);
    tl.add(series(0, 60_000, 100, () => 200, () => 50));
    const pending = tl.window(59_000, 61_000);
    assert.deepStrictEqual(pending, { ok: false, reason: 'pending' });
    // Fine ring: the last 100 points (10 s); coarse: 10 points 1 s apart (the last ~10 s).
    const old = tl.window(1_000, 59_000);
    assert.deepStrictEqual(old, { ok: false, reason: 'expired' });
    const recent = tl.window(51_500, 59_000);
    assert.ok(recent.ok);
    assert.ok(Math.abs(recent.gpus[0]!.energyJ - 7.5 * 200) < 1e-6);
  });

  it('past the fine ring, the coarse ring answers (memory stays bounded)', () => {
    const tl = new EnergyTimeline(50, 1000, 1000);
    tl.add(series(0, 100_000, 100, () => 250, () => 100));
    const r = tl.window(10_000, 99_000);
    assert.ok(r.ok);
    assert.ok(Math.abs(r.gpus[0]!.energyJ - 89 * 250) < 1e-6, String(r.gpus[0]!.energyJ));
  });

  it('a cell shorter than the sample period gets the power around it, never a silent 0', () => {
    const tl = new EnergyTimeline();
    tl.add(series(0, 2_000, 100, () => 400, () => 100));
    const meter = new CellMeter({ timeline: tl, epochWallMs: 1_000_000, intervalMs: 100, attribution: () => ({ attribution: 'whole-gpu' }) });
    meter.ended({ notebook: 'nb', cellIndex: 0, cellUri: 'c0', startWallMs: 1_001_020, endWallMs: 1_001_050 });
    const { cells } = meter.flush();
    assert.strictEqual(cells.length, 1);
    // 30 ms at 400 W = 12 J.
    assert.ok(Math.abs(cells[0]!.energyJ - 12) < 1e-6, String(cells[0]!.energyJ));
    assert.match(cells[0]!.method, /shorter than two sample periods/);
    assert.strictEqual(cellItemText(cells[0]!), '12 J · 400 W · 100 %');
  });

  it('two back-to-back cells split the energy between them, however the samples fall', () => {
    const tl = new EnergyTimeline();
    // Power changes between samples' edges: 100 W to 2.6 s, then 500 W.
    tl.add(series(0, 6_000, 100, (t) => (t <= 2_600 ? 100 : 500), () => 50));
    const meter = new CellMeter({ timeline: tl, epochWallMs: 0, intervalMs: 100, attribution: () => ({ attribution: 'whole-gpu' }) });
    meter.ended({ notebook: 'nb', cellIndex: 0, cellUri: 'c0', startWallMs: 500, endWallMs: 2_650 });
    meter.ended({ notebook: 'nb', cellIndex: 1, cellUri: 'c1', startWallMs: 2_650, endWallMs: 5_000 });
    const { cells } = meter.flush();
    const total = tl.window(500, 5_000);
    assert.ok(total.ok);
    assert.ok(Math.abs(cells[0]!.energyJ + cells[1]!.energyJ - total.gpus[0]!.energyJ) < 1e-9);
    // 0.5..2.6 s at 100 W (210 J), 2.6..2.65 s at 500 W (25 J); then 2.35 s at 500 W.
    assert.ok(Math.abs(cells[0]!.energyJ - 235) < 1e-6, String(cells[0]!.energyJ));
    assert.ok(Math.abs(cells[1]!.energyJ - 1175) < 1e-6, String(cells[1]!.energyJ));
    assert.match(cells[0]!.method, /counter/);
  });

  it('short windows integrate the sampled power: a counter correction never makes a cell 0', () => {
    const tl = new EnergyTimeline();
    // 300 W throughout, but the energy series stalls for 300 ms and then jumps (a counter read
    // correcting the integration, the counter updating every 100 ms).
    const samples = series(0, 3_000, 100, () => 300, () => 100).map((s) => (s.tMs > 1_000 && s.tMs <= 1_300 ? { ...s, energyMillijoules: 300_000 } : s));
    tl.add(samples);
    const r = tl.window(1_050, 1_250);
    assert.ok(r.ok);
    assert.ok(Math.abs(r.gpus[0]!.energyJ - 60) < 1e-6, String(r.gpus[0]!.energyJ));
    assert.strictEqual(r.gpus[0]!.source, 'power');
  });

  it('a cell waits for the batch after its end, and counts only the kernel\'s GPUs when known', () => {
    const tl = new EnergyTimeline();
    const meter = new CellMeter({ timeline: tl, epochWallMs: 0, intervalMs: 100, attribution: () => ({ attribution: 'kernel', gpus: [1], kernelPids: [42] }) });
    tl.add([...series(0, 1_000, 100, () => 300, () => 100), ...series(1, 1_000, 100, () => 60, () => 0)]);
    meter.ended({ notebook: 'nb', cellIndex: 3, cellUri: 'c3', executionOrder: 7, startWallMs: 200, endWallMs: 1_500 });
    assert.strictEqual(meter.flush().cells.length, 0);
    assert.strictEqual(meter.pendingCount, 1);
    tl.add([...series(0, 2_000, 100, () => 300, () => 100).slice(11), ...series(1, 2_000, 100, () => 60, () => 0).slice(11)]);
    const { cells } = meter.flush();
    assert.strictEqual(cells.length, 1);
    assert.deepStrictEqual(cells[0]!.gpus.map((g) => g.gpu), [1]);
    assert.ok(Math.abs(cells[0]!.energyJ - 1.3 * 60) < 1e-6, String(cells[0]!.energyJ));
    assert.strictEqual(cells[0]!.attribution, 'kernel');
    const hover = cellHoverLines(cells[0]!).join('\n');
    assert.match(hover, /Cell \[7\]/);
    assert.match(hover, /PID 42/);
  });

  it('a cell that ran before sampling started is skipped with its reason', () => {
    const tl = new EnergyTimeline();
    tl.add(series(0, 1_000, 100, () => 300, () => 100));
    const meter = new CellMeter({ timeline: tl, epochWallMs: 10_000, intervalMs: 100, attribution: () => ({ attribution: 'whole-gpu' }) });
    meter.ended({ notebook: 'nb', cellIndex: 0, cellUri: 'c0', startWallMs: 9_000, endWallMs: 10_500 });
    const r = meter.flush();
    assert.strictEqual(r.cells.length, 0);
    assert.match(r.skipped[0]!.reason, /before Joules was sampling/);
  });
});
