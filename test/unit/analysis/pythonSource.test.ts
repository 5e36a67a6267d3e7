import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hasSyntaxErrors, loadPythonParser } from '../../../src/core/analysis/pythonParser';
import type { PythonParser } from '../../../src/core/analysis/pythonParser';
import { analyzePythonSource } from '../../../src/core/analysis/pythonSource';
import type { SourceSite } from '../../../src/core/analysis/findings';
import { FIXTURES, fixtureFiles } from './pythonFixtures';


// Loaded in the suite's `before`; the helpers below run only inside its tests.
let parser: PythonParser;

type Row = [code: string, file: string, startLine: number, startCharacter: number, endLine: number, endCharacter: number];

function rows(sites: SourceSite[]): Row[] {
  return sites
    .map((s): Row => [s.code, s.file.slice(FIXTURES.length + 1), s.range.startLine, s.range.startCharacter, s.range.endLine, s.range.endCharacter])
    .sort((a, b) => a[1].localeCompare(b[1]) || a[2] - b[2] || a[3] - b[3] || a[0].localeCompare(b[0]));
}

/** Analyses an in-memory project: `main.py` plus extra modules next to it. */
function snippet(main: string, others: Record<string, string> = {}): Row[] {
  const files = [{ path: '/proj/main.py', text: main }, ...Object.entries(others).map(([name, text]) => ({ path: `/proj/${name}`, text }))];
  return analyzePythonSource(files, '/proj/main.py', parser)
    .map((s): Row => [s.code, s.file.slice('/proj/'.length), s.range.startLine, s.range.startCharacter, s.range.endLine, s.range.endCharacter])
    .sort((a, b) => a[1].localeCompare(b[1]) || a[2] - b[2] || a[3] - b[3] || a[0].localeCompare(b[0]));
}

