import * as assert from 'node:assert/strict';
import type { Point } from '../../../src/core/cluster/seriesEnergy';
import { counterIncrease, integratePower, meanOver } from '../../../src/core/cluster/seriesEnergy';

/** A counter of a GPU at `powerW`, scraped every `everyS` from t0 to t1, starting at `base` J. */
function counter(powerW: number, t0: number, t1: number, everyS: number, base = 0): Point[] {
  const out: Point[] = [];
  for (let t = t0; t <= t1 + 1e-9; t += everyS) out.push([t, base + powerW * (t - t0)]);
  return out;
}

describe('counterIncrease', () => {
  it('is the counter increase over the window, interpolated at ends that fall between scrapes', () => {
    const pts = counter(300, 0, 100, 15, 1e6);
    const e = counterIncrease(pts, 10, 70);
    assert.ok(Math.abs(e.energyJ - 300 * 60) < 1e-6, String(e.energyJ));
    assert.equal(e.coveredS, 60);
    assert.equal(e.resets, 0);
    assert.equal(e.intervalS, 15);
  });

  it('counts the value after a reset as increase (the exporter restarted from 0)', () => {
    // 0..40 s at 100 W from 5000 J, then a restart: the counter starts again at 0 and climbs at 100 W.
    const pts: Point[] = [...counter(100, 0, 40, 10, 5000), ...counter(100, 50, 80, 10, 1000)];
    const e = counterIncrease(pts, 0, 80);
    // 4000 J before, the 1000 J after the restart (seen at t = 50), 3000 J after.
    assert.equal(e.energyJ, 4000 + 1000 + 3000);
    assert.equal(e.resets, 1);
  });

  it('counts only what the points cover (no extrapolation) and says how much that is', () => {
    const pts = counter(200, 30, 60, 5);
    const e = counterIncrease(pts, 0, 100);
    assert.equal(e.energyJ, 200 * 30);
    assert.equal(e.coveredS, 30);
    assert.deepEqual(counterIncrease(pts.slice(0, 1), 0, 100).energyJ, 0);
    assert.equal(counterIncrease(pts, 70, 100).coveredS, 0);
  });

  it('takes unsorted points and ignores non-finite values', () => {
    const pts: Point[] = [[20, 2000], [0, 0], [10, NaN], [10, 1000]];
    assert.equal(counterIncrease(pts, 0, 20).energyJ, 2000);
  });
});

describe('integratePower', () => {
  it('integrates trapezoids, clipped to the window', () => {
    const pts: Point[] = [[0, 100], [10, 300], [20, 300]];
    // 0..10: mean 200 W -> but clipped from 5: 250 W avg over 5 s = 1250 J, then 10..15: 300 W x 5 s.
    const e = integratePower(pts, 5, 15, 30);
    assert.equal(e.energyJ, 1250 + 1500);
    assert.equal(e.coveredS, 10);
  });

  it('does not bridge points further apart than maxGapS and reports the gap', () => {
    const pts: Point[] = [[0, 100], [1, 100], [2, 100], [60, 500], [61, 500]];
    const e = integratePower(pts, 0, 61, 3);
    assert.equal(e.energyJ, 200 + 500);
    assert.equal(e.gapS, 58);
    assert.equal(e.coveredS, 3);
  });
});

describe('meanOver', () => {
  it('is time-weighted, each value held until the next point', () => {
    assert.equal(meanOver([[0, 100], [30, 0], [40, 0]], 0, 40), 75);
    assert.equal(meanOver([[5, 42]], 0, 10), 42);
    assert.equal(meanOver([[50, 1]], 0, 10), undefined);
  });
});
