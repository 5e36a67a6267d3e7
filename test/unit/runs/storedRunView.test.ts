import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StoredRun } from '../../../src/core/runs/store';
import { RunStore } from '../../../src/core/runs/store';
import { samplesOfColumns } from '../../../src/core/runs/minMaxView';
import { storedRunDrawing } from '../../../src/core/runs/storedRunView';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';

const gpu = (index: number): GpuInfo => ({ index, name: 'GPU', uuid: `GPU-${index}`, powerSource: 'instant', energyMethod: 'counter', supported: {} });

describe('opening a stored run in the panel', () => {
  it('sends what the panel draws (bounded), keeping spikes and the last energy reading', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-open-'));
    const store = new RunStore(root);
    const w = store.create('long');
    const meta: StoredRun = {
      schema: 1, id: 'long', name: 'long', status: 'succeeded', startedAt: '2026-01-01T00:00:00Z', durationS: 3600, exitCode: 0, command: ['x'], cwd: '/',
      energyJ: 1, energyMethod: 'counter', avgPowerW: 1, peakPowerW: 1, gpus: [], attribution: 'all', sampleIntervalMs: 100,
      gpuInfo: [gpu(0), gpu(1)], runGpus: [0, 1], monitorPid: process.pid, monitorHost: os.hostname(),
    };
    w.writeMeta(meta);
    // One hour at 10 Hz on 2 GPUs (72,000 samples), a single 990 W spike on GPU 1.
    for (let t0 = 0; t0 < 3_600_000; t0 += 60_000) {
      const batch: GpuSample[] = [];
      for (let t = t0; t < t0 + 60_000; t += 100) {
        for (const g of [0, 1]) batch.push({ tMs: t, gpu: g, powerMilliwatts: g === 1 && t === 1_800_000 ? 990_000 : 300_000, utilGpuPct: 90, energyMillijoules: t * 300 });
      }
      w.appendBatch(batch, [], []);
    }
    w.flush();
    w.close();
    const drawn = await storedRunDrawing(store, 'long');
    assert.ok(drawn);
    assert.equal(drawn.malformedLines, 0);
    assert.equal(drawn.source, 'rebuilt', 'a run stored without an overview has it built from the samples');
    assert.ok(samplesOfColumns(drawn.columns).length <= 2 * 2 * 2048, `${samplesOfColumns(drawn.columns).length} samples sent, not 72,000`);
    assert.ok(samplesOfColumns(drawn.columns).some((s) => s.gpu === 1 && s.powerMilliwatts === 990_000), 'the spike is drawn');
    const last = samplesOfColumns(drawn.columns).filter((s) => s.gpu === 0).at(-1);
    assert.ok(last && last.energyMillijoules !== undefined && last.energyMillijoules >= 3_599_000 * 300 - 1, `last energy ${last?.energyMillijoules}`);
    assert.equal(await storedRunDrawing(store, 'nope'), undefined);
  });
});
