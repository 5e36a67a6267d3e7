import * as assert from 'node:assert/strict';
import type { LiveStatus } from '../../../src/core/runs/types';
import type { GpuInfo } from '../../../src/core/sampler/types';
import { ambientRows, ambientText, ambientTooltip, isIdleSample, noGpuTooltip, runAccessibility, runText, runTooltip, wasteReason } from '../../../src/vscode/statusText';

const FIGURE_SPACE = '\u2007';

function live(partial: Partial<LiveStatus>): LiveStatus {
  return {
    runId: 'r',
    elapsedS: 62,
    powerW: 412.4,
    energyJ: 38_100,
    energyMethod: 'counter',
    countedGpus: [0],
    avgPowerW: 38_100 / 62,
    peakPowerW: 450,
    gpus: [
      { index: 0, name: 'NVIDIA H200', attributed: true, powerW: 412.4, utilPct: 97, memUsedBytes: 61e9, memTotalBytes: 143e9, temperatureC: 64, energyJ: 38_100 },
      { index: 1, name: 'NVIDIA H200', attributed: false, powerW: 75, utilPct: 0 },
    ],
    idleForS: 0,
    starvedForS: 0,
    ...partial,
  };
}

const gpu = (index: number): GpuInfo => ({ index, name: `GPU${index}`, uuid: `GPU-${index}`, powerSource: 'instant', energyMethod: 'counter', supported: {}, memTotalBytes: 80e9 });

describe('status-bar wattmeter text', () => {
  it('shows the run power and energy so far: "412 W · 38.1 kJ"', () => {
    assert.equal(runText(live({}), false), '$(zap) 412 W · 38.1 kJ');
  });

  it('keeps its width as the power changes (figure spaces pad to three digits)', () => {
    assert.equal(runText(live({ powerW: 82, energyJ: 950 }), false), `$(zap) ${FIGURE_SPACE}82 W · 950 J`);
    assert.equal(runText(live({ powerW: 7, energyJ: 9.5 }), false), `$(zap) ${FIGURE_SPACE}${FIGURE_SPACE}7 W · 9.5 J`);
  });

  it('says when power is not measured yet, and swaps the icon while wasting', () => {
    assert.equal(runText(live({ powerW: undefined, energyJ: 0 }), true), '$(warning) -- W · 0.0 J');
  });

  it('reports idle before starved, only past the thresholds', () => {
    const t = { idleS: 30, starvedS: 60, starvedUtilPct: 30 };
    assert.equal(wasteReason({ idleForS: 29, starvedForS: 0 }, t), undefined);
    assert.equal(wasteReason({ idleForS: 42, starvedForS: 0 }, t), 'GPU idle for 42.0 s');
    assert.equal(wasteReason({ idleForS: 0, starvedForS: 75 }, t), 'GPU starved (utilization under 30 %) for 1 min 15 s');
  });

  it('the run tooltip lists every GPU, marks the run GPUs and names the energy method', () => {
    const md = runTooltip('train.py', live({}), undefined, false);
    assert.match(md, /\*\*Joules: train\\\.py\*\*/);
    assert.match(md, /\| 0 NVIDIA H200 \| run \| 412 W \| 97 % \| 56\.8 GiB \/ 133\.2 GiB \| 64 °C \| 38\.1 kJ \|/);
    assert.match(md, /\| 1 NVIDIA H200 \| {2}\| 75 W \| 0 % \| — \| — \| — \|/);
    assert.match(md, /hardware energy counter \(nvmlDeviceGetTotalEnergyConsumption\)/);
    assert.match(md, /run time 1 min 02 s/);
    assert.match(md, /counts the run's GPUs/);
  });

  it('the run tooltip says why the meter is yellow', () => {
    assert.match(runTooltip('x', live({}), 'GPU idle for 42.0 s', false), /\*\*GPU idle for 42\.0 s\*\*/);
  });
});

describe('ambient wattmeter', () => {
  it('sums all GPUs and marks them idle when every GPU is', () => {
    const rows = ambientRows([gpu(0), gpu(1)], new Map([
      [0, { tMs: 1, gpu: 0, powerMilliwatts: 82_000, utilGpuPct: 0 }],
      [1, { tMs: 1, gpu: 1, powerMilliwatts: 70_400, utilGpuPct: 0 }],
    ]));
    assert.equal(ambientText(rows), '$(pulse) 152 W idle');
    assert.match(ambientTooltip(rows), /All GPUs are idle/);
  });

  it('is not idle while one GPU works', () => {
    const rows = ambientRows([gpu(0), gpu(1)], new Map([
      [0, { tMs: 1, gpu: 0, powerMilliwatts: 300_000, utilGpuPct: 100 }],
      [1, { tMs: 1, gpu: 1, powerMilliwatts: 60_000, utilGpuPct: 0 }],
    ]));
    assert.equal(ambientText(rows), '$(pulse) 360 W');
    assert.match(ambientTooltip(rows), /1 of 2 GPUs idle/);
  });

  it('falls back to the GpuIdle clock-event bit when utilization is not readable', () => {
    assert.equal(isIdleSample({ tMs: 0, gpu: 0, clockEventReasons: 0x1 }), true);
    assert.equal(isIdleSample({ tMs: 0, gpu: 0, clockEventReasons: 0x4 }), false);
    assert.equal(isIdleSample(undefined), false);
  });

  it('shows "-- W" rather than a made-up 0 when no power was read', () => {
    assert.equal(ambientText(ambientRows([gpu(0)], new Map())), `$(pulse) -- W`);
  });
});

describe('no-GPU tooltip', () => {
  it('gives the reason and a link to the demo', () => {
    const md = noGpuTooltip('NVML could not be loaded. Tried: libnvidia-ml.so.1');
    assert.match(md, /NVML could not be loaded/);
    assert.match(md, /\(command:joules\.replayDemo\)/);
  });
});

describe('wattmeter screen-reader label', () => {
  it('says the live power and energy in words, and the waste reason when there is one', () => {
    assert.equal(runAccessibility({ powerW: 412.4, energyJ: 38_100 }, undefined), 'Joules run: 412 watts, 38.1 kJ so far');
    assert.equal(runAccessibility({ powerW: undefined, energyJ: 0 }, undefined), 'Joules run: power not measured yet, 0.0 J so far');
    assert.equal(runAccessibility({ powerW: 80, energyJ: 640 }, 'GPU 0 idle for 12 s'), 'Joules run: 80 watts, 640 J so far; GPU 0 idle for 12 s');
  });
});
