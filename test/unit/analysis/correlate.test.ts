import assert from 'node:assert/strict';
import { correlate, everyNOf, matchStallsToBlocks } from '../../../src/core/analysis/correlate';
import { analyzeTelemetry, summarizeRun } from '../../../src/core/analysis/telemetry';
import type { RunTelemetry } from '../../../src/core/analysis/telemetry';
import type { Finding, SourceSite } from '../../../src/core/analysis/findings';
import { BUSY, endOf, gpuInfo, series } from './synthetic';
import type { Phase } from './synthetic';
import { H200_INFO, loadH200Trace } from './traceFixture';

const range = { startLine: 10, startCharacter: 15, endLine: 10, endCharacter: 25 };

function site(code: SourceSite['code'], message = 'DataLoader without num_workers (defaults to 0) loads every batch in the training process'): SourceSite {
  return { code, file: '/proj/train.py', range, message, details: {} };
}

function telemetry(phases: Phase[]): RunTelemetry {
  const samples = series(phases);
  return { gpus: [gpuInfo(0)], samples, runGpus: [0], endMs: endOf(samples) };
}

function sourceFindings(all: Finding[]): Finding[] {
  return all.filter((f) => f.file !== undefined);
}

describe('correlate', () => {
  it('turns a DataLoader without workers into a warning with the starved time measured', () => {
    const input = telemetry([BUSY, { durS: 10, util: 8, powerW: 120 }, BUSY]);
    const measured = analyzeTelemetry(input);
    const out = correlate(measured, [site('dataloader-workers')], true);
    assert.deepEqual(out.slice(0, measured.length), measured, 'telemetry findings first, unchanged');
    const [f] = sourceFindings(out);
    assert.ok(f !== undefined);
    assert.equal(f.severity, 'warning');
    assert.equal(f.static, false);
    assert.equal(f.gpu, 0);
    assert.deepEqual(f.range, range);
    // It refers to the starved finding instead of repeating its joules, so nothing adds them twice.
    assert.deepEqual(f.correlatedWith, [measured[0]?.id]);
    assert.equal(f.energyJ, 0);
    assert.equal(f.wastedJ, 0);
    assert.deepEqual(f.stretches, measured[0]?.stretches);
    // The starved finding's waste: its 120 W floor x 10 s x (1 - 8 % / 100 %).
    assert.match(f.message, /^DataLoader without num_workers .* while GPU 0 was starved 33 % of the run \(10\.0 s, 1,200 J, 1,104 J wasted\): load batches in worker processes/);
    assert.match(f.wastedMethod, /gpu-starved/);
  });

  it('keeps telemetry-only findings without a file or range', () => {
    const measured = analyzeTelemetry(telemetry([BUSY, { durS: 8, util: 0, powerW: 60 }, BUSY]));
    for (const f of correlate(measured, [], true)) {
      assert.equal(f.file, undefined);
      assert.equal(f.range, undefined);
    }
  });

  it('reports periodic stalls against a per-step host sync, with period and count', () => {
    const cycle: Phase[] = [{ durS: 1.6, util: 97, powerW: 400 }, { durS: 0.4, util: 0, powerW: 90 }];
    const measured = analyzeTelemetry(telemetry([...Array.from({ length: 10 }, () => cycle).flat(), { durS: 2, util: 97, powerW: 400 }]));
    const [f] = sourceFindings(correlate(measured, [site('host-sync-in-loop', '.item() in the step loop (line 27) waits for the GPU every iteration')], true));
    assert.equal(f?.severity, 'warning');
    assert.match(f?.message ?? '', /GPU 0 stalled 10 times, every 2\.0 s/);
    assert.equal(f?.evidence.spans.length, 10);
  });

  it('puts periodic stalls on the `% N` block whose count fits the steps the run reported', () => {
    const cycle: Phase[] = [{ durS: 1.6, util: 97, powerW: 400 }, { durS: 0.4, util: 0, powerW: 90 }];
    const measured = analyzeTelemetry(telemetry([...Array.from({ length: 10 }, () => cycle).flat(), { durS: 2, util: 97, powerW: 400 }]));
    const block = (condition: string, line: number, kind: string): SourceSite => ({
      code: 'periodic-work', file: '/proj/train.py', range: { ...range, startLine: line, endLine: line }, message: `${kind} under \`${condition}\``, details: { kind, condition, advice: 'less often', loopLine: 5 },
    });
    const log = block('step % 100 == 0', 20, 'save');
    const evalBlock = block('(step + 1) % 1000 == 0', 30, 'eval');
    // 10,000 steps: the every-1000 block ran 10 times, as many as the dips; the every-100 one 100 times.
    const out = sourceFindings(correlate(measured, [log, evalBlock], true, undefined, { steps: 10_000 }));
    assert.deepEqual(out.map((f) => f.range?.startLine), [30]);
    assert.match(out[0]?.message ?? '', /GPU 0 stalled 10 times, every 2\.0 s/);
    // 1,000 steps: it is the every-100 block that ran 10 times.
    assert.deepEqual(sourceFindings(correlate(measured, [log, evalBlock], true, undefined, { steps: 1_000 })).map((f) => f.range?.startLine), [20]);
    // 100,000 steps: neither fits (1,000 and 100 runs for 10 dips): no block takes the blame.
    assert.deepEqual(sourceFindings(correlate(measured, [log, evalBlock], true, undefined, { steps: 100_000 })), []);
    // No steps reported and one stall for two blocks: nothing tells them apart, both keep it.
    assert.deepEqual(sourceFindings(correlate(measured, [log, evalBlock], true)).map((f) => f.range?.startLine), [20, 30]);
  });

  it('without steps, pairs stalls with `% N` blocks by rank: the shortest period with the smallest N', () => {
    const stall = (periodS: number, id: string): Finding => ({ id, code: 'periodic-stall', gpu: 0, evidence: { spans: [], periodS, dipCount: 5 } } as unknown as Finding);
    const b = (condition: string): SourceSite => ({ code: 'periodic-work', file: '/p.py', range, message: '', details: { condition } });
    const often = b('i % 50 == 0');
    const rare = b('not i % 500');
    const named = b('i % args.every == 0');
    assert.equal(everyNOf(often), 50);
    assert.equal(everyNOf(rare), 500);
    assert.equal(everyNOf(named), undefined);
    const long = stall(60, 'long');
    const short = stall(6, 'short');
    const m = matchStallsToBlocks([long, short], [rare, often]);
    assert.deepEqual(m.get(often)?.map((f) => f.id), ['short']);
    assert.deepEqual(m.get(rare)?.map((f) => f.id), ['long']);
    // A block without a literal N: no ranking, every block keeps every stall.
    const all = matchStallsToBlocks([long, short], [often, named]);
    assert.deepEqual(all.get(named)?.map((f) => f.id).sort(), ['long', 'short']);
  });

  it('does not blame the data loader for idle time after the last kernel', () => {
    const measured = analyzeTelemetry(telemetry([BUSY, { durS: 8, util: 0, powerW: 60 }]));
    assert.equal(measured[0]?.evidence.phase, 'after-last-kernel');
    const [f] = sourceFindings(correlate(measured, [site('dataloader-workers')], true));
    assert.equal(f?.static, true);
    assert.equal(f?.severity, 'hint');
    assert.match(f?.message ?? '', /\(static hint: no telemetry evidence\)\.$/);
  });

  it('keeps static hints at information or hint and says so', () => {
    const out = correlate([], [site('dataloader-workers'), site('small-batch', 'DataLoader batch_size=32: small batches leave the GPU idle')], true);
    assert.deepEqual(out.map((f) => [f.code, f.severity, f.static]), [
      ['dataloader-workers', 'information', true],
      ['small-batch', 'hint', true],
    ]);
    for (const f of out) assert.match(f.message, /\(static hint: no telemetry evidence\)\.$/);
  });

  it('supports a small batch size with unused memory', () => {
    const measured = analyzeTelemetry(telemetry([{ durS: 20, util: 95, powerW: 300, memBytes: 10e9 }]));
    const [f] = sourceFindings(correlate(measured, [site('small-batch', 'DataLoader batch_size=32: small batches leave memory idle')], true));
    assert.equal(f?.severity, 'warning');
    assert.match(f?.message ?? '', /GPU 0 used at most 9\.3 GiB of 74\.5 GiB while busy, drawing 300 W of 700 W/);
  });

  it('reports no autocast as information on a busy bf16 GPU, and as a hint without bf16', () => {
    const samples = loadH200Trace();
    const input: RunTelemetry = { gpus: [H200_INFO], samples, runGpus: [0], endMs: samples[samples.length - 1]?.tMs ?? 0 };
    const activity = summarizeRun(input);
    const noAutocast = site('no-autocast', 'Training runs in full precision: no torch.autocast or bf16 anywhere in the script');
    const [f] = sourceFindings(correlate(analyzeTelemetry(input), [noAutocast], true, activity));
    assert.equal(f?.severity, 'information');
    assert.equal(f?.static, false);
    assert.match(f?.message ?? '', /while GPU 0 was busy 10\.7 s at 675 W \(7,189 J, 75 % of the run's energy\)/);
    const [g] = sourceFindings(correlate([], [noAutocast], false, activity));
    assert.equal(g?.severity, 'hint');
    assert.match(g?.message ?? '', /no bf16/);
  });

  it('sorts source findings by file and line', () => {
    const a: SourceSite = { ...site('save-every-step', 'torch.save in the step loop'), file: '/b.py' };
    const b: SourceSite = { ...site('eval-every-step', 'evaluate() in the step loop'), file: '/a.py', range: { ...range, startLine: 30 } };
    const c: SourceSite = { ...site('eval-every-step', 'evaluate() in the step loop'), file: '/a.py', range: { ...range, startLine: 3 } };
    assert.deepEqual(
      correlate([], [a, b, c], true).map((f) => [f.file, f.range?.startLine]),
      [
        ['/a.py', 3],
        ['/a.py', 30],
        ['/b.py', 10],
      ],
    );
  });
});
