import * as assert from 'node:assert/strict';
import type { RunSummary } from '../../../src/core/runs/types';
import { NvmlError, NvmlLoadError } from '../../../src/core/nvml/nvmlError';
import { SamplerError, samplerErrorKind } from '../../../src/core/sampler/samplerError';
import { GpuAvailability, isGpuUnavailable } from '../../../src/vscode/gpuAvailability';
import { summaryLine, summaryMarkdown, terminalSummary } from '../../../src/vscode/runText';
import { toRunView, toSummaryView } from '../../../src/vscode/runViews';

const summary: RunSummary = {
  schema: 1, id: 'run-1', name: 'train.py', status: 'failed', startedAt: '2025-01-01T12:00:00.000Z', durationS: 62, exitCode: 3,
  command: ['python3', 'train.py'], cwd: '/w', energyJ: 38_100, energyMethod: 'counter', avgPowerW: 614.5, peakPowerW: 700,
  gpus: [
    { index: 0, name: 'H200', uuid: 'GPU-a', energyJ: 38_100, avgPowerW: 614.5, peakPowerW: 700, energyMethod: 'counter', powerSource: 'instant', attributed: true },
    { index: 1, name: 'H200', uuid: 'GPU-b', energyJ: 4_000, avgPowerW: 64.5, peakPowerW: 70, energyMethod: 'integrated', powerSource: 'average', attributed: false },
  ],
  attribution: 'processes', sampleIntervalMs: 100,
};

describe('run summary wording', () => {
  it('one line: name, status, exit code, duration, energy (and Wh), average power', () => {
    assert.equal(summaryLine(summary), 'train.py failed (exit 3) · 1 min 02 s · 38.1 kJ (10.6 Wh) · 615 W avg');
    assert.equal(summaryLine({ ...summary, status: 'stopped', exitCode: 130, signal: 'SIGINT' }), 'train.py stopped (exit 130, SIGINT) · 1 min 02 s · 38.1 kJ (10.6 Wh) · 615 W avg');
  });

  it('the terminal line is red for a failure, green for success', () => {
    assert.match(terminalSummary(summary), /\x1b\[1;31m/);
    assert.match(terminalSummary({ ...summary, status: 'succeeded', exitCode: 0 }), /\x1b\[1;32m/);
  });

  it('the Markdown report marks which GPUs the run used', () => {
    const md = summaryMarkdown(summary);
    assert.match(md, /\| 0 H200 \| yes \| 38\.1 kJ/);
    assert.match(md, /\| 1 H200 \| no \| 4,000 J/);
  });

  it('the panel view says "mixed" when GPUs measured energy differently', () => {
    assert.equal(toSummaryView(summary).energyMethod, 'mixed');
    assert.equal(toSummaryView({ ...summary, gpus: [summary.gpus[0]!] }).energyMethod, 'counter');
  });
});

describe('GPU availability', () => {
  it('tells a missing NVML from other sampler failures', () => {
    // As WorkerSampler.start rejects: the worker's message with the kind set where NVML failed.
    const rejection = (e: Error): SamplerError => new SamplerError(e.message, samplerErrorKind(e));
    assert.equal(isGpuUnavailable(rejection(new NvmlLoadError('NVML could not be loaded (is an NVIDIA driver installed?). Tried: x', ['x']))), true);
    assert.equal(isGpuUnavailable(rejection(new NvmlError(9, 'nvmlInit_v2', 'Driver Not Loaded'))), true);
    assert.equal(isGpuUnavailable(rejection(new Error('trace.jsonl:3: "t" goes backwards'))), false);
    assert.equal(isGpuUnavailable(new RangeError('sample interval must be 20-10000 ms, got 5')), false);
  });

  it('NVML with zero GPUs counts as unavailable; changes are announced once', () => {
    const a = new GpuAvailability();
    const seen: string[] = [];
    a.onDidChange((s) => seen.push(s.kind));
    a.available(0, 'wattmeter');
    a.available(0, 'wattmeter');
    a.available(2, 'run');
    assert.deepEqual(seen, ['unavailable', 'available']);
  });
});

describe('stored run as the panel receives it', () => {
  it('carries the step points, so Compare can align runs by training step', () => {
    const stepPoints = [{ tS: 1, step: 100 }, { tS: 2, step: 200 }];
    const view = toRunView({ summary: { ...summary, steps: 200, jPerStep: 190.5, stepPoints }, gpus: [], samples: [] });
    assert.deepEqual(view.steps, stepPoints);
    assert.equal(view.summary.jPerStep, 190.5);
    assert.equal(toRunView({ summary, gpus: [], samples: [] }).steps, undefined);
  });
});
