/**
 * The compare tab: total power and cumulative energy of two or more runs overlaid (by time, or by
 * training step when every run recorded steps), and a table of deltas against the first run, so a
 * user can check whether a change saved energy.
 */
import type { ExportFormat } from '../src/core/protocol/panel';
import { alignByStep, compareRuns, distinctRunLabels } from '../src/core/protocol/compare';
import type { CompareRow } from '../src/core/protocol/compare';
import { decimateMinMaxColumns } from '../src/core/protocol/decimate';
import { LineChart } from './charts';
import type { SeriesSpec } from './charts';
import { clear, h, td, th } from './dom';
import { formatClock, formatDuration, formatInt, formatJoules, formatSig, formatWattHours, formatWatts } from '../src/core/units/format';
import { formatDateTime, formatDelta } from './format';
import type { Column, RunStore } from './runStore';
import type { Palette } from './theme';

export type Alignment = 'time' | 'step';

export interface CompareActions {
  exportRuns(runIds: string[], format: ExportFormat): void;
}

const formatters: Record<CompareRow['unit'], (v: number) => string> = {
  J: formatJoules,
  s: formatDuration,
  W: formatWatts,
  'J/step': (v) => `${formatSig(v)} J/step`,
  'J/token': (v) => `${formatSig(v)} J/token`,
};

export interface CompareSnapshot {
  runIds: string[];
  align: Alignment;
  stepAvailable: boolean;
  /** Deltas of each run against the first; one array per run after the first. */
  rows: CompareRow[][];
  verdicts: string[];
}

export class ComparePanel {
  readonly root: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly body: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly verdicts: HTMLElement;
  private readonly powerChart: LineChart;
  private readonly energyChart: LineChart;
  private readonly energyTitle: HTMLElement;
  private readonly tableHead: HTMLElement;
  private readonly tableBody: HTMLElement;
  private readonly timeRadio: HTMLElement & { checked: boolean };
  private readonly stepRadio: HTMLElement & { checked: boolean; disabled: boolean };
  private stores: RunStore[] = [];
  /** The runs' names, told apart when two runs share one (see distinctRunLabels). */
  private labels: string[] = [];
  private align: Alignment = 'time';
  private rows: CompareRow[][] = [];
  private verdictTexts: string[] = [];
  private dirty = true;
  private palette: Palette;

