import assert from 'node:assert/strict';
import { analyzeTelemetry, summarizeRun } from '../../../src/core/analysis/telemetry';
import type { RunTelemetry } from '../../../src/core/analysis/telemetry';
import type { Finding } from '../../../src/core/analysis/findings';
import { H200_INFO, loadH200Trace } from './traceFixture';

// Phases of the recording (media/traces/README.md).
const FULL_LOAD: [number, number][] = [
  [9.2, 14.9],
  [19.9, 24.7],
];

function overlapS(a: [number, number], b: [number, number]): number {
  return Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]));
}

function spansOf(findings: Finding[]): { code: string; startS: number; endS: number }[] {
  return findings.flatMap((f) => f.evidence.spans.map((s) => ({ code: f.code, startS: s.startS, endS: s.endS })));
}

describe('analyzeTelemetry on the recorded H200 trace', () => {
  const samples = loadH200Trace();
  const endMs = samples[samples.length - 1]?.tMs ?? 0;
  const input: RunTelemetry = { gpus: [H200_INFO], samples, runGpus: [0], endMs };
  const findings = analyzeTelemetry(input);
  const spans = spansOf(findings);

  it('loads 597 samples over 30 s with the counter advancing 9615 J', () => {
    assert.equal(samples.length, 597);
    assert.equal(Math.round((samples[samples.length - 1]?.energyMillijoules ?? 0) / 1000), 9615);
    assert.equal(summarizeRun(input).runEnergyJ, 9615);
  });

  it('finds the start-up up to the first kernel (first util > 0 sample, 4.8 s)', () => {
    const f = findings.find((x) => x.code === 'slow-start');
    assert.ok(f !== undefined);
    assert.ok(Math.abs(f.startS - 0) <= 0.5 && Math.abs(f.endS - 4.8) <= 0.5, `${f.startS}-${f.endS}`);
    assert.equal(f.evidence.firstKernelS, 4.835);
    // Before CUDA initialisation the H200 idles at about 82 W.
    assert.ok(Math.abs(f.evidence.spans[0]!.avgPowerW - 82) < 2);
  });

  it('finds the idle phases (5-9 s, 24.7-30 s) and the starved phase (14.9-19.9 s) within 0.5 s', () => {
    const low = spans.filter((s) => s.code === 'gpu-idle' || s.code === 'gpu-starved');
    for (const [a, b] of [
      [5, 9],
      [14.9, 19.9],
      [24.7, 30],
    ] as [number, number][]) {
      const hit = low.find((s) => Math.abs(s.startS - a) <= 0.5 && Math.abs(s.endS - b) <= 0.5);
      assert.ok(hit !== undefined, `no span near ${a}-${b} in ${JSON.stringify(low)}`);
    }
  });

  it('classifies the recorded "starved" phase as idle: util 0 % in every sample, 127 W like the idle phase', () => {
    const idle = findings.filter((f) => f.code === 'gpu-idle');
    const between = idle.find((f) => f.evidence.phase === 'between-kernels');
    assert.ok(between !== undefined);
    assert.equal(between.evidence.spans.length, 2);
    assert.ok(Math.abs((between.evidence.idleFloorW ?? 0) - 125) < 3, `floor ${between.evidence.idleFloorW}`);
    const tail = idle.find((f) => f.evidence.phase === 'after-last-kernel');
    assert.ok(tail !== undefined);
    assert.match(tail.message, /GPU 0 was idle for 5\.1 s after its last kernel until the process exited \(24\.9-30\.0 s\)/);
  });

  it('flags nothing inside the full-load phases', () => {
    for (const s of spans) {
      for (const full of FULL_LOAD) assert.ok(overlapS([s.startS, s.endS], full) <= 0.3, `${s.code} ${s.startS}-${s.endS} overlaps ${full.join('-')}`);
    }
    // Memory is 1 % used, but at 675 W of 700 W the GPU is saturated: no memory finding.
    assert.equal(findings.filter((f) => f.code === 'memory-underused').length, 0);
  });

  it('finds the memory still held when the run is taken to end at 25 s', () => {
    const cut = 25_000;
    const f = analyzeTelemetry({ ...input, samples: samples.filter((s) => s.tMs <= cut), endMs: cut, afterRunSamples: samples.filter((s) => s.tMs > cut) }).find(
      (x) => x.code === 'idle-after-run',
    );
    assert.ok(f !== undefined);
    // 1.57 GB in use against 0.64 GB before the context was created.
    assert.ok(Math.abs((f.evidence.heldMemBytes ?? 0) - 0.926e9) < 0.01e9, `${f.evidence.heldMemBytes}`);
    assert.ok(f.startS >= 25 && f.endS <= 30.1);
  });
});
