import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StoredRun } from '../../../src/core/runs/store';
import { RunStore } from '../../../src/core/runs/store';
import type { GpuInfo } from '../../../src/core/sampler/types';

const GPU: GpuInfo = { index: 0, name: 'GPU', uuid: 'GPU-1', powerSource: 'instant', energyMethod: 'counter', supported: {} };

function meta(id: string, over: Partial<StoredRun> = {}): StoredRun {
  return {
    schema: 1, id, name: id, status: 'succeeded', startedAt: new Date(Date.parse('2026-01-01T00:00:00Z') + Number(id.replace(/\D/g, '') || 0) * 1000).toISOString(),
    durationS: 1, exitCode: 0, command: ['x'], cwd: '/', energyJ: 1, energyMethod: 'counter', avgPowerW: 1, peakPowerW: 1, gpus: [],
    attribution: 'all', sampleIntervalMs: 100, gpuInfo: [GPU], runGpus: [0], monitorPid: process.pid, monitorHost: os.hostname(), ...over,
  };
}

describe('run store', () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-store-'))));

  it('recovers a run whose monitor died as interrupted, with every flushed sample', async () => {
    const store = new RunStore(root);
    const w = store.create('run1');
    w.writeMeta(meta('run1', { status: 'running', monitorPid: 2 ** 22 + 12345 }));
    w.appendBatch([{ tMs: 0, gpu: 0, powerMilliwatts: 100_000, energyMillijoules: 0 }, { tMs: 2000, gpu: 0, powerMilliwatts: 100_000, energyMillijoules: 200_000 }], [], []);
    w.flush();
    // A torn last line (killed mid-write) must not lose the lines before it.
    fs.appendFileSync(path.join(root, 'run1', 'samples.jsonl'), '{"s":[[3000,0,');
    const recovered = await new RunStore(root).recoverInterrupted((pid) => pid === process.pid);
    assert.equal(recovered.length, 1);
    const r = store.readMeta('run1')!;
    assert.equal(r.status, 'interrupted');
    assert.equal(r.energyJ, 200);
    assert.equal(r.durationS, 2);
    assert.equal(store.load('run1')!.samples.length, 2);
  });

  it('leaves a run alone while its monitor lives', async () => {
    const store = new RunStore(root);
    store.create('run1').writeMeta(meta('run1', { status: 'running', monitorPid: 1 }));
    assert.deepEqual(await store.recoverInterrupted(() => true), []);
    assert.equal(store.readMeta('run1')!.status, 'running');
  });

  it('prunes the oldest finished runs beyond the retention count, never a running one', () => {
    const store = new RunStore(root);
    for (let i = 1; i <= 5; i++) store.create(`run${i}`).writeMeta(meta(`run${i}`, i === 1 ? { status: 'running' } : {}));
    const deleted = store.prune({ maxRuns: 2 });
    assert.deepEqual(deleted.sort(), ['run2', 'run3']);
    assert.deepEqual(store.list().map((r) => r.id), ['run5', 'run4', 'run1']);
  });

  it('prunes by size', () => {
    const store = new RunStore(root);
    for (let i = 1; i <= 3; i++) {
      const w = store.create(`run${i}`);
      w.writeMeta(meta(`run${i}`));
      w.appendOutput('x'.repeat(10_000));
      w.close();
    }
    store.prune({ maxBytes: 25_000 });
    assert.deepEqual(store.list().map((r) => r.id), ['run3', 'run2']);
  });

  it('keeps the tail of a long output and says what it left out', () => {
    const store = new RunStore(root);
    const w = store.create('run1', 1000, 100);
    w.writeMeta(meta('run1'));
    w.appendOutput('a'.repeat(900));
    w.appendOutput('b'.repeat(500));
    w.appendOutput('THE END');
    w.close();
    const out = fs.readFileSync(path.join(root, 'run1', 'output.log'), 'utf8');
    assert.match(out, /bytes omitted/);
    assert.ok(out.endsWith('THE END'));
  });

  it('rejects run ids that would escape the store', () => {
    const store = new RunStore(root);
    assert.throws(() => store.delete('../etc'), /invalid run id/);
    assert.equal(store.readMeta('..'), undefined);
  });
});