  constructor(palette: Palette, private readonly actions: CompareActions) {
    this.palette = palette;
    this.timeRadio = h('vscode-radio', { text: 'Time', attrs: { name: 'align', value: 'time', checked: '' } });
    this.stepRadio = h('vscode-radio', { text: 'Training step', attrs: { name: 'align', value: 'step' } });
    const group = h('vscode-radio-group', { attrs: { 'aria-label': 'Align runs by' } }, this.timeRadio, this.stepRadio);
    group.addEventListener('change', () => {
      this.align = this.stepRadio.checked && !this.stepRadio.disabled ? 'step' : 'time';
      this.dirty = true;
      this.render();
    });
    const csv = h('vscode-button', { text: 'Export CSV', attrs: { secondary: '', id: 'compare-export-csv' } });
    const json = h('vscode-button', { text: 'Export JSON', attrs: { secondary: '', id: 'compare-export-json' } });
    csv.addEventListener('click', () => this.export('csv'));
    json.addEventListener('click', () => this.export('json'));
    this.legend = h('ul', { class: 'run-legend', attrs: { 'aria-label': 'Compared runs' } });
    this.verdicts = h('div', { class: 'verdicts', attrs: { 'aria-live': 'polite' } });
    const powerCanvas = h('canvas');
    const energyCanvas = h('canvas');
    this.energyTitle = h('figcaption', { text: 'Cumulative energy' });
    this.powerChart = new LineChart(powerCanvas, palette, { ariaLabel: 'Total power of the compared runs', xFormat: formatClock, yFormat: formatSig });
    this.energyChart = new LineChart(energyCanvas, palette, { ariaLabel: 'Cumulative energy of the compared runs', xFormat: formatClock, yFormat: formatSig });
    this.tableHead = h('thead');
    this.tableBody = h('tbody');
    this.body = h('div', { class: 'compare-body' },
      this.legend,
      this.verdicts,
      h('div', { class: 'charts' },
        h('figure', { class: 'chart' }, h('figcaption', { text: 'Total power (W)' }), h('div', { class: 'canvas-wrap' }, powerCanvas)),
        h('figure', { class: 'chart' }, this.energyTitle, h('div', { class: 'canvas-wrap' }, energyCanvas))),
      h('section', { attrs: { 'aria-labelledby': 'deltas-h' } },
        h('h3', { text: 'Change against the baseline', attrs: { id: 'deltas-h' } }),
        h('table', { class: 'deltas' },
          h('caption', { class: 'sr-only', text: 'Each run against the first (baseline) run; a minus sign means less.' }),
          this.tableHead, this.tableBody)));
    this.empty = h('p', { class: 'placeholder', text: 'Tick two or more runs in History and choose Compare selected.' });
    this.root = h('div', { class: 'compare-panel' },
      h('div', { class: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'Compare actions' } },
        h('span', { class: 'toolbar-label', text: 'Align by' }), group, csv, json),
      this.empty, this.body);
    this.show([]);
  }

  get runStores(): readonly RunStore[] {
    return this.stores;
  }

  show(stores: RunStore[]): void {
    this.stores = stores;
    this.labels = distinctRunLabels(stores.map((s) => s.summary), formatDateTime);
    const stepAvailable = this.stepAvailable();
    this.stepRadio.disabled = !stepAvailable;
    if (!stepAvailable && this.align === 'step') this.align = 'time';
    this.timeRadio.checked = this.align === 'time';
    this.stepRadio.checked = this.align === 'step';
    this.empty.hidden = stores.length >= 2;
    this.body.hidden = stores.length < 2;
    this.dirty = true;
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.powerChart.setPalette(p);
    this.energyChart.setPalette(p);
    this.dirty = true;
  }

  /** Shows a run that changed (e.g. its findings); compared runs are otherwise static. */
  invalidate(): void {
    this.dirty = true;
  }

  render(): boolean {
    if (!this.dirty || this.stores.length < 2) return false;
    this.dirty = false;
    this.renderLegend();
    this.renderCharts();
    this.renderTable();
    return true;
  }

  snapshot(): CompareSnapshot {
    return { runIds: this.stores.map((s) => s.id), align: this.align, stepAvailable: this.stepAvailable(), rows: this.rows, verdicts: this.verdictTexts };
  }

  describeCharts(): Record<string, ReturnType<LineChart['describe']>> {
    return { power: this.powerChart.describe(), energy: this.energyChart.describe() };
  }

  private stepAvailable(): boolean {
    return this.stores.length >= 2 && this.stores.every((s) => s.steps.length >= 2);
  }

  private export(format: ExportFormat): void {
    if (this.stores.length > 0) this.actions.exportRuns(this.stores.map((s) => s.id), format);
  }

  private color(i: number): string {
    return this.palette.series[i % this.palette.series.length] ?? this.palette.foreground;
  }

  private label(i: number): string {
    return this.labels[i] ?? this.stores[i]?.summary.name ?? '';
  }

  private renderLegend(): void {
    clear(this.legend);
    this.stores.forEach((s, i) => {
      const sw = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } });
      sw.style.backgroundColor = this.color(i);
      this.legend.append(h('li', {}, sw, `${this.label(i)}${i === 0 ? ' (baseline)' : ''} · ${formatWattHours(s.summary.energyJ)}`));
    });
  }

  private renderCharts(): void {
    const buckets = Math.max(64, Math.round(this.powerChart.plotWidth() || 600));
    const byStep = this.align === 'step';
    let xMax = 0;
    let maxEnergyJ = 0;
    const series = (col: (s: RunStore) => Column, scale: number): SeriesSpec[] => this.stores.map((s, i) => {
      const t = s.total;
      const ys = col(s).data;
      let xs: ArrayLike<number> = t.t.data;
      let ysA: ArrayLike<number> = ys;
      let n = t.t.length;
      if (byStep) {
        const a = alignByStep(s.steps, t.t.data, ys, n);
        xs = a.xs;
        ysA = a.ys;
        n = a.length;
      }
      if (n > 0) xMax = Math.max(xMax, xs[n - 1] as number);
      const points = decimateMinMaxColumns(xs, ysA, n, buckets).map((p) => ({ x: p.x, y: p.y * scale }));
      return { id: `run${i}`, label: this.label(i), color: this.color(i), points, width: i === 0 ? 1.5 : 1 };
    });
    for (const s of this.stores) {
      const n = s.total.energyJ.length;
      if (n > 0) maxEnergyJ = Math.max(maxEnergyJ, s.total.energyJ.data[n - 1] as number);
    }
    const inWh = maxEnergyJ >= 3600;
    const xFormat = byStep ? (v: number): string => `step ${formatInt(Math.round(v))}` : formatClock;
    const power = series((s) => s.total.powerW, 1);
    const energy = series((s) => s.total.energyJ, inWh ? 1 / 3600 : 1);
    this.energyTitle.textContent = `Cumulative energy (${inWh ? 'Wh' : 'J'})`;
    for (const c of [this.powerChart, this.energyChart]) {
      const ticks = c.chart.options.scales?.x?.ticks;
      if (ticks) ticks.callback = (v) => xFormat(Number(v));
    }
    this.powerChart.update(power, { xMin: 0, xMax, yMin: 0 });
    this.energyChart.update(energy, { xMin: 0, xMax, yMin: 0 });
    const names = this.stores.map((_s, i) => this.label(i)).join(', ');
    this.powerChart.setAriaLabel(`Total power of ${names} by ${byStep ? 'step' : 'time'}. The table below gives the figures.`);
    this.energyChart.setAriaLabel(`Cumulative energy of ${names} by ${byStep ? 'step' : 'time'}. The table below gives the figures.`);
  }

  private renderTable(): void {
    const [base, ...others] = this.stores;
    if (!base) return;
    this.rows = others.map((o) => compareRuns(base.summary, o.summary));
    clear(this.tableHead);
    clear(this.tableBody);
    const head = h('tr', {}, th('Metric'), th(`${this.label(0)} (baseline)`));
    others.forEach((_o, i) => head.append(th(this.label(i + 1)), th(`Change`)));
    this.tableHead.append(head);
    // Rows are the union over runs: J/step appears if any pair has it.
    const metrics = [...new Map(this.rows.flat().map((r) => [r.metric, r])).values()];
    for (const m of metrics) {
      const fmt = formatters[m.unit];
      const tr = h('tr', { attrs: { 'data-metric': m.metric } }, h('th', { text: m.label, attrs: { scope: 'row' } }));
      const baseVal = this.rows[0]?.find((r) => r.metric === m.metric)?.a;
      tr.append(td(baseVal === undefined ? '—' : fmt(baseVal), 'num'));
      for (const rows of this.rows) {
        const r = rows.find((x) => x.metric === m.metric);
        tr.append(td(r?.b === undefined ? '—' : fmt(r.b), 'num'));
        const cell = td(formatDelta(r?.delta, r?.deltaPct, fmt), 'num delta');
        if (r?.delta !== undefined && r.delta !== 0) cell.classList.add(r.delta < 0 ? 'less' : 'more');
        tr.append(cell);
      }
      this.tableBody.append(tr);
    }
    this.verdictTexts = others.map((_o, i) => {
      const e = this.rows[i]?.find((r) => r.metric === 'energyJ');
      if (!e || e.delta === undefined) return '';
      const pct = e.deltaPct === undefined ? '' : ` (${Math.abs(e.deltaPct).toFixed(1)} %)`;
      const word = e.delta < 0 ? 'less' : 'more';
      return e.delta === 0 ? `${this.label(i + 1)} used the same energy as ${this.label(0)}.`
        : `${this.label(i + 1)} used ${formatJoules(Math.abs(e.delta))}${pct} ${word} energy than ${this.label(0)}.`;
    });
    clear(this.verdicts);
    for (const v of this.verdictTexts) if (v) this.verdicts.append(h('p', { text: v }));
  }
}
