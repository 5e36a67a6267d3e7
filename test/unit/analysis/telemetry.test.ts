import assert from 'node:assert/strict';
import { ClockEventReason } from '../../../src/core/sampler/types';
import { DEFAULT_THRESHOLDS, analyzeTelemetry, starvedWasteJ, summarizeRun } from '../../../src/core/analysis/telemetry';
import type { RunTelemetry } from '../../../src/core/analysis/telemetry';
import type { Finding } from '../../../src/core/analysis/findings';
import { BUSY, endOf, gpuInfo, merge, series } from './synthetic';
import type { Phase } from './synthetic';

function run(phases: Phase[], extra: Partial<RunTelemetry> = {}, counter = true): { input: RunTelemetry; findings: Finding[] } {
  const samples = series(phases, { counter });
  const input: RunTelemetry = { gpus: [gpuInfo(0)], samples, runGpus: [0], endMs: endOf(samples), ...extra };
  return { input, findings: analyzeTelemetry(input) };
}

function only(findings: Finding[], code: Finding['code']): Finding {
  const matches = findings.filter((f) => f.code === code);
  assert.equal(matches.length, 1, `one ${code} in ${findings.map((f) => f.code).join(', ')}`);
  const f = matches[0];
  assert.ok(f !== undefined);
  return f;
}

