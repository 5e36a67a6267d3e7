// Findings in the editor after a real monitored run: a data-starved GPU (fixtures/scenarios/starved.scn)
// and a training script whose DataLoader has no workers (fixtures/workspace/findings_train.py). The run
// uses a copy of the script in a temp folder: applying a quick fix may save the file it edits
// (files.refactoring.autoSave), and the fixture must stay as it is.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { hasSyntaxErrors, loadPythonParser } from '../../../src/core/analysis/pythonParser';
import type { JoulesApi } from '../../../src/vscode/extension';
import { requestScreenshot, screenshotsSupported } from '../runner/screenshot';
import { EXTENSION_ID, fixture, joules, onlyIn, sleep, startWithScenario, waitFor, workspaceDir } from './support';

const SCRIPT = 'findings_train.py';

/** The fixture line that starts with `prefix` (0-based). */
function lineOf(doc: vscode.TextDocument, prefix: string): number {
  for (let i = 0; i < doc.lineCount; i++) if (doc.lineAt(i).text.trim().startsWith(prefix)) return i;
  throw new Error(`no line starting with ${prefix} in ${doc.uri.fsPath}`);
}

function joulesDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Joules');
}

function codeOf(d: vscode.Diagnostic): string | undefined {
  return typeof d.code === 'object' ? String(d.code.value) : d.code === undefined ? undefined : String(d.code);
}

