/** The history tab: past runs in a table; open one, or tick several and compare or export them. */
import type { ExportFormat, RunSummaryView } from '../src/core/protocol/panel';
import { ProtocolLimits } from '../src/core/protocol/panel';
import { jPerStepOf } from '../src/core/protocol/compare';
import { clear, h, td, th } from './dom';
import { formatDuration, formatSig, formatWattHours, formatWatts } from '../src/core/units/format';
import { formatDateTime } from './format';

export interface HistoryActions {
  open(runId: string): void;
  compare(runIds: string[]): void;
  exportRuns(runIds: string[], format: ExportFormat): void;
}

export class HistoryPanel {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly table: HTMLElement;
  private readonly compareButton: HTMLElement & { disabled: boolean };
  private readonly exportButtons: (HTMLElement & { disabled: boolean })[];
  private readonly selectionNote: HTMLElement;
  private runs: RunSummaryView[] = [];
  /** Ticked run ids, in the order the user ticked them: the first is the comparison's baseline. */
  private selected: string[] = [];

  constructor(private readonly actions: HistoryActions) {
    this.compareButton = h('vscode-button', { text: 'Compare selected', attrs: { id: 'compare-selected' } });
    this.compareButton.addEventListener('click', () => {
      if (this.selected.length >= 2) this.actions.compare([...this.selected]);
    });
    const csv = h('vscode-button', { text: 'Export CSV', attrs: { secondary: '', id: 'history-export-csv' } });
    const json = h('vscode-button', { text: 'Export JSON', attrs: { secondary: '', id: 'history-export-json' } });
    csv.addEventListener('click', () => this.exportSelected('csv'));
    json.addEventListener('click', () => this.exportSelected('json'));
    const codecarbon = h('vscode-button', { text: 'Export CodeCarbon CSV', attrs: { secondary: '', id: 'history-export-codecarbon' } });
    codecarbon.addEventListener('click', () => this.exportSelected('codecarbon-csv'));
    this.exportButtons = [csv, json, codecarbon];
    this.selectionNote = h('span', { class: 'selection-note', attrs: { 'aria-live': 'polite' } });
    this.body = h('tbody');
    this.table = h('table', { class: 'history-table' },
      h('caption', { class: 'sr-only', text: 'Past runs, newest first. Tick two or more to compare them; the first ticked is the baseline.' }),
      h('thead', {}, h('tr', {}, th('Select'), th('Run'), th('Started'), th('Status'), th('Duration'), th('Energy'), th('Avg power'), th('J/step'))),
      this.body);
    this.empty = h('p', { class: 'placeholder', text: 'No past runs yet.' });
    this.root = h('div', { class: 'history-panel' },
      h('div', { class: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'History actions' } }, this.compareButton, csv, json, codecarbon, this.selectionNote),
      this.empty, this.table);
    this.setHistory([]);
  }

  get selection(): readonly string[] {
    return this.selected;
  }

  get runIds(): string[] {
    return this.runs.map((r) => r.id);
  }

  setHistory(runs: RunSummaryView[]): void {
    this.runs = [...runs].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
    const known = new Set(this.runs.map((r) => r.id));
    this.selected = this.selected.filter((id) => known.has(id));
    this.renderRows();
  }

  /** Adds or replaces one run (a run that just ended). */
  upsert(run: RunSummaryView): void {
    this.setHistory([run, ...this.runs.filter((r) => r.id !== run.id)]);
  }

  private exportSelected(format: ExportFormat): void {
    if (this.selected.length > 0) this.actions.exportRuns([...this.selected], format);
  }

  private renderRows(): void {
    clear(this.body);
    this.empty.hidden = this.runs.length > 0;
    this.table.hidden = this.runs.length === 0;
    for (const r of this.runs) {
      const box = h('vscode-checkbox', { attrs: { 'data-run': r.id, 'aria-label': `Select ${r.name} for comparison` } });
      box.checked = this.selected.includes(r.id);
      box.addEventListener('change', () => {
        this.selected = box.checked ? [...this.selected.filter((id) => id !== r.id), r.id] : this.selected.filter((id) => id !== r.id);
        this.updateButtons();
      });
      const open = h('button', { class: 'link', text: r.name, attrs: { type: 'button', 'data-open': r.id, title: `Open ${r.name}` } });
      open.addEventListener('click', () => this.actions.open(r.id));
      const jps = jPerStepOf(r);
      this.body.append(h('tr', { attrs: { 'data-run': r.id } },
        h('td', {}, box),
        h('th', { attrs: { scope: 'row' } }, open),
        td(formatDateTime(r.startedAt)),
        td(r.status, `status status-${r.status}`),
        td(formatDuration(r.durationS), 'num'),
        td(formatWattHours(r.energyJ), 'num'),
        td(formatWatts(r.avgPowerW), 'num'),
        td(jps === undefined ? '—' : formatSig(jps), 'num')));
    }
    this.updateButtons();
  }

  private updateButtons(): void {
    const n = this.selected.length;
    this.compareButton.disabled = n < 2 || n > ProtocolLimits.compareRuns;
    for (const b of this.exportButtons) b.disabled = n === 0;
    this.selectionNote.textContent = n === 0 ? 'Tick runs to compare or export them.' : `${n} selected${n >= 2 ? `; baseline: ${this.runs.find((r) => r.id === this.selected[0])?.name ?? ''}` : ''}`;
  }
}
