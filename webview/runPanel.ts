/**
 * The run tab: summary cards, one chart per metric (a line per GPU, all on one time axis), the
 * findings and a per-GPU table that says in text what the charts show. This class lays them out
 * and decides when they render; each part is its own file.
 */
import type { ExportFormat, RangeView, RunView } from '../src/core/protocol/panel';
import type { BandSpec, EventSpec, LineChart } from './charts';
import { clear, h, setAttr, setText } from './dom';
import { FindingsTable } from './findingsTable';
import { formatInt } from '../src/core/units/format';
import { formatDateTime } from './format';
import { GpuTable } from './gpuTable';
import { RunCards } from './runCards';
import type { CardSnapshot } from './runCards';
import { RunCharts } from './runCharts';
import type { ChartKey } from './runCharts';
import type { RunStore } from './runStore';
import type { Palette } from './theme';
import { ZoomControls } from './zoomControls';

export interface RunPanelActions {
  exportRuns(runIds: string[], format: ExportFormat): void;
  backToLive(): void;
  /** Asks the app for a render (e.g. a chart scrolled back into view). */
  requestRender(): void;
  /** Asks the host for [startMs, endMs] of a stored run at full resolution (answered by `range`). */
  requestRange(runId: string, requestId: number, startMs: number, endMs: number): void;
  /** A store for a zoomed range's drawing (the app's, sized to the charts). */
  newStore(run: RunView): RunStore;
}

export class RunPanel {
  readonly root: HTMLElement;
  private readonly title: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly backButton: HTMLElement;
  private readonly exportButtons: HTMLElement[];
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly gpuFilter: HTMLElement;
  private readonly cards: RunCards;
  private readonly charts: RunCharts;
  private readonly zoom: ZoomControls;
  private readonly findings: FindingsTable;
  private readonly gpuTable: GpuTable;
  private pendingCharts = false;
  private store: RunStore | undefined;
  private isLive = false;
  private hasLive = false;
  private renderedVersion = -1;
  private renderedShape = '';
  private palette: Palette;

  constructor(palette: Palette, private readonly actions: RunPanelActions) {
    this.palette = palette;
    this.title = h('h2', { class: 'run-title', text: 'No run' });
    this.badge = h('vscode-badge', { class: 'run-status' });
    this.meta = h('p', { class: 'run-meta' });
    this.backButton = h('vscode-button', { text: 'Back to live run', attrs: { secondary: '', id: 'back-to-live' } });
    this.backButton.addEventListener('click', () => this.actions.backToLive());
    const exportCsv = h('vscode-button', { text: 'Export CSV', attrs: { secondary: '', id: 'run-export-csv' } });
    const exportJson = h('vscode-button', { text: 'Export JSON', attrs: { secondary: '', id: 'run-export-json' } });
    exportCsv.addEventListener('click', () => this.export('csv'));
    exportJson.addEventListener('click', () => this.export('json'));
    const exportCodecarbon = h('vscode-button', { text: 'Export CodeCarbon CSV', attrs: { secondary: '', id: 'run-export-codecarbon' } });
    exportCodecarbon.addEventListener('click', () => this.export('codecarbon-csv'));
    this.exportButtons = [exportCsv, exportJson, exportCodecarbon];
    const header = h('header', { class: 'run-header' },
      h('div', { class: 'run-heading' }, this.title, this.badge),
      h('div', { class: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'Run actions' } }, this.backButton, exportCsv, exportJson, exportCodecarbon));

    this.cards = new RunCards();
    this.gpuFilter = h('div', { class: 'gpu-filter', attrs: { role: 'group', 'aria-label': 'GPUs shown in the charts' } });
    this.zoom = new ZoomControls({
      shownStore: () => this.store,
      requestRange: (runId, requestId, startMs, endMs) => this.actions.requestRange(runId, requestId, startMs, endMs),
      newStore: (run) => this.actions.newStore(run),
      changed: (redrawCharts) => {
        if (redrawCharts) this.charts.forgetDrawn();
        this.renderedVersion = -1;
        this.actions.requestRender();
      },
    });
    this.charts = new RunCharts(palette, () => {
      this.renderedVersion = -1;
      this.actions.requestRender();
    });
    this.zoom.attachDrag(this.charts.powerCanvas, (px) => this.charts.powerTimeAt(px));
    this.findings = new FindingsTable();
    this.gpuTable = new GpuTable();