describe('analyzePythonSource', () => {
  const files = fixtureFiles();

  before(async () => {
    parser = await loadPythonParser();
  });

  it('parses Python with the bundled grammar and reports syntax errors', () => {
    assert.equal(hasSyntaxErrors(parser.parse('for x in y:\n    pass\n')), false);
    assert.equal(hasSyntaxErrors(parser.parse('for x in y\n    pass\n')), true);
  });

  it('finds every pattern of a plain training script at exact ranges', () => {
    const sites = analyzePythonSource(files, join(FIXTURES, 'train_basic.py'), parser);
    assert.deepEqual(rows(sites), [
      ['dataloader-pin-memory', 'train_basic.py', 10, 15, 10, 25],
      ['dataloader-workers', 'train_basic.py', 10, 15, 10, 25],
      ['small-batch', 'train_basic.py', 12, 4, 12, 17],
      // evaluate_model(m, loader): the parameter `m` receives `model`, so this is inference.
      ['no-inference-mode', 'train_basic.py', 19, 4, 19, 23],
      ['host-sync-in-loop', 'train_basic.py', 21, 17, 21, 33],
      ['no-autocast', 'train_basic.py', 28, 17, 28, 25],
      ['host-sync-in-loop', 'train_basic.py', 33, 22, 33, 33],
      ['save-every-step', 'train_basic.py', 34, 8, 34, 49],
      ['eval-every-step', 'train_basic.py', 35, 8, 35, 43],
    ]);
    const workers = sites.find((s) => s.code === 'dataloader-workers');
    assert.deepEqual(workers?.details, { numWorkers: 0, explicit: false, viaSplat: false });
    assert.equal(sites.find((s) => s.code === 'small-batch')?.details.batchSize, 32);
    assert.equal(sites.find((s) => s.code === 'host-sync-in-loop' && s.range.startLine === 33)?.details.loopLine, 26);
  });

  it('resolves DataLoader aliases, positional arguments and **dict splats', () => {
    const sites = analyzePythonSource(files, join(FIXTURES, 'aliases.py'), parser);
    assert.deepEqual(rows(sites), [
      // e = tdata.DataLoader(ds, **cfg_zero): the values sit in the dict literal on line 7.
      ['dataloader-workers', 'aliases.py', 7, 12, 7, 28],
      ['small-batch', 'aliases.py', 7, 30, 7, 45],
      // a = DL(ds, batch_size=128)
      ['dataloader-pin-memory', 'aliases.py', 11, 4, 11, 6],
      ['dataloader-workers', 'aliases.py', 11, 4, 11, 6],
      // b = tud.DataLoader(..., num_workers=0, pin_memory=False)
      ['dataloader-workers', 'aliases.py', 12, 39, 12, 52],
      ['dataloader-pin-memory', 'aliases.py', 12, 54, 12, 70],
      // c = torch.utils.data.DataLoader(ds, 512, True, None, None, 2, None, True): workers=2 positionally.
      ['dataloader-persistent-workers', 'aliases.py', 13, 4, 13, 31],
      // d = DL(ds, **cfg) with cfg = dict(num_workers=4, pin_memory=True)
      ['dataloader-persistent-workers', 'aliases.py', 14, 4, 14, 6],
      ['dataloader-pin-memory', 'aliases.py', 15, 4, 15, 20],
      // f (mutated dict) and g (opaque splat) are unknown: nothing. h's `num_workers=workers` is set
      // to a name the file never assigns: said as unknown (a hint), not guessed.
      ['dataloader-workers', 'aliases.py', 18, 11, 18, 30],
      // i sets persistent_workers=False.
      ['dataloader-persistent-workers', 'aliases.py', 19, 43, 19, 67],
    ]);
    assert.deepEqual(sites.find((s) => s.code === 'dataloader-persistent-workers' && s.range.startLine === 13)?.details, { numWorkers: 2, explicit: false });
    assert.equal(sites.find((s) => s.code === 'dataloader-workers' && s.range.startLine === 7)?.details.viaSplat, true);
  });

  it('follows local imports: the loader built in data.py, the loop in train.py, eval code in engine.py', () => {
    const sites = analyzePythonSource(files, join(FIXTURES, 'multi', 'train.py'), parser);
    assert.deepEqual(rows(sites), [
      ['dataloader-pin-memory', 'multi/data.py', 7, 11, 7, 21],
      ['dataloader-workers', 'multi/data.py', 7, 11, 7, 21],
      ['small-batch', 'multi/data.py', 8, 22, 8, 35],
      ['no-inference-mode', 'multi/engine.py', 6, 4, 6, 24],
      ['host-sync-in-loop', 'multi/engine.py', 7, 21, 7, 50],
      // The print under `if step % 100 == 0` is fine; log_step's sync is one call away (not followed).
      ['host-sync-in-loop', 'multi/train.py', 21, 8, 21, 32],
    ]);
    const workers = sites.find((s) => s.code === 'dataloader-workers');
    assert.deepEqual(
      workers?.related?.map((r) => [r.file.slice(FIXTURES.length + 1), r.range.startLine, r.range.startCharacter, r.range.endCharacter]),
      [
        ['multi/train.py', 8, 9, 29],
        ['multi/train.py', 9, 13, 31],
      ],
    );
  });

  it('finds nothing in a script that already does it all', () => {
    // Its periodic checkpoint and evaluation are located, but only a measured stall makes them findings.
    assert.deepEqual(analyzePythonSource(files, join(FIXTURES, 'clean.py'), parser).filter((s) => s.code !== 'periodic-work'), []);
  });

  it('finds inference loops without no_grad, honouring set_grad_enabled(False) at the only call site', () => {
    const sites = analyzePythonSource(files, join(FIXTURES, 'infer.py'), parser);
    assert.deepEqual(rows(sites), [
      ['no-inference-mode', 'infer.py', 11, 4, 11, 21],
      ['no-autocast', 'infer.py', 12, 20, 12, 33],
      ['no-inference-mode', 'infer.py', 25, 0, 25, 13],
      // `tag = "😀é"; v = y.cpu()`: columns count UTF-16 code units (the emoji is 2), as LSP does.
      ['host-sync-in-loop', 'infer.py', 27, 21, 27, 28],
    ]);
  });

  it('stops after two levels of local imports and resolves relative and module-attribute imports', () => {
    const loader = 'from torch.utils.data import DataLoader\ndef make(ds):\n    return DataLoader(ds, num_workers=0)\n';
    const found = snippet('import a\nx = "cuda"\n', { 'a.py': 'from .b import make\n', 'b.py': 'import c\n' + loader, 'c.py': loader });
    assert.deepEqual(found.filter((r) => r[0] === 'dataloader-workers'), [['dataloader-workers', 'b.py', 3, 26, 3, 39]]);
    const viaModule = snippet('import data as d\nloader = d.make(ds)\nfor batch in loader:\n    print(batch.sum().item())\nx = "cuda"\n', { 'data.py': loader });
    assert.deepEqual(viaModule.filter((r) => r[0] !== 'dataloader-pin-memory'), [
      ['dataloader-workers', 'data.py', 2, 26, 2, 39],
      ['host-sync-in-loop', 'main.py', 3, 10, 3, 28],
    ]);
  });

  it('tells step loops from other loops and periodic or conditional work from per-step work', () => {
    const src = [
      'import torch',
      'for epoch in range(3):',
      '    for step, (x, y) in enumerate(train_dl):',
      '        loss = model(x).mean()',
      '        loss.backward()',
      '        opt.step()',
      '        print(loss)',
      '        print(step, epoch)',
      '        print(loss.item())',
      '        v = loss.detach().cpu().numpy()',
      '        model.eval()',
      '        r = eval("1 + 1")',
      '        validate(model)',
      '        if step % 10 == 0:',
      '            torch.save(model, "a.pt")',
      '            print(loss.item())',
      '        if improved:',
      '            torch.save(model, "best.pt")',
      '        for k in ("a", "b"):',
      '            torch.cuda.synchronize()',
      '    torch.save(model, "epoch.pt")',
      '    validate(model)',
      'with torch.bfloat16_guard():',
      '    pass',
      'x = "cuda"',
    ].join('\n');
    assert.deepEqual(snippet(src), [
      ['no-autocast', 'main.py', 3, 15, 3, 23],
      ['host-sync-in-loop', 'main.py', 6, 8, 6, 19],
      ['host-sync-in-loop', 'main.py', 8, 14, 8, 25],
      ['host-sync-in-loop', 'main.py', 9, 12, 9, 39],
      ['eval-every-step', 'main.py', 12, 8, 12, 23],
      // Every 10 steps: located for a measured periodic stall, not an every-step finding.
      ['periodic-work', 'main.py', 14, 12, 14, 37],
      ['host-sync-in-loop', 'main.py', 19, 12, 19, 36],
    ]);
  });

  it('recognises mixed precision and CUDA use in their usual spellings', () => {
    const loop = 'for x in loader:\n    loss = model(x)\n    loss.backward()\n';
    assert.equal(snippet(`import torch\nm = model.to("cuda")\n${loop}`).filter((r) => r[0] === 'no-autocast').length, 1);
    for (const extra of ['model.half()', 'dtype = torch.bfloat16', 'from torch.cuda.amp import autocast', 'trainer = Trainer(precision="bf16-mixed")']) {
      assert.equal(snippet(`import torch\nm = model.to("cuda")\n${extra}\n${loop}`).filter((r) => r[0] === 'no-autocast').length, 0, extra);
    }
    // No CUDA anywhere: neither autocast nor pinned memory matter.
    const cpu = snippet(`import torch\nfrom torch.utils.data import DataLoader\nloader = DataLoader(ds, num_workers=4, persistent_workers=True)\n${loop}`);
    assert.deepEqual(cpu, []);
  });

  it('accepts grad-disabled decorators and with-blocks, but not set_grad_enabled(True)', () => {
    const body = '    for b in batches:\n        model(b)\n';
    assert.deepEqual(snippet(`import torch\n@torch.no_grad()\ndef f(batches):\n${body}`), []);
    assert.deepEqual(snippet(`import torch\n@torch.inference_mode\ndef f(batches):\n${body}`), []);
    assert.deepEqual(snippet(`from torch import no_grad\nwith no_grad():\n${body}`), []);
    assert.deepEqual(snippet(`import torch as T\nwith T.set_grad_enabled(True):\n${body}x = "cuda"\n`).filter((r) => r[0] === 'no-inference-mode'), [['no-inference-mode', 'main.py', 2, 4, 2, 21]]);
    // A loop with backward is training, and so is an inner micro-batch loop of a training step.
    assert.deepEqual(snippet('for b in loader:\n    for m in b.split(4):\n        out = model(m)\n    out.sum().backward()\n'), []);
  });

  it('returns nothing when the entry is not among the files', () => {
    assert.deepEqual(analyzePythonSource([{ path: '/a/x.py', text: 'pass' }], '/a/missing.py', parser), []);
  });
});