function near(actual: number, expected: number, tol: number, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} not within ${tol} of ${expected}`);
}

describe('analyzeTelemetry', () => {
  it('reports nothing for a run at steady full load', () => {
    const { findings } = run([{ durS: 30, util: 99, powerW: 690 }]);
    assert.deepEqual(findings, []);
  });

  it('finds an idle stretch between kernels, with its energy and all of it wasted', () => {
    const { findings } = run([BUSY, { durS: 8, util: 0, powerW: 60 }, BUSY]);
    assert.deepEqual(findings.map((f) => f.code), ['gpu-idle']);
    const f = only(findings, 'gpu-idle');
    assert.equal(f.evidence.phase, 'between-kernels');
    assert.equal(f.evidence.spans.length, 1);
    near(f.startS, 10, 0.01, 'start');
    near(f.endS, 18, 0.01, 'end');
    near(f.energyJ, 480, 1, 'energy');
    assert.equal(f.wastedJ, f.energyJ);
    // 480 J of 6480 J: above the 5 % warning share.
    near(f.evidence.shareOfRunEnergyPct ?? 0, 7.4, 0.1, 'share');
    assert.equal(f.severity, 'warning');
    assert.match(f.message, /GPU 0 was idle for 8\.0 s .*: util 0 %, 60 W; 480 J, 7\.4 % of the run's energy\./);
    assert.match(f.wastedMethod, /All energy in the idle time/);
  });

  it('treats the GpuIdle clock-event bit as idle when util is missing', () => {
    const { findings } = run([BUSY, { durS: 8, powerW: 60, reasons: ClockEventReason.GpuIdle }, BUSY]);
    const f = only(findings, 'gpu-idle');
    near(f.endS - f.startS, 8, 0.01);
  });

  it('integrates power (trapezoid) when there is no energy counter', () => {
    const { findings } = run([BUSY, { durS: 8, util: 0, powerW: 60 }, BUSY], {}, false);
    const f = only(findings, 'gpu-idle');
    // One trapezoid at each edge mixes in the busy power: 8 s x 60 W plus half a tick at 300 W.
    near(f.energyJ, 480 + 0.5 * 0.1 * 240, 1, 'energy');
  });

  it('finds a starved stretch (low util) and counts the idle floor of the time a fed loop would not need as waste', () => {
    const { findings } = run([BUSY, { durS: 6, util: 8, powerW: 120 }, BUSY]);
    const f = only(findings, 'gpu-starved');
    near(f.startS, 10, 0.01);
    near(f.endS, 16, 0.01);
    near(f.energyJ, 720, 1);
    // No idle sample: the floor is the 10th percentile of all power readings, the stretch's 120 W.
    // A fed loop does the 8 % x 6 s of work in 8 % of the time: 92 % of 120 W x 6 s is waste.
    near(f.evidence.idleFloorW ?? 0, 120, 0.5, 'floor');
    near(f.wastedJ, 120 * 6 * (1 - 8 / 100), 1, 'wasted');
    assert.match(f.wastedMethod, /^Idle floor x time x \(1 - util \/ fed util\): 120 W x 6\.0 s x \(1 - 8\.0 % \/ 100 %\) = 662 J\./);
  });

  it('estimates the waste of a starved run within 75-130 % of what its fed configuration saved on an H100', () => {
    // bench/results/h100-advice-train-check-compare.txt (H100 80GB HBM3, bench/train-check.sh):
    // the starved run was "starved for 28.4 s (4.7-33.1 s): util 18 %, 156 W, idle floor 118 W;
    // 4,436 J", with 13.5 s of samples above 20 % util at 173 W; the fed configuration saved
    // 1365.5 -> 520.5 J per epoch over 3 epochs = 2,535 J. A loop shaped like it: each second,
    // 5 ticks at 26 % and 173 W, 3 at 15 % and 153 W, 2 idle at the 118 W floor (17.5 %, 156 W).
    const second: Phase[] = [
      { durS: 0.5, util: 26, powerW: 173 },
      { durS: 0.3, util: 15, powerW: 153 },
      { durS: 0.2, util: 0, powerW: 118 },
    ];
    const starvedLoop = Array.from({ length: 28 }, () => second).flat();
    const { findings } = run([{ durS: 4.7, util: 0, powerW: 73 }, ...starvedLoop, { durS: 0.4, util: 26, powerW: 173 }]);
    const f = only(findings, 'gpu-starved');
    assert.equal(f.evidence.spans.length, 1, 'one starved stretch, not fragments');
    near(f.endS - f.startS, 28.4, 0.3, 'starved time');
    near(f.evidence.idleFloorW ?? 0, 118, 0.5, 'floor');
    const measuredSavingJ = 3 * (1365.5 - 520.5);
    const ratio = f.wastedJ / measuredSavingJ;
    assert.ok(ratio >= 0.75 && ratio <= 1.3, `${f.wastedJ} J is ${(100 * ratio).toFixed(0)} % of the measured ${measuredSavingJ} J`);
    // The model on the reported figures themselves: 118 W x 28.4 s x (1 - 18 %) = 2,748 J, 108 %.
    near(starvedWasteJ({ durS: 28.4, energyJ: 4436, avgUtilPct: 18 }, 118, 100), 2748, 1, 'reported figures');
  });

  it('never wastes more than the stretch drew, nothing at fed util, about floor x time when idle', () => {
    for (const [durS, powerW, util, floorW] of [
      [10, 150, 20, 118],
      [3, 90, 5, 118],
      [60, 400, 60, 70],
      [1, 0, 0, 50],
    ] as const) {
      const energyJ = durS * powerW;
      const w = starvedWasteJ({ durS, energyJ, avgUtilPct: util }, floorW, 100);
      assert.ok(w >= 0 && w <= energyJ, `${w} J of ${energyJ} J`);
      assert.equal(starvedWasteJ({ durS, energyJ, avgUtilPct: 100 }, floorW, 100), 0);
      assert.equal(starvedWasteJ({ durS, energyJ, avgUtilPct: 70 }, floorW, 70), 0);
      near(starvedWasteJ({ durS, energyJ, avgUtilPct: 0 }, floorW, 100), Math.min(energyJ, floorW * durS), 1e-9, 'idle');
    }
  });

  it('keeps a starved loop whose ticks alternate 0 % and 40-60 % as one starved stretch', () => {
    // Per tick this loop is half "busy" (above 20 %): its 2 s window averages 24 %.
    const step: Phase[] = [
      { durS: 0.1, util: 0, powerW: 110 },
      { durS: 0.1, util: 40, powerW: 170 },
      { durS: 0.1, util: 0, powerW: 110 },
      { durS: 0.1, util: 60, powerW: 190 },
      { durS: 0.1, util: 0, powerW: 110 },
    ];
    const loop = Array.from({ length: 24 }, () => step).flat();
    const { input, findings } = run([BUSY, ...loop, BUSY]);
    const f = only(findings, 'gpu-starved');
    assert.equal(f.evidence.spans.length, 1);
    near(f.startS, 10, 0.11, 'start');
    near(f.endS, 22, 0.11, 'end');
    near(f.evidence.spans[0]?.avgUtilPct ?? 0, 20, 0.5, 'util');
    // Busy time is the two 10 s stretches at 95 % and at most a few loop ticks beside them (where
    // the window reaches into the busy stretch), not the loop's 4.8 s of ticks above 20 %.
    const busyS = summarizeRun(input).gpus[0]?.busyS ?? 0;
    assert.ok(busyS >= 20 && busyS <= 21, `busy ${busyS} s`);
  });

  it('calls a sustained 28 % stretch starved, a fed loop at 45 % busy', () => {
    const starved = run([BUSY, { durS: 6, util: 28, powerW: 160 }, BUSY]).findings;
    near(only(starved, 'gpu-starved').endS - only(starved, 'gpu-starved').startS, 6, 0.11);
    assert.deepEqual(run([BUSY, { durS: 20, util: 45, powerW: 200 }, BUSY]).findings, []);
  });

  it('calls a util-0 stretch starved when its power is clearly above the idle floor', () => {
    const { findings } = run([BUSY, { durS: 5, util: 0, powerW: 60 }, BUSY, { durS: 5, util: 0, powerW: 200 }, BUSY]);
    const idle = only(findings, 'gpu-idle');
    const starved = only(findings, 'gpu-starved');
    near(idle.startS, 10, 0.01);
    near(starved.startS, 25, 0.01);
    near(starved.evidence.idleFloorW ?? 0, 60, 0.5, 'floor');
  });

  it('does not report a short dip, and merges stretches split by one busy tick', () => {
    const short = run([BUSY, { durS: 0.5, util: 0, powerW: 60 }, BUSY]);
    assert.deepEqual(short.findings, []);
    const split = run([BUSY, { durS: 3, util: 0, powerW: 60 }, { durS: 0.1, util: 95, powerW: 300 }, { durS: 3, util: 0, powerW: 60 }, BUSY]);
    const f = only(split.findings, 'gpu-idle');
    assert.equal(f.evidence.spans.length, 1);
    near(f.endS - f.startS, 6.1, 0.01);
  });

  it('reports idle time after the last kernel separately', () => {
    const { findings } = run([BUSY, { durS: 4, util: 0, powerW: 60 }]);
    const f = only(findings, 'gpu-idle');
    assert.equal(f.evidence.phase, 'after-last-kernel');
    assert.match(f.message, /after its last kernel until the process exited/);
  });

  it('finds a slow start up to the first kernel, and not a short one', () => {
    const { findings } = run([{ durS: 6, util: 0, powerW: 50 }, BUSY]);
    const f = only(findings, 'slow-start');
    near(f.startS, 0, 0.001);
    near(f.endS, 6, 0.001);
    near(f.energyJ, 300, 1);
    assert.equal(f.evidence.firstKernelS, 6);
    assert.equal(findings.filter((x) => x.code === 'gpu-idle').length, 0, 'start-up is not also idle');
    assert.deepEqual(run([{ durS: 2, util: 0, powerW: 50 }, BUSY]).findings, []);
    const samples = series([{ durS: 6, util: 0, powerW: 50 }, BUSY]);
    assert.deepEqual(analyzeTelemetry({ gpus: [gpuInfo(0)], samples, runGpus: [0], endMs: endOf(samples) }, { slowStartS: 10 }), []);
  });

  it('finds periodic stalls, their period and count, and does not repeat them as idle', () => {
    const cycle: Phase[] = [{ durS: 1.6, util: 97, powerW: 400 }, { durS: 0.4, util: 0, powerW: 90 }];
    const { findings } = run([...Array.from({ length: 20 }, () => cycle).flat(), { durS: 2, util: 97, powerW: 400 }]);
    const f = only(findings, 'periodic-stall');
    assert.equal(f.evidence.dipCount, 20);
    near(f.evidence.periodS ?? 0, 2, 0.01, 'period');
    near(f.evidence.dipMedianS ?? 0, 0.4, 0.01, 'dip');
    near(f.energyJ, 20 * 0.4 * 90, 2, 'energy');
    assert.equal(findings.filter((x) => x.code === 'gpu-idle' || x.code === 'gpu-starved').length, 0);
    assert.match(f.message, /stalled 20 times, about every 2\.0 s for 0\.4 s each/);
  });

  it('finds long periodic stalls (evaluation every N steps) as one periodic finding', () => {
    const cycle: Phase[] = [{ durS: 25, util: 97, powerW: 400 }, { durS: 5, util: 0, powerW: 90 }];
    const { findings } = run([...Array.from({ length: 6 }, () => cycle).flat(), { durS: 5, util: 97, powerW: 400 }]);
    const f = only(findings, 'periodic-stall');
    assert.equal(f.evidence.dipCount, 6);
    near(f.evidence.periodS ?? 0, 30, 0.01);
    assert.equal(findings.filter((x) => x.code === 'gpu-idle').length, 0);
  });

  it('does not call irregular dips periodic', () => {
    const dip: Phase = { durS: 1.5, util: 0, powerW: 90 };
    const busy = (s: number): Phase => ({ durS: s, util: 97, powerW: 400 });
    const { findings } = run([busy(3), dip, busy(1), dip, busy(9), dip, busy(2), dip, busy(14), dip, busy(3)]);
    assert.equal(findings.filter((f) => f.code === 'periodic-stall').length, 0);
    assert.equal(only(findings, 'gpu-idle').evidence.spans.length, 5);
  });

  it('finds memory far below capacity during busy time, but not at full load or high memory', () => {
    const busy: Phase = { durS: 20, util: 95, powerW: 300, memBytes: 10e9 };
    const f = only(run([busy]).findings, 'memory-underused');
    assert.equal(f.evidence.peakMemUsedBytes, 10e9);
    assert.equal(f.evidence.memTotalBytes, 80e9);
    assert.equal(f.wastedJ, 0);
    assert.match(f.message, /used at most 9\.3 GiB of 74\.5 GiB \(13 %\) while busy for 20\.0 s, drawing 300 W of its 700 W limit/);
    assert.deepEqual(run([{ ...busy, powerW: 680 }]).findings, []);
    assert.deepEqual(run([{ ...busy, memBytes: 60e9 }]).findings, []);
  });

  it('finds power capping (hint, no waste) and thermal throttling (warning) in busy time only', () => {
    const capped: Phase = { durS: 10, util: 99, powerW: 690, memBytes: 70e9, reasons: ClockEventReason.SwPowerCap };
    const free: Phase = { durS: 10, util: 99, powerW: 690, memBytes: 70e9 };
    const p = only(run([free, capped]).findings, 'throttle-power');
    assert.equal(p.severity, 'hint');
    assert.equal(p.wastedJ, 0);
    near(p.evidence.throttledShareOfBusyPct ?? 0, 50, 0.6);
    const hot: Phase = { ...free, reasons: ClockEventReason.HwThermalSlowdown };
    const t = only(run([free, hot]).findings, 'throttle-thermal');
    assert.equal(t.severity, 'warning');
    const idleCapped: Phase = { durS: 10, util: 0, powerW: 60, reasons: ClockEventReason.SwPowerCap };
    assert.equal(run([free, idleCapped, free]).findings.filter((f) => f.code.startsWith('throttle')).length, 0);
  });

  it('finds a run GPU that never ran a kernel, and ignores GPUs outside the run', () => {
    const g0 = series([{ durS: 20, util: 95, powerW: 690, memBytes: 70e9 }], { gpu: 0 });
    const g1 = series([{ durS: 20, util: 0, powerW: 70, memBytes: 1e9 }], { gpu: 1 });
    const g2 = series([{ durS: 20, util: 0, powerW: 70 }], { gpu: 2 });
    const input: RunTelemetry = { gpus: [gpuInfo(0), gpuInfo(1), gpuInfo(2)], samples: merge(g0, g1, g2), runGpus: [0, 1], endMs: 20_000 };
    const findings = analyzeTelemetry(input);
    const f = only(findings, 'gpu-unused');
    assert.equal(f.gpu, 1);
    near(f.energyJ, 20 * 70, 10);
    assert.equal(f.wastedJ, f.energyJ);
    // GPU 1's share of the run: 1400 J of 13800 + 1400 J.
    near(f.evidence.shareOfRunEnergyPct ?? 0, (100 * 1400) / (13800 + 1400), 0.5);
    assert.equal(findings.length, 1);
  });

  it('finds a GPU left holding memory after the run, and not one that was released', () => {
    const during = series([{ ...BUSY, memBytes: 2e9 }], { gpu: 0 });
    const after = series([{ durS: 5, util: 0, powerW: 90, memBytes: 6e9 }], { startMs: 10_000 });
    const input: RunTelemetry = { gpus: [gpuInfo(0)], samples: during, runGpus: [0], endMs: 10_000, afterRunSamples: after };
    const f = only(analyzeTelemetry(input), 'idle-after-run');
    assert.equal(f.evidence.heldMemBytes, 4e9);
    assert.equal(f.evidence.phase, 'after-exit');
    near(f.endS - f.startS, 4.9, 0.11);
    const released = series([{ durS: 5, util: 0, powerW: 60, memBytes: 2e9 }], { startMs: 10_000 });
    assert.equal(analyzeTelemetry({ ...input, afterRunSamples: released }).filter((x) => x.code === 'idle-after-run').length, 0);
  });

  it('ignores samples after the exit, and summarises busy time and power', () => {
    const samples = series([BUSY, { durS: 10, util: 0, powerW: 60 }]);
    const input: RunTelemetry = { gpus: [gpuInfo(0)], samples, runGpus: [0], endMs: 10_000 };
    assert.deepEqual(analyzeTelemetry(input), []);
    const s = summarizeRun(input);
    assert.equal(s.gpus.length, 1);
    near(s.gpus[0]?.busyS ?? 0, 10, 0.01);
    near(s.gpus[0]?.busyAvgPowerW ?? 0, 300, 0.5);
    near(s.runEnergyJ, 3000, 1);
  });

  it('exposes its defaults', () => {
    assert.equal(DEFAULT_THRESHOLDS.idleUtilPct, 0);
    assert.equal(DEFAULT_THRESHOLDS.starvedUtilPct, 20);
    assert.equal(DEFAULT_THRESHOLDS.starvedWindowUtilPct, 30);
    assert.equal(DEFAULT_THRESHOLDS.fedUtilPct, 100);
    assert.ok(Object.isFrozen(DEFAULT_THRESHOLDS));
  });
});
