import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeInWorker } from '../../../src/core/analysis/analysisClient';
import { RunStore } from '../../../src/core/runs/store';
import { writeSyntheticRun } from '../../support/syntheticRun';

const ROOT = path.join(__dirname, '..', '..', '..');

describe('the bundled analysis worker', function () {
  this.timeout(120_000);

  it('runs from the packaged layout (dist/ alone, no node_modules): telemetry and tree-sitter findings', async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    // The VSIX allowlist (.vscodeignore) ships these; copy them where no node_modules can be found.
    const ignore = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8');
    assert.match(ignore, /^!dist\/analysisWorker\.js$/m);
    assert.match(ignore, /^!dist\/wasm\/\*\*$/m);
    const ext = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-vsix-'));
    fs.mkdirSync(path.join(ext, 'dist', 'wasm'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'dist', 'analysisWorker.js'), path.join(ext, 'dist', 'analysisWorker.js'));
    for (const f of fs.readdirSync(path.join(ROOT, 'dist', 'wasm'))) fs.copyFileSync(path.join(ROOT, 'dist', 'wasm', f), path.join(ext, 'dist', 'wasm', f));

    const script = path.join(ext, 'train.py');
    fs.copyFileSync(path.join(ROOT, 'test', 'integration', 'fixtures', 'workspace', 'findings_train.py'), script);
    const store = new RunStore(path.join(ext, 'runs'));
    const { meta } = writeSyntheticRun(store, { id: 'r', gpus: 2, durationS: 600, hz: 10, scriptPath: script });
    const r = await analyzeInWorker(
      { summary: meta, gpus: meta.gpuInfo, runGpus: meta.runGpus, endMs: meta.durationS * 1000, samplesFile: store.samplesFile('r') },
      { workerFile: path.join(ext, 'dist', 'analysisWorker.js'), wasmDir: path.join(ext, 'dist', 'wasm') },
    );
    const codes = new Set(r.findings.map((f) => f.code));
    assert.ok(codes.has('periodic-stall') || codes.has('gpu-starved'), [...codes].join(','));
    const loader = r.findings.find((f) => f.code === 'dataloader-workers');
    assert.ok(loader?.file === script && loader.range?.startLine === 17, 'the DataLoader line, found by tree-sitter in the worker');
  });

  it('a worker that fails reports its error instead of hanging the end of the run', async () => {
    await assert.rejects(
      analyzeInWorker(
        { summary: { id: 'x' } as never, gpus: [], runGpus: [0], endMs: 1000, samplesFile: path.join(os.tmpdir(), 'no-such-dir', 'samples.jsonl') },
        { workerFile: path.join(os.tmpdir(), 'joules-no-such-worker.js') },
      ),
      /Cannot find module|no-such-worker/,
    );
  });
});
