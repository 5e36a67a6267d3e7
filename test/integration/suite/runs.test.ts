// Monitored runs in a real extension host against the fake NVML library (twoGpus.scn).
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { exportRuns } from '../../../src/vscode/historyActions';
import type { JoulesApi } from '../../../src/vscode/extension';
import { requestScreenshot, screenshotsSupported } from '../runner/screenshot';
import { fixture, joules, liveGroupMembers, onlyIn, pidAlive, setSetting, sleep, startRun, waitFor, workspaceDir } from './support';

suite('Joules: monitored runs (fake NVML, two GPUs)', function () {
  this.timeout(60_000);
  onlyIn('gpu');
  let api: JoulesApi;

  suiteSetup(async () => {
    api = await joules();
    // Quick escalation, so stopping a stubborn tree takes seconds, not the default 5 + 5.
    await setSetting('run.stopGraceSeconds', 1);
  });

  suiteTeardown(async () => {
    await setSetting('run.stopGraceSeconds', undefined);
    await setSetting('warnings.idleSeconds', undefined);
    await setSetting('history.maxRuns', undefined);
    await setSetting('history.directory', undefined);
  });

  teardown(async () => {
    // A failed test must not leave a run behind for the next one.
    if (api.runManager.current) await api.runManager.stop(undefined, true);
  });

  test('between runs the wattmeter shows all GPUs: 300 W + 60 W', async () => {
    await waitFor('the ambient wattmeter', () => api.statusBar.mode === 'ambient' && api.statusBar.text.includes('360 W'));
    assert.match(api.statusBar.text, /^\$\(pulse\) 360 W$/);
    assert.match(api.statusBar.tooltip, /NVIDIA H200 \\\(fake 0\\\)/);
    assert.match(api.statusBar.tooltip, /NVIDIA H200 \\\(fake 1\\\)/);
    assert.match(api.statusBar.tooltip, /1 of 2 GPUs idle/);
  });

  test('the run streams into its terminal with colours; exit code and summary appear at the end', async () => {
    const id = await startRun('python3', [fixture('hello.py'), '--exit', '3']);
    const terminal = await waitFor('the run terminal', () => vscode.window.terminals.find((t) => t.name === 'Joules: hello.py'));
    assert.ok(terminal);
    const summary = await api.runManager.waitForEnd(id);
    assert.ok(summary);
    assert.strictEqual(summary.exitCode, 3);
    assert.strictEqual(summary.status, 'failed');
    const transcript = api.runManager.finished[0]?.transcript ?? '';
    assert.ok(transcript.includes('\x1b[32mhello from joules\x1b[0m\r\n'), `colours and CRLF kept: ${JSON.stringify(transcript.slice(0, 200))}`);
    assert.ok(transcript.includes('to stderr'), 'stderr reaches the terminal too');
    assert.match(transcript, /hello\.py failed \(exit 3\) · [\d.]+ s · [\d,.]+ k?J \([\d.]+ Wh\) · \d+ W avg/);
    const notice = api.notifier.notices.find((n) => n.message.includes('hello.py failed (exit 3)'));
    assert.ok(notice, 'a notification with the one-line summary');
    assert.deepStrictEqual(notice.actions, ['Open Run', 'Re-run']);
  });

  test('during a run the wattmeter shows the run GPU (300 W) and its energy; the run is attributed to GPU 0', async () => {
    const id = await startRun('python3', [fixture('gpu_user.py'), '6']);
    // Until the run's process is seen on a GPU all GPUs count (360 W); then only GPU 0.
    await waitFor('300 W on the wattmeter', () => api.statusBar.mode === 'run' && /^\$\(zap\) 300 W · [\d,.]+ k?J$/.test(api.statusBar.text), 8000);
    // Batches arrive about once a second (the power ring is drained then): 2 s at 300 W is 600 J.
    const live = (): number => api.runManager.current?.session.live().energyJ ?? 0;
    const first = live();
    const startedMs = Date.now();
    const grown = await waitFor('the live energy to grow by ~300 J/s', () => (live() > first + 400 ? live() : undefined), 6000);
    const rateJPerS = (grown - first) / ((Date.now() - startedMs) / 1000);
    assert.ok(rateJPerS > 150 && rateJPerS < 700, `energy grows by ~300 J/s: ${first} -> ${grown} (${rateJPerS.toFixed(0)} J/s)`);
    const tooltip = api.statusBar.tooltip;
    assert.match(tooltip, /\| 0 NVIDIA H200 \\\(fake 0\\\) \| run \| 300 W \| 100 %/);
    assert.match(tooltip, /\| 1 NVIDIA H200 \\\(fake 1\\\) \| {2}\| 60 W \| 0 %/);
    assert.match(tooltip, /hardware energy counter/);
    assert.match(tooltip, /run time/);
    if (screenshotsSupported()) {
      // The Runs view (with the running run) beside the terminal, and the wattmeter below.
      await vscode.commands.executeCommand('joules.showHistory');
      await sleep(500);
      assert.ok(await requestScreenshot('statusbar-run'));
    }
    const summary = await api.runManager.waitForEnd(id);
    assert.ok(summary);
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.attribution, 'processes');
    assert.deepStrictEqual(
      summary.gpus.map((g) => g.attributed),
      [true, false],
    );
    const avg = summary.energyJ / summary.durationS;
    assert.ok(Math.abs(avg - 300) < 30, `run energy counts GPU 0 only: ${summary.energyJ.toFixed(0)} J over ${summary.durationS.toFixed(1)} s = ${avg.toFixed(0)} W`);
    // Back to the ambient reading once the run has ended.
    await waitFor('the ambient wattmeter after the run', () => api.statusBar.mode === 'ambient' && api.statusBar.text.includes('360 W'));
  });

  test('the wattmeter turns to the warning colour while the run GPU sits idle', async () => {
    await setSetting('warnings.idleSeconds', 1);
    const id = await startRun('python3', [fixture('idle_user.py'), '6']);
    await waitFor('the warning colour', () => api.statusBar.warning, 8000);
    assert.match(api.statusBar.text, /^\$\(warning\) \u2007?60 W/);
    assert.match(api.statusBar.tooltip, /GPU idle for/);
    if (screenshotsSupported()) assert.ok(await requestScreenshot('statusbar-warning'));
    await api.runManager.waitForEnd(id);
    assert.strictEqual(api.statusBar.warning, false);
    await setSetting('warnings.idleSeconds', undefined);
  });

  test('Ctrl-C typed in the run terminal stops the whole process tree', async () => {
    const pidFile = path.join(os.tmpdir(), `joules-it-tree-${process.pid}-${Date.now()}`);
    const id = await startRun('python3', [fixture('spawn_tree.py'), pidFile]);
    const pids = (await waitFor('the pid file', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim())).split(/\s+/).map(Number);
    assert.strictEqual(pids.length, 2);
    assert.ok(pids.every(pidAlive), 'parent and child run');
    const terminal = vscode.window.terminals.find((t) => t.name === 'Joules: spawn_tree.py');
    assert.ok(terminal, 'the run terminal');
    terminal.sendText('\x03', false);
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.status, 'stopped');
    await waitFor('both processes gone', () => pids.every((p) => !pidAlive(p)), 5000);
    assert.match(api.runManager.finished[0]?.transcript ?? '', /\^C\r\n.*stopping the run/);
    fs.rmSync(pidFile, { force: true });
  });

  test('Stop Run ends the whole process tree', async () => {
    const pidFile = path.join(os.tmpdir(), `joules-it-tree2-${process.pid}-${Date.now()}`);
    const id = await startRun('python3', [fixture('spawn_tree.py'), pidFile]);
    const pids = (await waitFor('the pid file', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim())).split(/\s+/).map(Number);
    await vscode.commands.executeCommand('joules.stopRun');
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.status, 'stopped');
    await waitFor('both processes gone', () => pids.every((p) => !pidAlive(p)), 5000);
    // No stray member of the run's process group either (zombies have exited already).
    assert.deepStrictEqual(liveGroupMembers(pids[0]!), [], `process group ${pids[0]} is empty`);
    fs.rmSync(pidFile, { force: true });
  });

  test('a second run while one is measured is refused with a message naming it', async () => {
    const id = await startRun('python3', [fixture('gpu_user.py'), '20']);
    const second = await vscode.commands.executeCommand<string | undefined>('joules.startRun', { command: 'python3', args: [fixture('hello.py')], cwd: workspaceDir() });
    assert.strictEqual(second, undefined);
    const notice = api.notifier.notices.at(-1);
    assert.strictEqual(notice?.level, 'warning');
    assert.match(notice.message, /already being measured \(gpu_user\.py\)/);
    await api.runManager.stop(id);
  });

  test('runs land in the store and in the Runs view, newest first, with status icons', async () => {
    const items = await api.runsTree.getChildren();
    const ids = new Set(api.runManager.finished.map((r) => r.id));
    assert.ok(items.length >= ids.size, `${items.length} items for ${ids.size} runs`);
    for (const id of ids) assert.ok(fs.existsSync(path.join(api.runManager.store.root, id, 'run.json')), `${id} stored`);
    const failed = items.find((i) => i.run.status === 'failed');
    assert.ok(failed, 'the failed hello.py run');
    assert.strictEqual((failed.iconPath as vscode.ThemeIcon).id, 'error');
    assert.strictEqual(failed.contextValue, 'joulesRun.failed');
    assert.match(String(failed.description), / · [\d.]+ s · [\d,.]+ k?J$/);
    const stopped = items.find((i) => i.run.status === 'stopped');
    assert.strictEqual((stopped?.iconPath as vscode.ThemeIcon | undefined)?.id, 'debug-stop');
    const started = items.map((i) => i.run.startedAt);
    assert.deepStrictEqual(started, [...started].sort().reverse(), 'newest first');
    await vscode.commands.executeCommand('joules.showHistory');
    if (screenshotsSupported()) assert.ok(await requestScreenshot('runs-view'));
  });

  test('Open Run and Compare go to the energy panel', async () => {
    const items = (await api.runsTree.getChildren()).filter((i) => i.run.status !== 'running');
    assert.ok(items.length >= 2);
    const errorsBefore = api.notifier.notices.filter((n) => n.level === 'error').length;
    await vscode.commands.executeCommand('joules.runs.open', items[0]);
    const panelOpen = (): boolean =>
      vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('joules.panel')));
    await waitFor('the energy panel tab', panelOpen);
    await vscode.commands.executeCommand('joules.runs.compare', items[0], [items[0], items[1]]);
    await vscode.commands.executeCommand('joules.showPanel');
    assert.ok(panelOpen());
    assert.deepStrictEqual(api.notifier.notices.filter((n) => n.level === 'error').slice(errorsBefore).map((n) => n.message), [], 'no error shown');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('a click on the status bar opens the panel, which receives samples while a run goes on', async () => {
    // Long enough that three batches (at most one a second) arrive on a loaded 2-core machine
    // after the panel has opened; the run is stopped as soon as they have.
    // The panel shows a comparison of old runs first: the click must bring it back to the live run.
    const old = (await api.runsTree.getChildren()).filter((i) => i.run.status !== 'running').slice(0, 2);
    assert.equal(old.length, 2);
    await vscode.commands.executeCommand('joules.runs.compare', old[0], old);
    await waitFor('the comparison in the panel', () => (api.panelSelection()?.length ?? 0) === 2);
    const id = await startRun('python3', [fixture('gpu_user.py'), '60']);
    await waitFor('the run to be measured', () => api.statusBar.mode === 'run');
    assert.match(api.statusBar.accessibilityLabel ?? '', /^Joules run: (\d+ watts|power not measured yet), [\d,.]+ k?J so far/, 'what a screen reader announces');
    await waitFor('the screen-reader label with the power', () => /^Joules run: 300 watts, /.test(api.statusBar.accessibilityLabel ?? ''));
    const click = api.statusBar.command ?? '';
    assert.equal(click, 'joules.showPanel');
    // What VS Code runs on a click: the item's command with its arguments.
    await vscode.commands.executeCommand(click, ...api.statusBar.commandArguments);
    await waitFor('the panel to exist', () => api.panelCounters() !== undefined);
    await waitFor('the panel back on the live run', () => api.panelSelection()?.length === 0);
    const before = api.panelCounters()!.samples;
    await waitFor('sample batches posted to the panel', () => api.panelCounters()!.samples >= before + 3, 30_000);
    await api.runManager.stop(id);
    await api.runManager.waitForEnd(id);
    assert.equal(api.panelCounters()!.rejected, 0, 'the webview accepted every message');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('export writes the runs as CSV and JSON', async () => {
    const id = api.runManager.finished.find((r) => r.summary.status === 'succeeded' && r.summary.name === 'gpu_user.py')?.id;
    assert.ok(id);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-export-'));
    await exportRuns(api.runManager.store, [id], 'csv', vscode.Uri.file(path.join(dir, 'run.csv')));
    const csv = fs.readFileSync(path.join(dir, 'run.csv'), 'utf8').split('\n');
    assert.match(csv[0] ?? '', /^run_id,run_name,t_s,gpu,power_w,/);
    assert.ok(csv.some((l) => l.startsWith(`${id},gpu_user.py,`) && l.includes(',300,')), 'samples at 300 W');
    await exportRuns(api.runManager.store, [id], 'json', vscode.Uri.file(path.join(dir, 'run.json')));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { format: string; runs: Array<{ summary: { id: string } }> };
    assert.strictEqual(json.format, 'joules-runs');
    assert.strictEqual(json.runs[0]?.summary.id, id);
    // CodeCarbon's emissions.csv: its header first, one row for the run, the region's country code.
    await exportRuns(api.runManager.store, [id], 'codecarbon-csv', vscode.Uri.file(path.join(dir, 'emissions.csv')), { region: 'DEU' });
    const cc = fs.readFileSync(path.join(dir, 'emissions.csv'), 'utf8').split('\n');
    assert.match(cc[0] ?? '', /^timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,/);
    assert.ok(cc[1]?.includes(`,${id},`) && cc[1].includes(',Germany,DEU,'), cc[1]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('Run Current File uses the workspace interpreter setting and the open file', async () => {
    const doc = await vscode.workspace.openTextDocument(fixture('hello.py'));
    await vscode.window.showTextDocument(doc);
    const id = await vscode.commands.executeCommand<string | undefined>('joules.runCurrentFile');
    assert.ok(id);
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.status, 'succeeded');
    const transcript = api.runManager.finished[0]?.transcript ?? '';
    assert.ok(transcript.includes('[python-wrapper]'), 'joules.python.path from .vscode/settings.json');
    assert.ok(transcript.includes('hello from joules'));
    assert.strictEqual(summary.cwd, workspaceDir());
  });

  test('the last launch is remembered; Re-run Last runs it again', async () => {
    const last = api.runManager.lastLaunch;
    assert.strictEqual(last?.kind, 'process');
    const id = await vscode.commands.executeCommand<string | undefined>('joules.rerunLast');
    assert.ok(id);
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.name, 'hello.py');
    assert.ok(api.runManager.finished[0]?.transcript.includes('[python-wrapper]'));
  });

  test('a joules task from tasks.json runs through the task system into its terminal', async () => {
    const tasks = await vscode.tasks.fetchTasks({ type: 'joules' });
    const task = tasks.find((t) => t.name === 'hello (tasks.json)');
    assert.ok(task, `tasks: ${tasks.map((t) => t.name).join(', ')}`);
    assert.ok(tasks.some((t) => t.name === 'gpu_user.py'), 'scripts of the folder are provided as tasks');
    const before = api.runManager.finished[0]?.id;
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.tasks.onDidEndTask((e) => {
        if (e.execution.task.name === task.name) {
          sub.dispose();
          resolve();
        }
      });
    });
    await vscode.tasks.executeTask(task);
    await ended;
    await waitFor('the task run recorded', () => api.runManager.finished[0]?.id !== before);
    const run = api.runManager.finished[0]!;
    assert.strictEqual(run.summary.name, 'hello-task');
    assert.strictEqual(run.summary.exitCode, 0);
    assert.ok(run.transcript.includes('args: --from-task'));
    assert.deepStrictEqual(run.summary.command, ['python3', 'hello.py', '--from-task'], 'split into argv, no shell');
  });

  test('a typed command line with a pipe runs through the shell', async () => {
    const id = await vscode.commands.executeCommand<string | undefined>('joules.startRun', { command: 'python3 hello.py | tr a-z A-Z', cwd: workspaceDir() });
    assert.ok(id);
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.exitCode, 0);
    assert.ok(api.runManager.finished[0]?.transcript.includes('HELLO FROM JOULES'));
  });

  test('retention keeps at most joules.history.maxRuns runs', async () => {
    await setSetting('history.maxRuns', 2);
    await waitFor('pruned to 2 runs', () => api.runManager.store.list().length <= 2);
    const newest = api.runManager.finished[0]?.id;
    assert.ok(api.runManager.store.list().some((r) => r.id === newest), 'the newest run is kept');
    await setSetting('history.maxRuns', undefined);
  });

  test('a run left running by a dead editor shows as interrupted (history folder switched)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-history-'));
    const id = '20250101-120000-crashed-run-abcd';
    fs.mkdirSync(path.join(dir, id));
    // A pid that certainly exited: a process that has already been waited for.
    const deadPid = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    const gpu = { index: 0, name: 'NVIDIA H200', uuid: 'GPU-x', powerSource: 'instant', energyMethod: 'counter', supported: {} };
    const record = {
      schema: 1, id, name: 'crashed.py', status: 'running', startedAt: '2025-01-01T12:00:00.000Z', durationS: 0, exitCode: null,
      command: ['python3', 'crashed.py'], cwd: dir, energyJ: 0, energyMethod: 'counter', avgPowerW: 0, peakPowerW: 0, gpus: [],
      attribution: 'all', sampleIntervalMs: 100, gpuInfo: [gpu], runGpus: [], monitorPid: deadPid, monitorHost: os.hostname(),
    };
    fs.writeFileSync(path.join(dir, id, 'run.json'), JSON.stringify(record));
    // Two samples 10 s apart; the counter moved 3000 J (300 W).
    const row = (tMs: number, energyMj: number): Array<number | null> => [tMs, 0, 300000, 100, null, null, null, null, null, null, null, null, energyMj];
    fs.writeFileSync(path.join(dir, id, 'samples.jsonl'), JSON.stringify({ s: [row(0, 0), row(10000, 3_000_000)] }) + '\n');
    try {
      await setSetting('history.directory', dir);
      // Recovery streams the run's samples after the folder switch: the view shows the record as it
      // is on disk first, then the recovered one.
      const item = await waitFor('the recovered run in the Runs view', async () =>
        (await api.runsTree.getChildren()).find((i) => i.run.id === id && i.run.status !== 'running'),
      );
      assert.strictEqual(item.run.status, 'interrupted');
      assert.strictEqual((item.iconPath as vscode.ThemeIcon).id, 'warning');
      assert.strictEqual(item.run.durationS, 10);
      assert.strictEqual(item.run.energyJ, 3000);
      const onDisk = JSON.parse(fs.readFileSync(path.join(dir, id, 'run.json'), 'utf8')) as { status: string };
      assert.strictEqual(onDisk.status, 'interrupted', 'the record itself is fixed');
    } finally {
      await setSetting('history.directory', undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
