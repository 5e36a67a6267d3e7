import * as assert from 'assert';
import { notebookFindings } from '../../../src/core/notebooks/cellFindings';
import type { PythonParser } from '../../../src/core/analysis/pythonParser';
import { loadPythonParser } from '../../../src/core/analysis/pythonParser';
import type { GpuInfo, GpuSample } from '../../../src/core/sampler/types';

const gpu: GpuInfo = { index: 0, name: 'NVIDIA H200', uuid: 'GPU-0', architecture: 'Hopper', memTotalBytes: 141e9, powerSource: 'instant', energyMethod: 'counter', supported: {} };

const setup = ['import torch', 'from torch.utils.data import DataLoader, TensorDataset', 'ds = TensorDataset(torch.randn(64, 8))', 'loader = DataLoader(ds, batch_size=8)'].join('\n');
const train = [
  '%matplotlib inline',
  'model = torch.nn.Linear(8, 1).cuda()',
  'opt = torch.optim.SGD(model.parameters(), lr=0.1)',
  'for epoch in range(3):',
  '    for (x,) in loader:',
  '        x = x.cuda()',
  '        loss = model(x).sum()',
  '        loss.backward()',
  '        opt.step()',
  '        print(loss.item())',
].join('\n');

/** A GPU starved for `s` seconds: short bursts at 15 % mean utilization, 100 ms samples. */
function starved(s: number): GpuSample[] {
  const out: GpuSample[] = [];
  for (let t = 100; t <= s * 1000; t += 100) out.push({ tMs: t, gpu: 0, utilGpuPct: t % 1000 < 150 ? 100 : 5, powerMilliwatts: 150_000, memUsedBytes: 4e9 });
  return out;
}

describe('notebook cell findings', () => {
  let parser: PythonParser;
  before(async () => {
    parser = await loadPythonParser();
  });

  it('reads the cells as one module and puts each finding on its own cell and line', () => {
    const cells = [{ uri: 'cell:0', text: setup }, { uri: 'cell:1', text: train }];
    const found = notebookFindings('/nb/train.ipynb', cells, parser);
    const loader = found.find((f) => f.code === 'dataloader-workers');
    assert.ok(loader, JSON.stringify(found.map((f) => f.code)));
    assert.strictEqual(loader.file, 'cell:0');
    assert.strictEqual(loader.range?.startLine, 3);
    assert.ok(loader.static, 'nothing measured: a static hint');
    const sync = found.find((f) => f.code === 'host-sync-in-loop');
    assert.ok(sync, JSON.stringify(found.map((f) => f.code)));
    assert.strictEqual(sync.file, 'cell:1');
    assert.strictEqual(sync.range?.startLine, 9, 'the magic line keeps its place');
  });

  it('a starved measured cell supports the DataLoader finding and carries its own telemetry finding', () => {
    const cells = [{ uri: 'cell:0', text: setup }, { uri: 'cell:1', text: train }];
    const found = notebookFindings('/nb/train.ipynb', cells, parser, { uri: 'cell:1', samples: starved(60), gpus: [gpu], runGpus: [0], durationMs: 60_000 });
    const starvedFinding = found.find((f) => f.code === 'gpu-starved');
    assert.ok(starvedFinding, JSON.stringify(found.map((f) => [f.code, f.file])));
    assert.strictEqual(starvedFinding.file, 'cell:1');
    assert.strictEqual(starvedFinding.range?.startLine, 0);
    const loader = found.find((f) => f.code === 'dataloader-workers');
    assert.ok(loader && !loader.static, 'measured support');
    assert.deepStrictEqual(loader.correlatedWith, [starvedFinding.id]);
  });

  it('a notebook that does not parse keeps its telemetry findings', () => {
    const cells = [{ uri: 'cell:0', text: 'def broken(:\n  pass' }];
    const found = notebookFindings('/nb/x.ipynb', cells, parser, { uri: 'cell:0', samples: starved(60), gpus: [gpu], runGpus: [0], durationMs: 60_000 });
    assert.ok(found.some((f) => f.code === 'gpu-starved' && f.file === 'cell:0'));
  });
});
