// `joules notebook`: a notebook executed on a real IPython kernel (nbclient, from the test
// virtualenv) while the fake NVML library plays notebook-kernel.scn (the kernel on GPU 0 at a
// constant 300 W, GPU 1 idle at 60 W). With constant power, a cell's energy computed independently
// is 300 W times its duration.
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fakeNvml } from '../support/fakeNvml';
import { testPython } from '../support/testPython';
import { joules, nvmlEnv, tempDir } from './support';


function writeNotebook(file: string, cells: string[]): void {
  fs.writeFileSync(
    file,
    JSON.stringify({
      cells: cells.map((source) => ({ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null })),
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
}

interface NotebookJson {
  kind?: string;
  status: string;
  energyJ: number;
  attribution: string;
  cells: Array<{ cellIndex: number; durationS: number; energyJ: number; avgPowerW: number; attribution: string; gpus: Array<{ gpu: number }>; method: string; success?: boolean }>;
  markers?: unknown[];
  counterCheck?: Array<{ cell: number; joulesJ: number; counterJ: number }>;
}

describe('joules notebook', function () {
  this.timeout(300_000);
  let lib: string;
  let python: string;
  before(async () => {
    lib = await fakeNvml('notebook-kernel.scn');
    python = testPython();
  });

  it("runs each cell on a real kernel and gives it its GPU energy (the kernel's GPU only); the session goes to the history", () => {
    const dir = tempDir('joules-notebook-');
    const nb = path.join(dir, 'train.ipynb');
    writeNotebook(nb, ['import time\ntime.sleep(1.5)\nprint("epoch done")', 'time.sleep(0.05)', 'x = sum(range(10))\ntime.sleep(0.6)\nx']);
    const store = path.join(dir, 'runs');
    const r = joules(['notebook', nb, '--python', python, '--json', '--counter', '--store', store, '--output', path.join(dir, 'out.ipynb')], nvmlEnv(lib, 'notebook-kernel.scn'));
    assert.strictEqual(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as NotebookJson;
    assert.strictEqual(s.kind, 'notebook');
    assert.strictEqual(s.attribution, 'processes', 'the kernel was found on GPU 0');
    assert.strictEqual(s.cells.length, 3);
    for (const c of s.cells) {
      assert.strictEqual(c.attribution, 'kernel');
      assert.deepStrictEqual(c.gpus.map((g) => g.gpu), [0]);
      const expected = 300 * c.durationS;
      assert.ok(Math.abs(c.energyJ - expected) <= 0.03 * expected + 0.5, `cell ${c.cellIndex}: ${c.energyJ} J, expected ${expected} J`);
      assert.strictEqual(c.success, true);
    }
    assert.ok(s.cells[1]!.durationS < 0.2 && s.cells[1]!.energyJ > 0, 'a cell shorter than two samples still has its energy');
    // The runner's own counter reads (the fake counter moves every 100 ms): within two steps of 30 J.
    assert.strictEqual(s.counterCheck?.length, 3);
    for (const c of s.counterCheck!) assert.ok(Math.abs(c.joulesJ - c.counterJ) <= 60 + 0.03 * c.counterJ, `cell ${c.cell}: Joules ${c.joulesJ} J, counter ${c.counterJ} J`);
    // The executed notebook has the cells' outputs; the cells' output went to stderr (--json).
    const out = JSON.parse(fs.readFileSync(path.join(dir, 'out.ipynb'), 'utf8')) as { cells: Array<{ outputs: unknown[] }> };
    assert.ok(JSON.stringify(out.cells[0]!.outputs).includes('epoch done'));
    // In the history, as any run.
    const history = joules(['history', '--json', '--store', store]);
    assert.strictEqual(history.code, 0, history.stderr);
    assert.ok(history.stdout.includes('train.ipynb'));
  });

  it('a failing cell stops the notebook: its exit code and reason, the cells before it measured', () => {
    const dir = tempDir('joules-notebook-');
    const nb = path.join(dir, 'broken.ipynb');
    writeNotebook(nb, ['import time\ntime.sleep(0.3)', 'raise ValueError("bad batch")', 'print("never")']);
    const r = joules(['notebook', nb, '--python', python, '--store', path.join(dir, 'runs')], nvmlEnv(lib, 'notebook-kernel.scn'));
    assert.strictEqual(r.code, 1, r.stderr);
    assert.match(r.stderr, /the notebook did not run to the end: .*ValueError: bad batch/);
    assert.match(r.stdout, /notebook broken\.ipynb: .* \(2 cell\(s\) measured\)/);
  });

  it('a Python without nbclient: a clear error, nothing measured made up', () => {
    const dir = tempDir('joules-notebook-');
    const nb = path.join(dir, 'x.ipynb');
    writeNotebook(nb, ['print(1)']);
    // A Python that sees no site-packages at all (-S): certainly no nbclient.
    const bare = path.join(dir, 'bare-python');
    fs.writeFileSync(bare, '#!/bin/sh\nexec python3 -S "$@"\n', { mode: 0o755 });
    const r = joules(['notebook', nb, '--python', bare, '--store', path.join(dir, 'runs')], nvmlEnv(lib, 'notebook-kernel.scn'));
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /no nbclient/);
    assert.match(r.stdout, /\(0 cell\(s\) measured\)/);
  });
});
