import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planFixes } from '../../../src/core/analysis/fixPlan';
import { analyzeInWorker } from '../../../src/core/analysis/analysisClient';
import type { AnalysisInput } from '../../../src/core/runs/runSession';
import { RunStore } from '../../../src/core/runs/store';
import { writeSyntheticRun } from '../../support/syntheticRun';

const SCRIPT = path.join(__dirname, '..', '..', 'integration', 'fixtures', 'workspace', 'findings_train.py');

describe('joules fix: analyse once', function () {
  this.timeout(120_000);

  it('reads the run\'s samples once however many fixes it applies, and each edit lands on the right line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-fix-'));
    const script = path.join(dir, 'train.py');
    fs.copyFileSync(SCRIPT, script);
    const store = new RunStore(path.join(dir, 'runs'));
    // 20 min of a loop that starves every minute: the DataLoader and the .item() sync have support.
    const { meta } = writeSyntheticRun(store, { id: 'starved', gpus: 1, durationS: 1200, hz: 10, scriptPath: script });
    const input: AnalysisInput = { summary: meta, gpus: meta.gpuInfo, runGpus: meta.runGpus, endMs: meta.durationS * 1000, samplesFile: store.samplesFile('starved') };
    let analyses = 0;
    const printed: string[] = [];
    const { fixes, applied } = await planFixes(input, {
      analyze: async (i) => {
        analyses++;
        // As the CLI does: in a worker thread, so the fixes must load their own parser here.
        return analyzeInWorker(i);
      },
      write: (file, text) => fs.writeFileSync(file, text),
      onFix: (f) => printed.push(`${path.basename(f.file)}:${f.line}: ${f.title}`),
    });
    assert.equal(analyses, 1, 'the samples are analysed once');
    assert.ok(applied >= 2, `fixes applied: ${printed.join(' | ')}`);
    assert.equal(fixes.length, applied);
    const text = fs.readFileSync(script, 'utf8');
    // Multi-epoch loader: workers kept between epochs and prefetching ahead.
    assert.match(text, /DataLoader\(ds, batch_size=32, num_workers=\d+, persistent_workers=True, prefetch_factor=4, pin_memory=True/);
    // A fix on a later line, applied after the DataLoader line grew: found at its new place
    // (autocast on the script's torch.device, so it also runs on CPU).
    assert.match(text, /with torch\.autocast\(device\.type, dtype=torch\.bfloat16\):\n\s+loss = /);
    // Python still parses the edited file (each later edit used the edited text's ranges).
    const { spawnSync } = await import('node:child_process');
    const check = spawnSync('python3', ['-c', `import ast,sys; ast.parse(open(${JSON.stringify(script)}).read())`], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });
});
