import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeInWorker } from '../../../src/core/analysis/analysisClient';
import type { Finding } from '../../../src/core/analysis/findings';
import type { RunOptions } from '../../../src/core/runs/runSession';
import { RunSession } from '../../../src/core/runs/runSession';
import { RunStore } from '../../../src/core/runs/store';
import type { EngineBatch, GpuEnergy } from '../../../src/core/sampler/engine';
import type { GpuSample } from '../../../src/core/sampler/types';
import { fakeNvml } from '../../support/fakeNvml';

function tempStore(): RunStore {
  return new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'joules-long-')));
}

async function options(store = tempStore()): Promise<RunOptions> {
  const lib = await fakeNvml('constant-300w.scn');
  return { store, sampler: { backend: { kind: 'nvml', libraryPath: lib }, intervalMs: 50 }, stopGraceS: 1 };
}

/** Feed synthetic batches into a live session, as its sampler worker would deliver them. */
function inject(session: RunSession, batch: GpuSample[], energies: GpuEnergy[], elapsedMs: number): void {
  const engineBatch: EngineBatch = { samples: batch, powerPoints: [], gaps: [], processes: undefined, notices: [], errors: {} };
  session['handleBatch'](engineBatch, energies, elapsedMs);
}

describe('the end of a run (long runs)', function () {
  this.timeout(120_000);

  it('a run of 250,000 samples with the after-exit watch ends with a summary over the whole run', async () => {
    const opts = await options();
    const session = await RunSession.start(
      { command: 'python3', args: ['-c', 'import time; time.sleep(2.5)'], cwd: os.tmpdir() },
      { ...opts, afterRunMs: 500, analyze: async (input) => (await analyzeInWorker(input)).findings },
    );
    // 250,000 samples in the run's first 1.5 s (past the ~130,000 where a spread of them threw),
    // with one 2 kW spike near the end of the series: a summary over a truncated series misses it.
    const total = 250_000;
    for (let i = 0; i < total; i += 10_000) {
      const batch: GpuSample[] = [];
      for (let j = i; j < i + 10_000; j++) {
        batch.push({ tMs: (1500 * j) / total, gpu: 0, powerMilliwatts: j === 240_000 ? 2_000_000 : 300_000, utilGpuPct: 50 });
      }
      inject(session, batch, [{ gpu: 0, energyMillijoules: 1, method: 'counter', counterMs: 1500, integratedMs: 0, gapMs: 0 }], 1500);
    }
    const s = await session.done;
    assert.equal(s.status, 'succeeded');
    assert.equal(s.errors, undefined, JSON.stringify(s.errors));
    assert.equal(s.peakPowerW, 2000, 'the spike at sample 240,000 is in the summary');
    assert.ok(Array.isArray(s.findings), 'the analysis ran over the stored samples');
    const stored = opts.store.readMeta(s.id)!;
    assert.equal(stored.status, 'succeeded');
    assert.equal(stored.peakPowerW, 2000);
    // The live view stayed bounded while every sample went to the store.
    assert.ok(session.view.byteSize() <= 13 * 8 * session.view.capacity, `${session.view.byteSize()} bytes`);
    assert.ok(opts.store.load(s.id)!.samples.length >= total);
  });

  it('a failing analysis still ends the run with its summary, and says what failed', async () => {
    const opts = await options();
    const session = await RunSession.start(
      { command: 'python3', args: ['-c', 'import time; time.sleep(0.6)'], cwd: os.tmpdir() },
      {
        ...opts,
        analyze: () => {
          throw new Error('tree-sitter exploded');
        },
      },
    );
    const s = await session.done;
    assert.equal(s.status, 'succeeded');
    assert.ok(s.energyJ > 0);
    assert.equal(s.errors?.['analysis: tree-sitter exploded'], 1);
    const stored = opts.store.readMeta(s.id)!;
    assert.equal(stored.status, 'succeeded');
    assert.equal(stored.errors?.['analysis: tree-sitter exploded'], 1);
  });

  it('the record is final (status, figures) while a long analysis still runs; the findings follow', async () => {
    const opts = await options();
    let release!: () => void;
    let analysing!: () => void;
    const started = new Promise<void>((r) => (analysing = r));
    const session = await RunSession.start(
      { command: 'python3', args: ['-c', 'import time; time.sleep(0.6)'], cwd: os.tmpdir() },
      {
        ...opts,
        analyze: async () => {
          analysing();
          await new Promise<void>((r) => (release = r));
          const idle: Finding = {
            id: 'gpu-idle:gpu0:between-kernels',
            code: 'gpu-idle',
            severity: 'warning',
            title: 'GPU 0 idle 1 s',
            message: 'GPU 0 idle 1 s',
            startS: 0,
            endS: 1,
            stretches: [],
            energyJ: 1,
            wastedJ: 1,
            wastedMethod: 'all of it',
            evidence: { spans: [] },
            static: false,
          };
          return [idle];
        },
      },
    );
    await started;
    const during = opts.store.readMeta(session.id)!;
    assert.equal(during.status, 'succeeded', 'an editor killed now would keep a finished record');
    assert.ok(during.energyJ > 0);
    assert.equal(during.findings, undefined);
    release();
    const s = await session.done;
    assert.equal(s.findings?.length, 1);
    assert.equal(opts.store.readMeta(s.id)!.findings?.length, 1);
  });

  it('a sampler that dies before the final read still ends the run, with the figures so far and the error', async () => {
    const opts = await options();
    const session = await RunSession.start({ command: 'python3', args: ['-c', 'import time; time.sleep(2.5)'], cwd: os.tmpdir() }, opts);
    // Let a batch arrive (the sampler posts about once a second), then kill the worker: the final
    // counter read cannot happen.
    await new Promise((r) => setTimeout(r, 1600));
    await session['sampler'].terminate();
    const s = await session.done;
    assert.equal(s.status, 'succeeded');
    assert.ok(s.errors && Object.keys(s.errors).some((k) => k.startsWith('sampler: ')), JSON.stringify(s.errors));
    assert.ok(s.energyJ > 0, 'the energy read before the failure is kept, not 0');
    assert.notEqual(opts.store.readMeta(s.id)!.status, 'running');
  });
});
