import * as assert from 'assert';
import { IdleWatchdog } from '../../../src/core/notebooks/idleWatchdog';
import type { GpuProcessUse, GpuSample } from '../../../src/core/sampler/types';

const MIN = 60_000;

function tick(tMs: number, util: number, powerW = 70): GpuSample[] {
  return [{ tMs, gpu: 0, utilGpuPct: util, powerMilliwatts: powerW * 1000 }];
}
const holder: GpuProcessUse[] = [{ gpu: 0, pid: 4242, usedGpuMemoryBytes: 8 * 2 ** 30 }];

describe('idle-GPU watchdog', () => {
  it('alerts once for a process holding memory on an idle GPU, with the idle energy', () => {
    const w = new IdleWatchdog(15 * MIN);
    const alerts = [];
    for (let t = 0; t <= 20 * MIN; t += 1000) alerts.push(...w.observe(tick(t, 0), t % 5000 === 0 ? holder : undefined));
    assert.strictEqual(alerts.length, 1);
    const a = alerts[0]!;
    assert.strictEqual(a.pid, 4242);
    assert.strictEqual(a.idleForMs, 15 * MIN);
    assert.strictEqual(a.memBytes, 8 * 2 ** 30);
    // 15 min at 70 W.
    assert.ok(Math.abs(a.idleEnergyJ - 15 * 60 * 70) < 1e-6, String(a.idleEnergyJ));
    assert.ok(Math.abs(a.idlePowerW - 70) < 1e-9);
  });

  it('never alerts for a busy GPU, nor for a process holding no memory', () => {
    const w = new IdleWatchdog(MIN);
    const alerts = [];
    for (let t = 0; t <= 5 * MIN; t += 1000) alerts.push(...w.observe(tick(t, 95, 300), holder));
    const w2 = new IdleWatchdog(MIN);
    for (let t = 0; t <= 5 * MIN; t += 1000) alerts.push(...w2.observe(tick(t, 0), [{ gpu: 0, pid: 7, usedGpuMemoryBytes: 0 }]));
    assert.strictEqual(alerts.length, 0);
  });

  it('busy work restarts the count; a process that arrives later is idle from its arrival', () => {
    const w = new IdleWatchdog(10 * MIN);
    const got: number[] = [];
    for (let t = 0; t <= 30 * MIN; t += 1000) {
      const util = t >= 8 * MIN && t < 9 * MIN ? 80 : 0;
      const procs = t % 5000 === 0 ? [...holder, ...(t >= 12 * MIN ? [{ gpu: 0, pid: 99, usedGpuMemoryBytes: 1 }] : [])] : undefined;
      for (const a of w.observe(tick(t, util), procs)) got.push(a.pid, Math.round(a.idleSinceMs / MIN));
    }
    // 4242: idle again from 9 min, alerted at 19 min; 99: listed from 12 min, alerted at 22 min.
    assert.deepStrictEqual(got, [4242, 9, 99, 12]);
  });

  it('snooze holds the alert until it ends, then alerts once more if still idle', () => {
    const w = new IdleWatchdog(MIN);
    const at: number[] = [];
    for (let t = 0; t <= 10 * MIN; t += 1000) {
      for (const a of w.observe(tick(t, 0), t % 5000 === 0 ? holder : undefined)) {
        at.push(t / MIN);
        w.snooze(a.pid, t + 5 * MIN);
      }
    }
    assert.deepStrictEqual(at, [1, 6]);
  });
});
