import * as assert from 'node:assert/strict';
import type { GpuProcessesListing } from '../../../src/core/runs/attachTargets';
import { FirstSeenCounters, gpuText, parseListing, processText } from '../../../src/vscode/gpuProcessesModel';

const GiB = 2 ** 30;

describe('GPU Processes view: rows', () => {
  const listing = JSON.stringify({
    gpus: [
      { index: 0, name: 'NVIDIA H100', uuid: 'GPU-0', powerW: 300.4, utilPct: 90, memUsedBytes: 30 * GiB, memTotalBytes: 80 * GiB, processes: [{ gpu: 0, pid: 42, user: 'alice', command: 'python3 train.py', usedGpuMemoryBytes: 30 * GiB, smUtilPct: 80 }] },
      { index: 1, name: 'NVIDIA H100', uuid: 'GPU-1', processes: [] },
      { index: 2, name: 'GRID vGPU', uuid: 'GPU-2' },
    ],
  });

  it('reads `joules processes --json` and refuses what is not a listing', () => {
    assert.equal(parseListing(listing).gpus.length, 3);
    assert.throws(() => parseListing('joules: no NVIDIA GPU'), /gave no JSON/);
    assert.throws(() => parseListing('{}'), /no GPU list/);
    assert.throws(() => parseListing('{"gpus":[{"index":0,"name":"x","processes":3}]}'), /not a list/);
  });

  it('a GPU: power, utilization, memory and its process count (or that NVML does not list them)', () => {
    const [a, b, c] = parseListing(listing).gpus;
    assert.deepEqual(gpuText(a!), { label: 'GPU 0 · NVIDIA H100', description: '300 W · 90 % · 30.0 GiB / 80.0 GiB · 1 process' });
    assert.equal(gpuText(b!).description, '-- W · 0 processes');
    assert.equal(gpuText(c!).description, '-- W · process list not supported');
  });

  it('a process: pid and command, user, memory, SM share marked an estimate, attached', () => {
    const p = parseListing(listing).gpus[0]!.processes![0]!;
    assert.deepEqual(processText(p, false), { label: '42 python3 train.py', description: 'alice · 30.0 GiB · SM 80 % (estimate)', tooltip: 'pid 42, user alice\npython3 train.py' });
    assert.match(processText(p, true).description, / · attached$/);
    const hidden = processText({ gpu: 0, pid: 7 }, false);
    assert.equal(hidden.label, '7 (not visible from here: another PID namespace?)');
    assert.equal(hidden.description, '?');
    assert.equal(processText({ gpu: 0, pid: 8, command: 'x'.repeat(200) }, false).label.length, '8 '.length + 80);
  });
});

describe('GPU processes view: the energy of a process\'s GPU since it was first listed', () => {
  const row = { gpu: 1, pid: 42, user: 'alice', command: 'python3 idle.py', usedGpuMemoryBytes: 2 ** 30 };
  const listing = (counterJ: number | undefined, procs = [row]): GpuProcessesListing => ({
    gpus: [{ index: 1, name: 'H100', uuid: 'GPU-1', ...(counterJ !== undefined ? { energyCounterJ: counterJ } : {}), processes: procs }],
  });

  it('is the counter difference since the first listing, over the time between them', () => {
    const seen = new FirstSeenCounters();
    seen.update(listing(1000), 0);
    const later = listing(1600);
    seen.update(later, 10_000);
    const since = seen.since(later, row, 10_000);
    assert.deepStrictEqual(since, { energyJ: 600, seconds: 10, since: 'listed' });
    const t = processText(row, false, since);
    assert.match(t.description, /GPU 1: 600 J in 10\.0 s/);
    assert.match(t.tooltip, /GPU 1 used 600 J \(60 W\) in the 10\.0 s since this view first listed the process/);
  });

  it('says nothing without a counter, and forgets a process that left', () => {
    const seen = new FirstSeenCounters();
    seen.update(listing(undefined), 0);
    assert.strictEqual(seen.since(listing(undefined), row, 5000), undefined);
    seen.update(listing(100), 0);
    seen.update(listing(200, []), 1000);
    seen.update(listing(300), 2000);
    assert.deepStrictEqual(seen.since(listing(300), row, 2000), { energyJ: 0, seconds: 0, since: 'listed' });
  });

  it('a process that started while the view was listing gets its GPU\'s energy since it started', () => {
    const seen = new FirstSeenCounters();
    seen.update(listing(1000, []), 0);
    seen.update(listing(1500, []), 10_000);
    // Started at 4 s (the counter then: 1,200 J, between the two listings), first listed at 20 s.
    const started = { ...row, startedAtMs: 4000 };
    const l = listing(2500, [started]);
    seen.update(l, 20_000);
    assert.deepStrictEqual(seen.since(l, started, 20_000), { energyJ: 1300, seconds: 16, since: 'started' });
    assert.match(processText(started, false, seen.since(l, started, 20_000)).tooltip, /in the 16\.0 s since the process started/);
    // One that started before the first listing: since it was listed.
    const old = { ...row, pid: 7, startedAtMs: -5000 };
    const l2 = listing(2600, [started, old]);
    seen.update(l2, 21_000);
    assert.equal(seen.since(l2, old, 21_000)?.since, 'listed');
  });
});
