import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hasSyntaxErrors, loadPythonParser } from '../../../src/core/analysis/pythonParser';
import type { PythonParser } from '../../../src/core/analysis/pythonParser';
import { analyzePythonSource } from '../../../src/core/analysis/pythonSource';
import { applyEdits, defaultNumWorkers, quickFixesFor } from '../../../src/core/analysis/quickFixes';
import type { Finding, SourceFindingCode, SourceRange, SourceSite } from '../../../src/core/analysis/findings';
import { FIXTURES, fixtureFiles } from './pythonFixtures';

// Loaded in the suite's `before`; the helpers below run only inside its tests.
let parser: PythonParser;

function findingAt(code: SourceFindingCode, range: SourceRange, file = '/proj/main.py'): Finding {
  return { id: `${code}:${file}:${range.startLine + 1}`, code, severity: 'hint', title: '', message: '', stretches: [], startS: 0, endS: 0, energyJ: 0, wastedJ: 0, wastedMethod: '', evidence: { spans: [] }, static: true, file, range };
}

/** As correlate() makes it: the site's details and fix policy travel with the finding. */
function fromSite(s: SourceSite): Finding {
  return { ...findingAt(s.code, s.range, s.file), details: s.details, ...(s.fixPolicy !== undefined ? { fixPolicy: s.fixPolicy } : {}) };
}

/** Sites of a snippet, and the fixed text of each fix of the first site with `code`. */
function fixSnippet(text: string, code: SourceFindingCode, nth = 0): { titles: string[]; results: string[] } {
  const site = analyzePythonSource([{ path: '/proj/main.py', text }], '/proj/main.py', parser, { ranOnGpu: true }).filter((s) => s.code === code)[nth];
  assert.ok(site !== undefined, `no ${code} site`);
  const fixes = quickFixesFor(fromSite(site), text, parser, { numWorkers: 8 });
  return { titles: fixes.map((f) => f.title), results: fixes.map((f) => applyEdits(text, f.edits)) };
}

const lines = (...l: string[]): string => l.join('\n');

