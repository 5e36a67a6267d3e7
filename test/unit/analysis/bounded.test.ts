import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BoundedGpuSeries, MAX_POINTS_PER_GPU } from '../../../src/core/analysis/boundedSeries';
import type { Finding } from '../../../src/core/analysis/findings';
import { analyzeStoredRun } from '../../../src/core/analysis/runAnalysis';
import type { RunActivity } from '../../../src/core/analysis/telemetry';
import { analyzeTelemetryColumns, analyzeTelemetryWithActivity } from '../../../src/core/analysis/telemetry';
import { encodeSample } from '../../../src/core/runs/sampleCodec';
import { RunStore } from '../../../src/core/runs/store';
import { ClockEventReason } from '../../../src/core/sampler/types';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';
import { syntheticGpu, writeSyntheticRun } from '../../support/syntheticRun';

/**
 * A long training-like run at 10 Hz on three GPUs, each wasting energy its own way:
 * GPU 0 stalls 10 s every 60 s on data (starved: 5 % util, 230 W) and uses 30 % of its memory;
 * GPU 1 idles (util 0, GpuIdle bit, 90 W) for 40 s every 10 min and runs thermally throttled in
 * the second half of each busy stretch; GPU 2 starts 20 s late and idles for its last 5 min.
 * `counter`: every sample carries the energy counter; `missing`: one reading in 7 is missing;
 * false: no counter (power integrated).
 */
function longRun(seconds: number, o: { counter: boolean; missingEvery?: number } = { counter: true }): GpuSample[] {
  const gpus = 3;
  const mJ = new Float64Array(gpus).fill(5_000_000);
  let seed = 7;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  const out: GpuSample[] = [];
  for (let k = 0; k < seconds * 10; k++) {
    const tMs = k * 100;
    const tS = k / 10;
    for (let g = 0; g < gpus; g++) {
      let util: number;
      let w: number;
      let reasons = 0;
      let mem = 60 * 2 ** 30;
      if (g === 0) {
        const busy = tS % 60 < 50;
        util = busy ? 95 : 5;
        w = busy ? 520 : 230;
        mem = 24 * 2 ** 30;
      } else if (g === 1) {
        const idle = tS % 600 >= 560;
        util = idle ? 0 : 97;
        w = idle ? 90 : 600;
        reasons = idle ? ClockEventReason.GpuIdle : tS % 600 >= 280 ? ClockEventReason.HwThermalSlowdown : 0;
      } else {
        const idle = tS < 20 || tS >= seconds - 300;
        util = idle ? 0 : 90;
        w = idle ? 80 : 450;
      }
      w += 6 * noise();
      const s: GpuSample = { tMs, gpu: g, powerMilliwatts: Math.round(w * 1000), utilGpuPct: util, memUsedBytes: mem, smClockMhz: reasons ? 1500 : 1980, temperatureC: reasons ? 88 : 60, clockEventReasons: reasons, powerLimitMilliwatts: 700_000 };
      if (o.counter && !(o.missingEvery && k % o.missingEvery === 3)) s.energyMillijoules = Math.round(mJ[g]!);
      mJ[g]! += w * 100;
      out.push(s);
    }
  }
  return out;
}

const GPUS: GpuInfo[] = [0, 1, 2].map(syntheticGpu);

function bounded(samples: GpuSample[], maxPoints: number): Map<number, BoundedGpuSeries> {
  const m = new Map(GPUS.map((g) => [g.index, new BoundedGpuSeries(g.index, maxPoints, 64)]));
  for (const s of samples) {
    const row = Float64Array.from(encodeSample(s).map((v) => (v === null ? Number.NaN : v)));
    m.get(s.gpu)!.pushRow(row, 0);
  }
  return m;
}

function exact(samples: GpuSample[], endMs: number): { findings: Finding[]; activity: RunActivity } {
  return analyzeTelemetryWithActivity({ gpus: GPUS, samples, runGpus: [0, 1, 2], endMs });
}

