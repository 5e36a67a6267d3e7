// Restricted Mode (the runner's --restricted): nothing the workspace defines starts a run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as vscode from 'vscode';
import type { JoulesApi } from '../../../src/vscode/extension';
import { fixture, joules, onlyIn, startRun, waitFor, workspaceDir } from './support';

suite('Joules: Restricted Mode', function () {
  this.timeout(60_000);
  onlyIn('restricted');
  let api: JoulesApi;

  suiteSetup(async () => {
    api = await joules();
  });

  test('the folder is untrusted and the workspace interpreter setting is ignored', () => {
    assert.strictEqual(vscode.workspace.isTrusted, false);
    const settings = fs.readFileSync(fixture('.vscode/settings.json'), 'utf8');
    assert.ok(settings.includes('"joules.python.path": "tools/python-wrapper.sh"'), 'the workspace sets an interpreter');
    assert.strictEqual(api.config.pythonPath, undefined);
  });

  test('a joules task does not run: its terminal says why and ends with exit code 1', async () => {
    const pty = api.tasks.createTaskTerminal({ type: 'joules', command: 'python3 hello.py' }, workspaceDir());
    let text = '';
    pty.onDidWrite((t) => (text += t));
    const closed = new Promise<number | void>((resolve) => pty.onDidClose(resolve));
    const finishedBefore = api.runManager.finished.length;
    pty.open();
    assert.strictEqual(await closed, 1);
    assert.match(text, /Restricted Mode/);
    assert.strictEqual(api.runManager.current, undefined);
    assert.strictEqual(api.runManager.finished.length, finishedBefore, 'no run started');
  });

  test('no joules task is provided, and a workspace-origin launch is refused', async () => {
    const provided = await api.tasks.provideTasks(new vscode.CancellationTokenSource().token);
    assert.deepStrictEqual(provided, []);
    await assert.rejects(
      api.runManager.start({ kind: 'process', origin: 'workspace', label: 'x', spec: { command: 'python3', args: [fixture('hello.py')], cwd: workspaceDir() } }),
      (e: Error) => e.name === 'RestrictedModeError' && /Restricted Mode/.test(e.message),
    );
  });

  test('a run the user starts still works, with the default interpreter', async () => {
    const doc = await vscode.workspace.openTextDocument(fixture('hello.py'));
    await vscode.window.showTextDocument(doc);
    const id = await vscode.commands.executeCommand<string | undefined>('joules.runCurrentFile');
    assert.ok(id);
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.status, 'succeeded');
    const transcript = api.runManager.finished[0]?.transcript ?? '';
    assert.ok(transcript.includes('hello from joules'));
    assert.ok(!transcript.includes('[python-wrapper]'), 'the workspace interpreter was not used');
    assert.strictEqual(summary.command[0], 'python3');
    const typed = await startRun('python3', [fixture('hello.py')]);
    assert.strictEqual((await api.runManager.waitForEnd(typed))?.exitCode, 0);
    await waitFor('the ambient wattmeter', () => api.statusBar.mode === 'ambient');
  });
});
