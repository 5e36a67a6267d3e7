import * as assert from 'node:assert/strict';
import { EnergyLedger } from '../../../src/core/sampler/energyLedger';

/** Feed a constant power every `stepMs` from `fromMs` to `toMs` (inclusive). */
function feed(l: EnergyLedger, mW: number, fromMs: number, toMs: number, stepMs = 100): void {
  for (let t = fromMs; t <= toMs; t += stepMs) l.power(t, mW);
}

describe('energy ledger', () => {
  it('uses counter deltas where the counter works, whatever the sampled power says', () => {
    const l = new EnergyLedger();
    l.counter(0, 1_000_000);
    feed(l, 500_000, 0, 2000); // tick power reads high
    l.counter(2000, 1_000_000 + 600_000); // the counter says 300 W
    l.close(2000);
    assert.equal(l.totalMj(), 600_000);
    assert.deepEqual(l.account(), { method: 'counter', counterMs: 2000, integratedMs: 0, gapMs: 0, counterDeltaMillijoules: 600_000 });
  });

  it('integrates power after the counter\'s last good read when later reads fail', () => {
    const l = new EnergyLedger();
    l.counter(0, 0);
    feed(l, 300_000, 0, 1000);
    l.counter(1000, 300_000);
    feed(l, 300_000, 1100, 3000);
    l.counter(2500, undefined);
    l.counter(3000, undefined); // the final read fails too
    l.close(3000);
    assert.ok(Math.abs(l.totalMj() - 900_000) < 1, `${l.totalMj()} mJ`);
    const a = l.account();
    assert.equal(a.method, 'counter+integrated');
    assert.equal(a.counterMs, 1000);
    assert.equal(a.integratedMs, 2000);
    assert.equal(a.counterFailedAtMs, 2500);
  });

  it('a counter that recovers covers the failed span by itself (no integrated part left)', () => {
    const l = new EnergyLedger();
    l.counter(0, 0);
    feed(l, 300_000, 0, 2000);
    l.counter(1000, undefined);
    l.counter(2000, 600_000);
    l.close(2000);
    assert.equal(l.totalMj(), 600_000);
    assert.equal(l.account().method, 'counter');
    assert.equal(l.account().counterFailedAtMs, undefined);
  });

  it('never bridges a failed power reading: the gap is left out and measured', () => {
    const l = new EnergyLedger();
    feed(l, 300_000, 0, 1000);
    l.powerFailed(1100);
    l.powerFailed(1200);
    const closed = l.power(2500, 50_000);
    feed(l, 50_000, 2600, 4000);
    l.close(4000);
    assert.deepEqual(closed, { startMs: 1000, endMs: 2500 });
    // 300 W x 1 s + 50 W x 1.5 s; bridging would have added (300 + 50) / 2 W x 1.5 s.
    assert.ok(Math.abs(l.totalMj() - 375_000) < 1, `${l.totalMj()} mJ`);
    assert.deepEqual(l.account(), { method: 'integrated', counterMs: 0, integratedMs: 2500, gapMs: 1500 });
  });

  it('a gap open at the end of the window counts to the end', () => {
    const l = new EnergyLedger();
    feed(l, 100_000, 0, 1000);
    l.powerFailed(1100);
    l.close(3000);
    assert.equal(l.account().gapMs, 2000);
    assert.ok(Math.abs(l.totalMj() - 100_000) < 1);
  });

  it('only the part of a power segment after a counter read is carried forward from it', () => {
    const l = new EnergyLedger();
    l.counter(0, 0);
    l.power(0, 200_000);
    l.counter(50, 10_000);
    l.power(100, 200_000); // half of this 100 ms segment lies after the read
    l.counter(150, undefined);
    l.close(150);
    assert.ok(Math.abs(l.totalMj() - (10_000 + 10_000)) < 1e-6, `${l.totalMj()} mJ`);
  });
});
