import assert from 'node:assert/strict';
import { correlate } from '../../../src/core/analysis/correlate';
import type { FindingSummary, SourceSite } from '../../../src/core/analysis/findings';
import { explainedWasteJ, identify, mergeStretches, runWastedJ, toFindingSummary } from '../../../src/core/analysis/findings';
import { analyzeTelemetry } from '../../../src/core/analysis/telemetry';
import { BUSY, endOf, gpuInfo, series } from './synthetic';

function waste(id: string, wastedJ: number, stretches: Array<[number, number]>, extra: Partial<FindingSummary> = {}): FindingSummary {
  const st = stretches.map(([startS, endS]) => ({ startS, endS }));
  return { id, code: 'gpu-starved', severity: 'warning', title: id, message: '', startS: st[0]?.startS ?? 0, endS: st[st.length - 1]?.endS ?? 0, stretches: st, energyJ: wastedJ, wastedJ, static: false, gpu: 0, ...extra };
}

describe('findings: one type, waste counted once', () => {
  it('counts the waste of two findings that overlap in time once, at the larger rate', () => {
    // 10 s starved at 50 W of waste, and a stall finding inside it (2 s at 100 W): 400 + 200 = 600 J, not 700.
    const starved = waste('a', 500, [[0, 10]]);
    const stall = waste('b', 200, [[4, 6]], { code: 'periodic-stall' });
    assert.equal(runWastedJ([starved, stall]), 600);
    // On different GPUs nothing overlaps: both count.
    assert.equal(runWastedJ([starved, { ...stall, gpu: 1 }]), 700);
  });

  it('adds nothing for a source finding that refers to a telemetry finding', () => {
    const starved = waste('gpu-starved:gpu0', 950, [[10, 20]]);
    const line = waste('dataloader-workers:/p/train.py:11', 0, [[10, 20]], { code: 'dataloader-workers', correlatedWith: ['gpu-starved:gpu0'], energyJ: 0 });
    assert.equal(runWastedJ([starved, line]), 950);
    assert.equal(explainedWasteJ(line, [starved, line]), 950);
  });

  it('gives a finding of several stretches those stretches, not one span over the busy time between them', () => {
    const samples = series([BUSY, { durS: 4, util: 0, powerW: 80 }, BUSY, { durS: 4, util: 0, powerW: 80 }, BUSY]);
    const found = analyzeTelemetry({ gpus: [gpuInfo(0)], samples, runGpus: [0], endMs: endOf(samples) });
    const idle = found.find((f) => f.code === 'gpu-idle');
    assert.ok(idle, JSON.stringify(found.map((f) => f.code)));
    assert.equal(idle.stretches.length, 2);
    const [a, b] = idle.stretches;
    assert.ok(a && b && a.endS < b.startS, 'a gap of busy time between the stretches');
    assert.ok(b.endS - b.startS < 5 && a.endS - a.startS < 5, JSON.stringify(idle.stretches));
    assert.deepEqual(toFindingSummary(idle).stretches, idle.stretches);
  });

  it('gives every finding of a run a distinct id, and source findings point at the telemetry ones', () => {
    const samples = series([BUSY, { durS: 10, util: 8, powerW: 120 }, BUSY]);
    const measured = analyzeTelemetry({ gpus: [gpuInfo(0)], samples, runGpus: [0], endMs: endOf(samples) });
    const range = { startLine: 10, startCharacter: 0, endLine: 10, endCharacter: 5 };
    const sites: SourceSite[] = [
      { code: 'dataloader-workers', file: '/p/train.py', range, message: 'DataLoader without num_workers', details: {} },
      { code: 'dataloader-pin-memory', file: '/p/train.py', range, message: 'DataLoader without pin_memory', details: {} },
    ];
    const all = correlate(measured, sites, true);
    const ids = all.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length, ids.join(' '));
    for (const f of all.filter((x) => x.file !== undefined)) {
      assert.ok(f.correlatedWith?.every((id) => ids.includes(id)), `${f.id} -> ${f.correlatedWith?.join()}`);
    }
    // The run's waste is the telemetry's, whatever the number of lines that explain it.
    assert.equal(runWastedJ(all.map(toFindingSummary)), runWastedJ(measured.map(toFindingSummary)));
  });

  it('suffixes repeated ids and merges touching stretches', () => {
    const base = { code: 'gpu-idle' as const, severity: 'information' as const, title: '', message: '', gpu: 0, startS: 0, endS: 3, energyJ: 0, wastedJ: 0, wastedMethod: '', static: false };
    const span = (startS: number, endS: number) => ({ startS, endS, avgUtilPct: 0, avgPowerW: 0, energyJ: 0 });
    const [a, b] = identify([{ ...base, evidence: { spans: [span(0, 1), span(1, 2)] } }, { ...base, evidence: { spans: [] } }]);
    assert.equal(a?.id, 'gpu-idle:gpu0');
    assert.equal(b?.id, 'gpu-idle:gpu0#2');
    assert.deepEqual(a?.stretches, [{ startS: 0, endS: 2 }]);
    assert.deepEqual(mergeStretches([{ startS: 5, endS: 6 }, { startS: 1, endS: 3 }, { startS: 2, endS: 4 }]), [{ startS: 1, endS: 4 }, { startS: 5, endS: 6 }]);
  });
});