    this.body = h('div', { class: 'run-body' },
      h('section', { attrs: { 'aria-label': 'Run summary' } }, this.cards.root),
      this.gpuFilter, this.charts.powerSource, this.zoom.root, this.charts.root, this.findings.root, this.gpuTable.root);
    this.empty = h('p', { class: 'placeholder', text: 'No run to show yet. Start a run from the Joules commands, or open a past run from History.' });
    this.root = h('div', { class: 'run-panel' }, header, this.meta, this.empty, this.body);
    this.show(undefined, false, false);
  }

  get shownStore(): RunStore | undefined {
    return this.store;
  }

  get shownIsLive(): boolean {
    return this.isLive;
  }

  show(store: RunStore | undefined, isLive: boolean, hasLive: boolean): void {
    if (store !== this.store) {
      this.charts.hiddenGpus.clear();
      this.zoom.clear();
    }
    this.store = store;
    this.isLive = isLive;
    this.hasLive = hasLive;
    this.renderedVersion = -1;
    this.renderedShape = '';
    this.findings.reset();
    this.gpuTable.reset();
    this.charts.forgetDrawn();
    this.assumeVisible();
    this.body.hidden = !store;
    this.empty.hidden = !!store;
    this.meta.hidden = !store;
    for (const b of this.exportButtons) b.hidden = !store;
    if (!store) {
      setText(this.title, 'No run');
      setText(this.badge, '');
    }
    this.badge.hidden = !store;
    this.backButton.hidden = isLive || !hasLive;
    this.buildGpuFilter();
  }

  /**
   * Forgets what the observer said: call when the tab is shown again, since its charts are then
   * drawn on the next render rather than one observer callback later.
   */
  assumeVisible(): void {
    this.charts.assumeVisible();
    this.renderedVersion = -1;
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.charts.setPalette(p);
    this.renderedVersion = -1;
    this.buildGpuFilter();
  }

  /** Narrowest plot width over the charts, in CSS pixels (0 while hidden). */
  plotWidth(): number {
    return this.charts.plotWidth();
  }

  /**
   * Brings the tab up to date with the run; returns whether something still waits for a later
   * render (see RunCharts.render).
   */
  render(force = false): boolean {
    const s = this.store;
    if (!s || (!force && !this.pendingCharts && s.version === this.renderedVersion)) return false;
    this.renderedVersion = s.version;
    const shape = s.gpuList().map((g) => g.index).join(',');
    if (shape !== this.renderedShape) {
      this.renderedShape = shape;
      this.buildGpuFilter();
      this.cards.build();
    }
    this.renderHeader(s);
    this.cards.render(s);
    this.zoom.render(s);
    const zoom = this.zoom.current;
    this.pendingCharts = this.charts.render(zoom?.store ?? s, force, zoom);
    this.findings.render(s.findings);
    this.gpuTable.render(s);
    return this.pendingCharts;
  }

  describeCharts(): Record<string, ReturnType<LineChart['describe']>> {
    return this.charts.describe();
  }

  /** The bands drawn over the charts at the last redraw (for the tests). */
  describeBands(): BandSpec[] {
    return this.charts.describeBands();
  }

  describeEvents(): EventSpec[] {
    return this.charts.describeEvents();
  }

  describeCards(): CardSnapshot[] {
    return this.cards.describe();
  }

  chartTitle(key: ChartKey): string {
    return this.charts.chartTitle(key);
  }

  /** What the zoom shows, for the test hook. */
  describeZoom(): { startS: number; endS: number; bucketMs?: number; pending: boolean } | undefined {
    return this.zoom.describe();
  }

  /** The host's answer to a zoom: drawn when it is the one the panel waits for, else ignored. */
  showRange(range: RangeView): boolean {
    if (!this.zoom.showRange(range)) return false;
    this.charts.forgetDrawn();
    this.renderedVersion = -1;
    return true;
  }

  private export(format: ExportFormat): void {
    if (this.store) this.actions.exportRuns([this.store.id], format);
  }

  private buildGpuFilter(): void {
    clear(this.gpuFilter);
    const gpus = this.store?.gpuList() ?? [];
    const hidden = this.charts.hiddenGpus;
    // One GPU needs no filter; the control would only add a tab stop.
    this.gpuFilter.hidden = gpus.length < 2;
    gpus.forEach((g, i) => {
      const swatch = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } });
      swatch.style.backgroundColor = this.palette.series[i % this.palette.series.length] ?? '';
      const box = h('vscode-checkbox', { attrs: { 'data-gpu': String(g.index) } });
      box.checked = !hidden.has(g.index);
      box.label = `GPU ${g.index}`;
      box.addEventListener('change', () => {
        if (box.checked) hidden.delete(g.index);
        else hidden.add(g.index);
        this.render(true);
      });
      this.gpuFilter.append(h('span', { class: 'gpu-toggle' }, swatch, box));
    });
  }

  private renderHeader(s: RunStore): void {
    const sum = s.summary;
    // A replayed trace is never called live: it did not run on this machine.
    setText(this.title, sum.replay ? `Replay: ${sum.name}` : this.isLive && s.running ? `Live: ${sum.name}` : sum.name);
    setText(this.badge, sum.status);
    setAttr(this.badge, 'data-status', sum.status);
    const parts = [`Started ${formatDateTime(sum.startedAt)}`];
    if (sum.exitCode !== null) parts.push(`exit code ${sum.exitCode}`);
    parts.push(`${formatInt(s.sampleCount)} samples`);
    setText(this.meta, parts.join(' · '));
    this.backButton.hidden = this.isLive || !this.hasLive;
  }
}
