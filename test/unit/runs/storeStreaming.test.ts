import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newReadStats, streamSampleBatches } from '../../../src/core/runs/sampleReader';
import { readSamples, RunStore } from '../../../src/core/runs/store';
import { SPIKE_W, writeSyntheticRun } from '../../support/syntheticRun';

function tempStore(): RunStore {
  return new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'joules-stream-')));
}

/** Overwrite `count` bytes in the middle of a file with garbage (a corrupt disk block). */
function corruptMiddle(file: string, count: number): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(count, 0x7a), 0, count, Math.floor(fs.statSync(file).size / 2));
  fs.closeSync(fd);
}

describe('run store: streaming reads and recovery', function () {
  this.timeout(120_000);

  it('recovers an interrupted 24 h run streamed: whole-run figures, corrupt lines skipped and counted', async () => {
    const store = tempStore();
    const { expected } = writeSyntheticRun(store, { id: 'day', gpus: 2, durationS: 24 * 3600, hz: 1, interrupted: true });
    const file = store.samplesFile('day');
    corruptMiddle(file, 3000);
    // Killed mid-write: a torn last line.
    fs.appendFileSync(file, '{"s":[[86400000,0,5000');
    const { recovered, failed } = await store.recoverInterruptedDetailed();
    assert.deepEqual(failed, []);
    assert.equal(recovered.length, 1);
    const r = store.readMeta('day')!;
    assert.equal(r.status, 'interrupted');
    assert.ok(Math.abs(r.durationS - (24 * 3600 - 1)) < 1e-6, `${r.durationS} s`);
    // Energy is the counters' last readings: exact even with lines lost in the middle.
    assert.ok(Math.abs(r.energyJ - expected.energyJ) < 1e-6, `${r.energyJ} J, want ${expected.energyJ}`);
    assert.ok(r.gpus[0]!.peakPowerW >= SPIKE_W, 'the spike in the last minute is in the figures');
    const skipped = r.errors?.['store: malformed sample lines skipped'] ?? 0;
    assert.ok(skipped >= 2, `malformed lines counted: ${skipped}`);
  });

  it('a read that fails or finds nothing never overwrites the record', async () => {
    const store = tempStore();
    writeSyntheticRun(store, { id: 'garbage', gpus: 1, durationS: 600, hz: 1, interrupted: true });
    writeSyntheticRun(store, { id: 'unreadable', gpus: 1, durationS: 600, hz: 1, interrupted: true });
    // Every byte garbage; and a samples "file" that cannot be read (a folder: EISDIR).
    fs.writeFileSync(store.samplesFile('garbage'), Buffer.alloc(200_000, 0x7a));
    fs.rmSync(store.samplesFile('unreadable'));
    fs.mkdirSync(store.samplesFile('unreadable'));
    const before = {
      garbage: fs.readFileSync(path.join(store.root, 'garbage', 'run.json'), 'utf8'),
      unreadable: fs.readFileSync(path.join(store.root, 'unreadable', 'run.json'), 'utf8'),
    };
    const { recovered, failed } = await store.recoverInterruptedDetailed();
    assert.deepEqual(recovered, []);
    assert.deepEqual(failed.map((f) => f.id).sort(), ['garbage', 'unreadable']);
    assert.match(failed.find((f) => f.id === 'garbage')!.error, /no readable sample/);
    assert.equal(fs.readFileSync(path.join(store.root, 'garbage', 'run.json'), 'utf8'), before.garbage);
    assert.equal(fs.readFileSync(path.join(store.root, 'unreadable', 'run.json'), 'utf8'), before.unreadable);
  });

  it('lines longer than a read chunk, and many of them, arrive whole, in order', async () => {
    const store = tempStore();
    // 2,400 samples a line (~250 KB) and 50,000 samples in all: lines straddle the 1 MiB chunks.
    const { expected } = writeSyntheticRun(store, { id: 'wide', gpus: 8, durationS: 625, hz: 10, batchS: 30 });
    const file = store.samplesFile('wide');
    const stats = newReadStats();
    const sync = readSamples(file, stats);
    assert.equal(sync.samples.length, expected.samples);
    assert.equal(stats.malformedLines, 0);
    assert.equal(stats.bytes, fs.statSync(file).size);
    let streamed = 0;
    let lastT = -1;
    let biggest = 0;
    for await (const b of streamSampleBatches(file)) {
      streamed += b.samples.length;
      biggest = Math.max(biggest, b.samples.length);
      for (const s of b.samples) {
        assert.ok(s.tMs >= lastT);
        lastT = s.tMs;
      }
    }
    assert.equal(streamed, expected.samples);
    assert.ok(biggest < 8192 + 2400, `a delivered batch holds ${biggest} samples`);
  });
});