describe('quickFixesFor', () => {
  const files = fixtureFiles();

  before(async () => {
    parser = await loadPythonParser();
  });

  it('adds DataLoader arguments on their own lines in a one-per-line call, keeping the trailing comma and comment', () => {
    const text = files.find((f) => f.path.endsWith('train_basic.py'))?.text ?? '';
    const site = analyzePythonSource(files, join(FIXTURES, 'train_basic.py'), parser).find((s) => s.code === 'dataloader-workers');
    assert.ok(site !== undefined);
    const fixes = quickFixesFor(fromSite(site), text, parser, { numWorkers: 6 });
    assert.deepEqual(
      fixes.map((f) => f.title),
      // The loader is read once per epoch: workers are kept between epochs and run ahead.
      ['Set num_workers=6, persistent_workers=True, prefetch_factor=4', 'Set num_workers=6, pin_memory=True, persistent_workers=True, prefetch_factor=4'],
    );
    const fixed = applyEdits(text, fixes[1]?.edits ?? []);
    assert.equal(
      fixed.split('\n').slice(10, 19).join('\n'),
      lines(
        'train_loader = DataLoader(',
        '    ds,',
        '    batch_size=32,',
        '    shuffle=True,  # keep order random',
        '    num_workers=6,',
        '    pin_memory=True,',
        '    persistent_workers=True,',
        '    prefetch_factor=4,',
        ')',
      ),
    );
  });

  it('adds a comma after the last argument when a multi-line call has none', () => {
    const text = lines('import torch', 'from torch.utils.data import DataLoader', 'loader = DataLoader(', '    ds,', '    shuffle=True  # shuffle', ')', 'x = "cuda"', '');
    const { results } = fixSnippet(text, 'dataloader-pin-memory');
    assert.equal(results[0], lines('import torch', 'from torch.utils.data import DataLoader', 'loader = DataLoader(', '    ds,', '    shuffle=True,  # shuffle', '    pin_memory=True', ')', 'x = "cuda"', ''));
  });

  it('keeps one-line calls on one line, with or without a trailing comma, and replaces wrong literals in place', () => {
    const head = 'import torch\nfrom torch.utils.data import DataLoader as DL\nx = "cuda"\n';
    assert.deepEqual(fixSnippet(`${head}a = DL(ds, batch_size=128)\n`, 'dataloader-workers').results, [
      `${head}a = DL(ds, batch_size=128, num_workers=8)\n`,
      `${head}a = DL(ds, batch_size=128, num_workers=8, pin_memory=True, persistent_workers=True)\n`,
    ]);
    // Workers come only with the workers finding, whose safety checks cleared them.
    assert.deepEqual(fixSnippet(`${head}a = DL(ds, batch_size=128,)\n`, 'dataloader-pin-memory').results, [`${head}a = DL(ds, batch_size=128, pin_memory=True,)\n`]);
    assert.deepEqual(fixSnippet(`${head}b = DL(ds, num_workers=0, pin_memory=False)\n`, 'dataloader-workers').results, [
      `${head}b = DL(ds, num_workers=8, pin_memory=False)\n`,
      `${head}b = DL(ds, num_workers=8, pin_memory=True, persistent_workers=True)\n`,
    ]);
    // Positional num_workers (6th) is replaced where it stands.
    assert.deepEqual(fixSnippet(`${head}c = DL(ds, 64, True, None, None, 0)\n`, 'dataloader-workers').results[0], `${head}c = DL(ds, 64, True, None, None, 8)\n`);
  });

  it('aligns new arguments under a hanging-indent call', () => {
    const text = files.find((f) => f.path.endsWith(join('multi', 'data.py')))?.text ?? '';
    const site = analyzePythonSource(files, join(FIXTURES, 'multi', 'train.py'), parser).find((s) => s.code === 'dataloader-workers');
    assert.ok(site !== undefined);
    const fixes = quickFixesFor(fromSite(site), text, parser, { numWorkers: 4 });
    assert.equal(
      applyEdits(text, fixes[1]?.edits ?? []).split('\n').slice(7).join('\n'),
      lines(
        '    return DataLoader(ds,',
        '                      batch_size=16,',
        '                      shuffle=split == "train",',
        '                      num_workers=4,',
        '                      pin_memory=True,',
        '                      persistent_workers=True)',
        '',
      ),
    );
  });

  it('never adds what a splat may set, never adds persistent_workers without workers, leaves expressions alone', () => {
    const head = 'import torch\nfrom torch.utils.data import DataLoader as DL\nx = "cuda"\n';
    // Opaque splat: the analysis reports nothing; a finding there still gets no edit.
    const opaque = `${head}g = DL(ds, **make_cfg())\n`;
    assert.deepEqual(quickFixesFor(findingAt('dataloader-workers', { startLine: 3, startCharacter: 4, endLine: 3, endCharacter: 6 }), opaque, parser), []);
    // The value sits in a dict literal: no edit offered there.
    const aliases = files.find((f) => f.path.endsWith('aliases.py'))?.text ?? '';
    assert.deepEqual(quickFixesFor(findingAt('dataloader-workers', { startLine: 7, startCharacter: 12, endLine: 7, endCharacter: 28 }), aliases, parser), []);
    // num_workers=nw is the user's choice: kept; persistent_workers follows it (True with 0 workers raises).
    assert.deepEqual(fixSnippet(`${head}h = DL(ds, num_workers=nw)\n`, 'dataloader-pin-memory'), {
      titles: ['Set pin_memory=True', 'Set pin_memory=True, persistent_workers=nw > 0'],
      results: [`${head}h = DL(ds, num_workers=nw, pin_memory=True)\n`, `${head}h = DL(ds, num_workers=nw, pin_memory=True, persistent_workers=nw > 0)\n`],
    });
  });

  it('wraps an inference loop in inference_mode, re-indenting with tabs but not inside a multi-line string', () => {
    const text = lines('import torch as th', '', 'def run(batches):', '\tfor b in batches:', '\t\t# score one batch', '\t\tout = net(b)', '\t\tmsg = """multi', 'line"""', '', '\t\tkeep(out)', '\treturn 1', '');
    assert.deepEqual(fixSnippet(text, 'no-inference-mode'), {
      titles: ['Wrap the loop in torch.inference_mode()'],
      results: [lines('import torch as th', '', 'def run(batches):', '\twith th.inference_mode():', '\t\tfor b in batches:', '\t\t\t# score one batch', '\t\t\tout = net(b)', '\t\t\tmsg = """multi', 'line"""', '', '\t\t\tkeep(out)', '\treturn 1', '')],
    });
  });

  it('wraps a loop that is the only statement of an if block (the block has the same range as the loop)', () => {
    const text = lines('import torch', 'if batch == 1:', '    for r in requests:', '        out = model(r.unsqueeze(0))', '');
    assert.deepEqual(fixSnippet(text, 'no-inference-mode').results, [
      lines('import torch', 'if batch == 1:', '    with torch.inference_mode():', '        for r in requests:', '            out = model(r.unsqueeze(0))', ''),
    ]);
  });

  it('uses no_grad, not inference_mode, for an evaluation loop in a script that also trains', () => {
    const text = lines('import torch', 'for x, y in train_loader:', '    model(x).sum().backward()', '    opt.step()', 'for x, y in val_loader:', '    out = model(x)', '');
    assert.deepEqual(fixSnippet(text, 'no-inference-mode').titles, ['Wrap the loop in torch.no_grad()']);
  });

  it('adds `import torch` when the module has no torch import', () => {
    const text = lines('from torch import nn', 'for x in loader:', '    y = model(x)', '');
    assert.equal(fixSnippet(text, 'no-inference-mode').results[0], lines('from torch import nn', 'import torch', 'with torch.inference_mode():', '    for x in loader:', '        y = model(x)', ''));
  });

  it('puts the forward pass and the loss under bf16 autocast, stopping before zero_grad/backward', () => {
    const text = files.find((f) => f.path.endsWith('train_basic.py'))?.text ?? '';
    const site = analyzePythonSource(files, join(FIXTURES, 'train_basic.py'), parser).find((s) => s.code === 'no-autocast');
    assert.ok(site !== undefined);
    const fixes = quickFixesFor(fromSite(site), text, parser);
    assert.deepEqual(fixes.map((f) => f.title), ['Run the forward pass under bf16 autocast']);
    assert.equal(
      applyEdits(text, fixes[0]?.edits ?? []).split('\n').slice(27, 33).join('\n'),
      lines(
        '        x, y = x.to(device), y.to(device)',
        // device = torch.device(...) in the script: its type, so the script also autocasts on CPU.
        '        with torch.autocast(device.type, dtype=torch.bfloat16):',
        '            logits = model(x)',
        '            loss = nn.functional.cross_entropy(logits, y)',
        '        opt.zero_grad()',
        '        loss.backward()',
      ),
    );
    assert.match(quickFixesFor(fromSite(site), text, parser, { autocastDtype: 'float16' })[0]?.title ?? '', /fp16/);
  });

  it('makes per-step logging periodic with the loop counter, or numbers the loop with enumerate', () => {
    const withRange = lines('import torch', 'for i in range(100):', '    loss = model(x)', '    loss.backward()', '    print(loss.item())', '');
    assert.deepEqual(fixSnippet(withRange, 'host-sync-in-loop'), {
      titles: ['Log every 100 steps (if i % 100 == 0)'],
      results: [lines('import torch', 'for i in range(100):', '    loss = model(x)', '    loss.backward()', '    if i % 100 == 0:', '        print(loss.item())', '')],
    });
    const withWhile = lines('step = 0', 'while step < 10:', '    loss = model(x)', '    logger.info("loss %f", loss.item())', '    step += 1', '');
    assert.equal(fixSnippet(withWhile, 'host-sync-in-loop').results[0], lines('step = 0', 'while step < 10:', '    loss = model(x)', '    if step % 100 == 0:', '        logger.info("loss %f", loss.item())', '    step += 1', ''));
    // `opt.step` is an attribute, so `step` is free for the counter.
    const text = files.find((f) => f.path.endsWith('train_basic.py'))?.text ?? '';
    const site = analyzePythonSource(files, join(FIXTURES, 'train_basic.py'), parser).find((s) => s.code === 'host-sync-in-loop' && s.range.startLine === 33);
    assert.ok(site !== undefined);
    const fixed = applyEdits(text, quickFixesFor(fromSite(site), text, parser)[0]?.edits ?? []).split('\n');
    assert.equal(fixed[26], '    for step, (x, y) in enumerate(train_loader):');
    assert.deepEqual(fixed.slice(33, 35), ['        if step % 100 == 0:', '            print(f"loss {loss.item():.3f}")']);
  });

  it('offers no fix where one would change results: summed values, synchronize, stale ranges', () => {
    const summed = lines('for i in range(9):', '    loss = model(x)', '    loss.backward()', '    total += loss.item()', '');
    assert.deepEqual(fixSnippet(summed, 'host-sync-in-loop').titles, []);
    const sync = lines('import torch', 'for i in range(9):', '    loss = model(x)', '    loss.backward()', '    torch.cuda.synchronize()', '');
    assert.deepEqual(fixSnippet(sync, 'host-sync-in-loop').titles, []);
    assert.deepEqual(quickFixesFor(findingAt('no-inference-mode', { startLine: 40, startCharacter: 0, endLine: 40, endCharacter: 5 }), summed, parser), []);
    assert.deepEqual(quickFixesFor({ ...findingAt('no-autocast', { startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 3 }), code: 'gpu-idle' }, summed, parser), []);
  });

  it('keeps every fixture file parseable under every fix it offers', () => {
    let offered = 0;
    const codesFixed = new Set<string>();
    for (const entry of ['train_basic.py', 'aliases.py', join('multi', 'train.py'), 'infer.py']) {
      for (const site of analyzePythonSource(files, join(FIXTURES, entry), parser)) {
        const text = files.find((f) => f.path === site.file)?.text ?? '';
        for (const fix of quickFixesFor(fromSite(site), text, parser)) {
          offered++;
          codesFixed.add(site.code);
          const fixed = applyEdits(text, fix.edits);
          assert.notEqual(fixed, text);
          assert.equal(hasSyntaxErrors(parser.parse(fixed)), false, `${site.code} ${fix.title} in ${site.file}`);
        }
      }
    }
    assert.ok(offered >= 25, `${offered} fixes`);
    assert.deepEqual([...codesFixed].sort(), [
      'dataloader-persistent-workers',
      'dataloader-pin-memory',
      'dataloader-workers',
      'eval-every-step',
      'host-sync-in-loop',
      'no-autocast',
      'no-inference-mode',
      'save-every-step',
    ]);
  });

  it('defaults num_workers to min(8, CPUs), at least 1', () => {
    assert.equal(defaultNumWorkers(64), 8);
    assert.equal(defaultNumWorkers(4), 4);
    assert.equal(defaultNumWorkers(0), 1);
  });
});
