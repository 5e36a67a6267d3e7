// Joules as a user gets it: the VSIX built by `npm run package`, installed with code-server's
// --install-extension (runAll.mjs --mode vsix; the fake NVML library plays twoGpus.scn). Every
// surface must tell the same truth here, not only from the source folder.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { JoulesApi } from '../../../src/vscode/extension';
import type { RunSummary } from '../../../src/core/runs/types';
import { formatJoules } from '../../../src/core/units/format';
import { requestPanelState } from '../runner/panelState';
import { requestScreenshot } from '../runner/screenshot';
import { openNotebook, runCells, TestKernel } from '../suite/notebookController';
import { EXTENSION_ID, sleep, startWithScenario, waitFor } from '../suite/support';

/** The part of the webview's `__joulesPanelState` these tests read. */
interface PanelState {
  missing?: boolean;
  shownRunId?: string;
  seq: number;
  batchesSkipped: { duplicate: number; gap: number };
  samplesPerGpu: Record<string, number>;
  figures?: { source: string; durationS: number; energyJ: number; avgPowerW: number };
  cards: Array<{ key: string; value: string; detail: string }>;
  charts: Record<string, Array<{ last?: { x: number; y: number } }>>;
  bands: Array<{ kind: string; label: string }>;
}

/** The panel's state, or undefined while no frame of the page has one (the webview still loading). */
async function panelState(): Promise<PanelState | undefined> {
  const s = await requestPanelState<PanelState & { frames?: string[] }>();
  assert.ok(s, 'the runner answers panel-state requests');
  if (s.missing) {
    console.log(`panel state: not found yet in ${JSON.stringify(s.frames)}`);
    return undefined;
  }
  return s;
}

