import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { CheckHint } from '../../src/cli/commands/check';
import { main } from '../../src/cli/main';
import { SafeOutput } from '../../src/cli/stdio';
import { analyzeRun } from '../../src/core/analysis/runAnalysis';
import type { RunSamples } from '../../src/core/analysis/runAnalysis';
import type { RunSummary } from '../../src/core/runs/types';

const CORPUS = path.join(__dirname, '..', 'fixtures', 'python', 'corpus');

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function check(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(['check', ...args], { stdout: new SafeOutput(stdout), stderr: new SafeOutput(stderr) });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('joules check: static hints without a run', function () {
  this.timeout(60_000);

  it('prints each hint at file:line:col, labelled static, with its safe fix, a fix to review, or why there is none', async () => {
    const r = await check([path.join(CORPUS, 'no_main_guard', 'main.py')]);
    assert.equal(r.code, 0, r.stderr);
    const rel = path.relative(process.cwd(), path.join(CORPUS, 'no_main_guard', 'main.py'));
    assert.match(r.stdout, new RegExp(`^${rel.replace(/[.]/g, '\\.')}:10:10: information dataloader-workers: DataLoader without num_workers .*\\(static hint: no telemetry evidence\\)\\.$`, 'm'));
    assert.match(r.stdout, /^ {4}fix \(review first: the script has no `if __name__ == "__main__":` guard.*\): Set num_workers=\d+$/m);
    assert.match(r.stdout, /^ {4}fix: Set pin_memory=True$/m);
    assert.match(r.stdout, /static hint\(s\): found in the source alone; nothing was measured/);
    const iterable = await check([path.join(CORPUS, 'iterable_dataset', 'main.py')]);
    assert.match(iterable.stdout, /^ {4}no fix: TokenStream is an IterableDataset that does not shard by worker/m);
  });

  it('--json gives every hint as static data, none for a CPU-only script', async () => {
    const r = await check(['--json', path.join(CORPUS, 'infer_batch_of_one', 'main.py')]);
    assert.equal(r.code, 0, r.stderr);
    const hints = JSON.parse(r.stdout) as CheckHint[];
    assert.ok(hints.length >= 3);
    assert.ok(hints.every((h) => h.static));
    const batch = hints.find((h) => h.code === 'batch-of-one');
    assert.ok(batch !== undefined && /collect requests and run them as one batch/.test(batch.message), JSON.stringify(hints));
    assert.deepEqual(batch.fixes, []);
    assert.deepEqual(hints.find((h) => h.code === 'no-inference-mode')?.fixes, [{ title: 'Wrap the loop in torch.inference_mode()' }]);
    const cpu = await check(['--json', path.join(CORPUS, 'cpu_only', 'main.py')]);
    assert.deepEqual(JSON.parse(cpu.stdout), []);
  });

  it('rejects a missing script, a non-Python file and a file that does not parse with one line and exit code 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-check-'));
    const broken = path.join(dir, 'broken.py');
    fs.writeFileSync(broken, 'for x in (:\n    pass\n');
    for (const [args, re] of [
      [[path.join(dir, 'missing.py')], /^joules: no such script: .*missing\.py\n$/],
      [[path.join(dir, 'notes.txt')], /^joules: check reads Python scripts \(\.py\), got .*notes\.txt\n$/],
      [[broken], /^joules: broken\.py does not parse as Python; fix the syntax first\n$/],
      [[], /^joules: check needs one Python script/],
    ] as const) {
      const r = await check([...args]);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, re);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a stored run without samples is not "measured": its findings are static hints', async () => {
    const script = path.join(CORPUS, 'kw_conditional', 'main.py');
    const summary = { id: 'r1', name: 'r1', command: ['python3', script], scriptPath: script, durationS: 5, gpus: [] } as unknown as RunSummary;
    const input: RunSamples = { summary, gpus: [], byGpu: new Map(), runGpus: [0], endMs: 5000 };
    const { findings } = await analyzeRun(input);
    const source = findings.filter((f) => f.file !== undefined);
    assert.ok(source.length > 0);
    assert.ok(source.every((f) => f.static && /static hint/.test(f.message)), JSON.stringify(source.map((f) => [f.code, f.static])));
    // At its static severity, not demoted to 'hint' as "telemetry showed no such waste" (joules fix skips hints).
    assert.equal(source.find((f) => f.code === 'dataloader-workers')?.severity, 'information');
  });
});
