// The GPU Processes view in the real extension host (fake NVML, twoGpus.scn: any idle_user.py
// process holds GPU 1). A process Joules did not launch is listed, attached from the view (the
// bundled CLI in a terminal), detached, and still running; its measured stretch is in the history.
import * as assert from 'assert';
import { spawn } from 'child_process';
import type * as vscode from 'vscode';
import type { ProcessItem } from '../../../src/vscode/gpuProcessesView';
import { fixture, joules, onlyIn, pidAlive, sleep, waitFor } from './support';

suite('GPU processes view: attach and detach', function () {
  onlyIn('gpu');
  this.timeout(90_000);
  const children: number[] = [];
  suiteTeardown(() => {
    delete process.env.FAKE_NVML_EPOCH_S;
    for (const pid of children) if (pidAlive(pid)) process.kill(pid);
  });

  test('lists a process it did not launch, attaches to it, detaches, and leaves it running', async () => {
    const api = await joules();
    // Each listing is a CLI process of its own: with a shared epoch the fake library's counters
    // run on from one listing to the next, as a real driver's do.
    process.env.FAKE_NVML_EPOCH_S = String(Date.now() / 1000);
    const child = spawn('python3', [fixture('idle_user.py'), '60'], { stdio: 'ignore', detached: true });
    const pid = child.pid!;
    children.push(pid);
    const view = api.gpuProcesses;
    const item = await waitFor('the process listed under GPU 1', async () => {
      await view.refresh();
      const gpus = await view.getChildren();
      for (const g of gpus) {
        const procs = (await view.getChildren(g)) as vscode.TreeItem[];
        const mine = procs.find((p) => (p as ProcessItem).row?.pid === pid) as ProcessItem | undefined;
        if (mine) return mine;
      }
      return undefined;
    }, 20_000, 1000);
    assert.strictEqual(item.row.gpu, 1);
    assert.match(String(item.description ?? ''), /GiB|MiB/);
    // A later listing gives the energy of its GPU since it was first listed (GPU 1 idles at 60 W).
    await sleep(2000);
    await view.refresh();
    const again = ((await view.getChildren((await view.getChildren())[1])) as ProcessItem[]).find((p) => p.row.pid === pid);
    assert.match(String(again?.description ?? ''), /GPU 1: \d+(\.\d)? J in \d/);
    // 60 W, within the counter's 100 ms steps over about 2 s.
    assert.match(String(again?.tooltip ?? ''), /\((5[4-9]|6[0-6]) W\) in the .* since this view first listed the process/);
    const before = new Set((await api.runManager.list()).map((r) => r.id));
    await view.attach(item);
    assert.ok(view.isAttached(pid));
    // The editor's run, as for a launch: the wattmeter and the live figures count its GPU.
    await waitFor('the attached run counting GPU 1', () => api.runManager.current?.session.live().countedGpus.join() === '1', 15_000);
    await waitFor('the wattmeter on the attached run', () => /\b60 W\b/.test(api.statusBar.text), 15_000);
    await sleep(3000);
    await view.detach(item);
    const run = await waitFor('the attached run in the history', async () => (await api.runManager.list()).find((r) => !before.has(r.id) && r.attached?.pid === pid && r.status !== 'running'), 30_000, 500);
    assert.strictEqual(run.attached?.end, 'detached');
    assert.ok(run.durationS >= 2, `measured ${run.durationS} s`);
    assert.deepStrictEqual(run.gpus.filter((g) => g.attributed).map((g) => g.index), [1], 'only its GPU counts');
    // 60 W idle on GPU 1: the energy of the measured stretch.
    assert.ok(Math.abs(run.energyJ - 60 * run.durationS) <= 0.05 * 60 * run.durationS + 6, `${run.energyJ} J over ${run.durationS} s`);
    assert.ok(pidAlive(pid), 'detach leaves the process running');
    await waitFor('the view no longer attached', () => !view.isAttached(pid), 10_000);
  });
});