suite('Joules smoke: the installed VSIX', function () {
  this.timeout(120_000);
  let api: JoulesApi;
  let ext: vscode.Extension<JoulesApi>;
  const workspace = (): string => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';

  suiteSetup(async () => {
    const found = vscode.extensions.getExtension<JoulesApi>(EXTENSION_ID);
    assert.ok(found, `${EXTENSION_ID} is installed`);
    ext = found;
    // Installed, not loaded from the source folder: the extensions folder holds the unpacked VSIX.
    assert.ok(!fs.existsSync(path.join(ext.extensionPath, 'src')), `loaded from ${ext.extensionPath}, which has sources`);
    assert.ok(fs.existsSync(path.join(ext.extensionPath, '.vsixmanifest')), `no .vsixmanifest in ${ext.extensionPath}`);
    api = await ext.activate();
    await api.ready;
  });

  teardown(async () => {
    if (api.runManager.current) await api.runManager.stop(undefined, true);
  });

  test('the demo, with the panel opened mid-run: charts reach the end, cards equal `joules demo --json`', async () => {
    const id = await vscode.commands.executeCommand<string | undefined>('joules.replayDemo', { speed: 2 });
    assert.ok(id, 'the demo started');
    await waitFor('the demo a few seconds in', () => (api.runManager.current?.session.live().elapsedS ?? 0) > 6, 20_000);
    await vscode.commands.executeCommand('joules.showPanel');
    const during = await waitFor('the panel showing the demo', async () => {
      const s = await panelState();
      return s?.shownRunId === id && s.seq > 0 ? s : undefined;
    }, 20_000, 500);
    assert.strictEqual(during.figures?.source, 'live');
    const summary = await api.runManager.waitForEnd(id);
    assert.ok(summary, 'the demo ended');
    // The page draws on animation frames: the state can hold the new figures a frame before the
    // cards show them, so wait until the cards have caught up (a card that never does fails here).
    const after = await waitFor('the final figures in the panel and its cards', async () => {
      const s = await panelState();
      const shown = s?.cards.find((c) => c.key === 'energy')?.detail;
      return s?.figures?.source === 'host' && shown === formatJoules(s.figures.energyJ) ? s : undefined;
    }, 10_000, 500);
    // Every batch after the snapshot arrived: the charts reach the end of the run.
    assert.strictEqual(after.batchesSkipped.gap, 0);
    const lastX = after.charts.power?.[0]?.last?.x ?? 0;
    assert.ok(lastX >= summary.durationS - 1, `power chart ends at ${lastX} s of ${summary.durationS} s`);
    // The same figures as the CLI's replay of the same trace, shipped in the package.
    const cli = JSON.parse(execFileSync(process.execPath, [path.join(ext.extensionPath, 'dist', 'cli.js'), 'demo', '--json'], { encoding: 'utf8', env: { ...process.env, JOULES_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'joules-smoke-cli-')) } })) as RunSummary;
    const card = (k: string): { value: string; detail: string } | undefined => after.cards.find((c) => c.key === k);
    console.log(`demo energy: panel ${after.figures?.energyJ} J, run summary ${summary.energyJ} J, CLI ${cli.energyJ} J`);
    // One truth: the panel shows the run's own summary, and the replay gives the CLI's figure.
    assert.ok(Math.abs((after.figures?.energyJ ?? 0) - summary.energyJ) < 0.001, `panel ${after.figures?.energyJ} J, run summary ${summary.energyJ} J`);
    assert.strictEqual(card('energy')?.detail, formatJoules(after.figures?.energyJ ?? NaN));
    assert.ok(Math.abs(summary.energyJ - cli.energyJ) <= cli.energyJ * 0.001, `run summary ${summary.energyJ} J, CLI ${cli.energyJ} J`);
    // The findings came with the run's end: drawn as bands, and the waste counted once.
    assert.ok(after.bands.some((b) => b.kind === 'finding'), 'finding bands on the charts');
    assert.ok(cli.wastedJ !== undefined && summary.wastedJ !== undefined && Math.abs(summary.wastedJ - cli.wastedJ) <= cli.wastedJ * 0.05 + 1, `waste ${summary.wastedJ} vs CLI ${cli.wastedJ}`);
    // README's panel screenshot: the installed extension, the editor area only (no title bar).
    await vscode.commands.executeCommand('workbench.action.closeSidebar');
    await vscode.commands.executeCommand('workbench.action.closePanel');
    await sleep(1500);
    await requestScreenshot('panel-demo', 15_000, 'below-title');
  });

  test('a starved run puts its findings on the script; the link of its diagnostic opens the README inside the installed package', async () => {
    const script = path.join(workspace(), 'findings_train.py');
    const doc = await vscode.workspace.openTextDocument(script);
    await vscode.window.showTextDocument(doc, { preview: false });
    const id = await startWithScenario(path.resolve(workspace(), '..', 'scenarios', 'starved.scn'), 'python3', [script, '7']);
    const summary = await api.runManager.waitForEnd(id);
    assert.strictEqual(summary?.status, 'succeeded');
    const diagnostic = await waitFor('the measured dataloader-workers diagnostic', () =>
      vscode.languages.getDiagnostics(doc.uri).find((d) => d.source === 'Joules' && typeof d.code === 'object' && d.code.value === 'dataloader-workers' && /while GPU/.test(d.message)), 20_000);
    assert.strictEqual(diagnostic.severity, vscode.DiagnosticSeverity.Warning);
    // What the Problems view opens when the diagnostic's code is clicked: its target, in the package.
    const target = typeof diagnostic.code === 'object' ? diagnostic.code.target : undefined;
    assert.ok(target, 'the code links to its README section');
    assert.ok(target.fsPath.startsWith(ext.extensionPath), `${target.fsPath} is inside ${ext.extensionPath}`);
    assert.ok(fs.existsSync(target.fsPath), `${target.fsPath} exists in the package`);
    assert.strictEqual(target.fragment, 'finding-dataloader-workers');
    // README screenshot: the squiggles and the Problems view with the measured spans under each finding.
    const editor = await vscode.window.showTextDocument(doc);
    editor.revealRange(diagnostic.range, vscode.TextEditorRevealType.InCenter);
    await vscode.commands.executeCommand('workbench.actions.view.problems');
    await sleep(1500);
    await requestScreenshot('findings', 15_000, 'below-title');
    await vscode.commands.executeCommand('vscode.open', target);
    const readme = await waitFor('the README open', () => vscode.window.visibleTextEditors.find((e) => e.document.uri.fsPath === target.fsPath), 10_000);
    assert.ok(readme.document.getText().includes('<a id="finding-dataloader-workers"></a>'), 'the section the link names');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('workbench.action.closePanel');
  });

  test("a notebook's cells show their GPU energy from the installed package", async () => {
    const nb = await waitFor('notebook support', () => api.notebooks(), 15_000);
    const dir = path.join(workspace(), 'notebooks-smoke');
    fs.mkdirSync(dir, { recursive: true });
    const kernel = new TestKernel('joules-smoke-kernel', 'python3', [path.join(workspace(), 'gpu_kernel.py')], dir);
    try {
      const editor = await openNotebook(path.join(dir, 'train.ipynb'), [
        'import time\n# one epoch on GPU 0\ntime.sleep(2.0)\nprint("epoch done")',
        'time.sleep(0.5)\nprint("evaluated")',
      ]);
      // The tests' host is the fixture extension: the controller is its own.
      await kernel.select(editor, 'joules-test.hello-ext');
      await waitFor("the kernel's GPU", () => nb.monitor.totals(editor.notebook)?.attribution === 'kernel', 20_000);
      await runCells(editor, 0, 2);
      for (const cell of editor.notebook.getCells()) {
        const r = await waitFor(`cell ${cell.index} measured`, () => nb.monitor.result(cell), 15_000);
        assert.strictEqual(r.kind, 'measured', JSON.stringify(r));
        const t = cell.executionSummary?.timing;
        assert.ok(t && r.kind === 'measured');
        const expected = 300 * ((t.endTime - t.startTime) / 1000);
        assert.ok(Math.abs(r.cell.energyJ - expected) <= 0.03 * expected + 0.5, `cell ${cell.index}: ${r.cell.energyJ} J, expected ${expected} J`);
      }
      // Each execution counts once, however often the notebook reports it (outputs, save).
      await editor.notebook.save();
      await sleep(1500);
      const total = nb.monitor.totals(editor.notebook);
      const sum = editor.notebook.getCells().reduce((a, c) => a + ((r) => (r?.kind === 'measured' ? r.cell.energyJ : 0))(nb.monitor.result(c)), 0);
      assert.strictEqual(total?.cells, 2);
      assert.ok(Math.abs(total.energyJ - sum) < 1e-6, `total ${total.energyJ} J, cells ${sum} J`);
      // README screenshot: the cells' status bars with their energy, the notebook's total below.
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
      await vscode.commands.executeCommand('workbench.action.closePanel');
      await sleep(1500);
      await requestScreenshot('notebook-cells', 15_000, 'below-title');
      await editor.notebook.save();
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    } finally {
      kernel.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('two GPUs, the run uses one: the panel and the status bar show the same live energy', async () => {
    const id = await vscode.commands.executeCommand<string | undefined>('joules.startRun', { command: 'python3', args: [path.join(workspace(), 'gpu_user.py'), '12'], cwd: workspace() });
    assert.ok(id, 'the run started');
    await waitFor('GPU 0 attributed', () => api.runManager.current?.session.live().countedGpus.join() === '0', 10_000);
    await vscode.commands.executeCommand('joules.showPanel', { live: true });
    await sleep(3000);
    const state = await waitFor('the panel on the live run', async () => {
      const s = await panelState();
      if (s && !(s.shownRunId === id && s.figures?.source === 'live')) console.log(`panel state: showing ${s.shownRunId} (${s.figures?.source}), waiting for ${id}`);
      return s?.shownRunId === id && s.figures?.source === 'live' ? s : undefined;
    }, 15_000, 500);
    const statusJ = parseEnergy(api.statusBar.text);
    const live = api.runManager.current?.session.live();
    assert.ok(live, 'still running');
    // GPU 0 draws 300 W, GPU 1 idles at 60 W: counting both would give 360 W.
    assert.ok(Math.abs((state.figures?.avgPowerW ?? 0) - 300) < 15, `panel average ${state.figures?.avgPowerW} W`);
    // Read a moment apart: at most a couple of batches (300 W x 1.5 s) and the status bar's rounding.
    assert.ok(Math.abs((state.figures?.energyJ ?? 0) - statusJ) < 450 + 60, `panel ${state.figures?.energyJ} J, status bar ${api.statusBar.text}`);
    assert.ok(Math.abs((state.figures?.energyJ ?? 0) - live.energyJ) < 450, `panel ${state.figures?.energyJ} J, live model ${live.energyJ} J`);
    await requestScreenshot('statusbar', 15_000, 'statusbar');
    await api.runManager.stop(undefined, true);
  });
});

/** "$(zap) 300 W · 2,345 J" or "... · 12.3 kJ" -> joules. */
function parseEnergy(text: string): number {
  const m = /·\s*([\d,.]+)\s*(k?J|kWh)\s*$/.exec(text);
  assert.ok(m?.[1] && m[2], `no energy in the status bar text ${JSON.stringify(text)}`);
  const v = Number(m[1].replace(/,/g, ''));
  return m[2] === 'kJ' ? v * 1000 : m[2] === 'kWh' ? v * 3.6e6 : v;
}