function within(actual: number, expected: number, relTol: number, absTol: number, what: string): void {
  const tol = Math.max(absTol, relTol * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} not within ${tol.toFixed(2)} of ${expected}`);
}

describe('bounded analysis: memory that does not grow with the run', () => {
  it('short runs are analysed sample by sample: the same findings and activity as the object path', () => {
    const samples = longRun(1800);
    const endMs = 1800 * 1000;
    const ref = exact(samples, endMs);
    const sources = bounded(samples, MAX_POINTS_PER_GPU);
    for (const s of sources.values()) assert.equal(s.buckets(), undefined);
    const got = analyzeTelemetryColumns({ gpus: GPUS, runGpus: [0, 1, 2], endMs, sources });
    assert.ok(ref.findings.length >= 4, ref.findings.map((f) => f.id).join(', '));
    assert.deepEqual(got.findings, ref.findings);
    assert.deepEqual(got.activity, ref.activity);
  });

  for (const [name, utilAt] of [
    ['a training loop (busy 50 s, idle 10 s)', (k: number) => (k % 600 < 500 ? 95 : 0)],
    ['a GPU that flickers between busy and idle every sample', (k: number) => (k % 2 ? 95 : 0)],
  ] as const) {
    it(`holds at most maxPoints points and a fixed amount of memory, however many samples come: ${name}`, () => {
      const maxPoints = 1000;
      const s = new BoundedGpuSeries(0, maxPoints, 64);
      const row = Float64Array.from(encodeSample({ tMs: 0, gpu: 0, powerMilliwatts: 300_000, utilGpuPct: 50 }).map((v) => (v === null ? Number.NaN : v)));
      let bytesAtCap = 0;
      for (let k = 0; k < 1_000_000; k++) {
        row[0] = k * 100;
        row[3] = utilAt(k);
        s.pushRow(row, 0);
        assert.ok(s.length <= maxPoints + 1, `${s.length} points after ${k + 1} samples`);
        if (k === maxPoints) {
          bytesAtCap = s.byteSize();
          assert.equal(s.buckets()!.bucketMs, 200, 'buckets start two sampler ticks wide');
        }
      }
      assert.equal(s.sampleCount, 1_000_000);
      assert.equal(s.byteSize(), bytesAtCap, 'no column grew after bucketing began');
      const b = s.buckets()!;
      assert.equal(b.samples, 1_000_000);
      // 100,000 s in at most 1,000 points, two at most a cell: cells of 200 ms x 2^k, at least 200 s
      // wide, and never more than twice that (the width only doubles when the points are full).
      const doublings = Math.log2(b.bucketMs / 200);
      assert.ok(Number.isInteger(doublings), `${b.bucketMs} ms`);
      assert.ok(b.bucketMs >= 200_000 && b.bucketMs <= 4 * 204_800, `${b.bucketMs} ms`);
      const points = s.toSamples(Infinity);
      assert.equal(points.length, s.length);
      assert.ok(points.length > maxPoints / 4, `${points.length} points: the cap is used, not wasted`);
      // The last point is the last sample itself.
      assert.equal(points[points.length - 1]!.tMs, 999_999 * 100);
    });
  }

  for (const [name, o] of [
    ['the energy counter on every sample', { counter: true }],
    ['the counter missing on 1 sample in 7 (interpolated)', { counter: true, missingEvery: 7 }],
    ['no counter (power integrated)', { counter: false }],
  ] as const) {
    it(`keeps the GPUs' and the run's energy exact on buckets: ${name}`, () => {
      const seconds = 2 * 3600;
      const samples = longRun(seconds, o);
      // The exit a tick after the last sample: the last power is held to it, as over the samples.
      const endMs = seconds * 1000;
      const ref = exact(samples, endMs);
      const sources = bounded(samples, 8000);
      const got = analyzeTelemetryColumns({ gpus: GPUS, runGpus: [0, 1, 2], endMs, sources });
      assert.ok(sources.get(0)!.buckets()!.bucketMs >= 400);
      assert.equal(got.activity.runEnergyJ, ref.activity.runEnergyJ);
      assert.deepEqual(
        got.activity.gpus.map((g) => g.energyJ),
        ref.activity.gpus.map((g) => g.energyJ),
      );
      // Every span whose edges are sample times holds exactly the samples' energy between them.
      const cumJ = cumulativeJ(samples, 0, o.counter);
      let checked = 0;
      for (const f of got.findings.filter((x) => x.gpu === 0)) {
        for (const sp of f.evidence.spans) {
          const a = cumJ.get(Math.round(sp.startS * 1000));
          const b = cumJ.get(Math.round(sp.endS * 1000));
          if (a === undefined || b === undefined) continue;
          within(sp.energyJ, b - a, 0, 0.051, `${f.id} span ${sp.startS}-${sp.endS} s`);
          checked++;
        }
      }
      assert.ok(checked >= 50, `${checked} spans checked`);
    });
  }

  it('finds the same waste on 1.6 s buckets as sample by sample, within stated tolerances', () => {
    const seconds = 3 * 3600;
    const samples = longRun(seconds);
    const endMs = seconds * 1000;
    const ref = exact(samples, endMs);
    // 108,000 samples a GPU into at most 8,000 points: buckets of 1.6 s, as a 24 h run at 10 Hz gets.
    const sources = bounded(samples, 8000);
    assert.equal(sources.get(0)!.buckets()!.bucketMs, 1600);
    const got = analyzeTelemetryColumns({ gpus: GPUS, runGpus: [0, 1, 2], endMs, sources });
    assert.deepEqual(
      got.findings.map((f) => f.id),
      ref.findings.map((f) => f.id),
    );
    for (const f of got.findings) {
      const r = ref.findings.find((x) => x.id === f.id)!;
      // Edges move by at most a bucket; energies and waste by a few per cent: a stretch gains or
      // loses at most a bucket at each edge, and those errors have either sign over many stretches.
      within(f.startS, r.startS, 0, 1.6, `${f.id} start`);
      within(f.endS, r.endS, 0, 1.6, `${f.id} end`);
      within(f.energyJ, r.energyJ, 0.03, 1, `${f.id} energy`);
      within(f.wastedJ, r.wastedJ, 0.05, 1, `${f.id} waste`);
      within(f.evidence.shareOfRunEnergyPct ?? 0, r.evidence.shareOfRunEnergyPct ?? 0, 0.05, 0.1, `${f.id} share`);
      if (r.evidence.dipCount !== undefined) assert.equal(f.evidence.dipCount, r.evidence.dipCount, `${f.id} dips`);
      if (r.evidence.periodS !== undefined) within(f.evidence.periodS!, r.evidence.periodS, 0, 1.6, `${f.id} period`);
      assert.equal(f.evidence.bucketS, 1.6);
      assert.match(f.wastedMethod, /Measured on 1\.6 s averages of the samples \(the run has 108,000 samples of this GPU/);
      assert.equal(r.evidence.bucketS, undefined);
    }
    for (const [i, g] of got.activity.gpus.entries()) {
      const r = ref.activity.gpus[i]!;
      within(g.busyS, r.busyS, 0.01, 0, `GPU ${g.gpu} busy time`);
      within(g.busyEnergyJ, r.busyEnergyJ, 0.01, 0, `GPU ${g.gpu} busy energy`);
      within(g.firstKernelS ?? 0, r.firstKernelS ?? 0, 0, 1.6, `GPU ${g.gpu} first kernel`);
      within(g.idleFloorW ?? 0, r.idleFloorW ?? 0, 0.03, 0, `GPU ${g.gpu} idle floor`);
    }
  });

  it('finds a starved loop (ticks alternating 0 % and 40-60 %) on buckets as sample by sample', () => {
    // 20 min at 10 Hz: 40 s busy, then 20 s of a loop fed one batch at a time, every minute.
    const loopUtil = [0, 40, 0, 60, 0];
    const loopW = [110, 170, 110, 190, 110];
    let mJ = 0;
    const samples: GpuSample[] = [];
    for (let k = 0; k < 12_000; k++) {
      const starved = k % 600 >= 400;
      const util = starved ? loopUtil[k % 5]! : 95;
      const w = starved ? loopW[k % 5]! : 400;
      samples.push({ tMs: k * 100, gpu: 0, utilGpuPct: util, powerMilliwatts: w * 1000, energyMillijoules: mJ });
      mJ += w * 100;
    }
    const endMs = 1_200_000;
    const ref = analyzeTelemetryWithActivity({ gpus: GPUS, samples, runGpus: [0], endMs });
    const sources = bounded(samples, 1500);
    const bucketMs = sources.get(0)!.buckets()!.bucketMs;
    assert.ok(bucketMs >= 800, `${bucketMs} ms buckets`);
    const got = analyzeTelemetryColumns({ gpus: GPUS, runGpus: [0], endMs, sources });
    const starvedS = (fs: Finding[]): number => fs.filter((f) => f.code === 'gpu-starved' || f.code === 'periodic-stall').reduce((a, f) => a + f.evidence.spans.reduce((b, x) => b + x.endS - x.startS, 0), 0);
    const wastedJ = (fs: Finding[]): number => fs.filter((f) => f.code === 'gpu-starved' || f.code === 'periodic-stall').reduce((a, f) => a + f.wastedJ, 0);
    // 20 stretches of 20 s: the loop is starved sample by sample, and on buckets of up to 1.6 s.
    within(starvedS(ref.findings), 400, 0.02, 0, 'starved time, samples');
    within(starvedS(got.findings), starvedS(ref.findings), 0.05, 0, 'starved time, buckets');
    within(wastedJ(got.findings), wastedJ(ref.findings), 0.05, 0, 'waste, buckets');
    within(got.activity.gpus[0]!.busyS, ref.activity.gpus[0]!.busyS, 0.05, 0, 'busy time');
  });

  it('analyses a stored run past the cap on buckets, with the findings of the exact analysis', async () => {
    const store = new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'joules-bounded-')));
    try {
      const { meta } = writeSyntheticRun(store, { id: 'bounded', gpus: 2, durationS: 3600, hz: 10 });
      const input = { summary: meta, gpus: meta.gpuInfo, runGpus: meta.runGpus, endMs: meta.durationS * 1000, samplesFile: store.samplesFile('bounded') };
      const full = await analyzeStoredRun(input);
      const small = await analyzeStoredRun(input, { maxPointsPerGpu: 5000 });
      assert.ok(full.findings.some((f) => f.code === 'periodic-stall'), full.findings.map((f) => f.id).join(', '));
      assert.deepEqual(
        small.findings.map((f) => f.id),
        full.findings.map((f) => f.id),
      );
      assert.equal(small.telemetry.activity.runEnergyJ, full.telemetry.activity.runEnergyJ);
      for (const f of small.findings) {
        const r = full.findings.find((x) => x.id === f.id)!;
        within(f.energyJ, r.energyJ, 0.03, 1, `${f.id} energy`);
        within(f.wastedJ, r.wastedJ, 0.05, 1, `${f.id} waste`);
        assert.ok(f.evidence.bucketS! > 0 && r.evidence.bucketS === undefined);
      }
    } finally {
      fs.rmSync(store.root, { recursive: true, force: true });
    }
  });
});

/** The samples' cumulative energy (J) of one GPU at each sample time, from the counter or the trapezoid. */
function cumulativeJ(samples: GpuSample[], gpu: number, counter: boolean): Map<number, number> {
  const own = samples.filter((s) => s.gpu === gpu);
  const out = new Map<number, number>();
  let j = 0;
  let prev: GpuSample | undefined;
  let lastKnown: GpuSample | undefined;
  for (const s of own) {
    if (counter) {
      // Only sample times with a reading: the others are interpolated, checked through the totals.
      if (s.energyMillijoules !== undefined) out.set(s.tMs, (s.energyMillijoules - (own[0]!.energyMillijoules ?? 0)) / 1000);
      lastKnown = s.energyMillijoules === undefined ? lastKnown : s;
    } else {
      if (prev) j += ((prev.powerMilliwatts! + s.powerMilliwatts!) / 2000) * ((s.tMs - prev.tMs) / 1000);
      out.set(s.tMs, j);
    }
    prev = s;
  }
  return out;
}