suite('Joules: findings in the editor (fake NVML, starved GPU)', function () {
  this.timeout(90_000);
  onlyIn('gpu');
  let api: JoulesApi;
  let dir: string;
  let script: string;
  let doc: vscode.TextDocument;
  let loaderDiagnostic: vscode.Diagnostic;

  suiteSetup(async () => {
    api = await joules();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-it-findings-'));
    script = path.join(dir, SCRIPT);
    fs.copyFileSync(fixture(SCRIPT), script);
    doc = await vscode.workspace.openTextDocument(script);
    await vscode.window.showTextDocument(doc, { preview: false });
  });

  suiteTeardown(async () => {
    if (doc?.isDirty) {
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.files.revert');
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('workbench.action.closePanel');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  teardown(async () => {
    if (api.runManager.current) await api.runManager.stop(undefined, true);
  });

  test('before any run, the opened script shows its static hints, labelled as such', async () => {
    const hint = await waitFor('a static dataloader-workers hint on open', () => joulesDiagnostics(doc.uri).find((d) => codeOf(d) === 'dataloader-workers'), 20_000);
    assert.strictEqual(hint.range.start.line, lineOf(doc, 'loader = DataLoader('));
    assert.strictEqual(hint.severity, vscode.DiagnosticSeverity.Information);
    assert.match(hint.message, /\(static hint: no telemetry evidence\)\. \(static check, no run measured\)$/);
  });

  test('after a starved run the DataLoader line has a Warning with the measured numbers, the run, and a README link', async () => {
    const scenario = path.resolve(workspaceDir(), '..', 'scenarios', 'starved.scn');
    const id = await startWithScenario(scenario, 'python3', [script, '7']);
    const summary = await api.runManager.waitForEnd(id);
    assert.ok(summary, 'the run ended');
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.scriptPath, script);
    assert.strictEqual(summary.attribution, 'processes', 'the scenario puts findings_train.py on the GPU');

    const loaderLine = lineOf(doc, 'loader = DataLoader(');
    loaderDiagnostic = await waitFor(
      'the dataloader-workers diagnostic (is registerFindings wired into extension.ts?)',
      // The static hint shown on open has the same code: wait for the measured one.
      () => joulesDiagnostics(doc.uri).find((d) => codeOf(d) === 'dataloader-workers' && /while GPU/.test(d.message)),
      20_000,
    );
    assert.strictEqual(loaderDiagnostic.range.start.line, loaderLine);
    assert.strictEqual(doc.getText(loaderDiagnostic.range), 'DataLoader');
    assert.strictEqual(loaderDiagnostic.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(loaderDiagnostic.message, /^DataLoader without num_workers .* while GPU 0 was starved \d+ % of the run \([\d.]+ s, [\d,.]+ k?J, [\d,.]+ k?J wasted\)/);
    assert.match(loaderDiagnostic.message, /\(run findings_train\.py at \d\d:\d\d:\d\d\)$/);
    const code = loaderDiagnostic.code;
    assert.ok(typeof code === 'object', 'the code links to its README section');
    assert.strictEqual(code.target.fragment, 'finding-dataloader-workers');
    // The README the extension folder holds (README.md from the sources, readme.md in a VSIX).
    assert.ok(/\/readme\.md$/i.test(code.target.path) && fs.existsSync(code.target.fsPath), code.target.toString());
    const related = (loaderDiagnostic.relatedInformation ?? []).map((r) => r.message);
    assert.ok(
      related.some((m) => /^Measured: GPU 0, [\d.]+-[\d.]+ s: util [\d.]+ %, 2\d\d W, /.test(m)),
      `the starved spans (about 230 W) as related information: ${related.join(' / ')}`,
    );
    assert.ok(related.some((m) => m.startsWith('Wasted ')), 'and the wasted energy with its method');

    // The other lines of the loop: the per-step .item() is measured too; the batch size is only a hint.
    const all = joulesDiagnostics(doc.uri);
    const sync = all.find((d) => codeOf(d) === 'host-sync-in-loop');
    assert.strictEqual(sync?.range.start.line, lineOf(doc, 'print(f"epoch'));
    assert.strictEqual(sync.severity, vscode.DiagnosticSeverity.Warning);
    const small = all.find((d) => codeOf(d) === 'small-batch');
    assert.strictEqual(small?.range.start.line, loaderLine);
    assert.strictEqual(small.severity, vscode.DiagnosticSeverity.Hint);
    if (screenshotsSupported()) {
      // The squiggles, and the Problems view with the measured spans under each finding.
      const editor = await vscode.window.showTextDocument(doc);
      editor.revealRange(loaderDiagnostic.range, vscode.TextEditorRevealType.InCenter);
      await vscode.commands.executeCommand('workbench.actions.view.problems');
      await sleep(800);
      assert.ok(await requestScreenshot('findings-problems'));
    }
  });

  test('hovering the line shows the table of spans and how the waste was computed', async () => {
    assert.ok(loaderDiagnostic, 'needs the previous test');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, loaderDiagnostic.range.start);
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\*\*Joules: DataLoader without worker processes\*\* \(warning, run findings\\_train\.py at /);
    assert.match(text, /\| GPU 0 span \| duration \| avg util \| avg power \| energy \|/);
    assert.match(text, /\| wasted \| \*\*[\d,.]+ k?J\*\* \|/);
    // The source line refers to the starved finding: its waste is that finding's, counted there once.
    assert.match(text, /Wasted energy: The waste of the telemetry findings it explains \(gpu-starved/);
    if (screenshotsSupported()) {
      // On the line but off the diagnostic's range: the hover shows the table, not the message again.
      await vscode.commands.executeCommand('workbench.action.closePanel');
      const editor = await vscode.window.showTextDocument(doc);
      const at = new vscode.Position(loaderDiagnostic.range.start.line, doc.lineAt(loaderDiagnostic.range.start.line).firstNonWhitespaceCharacterIndex + 2);
      editor.selection = new vscode.Selection(at, at);
      editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      await vscode.commands.executeCommand('editor.action.showHover');
      await sleep(1500);
      assert.ok(await requestScreenshot('findings-hover'));
    }
  });

  test('the preferred quick fix sets num_workers, keeps the file valid Python, and clears the edited line\'s stale diagnostics', async () => {
    assert.ok(loaderDiagnostic, 'needs the first test');
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, loaderDiagnostic.range, vscode.CodeActionKind.QuickFix.value);
    // The API hands back titles, edits and isPreferred (not the diagnostics): one action per distinct fix.
    const titles = actions.map((a) => a.title);
    assert.strictEqual(new Set(titles).size, titles.length, `no duplicate fixes: ${titles.join(', ')}`);
    // The loader is read every epoch: workers are kept (persistent) and prefetch ahead.
    assert.ok(titles.some((t) => /^Set num_workers=\d+, pin_memory=True, persistent_workers=True, prefetch_factor=4$/.test(t)), titles.join(', '));
    const preferred = actions.filter((a) => a.isPreferred);
    assert.strictEqual(preferred.length, 1, 'exactly one preferred fix');
    assert.match(preferred[0]!.title, /^Set num_workers=\d+, persistent_workers=True, prefetch_factor=4$/);
    assert.ok(preferred[0]!.edit, 'the fix carries its edit');
    if (screenshotsSupported()) {
      const editor = await vscode.window.showTextDocument(doc);
      editor.selection = new vscode.Selection(loaderDiagnostic.range.start, loaderDiagnostic.range.start);
      await vscode.commands.executeCommand('editor.action.quickFix');
      await sleep(1500);
      assert.ok(await requestScreenshot('findings-quickfix'));
      await vscode.commands.executeCommand('hideCodeActionWidget');
    }

    assert.ok(await vscode.workspace.applyEdit(preferred[0]!.edit));
    const line = doc.lineAt(loaderDiagnostic.range.start.line).text;
    assert.match(line, /^ {4}loader = DataLoader\(ds, batch_size=32, num_workers=\d+, persistent_workers=True, prefetch_factor=4\)$/);
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const parser = await loadPythonParser(path.join(ext.extensionPath, 'dist', 'wasm'));
    assert.strictEqual(hasSyntaxErrors(parser.parse(doc.getText())), false, 'the fixed file parses');
    // The numbers of the edited line described the text that ran: its findings go until the next run;
    // the file's other findings stay, on their own lines (one fix no longer clears them all).
    await waitFor('the fixed line\'s diagnostics to go', () => !joulesDiagnostics(doc.uri).some((d) => d.range.start.line === loaderDiagnostic.range.start.line), 5000);
    const sync = joulesDiagnostics(doc.uri).find((d) => codeOf(d) === 'host-sync-in-loop');
    assert.strictEqual(sync?.range.start.line, lineOf(doc, 'print(f"epoch'), 'the other finding stays on its line');
  });
});
