// Notebook cell energy and the idle-GPU watchdog, in the real extension host with the fake NVML
// library (twoGpus.scn: GPU 0 at a constant 300 W, 100 % busy; GPU 1 at 60 W, idle). With constant
// power, a cell's energy computed independently is the power of the counted GPUs times the cell's
// own duration from its execution summary.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { CellResult } from '../../../src/vscode/notebooks/notebookMonitor';
import type { NotebookHandle } from '../../../src/vscode/notebooks/registerNotebooks';
import { openNotebook, runCells, TestKernel } from './notebookController';
import { fixture, joules, onlyIn, pidAlive, setSetting, sleep, waitFor, workspaceDir } from './support';

const GPU0_W = 300;
const GPU1_W = 60;

async function notebooks(): Promise<NotebookHandle> {
  const api = await joules();
  return waitFor('notebook support registered', () => api.notebooks());
}

function durationS(cell: vscode.NotebookCell): number {
  const t = cell.executionSummary?.timing;
  assert.ok(t, `cell ${cell.index} has no timing`);
  return (t.endTime - t.startTime) / 1000;
}

async function measured(nb: NotebookHandle, cell: vscode.NotebookCell): Promise<Extract<CellResult, { kind: 'measured' }>['cell']> {
  const r = await waitFor(`cell ${cell.index}'s energy`, () => {
    const x = nb.monitor.result(cell);
    return x?.kind === 'measured' ? x : x?.kind === 'unmeasured' ? assert.fail(`cell ${cell.index} not measured: ${x.reason}`) : undefined;
  }, 15_000);
  return r.cell;
}

/** Within 3 % (the counter is read every 100 ms and the samples' edges are interpolated) plus 0.5 J. */
function assertNear(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 0.03 * expected + 0.5, `${what}: ${actual.toFixed(2)} J, expected ${expected.toFixed(2)} J`);
}

async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

