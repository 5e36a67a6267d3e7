// No NVML (JOULES_NVML_LIBRARY names a missing file): said once, runs refused clearly, demo works.
import * as assert from 'assert';
import * as fs from 'fs';
import * as vscode from 'vscode';
import type { JoulesApi } from '../../../src/vscode/extension';
import { requestScreenshot, screenshotsSupported } from '../runner/screenshot';
import { fixture, joules, onlyIn, waitFor, workspaceDir } from './support';

suite('Joules: no GPU / no NVML', function () {
  this.timeout(60_000);
  onlyIn('noGpu');
  let api: JoulesApi;

  suiteSetup(async () => {
    api = await joules();
  });

  test('the status bar says No GPU, with the reason and the demo in the tooltip', async () => {
    await waitFor('No GPU in the status bar', () => api.statusBar.mode === 'noGpu');
    assert.strictEqual(api.statusBar.text, '$(circle-slash) No GPU');
    assert.match(api.statusBar.tooltip, /NVML could not be loaded/);
    assert.match(api.statusBar.tooltip, /\(command:joules\.replayDemo\)/);
    if (screenshotsSupported()) assert.ok(await requestScreenshot('statusbar-no-gpu'));
  });

  test('one notification at most, offering the demo', () => {
    const notices = api.notifier.notices.filter((n) => n.message.includes('found no NVIDIA GPU'));
    assert.strictEqual(notices.length, 1);
    assert.deepStrictEqual(notices[0]?.actions, ['Replay Demo Run', "Don't Show Again"]);
  });

  test('Start Run gives a clear error and starts nothing', async () => {
    const marker = fixture('.started-without-gpu');
    fs.rmSync(marker, { force: true });
    const before = api.runManager.store.list().length;
    const id = await vscode.commands.executeCommand<string | undefined>('joules.startRun', {
      command: 'python3',
      args: ['-c', `open(${JSON.stringify(marker)}, 'w').write('ran')`],
      cwd: workspaceDir(),
    });
    assert.strictEqual(id, undefined);
    const error = api.notifier.notices.at(-1);
    assert.strictEqual(error?.level, 'error');
    assert.match(error.message, /no NVIDIA GPU to measure: NVML could not be loaded/);
    assert.deepStrictEqual(error.actions, ['Replay Demo Run']);
    assert.ok(!fs.existsSync(marker), 'the command did not run');
    assert.strictEqual(api.runManager.store.list().length, before, 'nothing stored');
    assert.strictEqual(api.statusBar.mode, 'noGpu');
    // Still one notification: the error already offered the demo.
    assert.strictEqual(api.notifier.notices.filter((n) => n.message.includes('found no NVIDIA GPU')).length, 1);
  });

  test('the demo replays a recorded H200 run through the same pipeline', async () => {
    const id = await vscode.commands.executeCommand<string | undefined>('joules.replayDemo', { speed: 15 });
    assert.ok(id);
    await waitFor('the wattmeter showing the replay', () => api.statusBar.mode === 'run' && /W · /.test(api.statusBar.text));
    const summary = await api.runManager.waitForEnd(id);
    assert.ok(summary);
    assert.strictEqual(summary.replay, true);
    assert.strictEqual(summary.status, 'succeeded');
    assert.ok(Math.abs(summary.energyJ - 9615) < 9615 * 0.01, `recorded energy 9615 J, got ${summary.energyJ}`);
    assert.ok((await api.runsTree.getChildren()).some((i) => i.run.id === id && i.contextValue === 'joulesRun.succeeded.replay'));
    await waitFor('No GPU again after the replay', () => api.statusBar.mode === 'noGpu');
  });
});
