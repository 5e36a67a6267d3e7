import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MeasuredCell } from '../../core/notebooks/cellFindings';
import { notebookFindings } from '../../core/notebooks/cellFindings';
import type { CellEnergy } from '../../core/notebooks/cellMeter';
import type { PythonParser } from '../../core/analysis/pythonParser';
import { loadPythonParser } from '../../core/analysis/pythonParser';
import type { FindingsDiagnostics } from '../findings/diagnostics';
import type { NotebookMonitor } from './notebookMonitor';

/**
 * Findings on notebook cells, through the same diagnostics, hovers and quick fixes as scripts:
 * static hints when a notebook is opened or saved, measured ones when a cell has run long enough
 * to judge (its telemetry findings on its first line, the source patterns of the whole notebook
 * supported by them on their own cells' lines).
 */
export class CellFindingsController implements vscode.Disposable {
  private parser: Promise<PythonParser> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Notebooks whose diagnostics come from a measured cell: a save does not replace them with static hints. */
  private readonly measured = new Set<string>();
  private pending: Promise<void> = Promise.resolve();

  constructor(
    monitor: NotebookMonitor,
    private readonly diagnostics: FindingsDiagnostics,
    private readonly wasmDir: string,
    private readonly log: Pick<vscode.LogOutputChannel, 'info' | 'warn'>,
  ) {
    const sub = monitor.onCellMeasured((cell, samples) => this.cellMeasured(cell, samples));
    this.disposables.push(
      { dispose: () => sub.dispose() },
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.showStatic(nb)),
      vscode.workspace.onDidSaveNotebookDocument((nb) => this.showStatic(nb)),
      vscode.workspace.onDidCloseNotebookDocument((nb) => {
        this.measured.delete(nb.uri.toString());
        this.diagnostics.show(this.shownRun(nb, 'closed'), []);
      }),
    );
    for (const nb of vscode.workspace.notebookDocuments) this.showStatic(nb);
  }

  /** Resolves when the findings asked for so far are shown (for the tests). */
  idle(): Promise<void> {
    return this.pending;
  }

  private loadParser(): Promise<PythonParser> {
    this.parser ??= loadPythonParser(this.wasmDir);
    return this.parser;
  }

  private shownRun(nb: vscode.NotebookDocument, what: string): { id: string; name: string; startedAt: string; scriptPath: string } {
    return { id: `notebook:${nb.uri.toString()}:${what}`, name: path.basename(nb.uri.fsPath), startedAt: new Date().toISOString(), scriptPath: `notebook:${nb.uri.toString()}` };
  }

  private codeCells(nb: vscode.NotebookDocument): Array<{ uri: string; text: string }> {
    return nb
      .getCells()
      .filter((c) => c.kind === vscode.NotebookCellKind.Code && c.document.languageId === 'python')
      .map((c) => ({ uri: c.document.uri.toString(), text: c.document.getText() }));
  }

  private showStatic(nb: vscode.NotebookDocument): void {
    if (this.measured.has(nb.uri.toString())) return;
    this.queue(async () => {
      const findings = notebookFindings(nb.uri.fsPath, this.codeCells(nb), await this.loadParser());
      if (!this.measured.has(nb.uri.toString())) this.diagnostics.show(this.shownRun(nb, 'static check'), findings);
    }, nb);
  }

  private cellMeasured(cell: CellEnergy, samples: MeasuredCell | undefined): void {
    if (!samples) return;
    const nb = vscode.workspace.notebookDocuments.find((n) => n.uri.toString() === cell.notebook);
    if (!nb) return;
    this.queue(async () => {
      const findings = notebookFindings(nb.uri.fsPath, this.codeCells(nb), await this.loadParser(), samples);
      this.measured.add(nb.uri.toString());
      this.diagnostics.show(this.shownRun(nb, `cell ${cell.executionOrder ?? cell.cellIndex + 1}`), findings);
    }, nb);
  }

  private queue(job: () => Promise<void>, nb: vscode.NotebookDocument): void {
    this.pending = this.pending.then(job).catch((e: unknown) => this.log.warn(`findings of ${nb.uri.fsPath}: ${e instanceof Error ? e.message : String(e)}`));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
