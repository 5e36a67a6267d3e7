import * as vscode from 'vscode';
import { cellHoverLines, cellItemText } from '../../core/notebooks/cellMeter';
import { formatDuration, formatJoules } from '../../core/units/format';
import type { NotebookMonitor } from './notebookMonitor';

/**
 * Each executed cell's status bar: `$(zap) 3.2 kJ · 410 W · 87 %`, with per-GPU figures and how
 * they were counted in the hover. Registered for every notebook type ('*'), so it works with
 * whatever controller ran the cell.
 */
export class CellEnergyItems implements vscode.NotebookCellStatusBarItemProvider {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this.emitter.event;

  constructor(private readonly monitor: NotebookMonitor) {}

  /** The figures changed: the editor asks again for the visible cells. */
  refresh(): void {
    this.emitter.fire();
  }

  provideCellStatusBarItems(cell: vscode.NotebookCell): vscode.NotebookCellStatusBarItem[] {
    const r = this.monitor.result(cell);
    if (!r) return [];
    if (r.kind === 'unmeasured') {
      const item = new vscode.NotebookCellStatusBarItem('$(zap) not measured', vscode.NotebookCellStatusBarAlignment.Right);
      item.tooltip = `Joules: no GPU energy for this run of the cell: ${r.reason}.`;
      return [item];
    }
    const item = new vscode.NotebookCellStatusBarItem(`$(zap) ${cellItemText(r.cell)}`, vscode.NotebookCellStatusBarAlignment.Right);
    // Cell status items take plain text tooltips.
    item.tooltip = cellHoverLines(r.cell).join('\n');
    item.accessibilityInformation = { label: `GPU energy of this cell: ${cellItemText(r.cell).replace(/ · /g, ', ')}` };
    return [item];
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/**
 * The active notebook's session total in the status bar: energy of its measured cells, cells
 * measured, and the time its GPUs sat idle while the session ran (memory held, nothing computed).
 */
export class NotebookTotalItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('joules.notebookTotal', vscode.StatusBarAlignment.Left, 99);

  constructor(private readonly monitor: NotebookMonitor) {
    this.item.name = 'Joules notebook energy';
    this.item.command = 'joules.showPanel';
  }

  update(): void {
    const nb = vscode.window.activeNotebookEditor?.notebook;
    const t = nb ? this.monitor.totals(nb) : undefined;
    if (!t) {
      this.item.hide();
      return;
    }
    this.item.text = `$(notebook) ${formatJoules(t.energyJ)} · ${t.cells} cell${t.cells === 1 ? '' : 's'}${t.idleS >= 60 ? ` · idle ${formatDuration(t.idleS)}` : ''}`;
    this.item.tooltip = [
      `Joules: GPU energy of this notebook's measured cells: ${formatJoules(t.energyJ)} over ${t.cells} cell(s).`,
      `Its GPUs read idle (0 % utilization) for ${formatDuration(t.idleS)} since the notebook was opened.`,
      t.attribution === 'kernel' ? "Counted: the GPU(s) its kernel's processes used." : 'Counted: every GPU (no kernel process was found on a GPU yet).',
      'The session is kept in the run history when the notebook is closed.',
    ].join('\n');
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
