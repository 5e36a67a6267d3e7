import assert from 'node:assert/strict';
import type { LiveInput } from '../../../src/core/runs/liveFigures';
import { LiveModel } from '../../../src/core/runs/liveFigures';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';

const gpu = (index: number): GpuInfo => ({ index, name: `GPU${index}`, uuid: `GPU-${index}`, powerSource: 'instant', energyMethod: 'counter', supported: {} });
const sample = (g: number, tMs: number, powerW: number, util: number): GpuSample => ({ gpu: g, tMs, powerMilliwatts: powerW * 1000, utilGpuPct: util });

function at(tMs: number, runGpus: number[], energyJ: [number, number], power: [number, number] = [400, 70], util: [number, number] = [90, 0]): LiveInput {
  return {
    runId: 'r',
    gpus: [gpu(0), gpu(1)],
    latest: new Map([[0, sample(0, tMs, power[0], util[0])], [1, sample(1, tMs, power[1], util[1])]]),
    energies: [{ gpu: 0, energyMillijoules: energyJ[0] * 1000, method: 'counter', counterMs: tMs, integratedMs: 0, gapMs: 0 }, { gpu: 1, energyMillijoules: energyJ[1] * 1000, method: 'counter', counterMs: tMs, integratedMs: 0, gapMs: 0 }],
    runGpus,
    elapsedMs: tMs,
    idleSinceMs: undefined,
    starvedSinceMs: undefined,
  };
}

describe('live model (status bar, panel and CLI read the same figures)', () => {
  it('counts only the GPU the run uses, once it is known', () => {
    const m = new LiveModel();
    const f = m.read(at(10_000, [0], [4000, 700]));
    assert.equal(f.energyJ, 4000, 'the idle second GPU is not counted');
    assert.deepEqual(f.countedGpus, [0]);
    assert.equal(f.powerW, 400);
    assert.equal(f.avgPowerW, 400);
  });

  it('never lets "energy so far" go down when the counted GPUs narrow', () => {
    const m = new LiveModel();
    // Before the run's process is seen on a GPU, both GPUs count: 130 J.
    assert.equal(m.read(at(200, [], [80, 50])).energyJ, 130);
    // The process shows up on GPU 0: its own 94 J is less than what was shown; the figure holds.
    assert.equal(m.read(at(300, [0], [94, 55])).energyJ, 130);
    // Then it follows GPU 0 as soon as that passes the held figure.
    assert.equal(m.read(at(600, [0], [210, 75])).energyJ, 210);
  });

  it('averages utilization over time and keeps the peak power of the counted GPUs, in constant memory', () => {
    const m = new LiveModel();
    m.observe(at(0, [0], [0, 0], [300, 70], [50, 0]));
    m.observe(at(1000, [0], [0, 0], [500, 70], [100, 0]));
    m.observe(at(4000, [0], [0, 0], [200, 70], [0, 0]));
    const f = m.read(at(4000, [0], [1500, 300], [200, 70], [0, 0]));
    assert.equal(f.peakPowerW, 500);
    // 1 s at 100 %, then 3 s at 0 %.
    assert.equal(f.avgUtilPct, 25);
  });
});
