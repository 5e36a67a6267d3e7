import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ViewColumns } from '../../../src/core/runs/minMaxView';
import { MinMaxView, samplesOfColumns, VIEW_METRICS } from '../../../src/core/runs/minMaxView';
import { decodeOverview, encodeOverview, OVERVIEW_FILE, readOverview, readRange } from '../../../src/core/runs/overview';
import { rowToSample, streamSampleRows } from '../../../src/core/runs/sampleReader';
import type { StoredRun } from '../../../src/core/runs/store';
import { RunStore } from '../../../src/core/runs/store';
import { storedRunDrawing, storedRunRange } from '../../../src/core/runs/storedRunView';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';

const gpu = (index: number): GpuInfo => ({ index, name: 'GPU', uuid: `GPU-${index}`, powerSource: 'instant', energyMethod: 'counter', supported: {} });

function meta(id: string, status: StoredRun['status'] = 'succeeded'): StoredRun {
  return {
    schema: 1, id, name: id, status, startedAt: '2026-01-01T00:00:00Z', durationS: 1800, exitCode: 0, command: ['x'], cwd: '/',
    energyJ: 1, energyMethod: 'counter', avgPowerW: 1, peakPowerW: 1, gpus: [], attribution: 'all', sampleIntervalMs: 100,
    gpuInfo: [gpu(0), gpu(1)], runGpus: [0, 1], monitorPid: process.pid, monitorHost: os.hostname(),
  };
}

/** Power that varies within every bucket, and one spike per GPU, so a wrong min or max shows. */
function sample(t: number, g: number): GpuSample {
  const spike = t === 1_234_500 + g * 100;
  return {
    tMs: t, gpu: g,
    powerMilliwatts: spike ? 950_000 : 200_000 + ((t * 7 + g * 13) % 1000) * 100,
    utilGpuPct: (t / 100 + g) % 101,
    memUsedBytes: 1e9 + (t % 5000) * 1000,
    temperatureC: 40 + ((t / 100) % 30),
    smClockMhz: 1500 + ((t / 100) % 7) * 10,
    energyMillijoules: t * 300 + g,
  };
}

/**
 * Half an hour at 10 Hz on 2 GPUs through the real writer, with the session's bounded view fed
 * alongside (as RunSession does); returns the view.
 */
function writeRun(store: RunStore, id: string, options: { overview: boolean; status?: StoredRun['status'] } = { overview: true }): MinMaxView {
  const w = store.create(id);
  w.writeMeta(meta(id, options.status));
  const view = new MinMaxView(100);
  for (let t0 = 0; t0 < 1_800_000; t0 += 500) {
    const batch: GpuSample[] = [];
    for (let t = t0; t < t0 + 500; t += 100) for (const g of [0, 1]) batch.push(sample(t, g));
    w.appendBatch(batch, [], t0 === 600_000 ? [{ gpu: 1, startMs: 600_000, endMs: 601_000, reason: 'test gap' }] : []);
    for (const s of batch) view.add(s);
    if (t0 % 60_000 === 0) w.flush();
  }
  w.close();
  if (options.overview) assert.equal(w.writeOverview(id, view), true);
  return view;
}

/** A full scan of the samples file through a fresh view: what the overview must equal. */
async function fullScan(file: string, originMs = 0, endMs = Infinity, bucketMs = 100): Promise<ViewColumns[]> {
  const view = new MinMaxView(bucketMs, undefined, originMs);
  await streamSampleRows(file, { row: (v, o) => {
    if (v[o]! >= originMs && v[o]! <= endMs) view.add(rowToSample(v, o));
  } });
  return view.allColumns();
}

function assertSameColumns(got: ViewColumns[], want: ViewColumns[]): void {
  assert.deepEqual(got.map((c) => c.gpu), want.map((c) => c.gpu));
  got.forEach((c, i) => {
    const w = want[i]!;
    assert.equal(c.bucketMs, w.bucketMs);
    assert.equal(c.lastMs, w.lastMs);
    assert.deepEqual([...c.tMs], [...w.tMs]);
    for (const m of VIEW_METRICS) {
      assert.deepEqual([...c.min[m]], [...w.min[m]], `GPU ${c.gpu} min ${m}`);
      assert.deepEqual([...c.max[m]], [...w.max[m]], `GPU ${c.gpu} max ${m}`);
    }
    assert.deepEqual([...c.energyMj], [...w.energyMj]);
  });
}

