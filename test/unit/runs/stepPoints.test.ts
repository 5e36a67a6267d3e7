import * as assert from 'node:assert/strict';
import { StepPoints } from '../../../src/core/runs/stepPoints';

describe('step points (when the run reached its steps)', () => {
  it('keeps every point of a short run, in order, with the cumulative step', () => {
    const p = new StepPoints(100);
    p.add(1, 32);
    p.add(2, 32);
    p.add(3.5, 1);
    assert.deepEqual(p.toArray(), [{ tS: 1, step: 32 }, { tS: 2, step: 64 }, { tS: 3.5, step: 65 }]);
    assert.equal(p.steps, 65);
  });

  it('ignores counts that are not positive and times that are not finite', () => {
    const p = new StepPoints(100);
    p.add(1, 0);
    p.add(2, -3);
    p.add(Number.NaN, 5);
    assert.deepEqual(p.toArray(), []);
    assert.equal(p.steps, 0);
  });

  it('a run of a million one-step events keeps at most maxPoints, spread over the whole run, ending at the last step', () => {
    const max = 500;
    const p = new StepPoints(max);
    const n = 1_000_000;
    for (let i = 1; i <= n; i++) p.add(i * 0.01, 1);
    const pts = p.toArray();
    assert.ok(pts.length <= max && pts.length >= max / 4, `${pts.length} points`);
    assert.deepEqual(pts[pts.length - 1], { tS: n * 0.01, step: n });
    assert.equal(pts[0]!.step, 1);
    for (let i = 1; i < pts.length; i++) assert.ok(pts[i]!.step > pts[i - 1]!.step && pts[i]!.tS > pts[i - 1]!.tS);
    // Evenly spread: no stretch of the run without a point longer than a few times the mean spacing.
    const gaps = pts.slice(1).map((x, i) => x.step - pts[i]!.step);
    const mean = n / pts.length;
    assert.ok(Math.max(...gaps) <= mean * 4, `largest gap ${Math.max(...gaps)} steps, mean ${mean.toFixed(0)}`);
  });

  it('refuses a capacity too small to thin', () => {
    assert.throws(() => new StepPoints(2), /at least 4/);
  });
});