function notebookDir(name: string): string {
  const dir = path.join(workspaceDir(), 'notebooks-it', name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

suite('notebooks: energy of every cell', function () {
  onlyIn('gpu');
  this.timeout(120_000);
  suiteTeardown(() => fs.rmSync(path.join(workspaceDir(), 'notebooks-it'), { recursive: true, force: true }));
  const kernels: TestKernel[] = [];
  teardown(async () => {
    await closeAll();
    for (const k of kernels.splice(0)) k.dispose();
  });

  test('a kernel found on GPU 0: each cell shows its energy, a cell shorter than a sample and two cells across counter updates too; the session goes to the history', async () => {
    const nb = await notebooks();
    const dir = notebookDir('gpu');
    const kernel = new TestKernel('joules-it-gpu-kernel', 'python3', [fixture('gpu_kernel.py')], dir);
    kernels.push(kernel);
    const editor = await openNotebook(path.join(dir, 'cells.ipynb'), ['import time\ntime.sleep(1.5)', 'time.sleep(0.03)', 'time.sleep(0.13)', 'time.sleep(0.13)']);
    await kernel.select(editor);
    await waitFor('the notebook sampler', () => nb.monitor.sampling, 15_000);
    // The kernel process is listed on GPU 0 by the fake library; the monitor lists processes every second.
    await waitFor("the kernel's GPU", () => nb.monitor.totals(editor.notebook)?.attribution === 'kernel', 15_000);
    await runCells(editor, 0, 4);
    const cells = editor.notebook.getCells();
    const figures = [];
    for (const cell of cells) figures.push(await measured(nb, cell));
    for (const [i, f] of figures.entries()) {
      assert.strictEqual(f.attribution, 'kernel');
      assert.deepStrictEqual(f.gpus.map((g) => g.gpu), [0], 'only the kernel\'s GPU counts');
      assert.ok(f.kernelPids?.includes(kernel.pid!), `kernel PID ${kernel.pid} in ${JSON.stringify(f.kernelPids)}`);
      assertNear(f.energyJ, GPU0_W * durationS(cells[i]!), `cell ${i}`);
    }
    // The second cell ran for ~30 ms, under the 100 ms sample period: never a silent 0.
    assert.ok(durationS(cells[1]!) < 0.1, `the short cell took ${durationS(cells[1]!)} s`);
    assert.ok(figures[1]!.energyJ > 0);
    assert.match(figures[1]!.method, /shorter than two sample periods/);
    // Each 130 ms cell spans a 100 ms counter update: each keeps its own share.
    assert.ok(figures[2]!.energyJ > 0.1 * GPU0_W && figures[3]!.energyJ > 0.1 * GPU0_W);
    // What the cell's status bar shows.
    const items = nb.cellItems.provideCellStatusBarItems(cells[0]!);
    assert.strictEqual(items.length, 1);
    assert.match(items[0]!.text, /^\$\(zap\) \d+(\.\d)? J · 300 W · 100 %$/);
    assert.match(String(items[0]!.tooltip), /GPU 0: .* · 300 W · 100 % busy/);
    assert.match(String(items[0]!.tooltip), new RegExp(`PID ${kernel.pid}`));
    const total = nb.monitor.totals(editor.notebook);
    assert.strictEqual(total?.cells, 4);
    assertNear(total!.energyJ, figures.reduce((a, f) => a + f.energyJ, 0), 'session total');

    // Closing the notebook keeps its session in the history, as a run of kind `notebook`.
    const api = await joules();
    // The session is in the history from its start, as `running` (so a crash leaves it recoverable).
    const open = await waitFor('the running notebook session', async () => (await api.runManager.list()).find((r) => r.kind === 'notebook' && r.name === 'cells.ipynb' && r.status === 'running'));
    // Executing cells changed the outputs: saved, the document closes with its editor. The save
    // reports the cells' executions again: each still counts once.
    await editor.notebook.save();
    await sleep(1500);
    assert.strictEqual(nb.monitor.totals(editor.notebook)?.cells, 4);
    await closeAll();
    const record = await waitFor('the notebook session in the history', async () => (await api.runManager.list()).find((r) => r.id === open.id && r.status !== 'running'), 30_000);
    assert.strictEqual(record.cells?.length, 4);
    assert.deepStrictEqual(record.runGpus, [0]);
    assert.strictEqual(record.attribution, 'processes');
    assert.strictEqual(record.markers?.length, 4);
    assert.ok(record.energyJ >= record.cells!.reduce((a, c) => a + c.energyJ, 0) - 0.5, 'the session holds its cells');
  });

  test('no kernel process on a GPU: the whole GPUs count, and the figures say so', async () => {
    const nb = await notebooks();
    const dir = notebookDir('cpu');
    const kernel = new TestKernel('joules-it-cpu-kernel', 'python3', [fixture('cpu_kernel.py')], dir);
    kernels.push(kernel);
    const editor = await openNotebook(path.join(dir, 'whole.ipynb'), ['import time\ntime.sleep(1.0)']);
    await kernel.select(editor);
    await waitFor('the notebook sampler', () => nb.monitor.sampling, 15_000);
    await runCells(editor, 0, 1);
    const cell = editor.notebook.cellAt(0);
    const f = await measured(nb, cell);
    assert.strictEqual(f.attribution, 'whole-gpu');
    assert.deepStrictEqual(f.gpus.map((g) => g.gpu), [0, 1]);
    assertNear(f.energyJ, (GPU0_W + GPU1_W) * durationS(cell), 'whole-GPU cell');
    assert.match(String(nb.cellItems.provideCellStatusBarItems(cell)[0]!.tooltip), /every GPU \(no kernel process was found on a GPU/);
  });

  test("findings on cells: the notebook's code read as one module, on each cell's lines, with the same quick fixes", async () => {
    const nb = await notebooks();
    const dir = notebookDir('hints');
    const setup = ['import torch', 'from torch.utils.data import DataLoader, TensorDataset', 'ds = TensorDataset(torch.randn(64, 8))', 'loader = DataLoader(ds, batch_size=8)'].join('\n');
    const train = ['model = torch.nn.Linear(8, 1).cuda()', 'opt = torch.optim.SGD(model.parameters(), lr=0.1)', 'for (x,) in loader:', '    loss = model(x.cuda()).sum()', '    loss.backward()', '    opt.step()', '    print(loss.item())'].join('\n');
    const editor = await openNotebook(path.join(dir, 'hints.ipynb'), [setup, train]);
    const [cell0, cell1] = editor.notebook.getCells();
    const onLoader = await waitFor('the DataLoader hint on the first cell', () => vscode.languages.getDiagnostics(cell0!.document.uri).find((d) => d.source === 'Joules' && d.range.start.line === 3), 15_000);
    assert.match(onLoader.message, /worker/i);
    await waitFor('the sync hint on the second cell', () => vscode.languages.getDiagnostics(cell1!.document.uri).find((d) => d.source === 'Joules' && d.range.start.line === 6), 15_000);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', cell0!.document.uri, onLoader.range);
    const fix = actions.find((a) => /^Set num_workers=\d+ /.test(a.title));
    assert.ok(fix?.edit, `a quick fix on the cell: ${JSON.stringify(actions.map((a) => a.title))}`);
    assert.match(fix.title, /in a notebook, workers under the spawn start method/, 'no `__main__` guard is asked of a notebook');
    assert.ok(fix.edit.entries().every(([uri]) => uri.toString() === cell0!.document.uri.toString()), 'the fix edits the cell itself');
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(cell0!.document.getText(), /num_workers=/);
    void nb;
  });

  test('a real IPython kernel: found by its process tree on GPU 0', async function () {
    const python = process.env.JOULES_TEST_PYTHON;
    assert.ok(python, 'runAll.mjs gives the suite a Python with ipykernel and jupyter_client (JOULES_TEST_PYTHON)');
    const nb = await notebooks();
    const dir = notebookDir('ipykernel');
    const kernel = new TestKernel('joules-it-ipykernel', python, [fixture('ipykernel_bridge.py')], dir);
    kernels.push(kernel);
    const ready = await kernel.ready;
    assert.ok(ready.kernel_pid, 'the bridge names its kernel process');
    const editor = await openNotebook(path.join(dir, 'real.ipynb'), ['import time\nx = sum(range(1000))\ntime.sleep(1.2)\nprint(x)']);
    await kernel.select(editor);
    await waitFor("the kernel's GPU", () => nb.monitor.totals(editor.notebook)?.attribution === 'kernel', 20_000);
    await runCells(editor, 0, 1);
    const cell = editor.notebook.cellAt(0);
    const f = await measured(nb, cell);
    assert.strictEqual(cell.executionSummary?.success, true, 'the real kernel ran the cell');
    assert.deepStrictEqual(f.kernelPids, [ready.kernel_pid], 'the IPython kernel process (a grandchild of the host), not the bridge');
    assert.deepStrictEqual(f.gpus.map((g) => g.gpu), [0]);
    assertNear(f.energyJ, GPU0_W * durationS(cell), 'real kernel cell');
  });
});

suite('notebooks: idle-GPU watchdog', function () {
  onlyIn('gpu');
  this.timeout(90_000);
  const children: number[] = [];
  teardown(async () => {
    for (const pid of children.splice(0)) if (pidAlive(pid)) process.kill(pid);
    await setSetting('watchdog.idleMinutes', undefined);
  });

  test('fires once for an idle process holding memory, never for a busy one; snooze holds it', async () => {
    const nb = await notebooks();
    const api = await joules();
    await waitFor('the wattmeter sampling', () => api.ambient.running, 15_000);
    await setSetting('watchdog.idleMinutes', 0.05); // 3 s
    const start = (script: string): number => {
      const child = spawn('python3', [fixture(script), '60'], { stdio: 'ignore' });
      children.push(child.pid!);
      return child.pid!;
    };
    const idle = start('idle_user.py');
    const snoozed = start('idle_user.py');
    nb.watchdog.snooze(snoozed);
    const busy = start('gpu_user.py');
    const alert = await waitFor('the idle alert', () => nb.watchdog.shown.find((s) => s.alert.pid === idle), 30_000);
    assert.strictEqual(alert.alert.gpu, 1);
    assert.ok(alert.alert.idleForMs >= 3000);
    assert.match(alert.message, /GPU 1 has been idle for .* while .*idle_user\.py.* \(PID \d+, python3?\) holds 1\.0 GiB of its memory: .* spent idle so far \(60 W\)/);
    assert.deepStrictEqual(alert.actions, ['Reveal', 'Interrupt', 'Stop Process…', 'Snooze 1 h']);
    // Several more seconds idle: no second alert, none for the busy or the snoozed process.
    await sleep(6000);
    const shown = nb.watchdog.shown.map((s) => s.alert.pid);
    assert.strictEqual(shown.filter((p) => p === idle).length, 1, 'once');
    assert.ok(!shown.includes(busy), 'a busy GPU is not idle');
    assert.ok(!shown.includes(snoozed), 'snoozed');
    // Interrupt sends SIGINT, as a kernel's interrupt does: the idle script stops.
    assert.ok(pidAlive(idle));
    await nb.watchdog.act('Interrupt', alert.alert, alert.info, undefined);
    await waitFor('the interrupted process to end', () => !pidAlive(idle), 10_000);
  });
});