describe('run overview (what the panel draws of a stored run)', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-overview-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('is written at the end of a run from the live view and equals a full scan of the samples', async () => {
    const store = new RunStore(root);
    writeRun(store, 'r');
    const stored = readOverview(path.join(root, 'r'), 'r');
    assert.ok(stored && 'overview' in stored, JSON.stringify(stored && 'reason' in stored ? stored.reason : stored));
    assert.equal(stored.overview.samples, 36_000);
    assert.equal(stored.overview.gaps.length, 1);
    const want = await fullScan(store.samplesFile('r'));
    assert.ok(want[0]!.bucketMs > 100, 'the run is long enough for buckets to have merged');
    assertSameColumns(stored.overview.columns, want);
    const drawn = await storedRunDrawing(store, 'r');
    assert.equal(drawn?.source, 'overview');
    assert.ok(samplesOfColumns(drawn.columns).some((s) => s.gpu === 1 && s.powerMilliwatts === 950_000), 'the spike is drawn');
    assert.deepEqual(drawn.gaps.map((g) => g.reason), ['test gap']);
  });

  it('is built once for a run stored without one, then read back; the rebuilt one equals the full scan', async () => {
    const store = new RunStore(root);
    writeRun(store, 'old', { overview: false });
    assert.equal(fs.existsSync(path.join(root, 'old', OVERVIEW_FILE)), false);
    const first = await storedRunDrawing(store, 'old');
    assert.equal(first?.source, 'rebuilt');
    const second = await storedRunDrawing(store, 'old');
    assert.equal(second?.source, 'overview');
    assert.deepEqual(samplesOfColumns(second.columns), samplesOfColumns(first.columns));
    const stored = readOverview(path.join(root, 'old'), 'old');
    assert.ok(stored && 'overview' in stored);
    assertSameColumns(stored.overview.columns, await fullScan(store.samplesFile('old')));
  });

  it('is not cached for a run still running (its samples still grow)', async () => {
    const store = new RunStore(root);
    writeRun(store, 'live', { overview: false, status: 'running' });
    assert.equal((await storedRunDrawing(store, 'live'))?.source, 'rebuilt');
    assert.equal(fs.existsSync(path.join(root, 'live', OVERVIEW_FILE)), false);
  });

  for (const [what, damage] of [
    ['a flipped byte in the body', (b: Buffer): Buffer => { b.writeDoubleLE(-1e9, b.length - 8 * 3000); return b; }],
    ['a truncated file', (b: Buffer): Buffer => b.subarray(0, b.length - 100)],
    ['another run id', (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace('"runId":"d"', '"runId":"x"'), 'latin1')],
    ['garbage', (): Buffer => Buffer.from('not an overview at all')],
  ] as const) {
    it(`with ${what} is ignored with a warning and rebuilt`, async () => {
      const store = new RunStore(root);
      writeRun(store, 'd');
      const file = path.join(root, 'd', OVERVIEW_FILE);
      fs.writeFileSync(file, damage(fs.readFileSync(file)));
      const warnings: string[] = [];
      const drawn = await storedRunDrawing(store, 'd', (m) => warnings.push(m));
      assert.equal(drawn?.source, 'rebuilt');
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /run d: ignoring .*overview\.bin/);
      const again = readOverview(path.join(root, 'd'), 'd');
      assert.ok(again && 'overview' in again, 'the rebuilt overview replaced the damaged one');
      assertSameColumns(again.overview.columns, await fullScan(store.samplesFile('d')));
    });
  }

  it('is stale once the samples file changed size', async () => {
    const store = new RunStore(root);
    writeRun(store, 's');
    fs.appendFileSync(store.samplesFile('s'), JSON.stringify({ s: [[1_800_000, 0, 999_000]] }) + '\n');
    const stored = readOverview(path.join(root, 's'), 's');
    assert.ok(stored && 'reason' in stored);
    assert.match(stored.reason, /covers \d+ bytes of samples/);
    const drawn = await storedRunDrawing(store, 's');
    assert.ok(drawn);
    assert.ok(samplesOfColumns(drawn.columns).some((x) => x.powerMilliwatts === 999_000), 'the appended sample is drawn');
  });

  it('round-trips through its encoding and refuses a minimum above its maximum', () => {
    const view = new MinMaxView(100);
    for (let t = 0; t < 10_000; t += 100) view.add(sample(t, 0));
    const o = { runId: 'x', samples: 100, samplesBytes: 0, malformedLines: 0, capacity: view.capacity, bucketMs: view.bucketMs, columns: view.allColumns(), gaps: [], index: { stepMs: 10_000, beforeMs: [-1], offsets: [0], ordered: true } };
    const back = decodeOverview(encodeOverview(o), { runId: 'x', samplesBytes: 0 });
    assert.ok(typeof back !== 'string', String(back));
    assertSameColumns(back.columns, o.columns);
    const bad = { ...o, columns: o.columns.map((c) => ({ ...c, min: { ...c.min, powerMilliwatts: c.max.powerMilliwatts.map((v) => v + 1) } })) };
    assert.match(String(decodeOverview(encodeOverview(bad), { runId: 'x', samplesBytes: 0 })), /disagree/);
    assert.match(String(decodeOverview(encodeOverview({ ...o, samples: 3 }), { runId: 'x', samplesBytes: 0 })), /cannot fill/);
  });

  it('reads a zoomed range by seeking, equal to a full scan of that range', async () => {
    const store = new RunStore(root);
    writeRun(store, 'z');
    const startMs = 1_200_000;
    const endMs = 1_260_000;
    const range = await storedRunRange(store, 'z', startMs, endMs);
    assert.ok(range);
    assert.equal(range.bucketMs, 100, 'a minute fits at the sampling interval');
    const size = fs.statSync(store.samplesFile('z')).size;
    assert.ok(range.bytesRead < size / 10, `read ${range.bytesRead} of ${size} bytes`);
    assertSameColumns(range.columns, await fullScan(store.samplesFile('z'), startMs, endMs, range.bucketMs));
    assert.ok(range.columns.every((c) => c.tMs[0] === startMs));
    assert.ok(range.columns[1]!.max.powerMilliwatts.includes(950_000), 'the spike inside the range is there');
  });

  it('zooming again after the samples changed reads them again, not a remembered overview', async () => {
    const store = new RunStore(root);
    writeRun(store, 'c');
    const before = await storedRunRange(store, 'c', 0, 60_000);
    assert.ok(before && !before.columns[0]!.max.powerMilliwatts.includes(999_000));
    fs.appendFileSync(store.samplesFile('c'), JSON.stringify({ s: [[30_050, 0, 999_000]] }) + '\n');
    const after = await storedRunRange(store, 'c', 0, 60_000);
    assert.ok(after?.columns[0]!.max.powerMilliwatts.includes(999_000), 'the appended sample is in the range');
  });

  it('reads a range correctly when lines are out of time order (then to the end of the file)', async () => {
    const store = new RunStore(root);
    const w = store.create('u');
    w.writeMeta(meta('u'));
    const view = new MinMaxView(100);
    const order = [0, 2, 1, 3, 5, 4, 6, 7, 9, 8];
    for (const minute of order) {
      const batch: GpuSample[] = [];
      for (let t = minute * 60_000; t < (minute + 1) * 60_000; t += 100) batch.push(sample(t, 0));
      w.appendBatch(batch, [], []);
      for (const s of batch) view.add(s);
      w.flush();
    }
    w.close();
    w.writeOverview('u', view);
    const stored = readOverview(path.join(root, 'u'), 'u');
    assert.ok(stored && 'overview' in stored);
    assert.equal(stored.overview.index.ordered, false);
    const range = await readRange(store.samplesFile('u'), stored.overview.index, { startMs: 100_000, endMs: 200_000, intervalMs: 100 });
    assertSameColumns(range.columns, await fullScan(store.samplesFile('u'), 100_000, 200_000, range.bucketMs));
  });

  it('is written by recovery from the pass that recomputes the figures', async () => {
    const store = new RunStore(root);
    writeRun(store, 'i', { overview: false, status: 'running' });
    const rec = JSON.parse(fs.readFileSync(path.join(root, 'i', 'run.json'), 'utf8')) as StoredRun;
    fs.writeFileSync(path.join(root, 'i', 'run.json'), JSON.stringify({ ...rec, monitorPid: 2 ** 22 + 77 }));
    const { recovered } = await store.recoverInterruptedDetailed(() => false);
    assert.equal(recovered.length, 1);
    const stored = readOverview(path.join(root, 'i'), 'i');
    assert.ok(stored && 'overview' in stored);
    assertSameColumns(stored.overview.columns, await fullScan(store.samplesFile('i')));
    assert.equal((await storedRunDrawing(store, 'i'))?.source, 'overview');
  });
});
