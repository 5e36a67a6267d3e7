import * as assert from 'node:assert/strict';
import { formatSummary, toJson, windowsOf } from '../../../src/cli/summary';
import { isToPanel } from '../../../src/core/protocol/panel';
import { isRunSummaryView } from '../../../src/core/protocol/panelValidation';
import type { LiveStatus, RunSummary } from '../../../src/core/runs/types';
import { workText } from '../../../src/vscode/statusText';
import { toRunView, toSummaryView } from '../../../src/vscode/runViews';

const base: RunSummary = {
  schema: 1, id: 'run-1', name: 'gen.py', status: 'succeeded', startedAt: '2025-01-01T12:00:00.000Z', durationS: 20, exitCode: 0,
  command: ['python3', 'gen.py'], cwd: '/w', energyJ: 6000, energyMethod: 'counter', avgPowerW: 300, peakPowerW: 300,
  gpus: [{ index: 0, name: 'H200', uuid: 'GPU-a', energyJ: 6000, avgPowerW: 300, peakPowerW: 300, energyMethod: 'counter', powerSource: 'instant', attributed: true }],
  attribution: 'processes', sampleIntervalMs: 100,
};

const withWork: RunSummary = {
  ...base,
  workSource: 'log', workDetail: 'tqdm bar "batches" (15 per bar)',
  steps: 300, jPerStep: 20, samples: 1200, jPerSample: 5, tokens: 60_000, jPerToken: 0.1,
  steadyState: { startS: 2, endS: 18, tokens: 48_000, energyJ: 4320, jPerToken: 0.09 },
  markers: [
    { label: 'eval', tS: 1, energyJ: 300, energySource: 'counter', window: 'begin', windowId: 1 },
    { label: 'eval', tS: 3, energyJ: 900, energySource: 'counter', window: 'end', windowId: 1 },
    { label: 'epoch 1', tS: 4, energyJ: 1200, energySource: 'counter' },
    { label: 'serve', tS: 5, energyJ: 1500, energySource: 'counter', window: 'begin', windowId: 2 },
    { label: 'serve', tS: 20, energyJ: 6000, energySource: 'interpolated', window: 'end', windowId: 2, closedAtRunEnd: true },
  ],
};

describe('work figures on every surface', () => {
  it('CLI: per-unit lines with their source, the steady state, and windows apart from marks', () => {
    const text = formatSummary(withWork);
    assert.match(text, /per step {3}20 J \(300 steps, inferred from the log: tqdm bar "batches" \(15 per bar\)\)/);
    assert.match(text, /per sample 5\.0 J \(1200 samples, inferred from the log/);
    assert.match(text, /per token {2}0\.100 J \(60000 tokens\)/);
    assert.match(text, /steady {5}0\.090 J\/token between 2\.0 s and 18\.0 s \(48000 tokens; first and last 10 % of tokens left out\)/);
    assert.match(text, /Markers[^\n]*\n\s+4\.0 s {2}epoch 1 /);
    assert.match(text, /Windows[^\n]*\n\s+1\.0 s {2}eval\s+600 J in 2\.0 s\n\s+5\.0 s {2}serve\s+4,500 J in 15\.0 s \(never closed by the program: ended with the run\)/);
    const j = toJson(withWork);
    assert.equal(j.workSource, 'log');
    assert.equal(j.jPerSample, 5);
    assert.deepEqual(j.steadyState, withWork.steadyState);
  });

  it('a window label used many times is one line: count, total and average', () => {
    const markers = Array.from({ length: 6 }, (_, i) => [
      { label: 'eval', tS: 2 * i, energyJ: 100 * i, window: 'begin' as const, windowId: i + 1 },
      { label: 'eval', tS: 2 * i + 1, energyJ: 100 * i + 30, window: 'end' as const, windowId: i + 1 },
    ]).flat();
    const text = formatSummary({ ...base, markers });
    assert.match(text, /Windows[^\n]*\n\s+0\.0 s {2}eval x6\s+180 J in 6\.0 s, 30 J each on average\n/);
  });

  it('windows pair by id, whatever the order of other markers', () => {
    assert.deepEqual(windowsOf(withWork.markers!).map((w) => [w.label, w.energyJ, w.closedAtRunEnd]), [['eval', 600, false], ['serve', 4500, true]]);
  });

  it('status-bar tooltip: live J per unit and where the work came from', () => {
    const live = { energyJ: 1000, work: { source: 'package', steps: 40, samples: 320, tokens: 5000 } } as Pick<LiveStatus, 'energyJ' | 'work'>;
    assert.deepEqual(workText(live), ['', '25 J/step (40 steps) · 3.1 J/sample · 0.200 J/token (5000 tokens), reported by the joules package.']);
    assert.deepEqual(workText({ energyJ: 1000 }), []);
  });

  it('panel protocol: the work fields pass validation, a bad source does not; window edges are labelled', () => {
    const view = toSummaryView(withWork);
    assert.equal(view.workSource, 'log');
    assert.equal(view.jPerSample, 5);
    assert.ok(isRunSummaryView(view));
    assert.equal(isRunSummaryView({ ...view, workSource: 'guess' }), false);
    assert.equal(isRunSummaryView({ ...view, steadyState: { ...withWork.steadyState, endS: 1 } }), false);
    const run = toRunView({ summary: withWork, gpus: [], samples: [] });
    assert.deepEqual(run.markers!.map((m) => m.label), ['eval (begin)', 'eval (end)', 'epoch 1', 'serve (begin)', "serve (end, at the run's end: never closed)"]);
    assert.ok(isToPanel({ type: 'showRuns', view: 'run', runs: [run] }));
  });
});
