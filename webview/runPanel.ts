/**
 * The run tab: summary cards, one chart per metric (a line per GPU, all on one time axis), the
 * findings and a per-GPU table that says in text what the charts show.
 */
import { assertNever } from '../src/core/protocol/panel';
import { explainedWasteJ } from '../src/core/analysis/findings';
import type { ExportFormat, FindingView, RangeView, RunView } from '../src/core/protocol/panel';
import { jPerStepOf, jPerTokenOf } from '../src/core/protocol/compare';
import type { XY } from '../src/core/protocol/decimate';
import { LineChart } from './charts';
import type { BandSpec, EventSpec, SeriesSpec } from './charts';
import { clear, h, setAttr, setText, td, th } from './dom';
import { formatClock, formatDuration, formatInt, formatJoules, formatPct, formatSig, formatWattHours, formatWatts } from '../src/core/units/format';
import { formatDateTime } from './format';
import type { GpuMetric, GpuSeries, RunStore } from './runStore';
import type { Palette } from './theme';

export type ChartKey = GpuMetric;

interface ChartDef {
  key: ChartKey;
  title: string;
  unit: string;
}

const chartDefs: readonly ChartDef[] = [
  { key: 'power', title: 'Power', unit: 'W' },
  { key: 'energy', title: 'Cumulative energy', unit: 'J' },
  { key: 'util', title: 'GPU utilization', unit: '%' },
  { key: 'mem', title: 'Memory used', unit: 'GiB' },
  { key: 'sm', title: 'SM clock', unit: 'MHz' },
  { key: 'temp', title: 'Temperature', unit: '°C' },
];

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

/** A zoomed time range of the shown run: asked for, then drawn from the host's answer. */
interface Zoom {
  runId: string;
  requestId: number;
  startS: number;
  endS: number;
  /** The range's drawing, once the host answered. */
  store?: RunStore;
  bucketMs?: number;
}

/** Narrower drags are taken for clicks. */
const minDragPx = 4;

/** What a chart showed when last drawn, to tell whether new data changes its picture. */
interface DrawnState {
  /** Axis, theme, overlays, buckets: any change means redraw now. */
  shape: string;
  /** Any change to the decimated output at all. */
  any: string;
  /** Last bucket's y range per series. */
  tails: ({ minY: number; maxY: number } | undefined)[];
}

/** How soon a visible change confined to the last pixel column gets drawn. */
const tailRefreshMs = 1000;

export interface CardSnapshot {
  key: string;
  label: string;
  value: string;
  detail: string;
}

interface Card {
  key: string;
  root: HTMLElement;
  value: HTMLElement;
  detail: HTMLElement;
  label: string;
}

const powerSourceText = {
  instant: 'instantaneous reading (NVML field POWER_INSTANT, nvidia-smi power.draw.instant)',
  average: '1 s moving average (nvmlDeviceGetPowerUsage, nvidia-smi power.draw)',
} as const;

const energyMethodText = {
  counter: 'Hardware counter',
  integrated: 'Integrated from power',
  mixed: 'Counter and integrated (per GPU)',
} as const;

export class RunPanel {
  readonly root: HTMLElement;
  private readonly title: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly backButton: HTMLElement;
  private readonly exportButtons: HTMLElement[];
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly cardList: HTMLElement;
  private readonly gpuFilter: HTMLElement;
  private readonly powerSource: HTMLElement;
  private readonly chartGrid: HTMLElement;
  private readonly chartTitles = new Map<ChartKey, HTMLElement>();
  private readonly charts = new Map<ChartKey, LineChart>();
  private readonly findingsBody: HTMLElement;
  private readonly findingsSection: HTMLElement;
  private readonly gpuTableBody: HTMLElement;
  private cards: Card[] = [];
  private readonly gpuRows = new Map<number, HTMLTableCellElement[]>();
  private renderedFindings: FindingView[] | undefined;
  private drawnBands: BandSpec[] = [];
  /** The `::joules mark` lines drawn on every chart of the shown run. */
  private drawnEvents: EventSpec[] = [];
  /** Per chart: what it last drew (shape and any-change signatures) and when. */
  private readonly drawnState = new Map<ChartKey, DrawnState>();
  private readonly drawnAt = new Map<ChartKey, number>();
  private readonly chartVisible = new Map<ChartKey, boolean>();
  private pendingCharts = false;
  private paletteVersion = 0;
  private store: RunStore | undefined;
  private isLive = false;
  private hasLive = false;
  private readonly hiddenGpus = new Set<number>();
  private renderedVersion = -1;
  private renderedShape = '';
  private palette: Palette;
  private zoom: Zoom | undefined;
  private nextRequestId = 1;
  private readonly zoomBar: HTMLElement;
  private readonly zoomText: HTMLElement;
  private readonly zoomFromInput: HTMLInputElement;
  private readonly zoomToInput: HTMLInputElement;
  private readonly zoomReset: HTMLElement;
  private readonly selection: HTMLElement;

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
    this.exportButtons = [exportCsv, exportJson];
    const header = h('header', { class: 'run-header' },
      h('div', { class: 'run-heading' }, this.title, this.badge),
      h('div', { class: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'Run actions' } }, this.backButton, exportCsv, exportJson));

    this.cardList = h('dl', { class: 'cards' });
    this.gpuFilter = h('div', { class: 'gpu-filter', attrs: { role: 'group', 'aria-label': 'GPUs shown in the charts' } });
    this.powerSource = h('p', { class: 'power-source' });
    this.chartGrid = h('div', { class: 'charts' });
    // Zoom: drag across the power chart, or type the range; the host sends that stretch at full
    // resolution (the overview is one min/max pair per pixel column of the whole run).
    this.zoomFromInput = h('input', { attrs: { type: 'number', min: '0', step: 'any', id: 'zoom-from', 'aria-label': 'Zoom from (seconds)' } });
    this.zoomToInput = h('input', { attrs: { type: 'number', min: '0', step: 'any', id: 'zoom-to', 'aria-label': 'Zoom to (seconds)' } });
    const zoomApply = h('vscode-button', { text: 'Zoom', attrs: { secondary: '', id: 'zoom-apply' } });
    zoomApply.addEventListener('click', () => this.zoomInto(Number(this.zoomFromInput.value), Number(this.zoomToInput.value)));
    this.zoomReset = h('vscode-button', { text: 'Reset zoom', attrs: { secondary: '', id: 'zoom-reset' } });
    this.zoomReset.addEventListener('click', () => this.resetZoom());
    this.zoomText = h('span', { class: 'zoom-text', attrs: { 'aria-live': 'polite' } });
    this.zoomBar = h('div', { class: 'zoom-bar', attrs: { role: 'group', 'aria-label': 'Zoom into a time range' } },
      h('label', { text: 'From (s) ', attrs: { for: 'zoom-from' } }), this.zoomFromInput,
      h('label', { text: ' to (s) ', attrs: { for: 'zoom-to' } }), this.zoomToInput, zoomApply, this.zoomReset, this.zoomText);
    this.selection = h('div', { class: 'zoom-selection', attrs: { 'aria-hidden': 'true' } });
    this.selection.hidden = true;
    // Charts out of view (scrolled away, or on a hidden tab) are not redrawn until they come back.
    const observer = new IntersectionObserver((entries) => {
      let cameIntoView = false;
      for (const e of entries) {
        const key = (e.target as HTMLElement).dataset.chart as ChartKey | undefined;
        if (!key) continue;
        if (e.isIntersecting && this.chartVisible.get(key) === false) {
          cameIntoView = true;
          this.drawnState.delete(key);
        }
        this.chartVisible.set(key, e.isIntersecting);
      }
      if (cameIntoView) {
        this.renderedVersion = -1;
        this.actions.requestRender();
      }
    }, { rootMargin: '200px' });
    for (const def of chartDefs) {
      const caption = h('figcaption', { text: `${def.title} (${def.unit})` });
      const canvas = h('canvas');
      const fig = h('figure', { class: `chart chart-${def.key}`, attrs: { 'data-chart': def.key } }, caption, h('div', { class: 'canvas-wrap' }, canvas));
      this.chartGrid.append(fig);
      observer.observe(fig);
      this.chartTitles.set(def.key, caption);
      this.charts.set(def.key, new LineChart(canvas, palette, {
        ariaLabel: `${def.title} chart`,
        xFormat: formatClock,
        yFormat: (v) => formatSig(v),
        bandLabels: def.key === 'power',
      }));
      if (def.key === 'power') this.attachDrag(canvas);
    }
    this.findingsBody = h('tbody');
    this.findingsSection = h('section', { class: 'findings', attrs: { 'aria-labelledby': 'findings-h' } },
      h('h3', { text: 'Findings', attrs: { id: 'findings-h' } }),
      h('table', {},
        h('thead', {}, h('tr', {}, th('Finding'), th('When'), th('Energy'), th('Avoidable'), th('Details'))),
        this.findingsBody));
    this.gpuTableBody = h('tbody');
    const gpuTable = h('section', { class: 'gpu-table', attrs: { 'aria-labelledby': 'gpu-table-h' } },
      h('h3', { text: 'Per-GPU figures', attrs: { id: 'gpu-table-h' } }),
      h('table', {},
        h('caption', { class: 'sr-only', text: 'Text equivalent of the charts: per-GPU energy, power, utilization, memory, clock and temperature.' }),
        h('thead', {}, h('tr', {}, th('GPU'), th('Energy'), th('Avg power'), th('Peak power'), th('Avg util'), th('Peak memory'), th('Max SM clock'), th('Max temp'))),
        this.gpuTableBody));

    this.body = h('div', { class: 'run-body' },
      h('section', { attrs: { 'aria-label': 'Run summary' } }, this.cardList),
      this.gpuFilter, this.powerSource, this.zoomBar, this.chartGrid, this.findingsSection, gpuTable);
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
      this.hiddenGpus.clear();
      this.zoom = undefined;
    }
    this.store = store;
    this.isLive = isLive;
    this.hasLive = hasLive;
    this.renderedVersion = -1;
    this.renderedShape = '';
    this.renderedFindings = undefined;
    this.gpuRows.clear();
    this.drawnState.clear();
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
    this.chartVisible.clear();
    this.renderedVersion = -1;
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.paletteVersion++;
    for (const c of this.charts.values()) c.setPalette(p);
    this.renderedVersion = -1;
    this.buildGpuFilter();
  }

  /** Narrowest plot width over the charts, in CSS pixels (0 while hidden). */
  plotWidth(): number {
    let w = Infinity;
    for (const c of this.charts.values()) w = Math.min(w, c.plotWidth());
    return Number.isFinite(w) ? w : 0;
  }

  /**
   * Brings the tab up to date with the run; returns whether something still waits for a later
   * render (see renderCharts).
   */
  render(force = false): boolean {
    const s = this.store;
    if (!s || (!force && !this.pendingCharts && s.version === this.renderedVersion)) return false;
    this.renderedVersion = s.version;
    const shape = s.gpuList().map((g) => g.index).join(',');
    if (shape !== this.renderedShape) {
      this.renderedShape = shape;
      this.buildGpuFilter();
      this.buildCards();
    }
    this.renderHeader(s);
    this.renderCards(s);
    this.renderZoomBar(s);
    this.pendingCharts = this.renderCharts(this.zoom?.store ?? s, force);
    this.renderFindings(s.findings);
    this.renderGpuTable(s);
    return this.pendingCharts;
  }

  describeCharts(): Record<string, ReturnType<LineChart['describe']>> {
    const out: Record<string, ReturnType<LineChart['describe']>> = {};
    for (const [k, c] of this.charts) out[k] = c.describe();
    return out;
  }

  /** The bands drawn over the charts at the last redraw (for the tests). */
  describeBands(): BandSpec[] {
    return this.drawnBands;
  }

  describeEvents(): EventSpec[] {
    return this.drawnEvents;
  }

  describeCards(): CardSnapshot[] {
    return this.cards.filter((c) => !c.root.hidden).map((c) => ({ key: c.key, label: c.label, value: c.value.textContent ?? '', detail: c.detail.textContent ?? '' }));
  }

  chartTitle(key: ChartKey): string {
    return this.chartTitles.get(key)?.textContent ?? '';
  }

  /** What the zoom shows, for the test hook. */
  describeZoom(): { startS: number; endS: number; bucketMs?: number; pending: boolean } | undefined {
    const z = this.zoom;
    return z ? { startS: z.startS, endS: z.endS, ...(z.bucketMs !== undefined ? { bucketMs: z.bucketMs } : {}), pending: !z.store } : undefined;
  }

  /**
   * Zoom into [startS, endS] of the shown run: asks the host for that stretch. Only a stored run
   * zooms (a live run's samples are still being written); a range outside the run is clamped.
   */
  private zoomInto(startS: number, endS: number): void {
    const s = this.store;
    if (!s || s.running || !Number.isFinite(startS) || !Number.isFinite(endS)) return;
    const end = Math.max(startS, endS);
    const a = Math.max(0, Math.min(startS, endS));
    const b = Math.min(end, s.xMaxS());
    if (!(b > a)) return;
    const requestId = this.nextRequestId++;
    this.zoom = { runId: s.id, requestId, startS: a, endS: b };
    // The fields show the range drawn, whichever way it was chosen (a drag, or typed and clamped).
    this.zoomFromInput.value = String(Math.round(a * 10) / 10);
    this.zoomToInput.value = String(Math.round(b * 10) / 10);
    this.actions.requestRange(s.id, requestId, a * 1000, b * 1000);
    this.renderedVersion = -1;
    this.actions.requestRender();
  }

  private resetZoom(): void {
    if (!this.zoom) return;
    this.zoom = undefined;
    this.drawnState.clear();
    this.renderedVersion = -1;
    this.actions.requestRender();
  }

  /** The host's answer to a zoom: drawn when it is the one the panel waits for, else ignored. */
  showRange(range: RangeView): boolean {
    const z = this.zoom;
    const s = this.store;
    if (!z || !s || z.runId !== range.runId || z.requestId !== range.requestId) return false;
    z.store = this.actions.newStore({ summary: s.summary, gpus: s.gpuInfo, samples: [], drawing: range, markers: s.markers, findings: s.findings, gaps: s.gaps });
    z.bucketMs = range.bucketMs;
    this.drawnState.clear();
    this.renderedVersion = -1;
    return true;
  }

  private renderZoomBar(s: RunStore): void {
    // A live run's samples are still being written: zoom once it has ended.
    this.zoomBar.hidden = s.running;
    this.zoomReset.hidden = !this.zoom;
    const z = this.zoom;
    const text = !z ? 'Drag across the power chart to zoom.'
      : !z.store ? `Reading ${formatClock(z.startS)}–${formatClock(z.endS)}…`
        : `Showing ${formatClock(z.startS)}–${formatClock(z.endS)} at full resolution (${formatSig(z.bucketMs ?? 0)} ms per point).`;
    setText(this.zoomText, text);
  }

  /** Drag across the power chart to select a range; the selection is drawn as a shaded box. */
  private attachDrag(canvas: HTMLCanvasElement): void {
    let startPx: number | undefined;
    const wrap = canvas.parentElement;
    wrap?.append(this.selection);
    const xOf = (px: number): number | undefined => {
      const x = this.charts.get('power')?.chart.scales.x;
      return x ? x.getValueForPixel(px) : undefined;
    };
    canvas.addEventListener('mousedown', (e) => {
      if (!this.store || this.store.running || e.button !== 0) return;
      startPx = e.offsetX;
      this.selection.style.left = `${startPx}px`;
      this.selection.style.width = '0px';
      this.selection.hidden = false;
    });
    canvas.addEventListener('mousemove', (e) => {
      if (startPx === undefined) return;
      this.selection.style.left = `${Math.min(startPx, e.offsetX)}px`;
      this.selection.style.width = `${Math.abs(e.offsetX - startPx)}px`;
    });
    const end = (e: MouseEvent): void => {
      if (startPx === undefined) return;
      const from = startPx;
      startPx = undefined;
      this.selection.hidden = true;
      if (Math.abs(e.offsetX - from) < minDragPx) return;
      const a = xOf(Math.min(from, e.offsetX));
      const b = xOf(Math.max(from, e.offsetX));
      if (a !== undefined && b !== undefined) this.zoomInto(a, b);
    };
    canvas.addEventListener('mouseup', end);
    canvas.addEventListener('mouseleave', end);
  }

  private export(format: ExportFormat): void {
    if (this.store) this.actions.exportRuns([this.store.id], format);
  }

  private buildGpuFilter(): void {
    clear(this.gpuFilter);
    const gpus = this.store?.gpuList() ?? [];
    // One GPU needs no filter; the control would only add a tab stop.
    this.gpuFilter.hidden = gpus.length < 2;
    gpus.forEach((g, i) => {
      const swatch = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } });
      swatch.style.backgroundColor = this.palette.series[i % this.palette.series.length] ?? '';
      const box = h('vscode-checkbox', { attrs: { 'data-gpu': String(g.index) } });
      box.checked = !this.hiddenGpus.has(g.index);
      box.label = `GPU ${g.index}`;
      box.addEventListener('change', () => {
        if (box.checked) this.hiddenGpus.delete(g.index);
        else this.hiddenGpus.add(g.index);
        this.render(true);
      });
      this.gpuFilter.append(h('span', { class: 'gpu-toggle' }, swatch, box));
    });
  }

  private buildCards(): void {
    clear(this.cardList);
    const make = (key: string, label: string): Card => {
      const value = h('dd', { class: 'card-value' });
      const detail = h('dd', { class: 'card-detail' });
      const root = h('div', { class: `card card-${key}`, attrs: { 'data-card': key } }, h('dt', { text: label }), value, detail);
      this.cardList.append(root);
      return { key, root, value, detail, label };
    };
    this.cards = [
      make('duration', 'Duration'),
      make('energy', 'Energy'),
      make('avgPower', 'Average power'),
      make('peakPower', 'Peak power'),
      make('avgUtil', 'Average GPU utilization'),
      make('idle', 'Spent idle or starved'),
      make('method', 'Energy method'),
      make('jPerStep', 'Energy per step'),
      make('jPerToken', 'Energy per token'),
      make('carbon', 'Carbon'),
      make('cost', 'Cost'),
      make('relatable', 'Equivalent to'),
    ];
  }

  private setCard(key: string, value: string | undefined, detail = ''): void {
    const c = this.cards.find((x) => x.key === key);
    if (!c) return;
    const hidden = value === undefined;
    if (c.root.hidden !== hidden) c.root.hidden = hidden;
    // Unchanged text is not rewritten, so a redraw does not invalidate layout for nothing.
    if (c.value.textContent !== (value ?? '')) c.value.textContent = value ?? '';
    if (c.detail.textContent !== detail) c.detail.textContent = detail;
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

  private renderCards(s: RunStore): void {
    const f = s.figures();
    const sum = s.summary;
    this.setCard('duration', formatDuration(f.durationS), f.source === 'live' ? 'running' : sum.status);
    this.setCard('energy', formatWattHours(f.energyJ), formatJoules(f.energyJ));
    this.setCard('avgPower', formatWatts(f.avgPowerW), 'energy ÷ duration');
    this.setCard('peakPower', formatWatts(f.peakPowerW), s.series.size > 1 ? 'all GPUs together' : '');
    this.setCard('avgUtil', f.avgUtilPct === undefined ? undefined : formatPct(f.avgUtilPct), 'mean of samples');
    this.setCard('idle', f.idleEnergyJ === undefined ? undefined : formatWattHours(f.idleEnergyJ),
      f.idleEnergyJ === undefined ? '' : `${formatJoules(f.idleEnergyJ)}${f.energyJ > 0 ? ` · ${formatPct((100 * f.idleEnergyJ) / f.energyJ)} of the run` : ''}`);
    const reasons = [...new Set(s.gpuInfo.map((g) => g.energyMethodReason).filter((r): r is string => !!r))];
    this.setCard('method', energyMethodText[sum.energyMethod],
      sum.energyMethod === 'counter' ? 'nvmlDeviceGetTotalEnergyConsumption' : reasons.join('; ') || 'trapezoid over power samples');
    const jps = jPerStepOf(sum);
    this.setCard('jPerStep', jps === undefined ? undefined : `${formatSig(jps)} J/step`, sum.steps === undefined ? '' : `${formatInt(sum.steps)} steps`);
    const jpt = jPerTokenOf(sum);
    this.setCard('jPerToken', jpt === undefined ? undefined : `${formatSig(jpt)} J/token`, sum.tokens === undefined ? '' : `${formatInt(sum.tokens)} tokens`);
    this.setCard('carbon', sum.carbonG === undefined ? undefined : `${formatSig(sum.carbonG)} g CO₂e`, sum.carbonSource ?? '');
    this.setCard('cost', sum.cost === undefined ? undefined : `${formatSig(sum.cost.amount)} ${sum.cost.currency}`, sum.cost?.source ?? '');
    const rel = sum.relatable ?? [];
    this.setCard('relatable', rel.length === 0 ? undefined : rel.map((r) => `${formatSig(r.value)} ${r.label}`).join(' · '),
      [...new Set(rel.map((r) => r.source))].join('; '));
  }

  /**
   * Redraws the charts whose picture changed. A chart is redrawn at once when its axis, its
   * buckets (a new pixel column), its overlays or the theme changed. A change confined to the last
   * bucket (the last pixel column or two of a long run) is drawn only if it moves a line end by
   * half a pixel or more, within about a second, one such chart per render; so most live updates
   * of an hour-long run redraw nothing, and the others one chart, not six. Charts scrolled out of
   * view are skipped and drawn when they come back. Returns whether some chart waits for its turn.
   */
  private renderCharts(s: RunStore, force: boolean): boolean {
    const gpus = s.gpuList();
    const zoomed = this.zoom?.store === s ? this.zoom : undefined;
    const xMin = zoomed ? zoomed.startS : 0;
    const xMax = zoomed ? zoomed.endS : s.xMaxS();
    const hiddenKey = [...this.hiddenGpus].sort().join(',');
    const context = `${xMin}|${xMax}|${hiddenKey}|${this.paletteVersion}|${s.overlayVersion}|${s.id}|${zoomed?.requestId ?? 0}`;
    const dirty: ChartKey[] = [];
    const tailOnly: ChartKey[] = [];
    const pending = new Map<ChartKey, DrawnState>();
    for (const def of chartDefs) {
      const key = def.key;
      const decs = gpus.map((g) => g.dec[key]);
      if (key === 'energy' && gpus.length > 1) decs.push(s.total.decEnergy);
      const state: DrawnState = {
        shape: `${context}|${decs.map((d) => d.shapeVersion).join(',')}|${this.titleFor(s, key)}`,
        any: decs.map((d) => d.version).join(','),
        tails: decs.map((d) => d.tail()),
      };
      pending.set(key, state);
      const drawn = this.drawnState.get(key);
      if (force || !drawn || drawn.shape !== state.shape) dirty.push(key);
      else if (drawn.any !== state.any) {
        // Only the last bucket moved: worth a redraw only if some line end moves by half a pixel
        // or leaves the y axis (a cumulative-energy line creeps up far less than that per batch).
        const axis = this.chart(key).yAxis();
        const k = key === 'energy' && this.energyInWh(s) ? 1 / 3600 : 1;
        const visible = !axis || state.tails.some((t, i) => {
          const was = drawn.tails[i];
          if (!t || !was) return t !== was;
          return Math.abs(t.minY - was.minY) * k * axis.pxPerUnit >= 0.5 || Math.abs(t.maxY - was.maxY) * k * axis.pxPerUnit >= 0.5
            || t.minY * k < axis.min || t.maxY * k > axis.max;
        });
        if (visible) tailOnly.push(key);
      }
    }
    // The tail-only chart drawn longest ago goes first.
    tailOnly.sort((a, b) => (this.drawnAt.get(a) ?? 0) - (this.drawnAt.get(b) ?? 0));
    const now = performance.now();
    const due = tailOnly.filter((k) => now - (this.drawnAt.get(k) ?? 0) >= tailRefreshMs);
    const toDraw = [...dirty, ...due.slice(0, 1)].filter((k) => this.chartVisible.get(k) !== false);
    if (toDraw.length > 0) this.drawCharts(s, toDraw, xMin, xMax);
    for (const k of toDraw) {
      const st = pending.get(k);
      if (st) this.drawnState.set(k, st);
      this.drawnAt.set(k, now);
    }
    this.updateChartText(s, xMin, xMax);
    return tailOnly.some((k) => !toDraw.includes(k) && this.chartVisible.get(k) !== false);
  }

  private titleFor(s: RunStore, key: ChartKey): string {
    const def = chartDefs.find((d) => d.key === key);
    if (key === 'energy') return `Cumulative energy (${this.energyInWh(s) ? 'Wh' : 'J'})`;
    if (key === 'mem') {
      const memTotal = this.memTotalGiB(s);
      return memTotal === undefined ? 'Memory used (GiB)' : `Memory used (GiB of ${formatSig(memTotal)} GiB)`;
    }
    return def ? `${def.title} (${def.unit})` : key;
  }

  private energyInWh(s: RunStore): boolean {
    // In Wh once past 1 Wh, where joules get unreadably large.
    let maxEnergyJ = 0;
    for (const g of s.series.values()) if (g.max.energy > maxEnergyJ) maxEnergyJ = g.max.energy;
    const total = s.total.energyJ;
    if (s.series.size > 1 && total.length > 0) maxEnergyJ = Math.max(maxEnergyJ, total.data[total.length - 1] ?? 0);
    return maxEnergyJ >= 3600;
  }

  private memTotalGiB(s: RunStore): number | undefined {
    const totals = s.gpuList().map((g) => g.memTotalGiB).filter((v): v is number => v !== undefined);
    return totals.length > 0 ? Math.max(...totals) : undefined;
  }

  private powerLimits(gpus: GpuSeries[]): Map<number, GpuSeries[]> {
    const limits = new Map<number, GpuSeries[]>();
    for (const g of gpus) if (g.powerLimitW !== undefined) limits.set(g.powerLimitW, [...(limits.get(g.powerLimitW) ?? []), g]);
    return limits;
  }

  private drawCharts(s: RunStore, keys: ChartKey[], xMin: number, xMax: number): void {
    const gpus = s.gpuList();
    const axis = { xMin, xMax };
    const bands = this.bands(s, xMax);
    this.drawnBands = bands;
    const events: EventSpec[] = s.markers.filter((m) => m.kind === 'event').map((m) => ({ x: m.tS, label: m.label }));
    this.drawnEvents = events;
    const color = (i: number): string => this.palette.series[i % this.palette.series.length] ?? this.palette.foreground;
    const gpuSeries = (m: GpuMetric, scale = 1): SeriesSpec[] => gpus.map((g, i) => ({
      id: `gpu${g.index}`,
      label: `GPU ${g.index}`,
      color: color(i),
      points: scale === 1 ? g.dec[m].points() : scaled(g.dec[m].points(), scale),
      hidden: this.hiddenGpus.has(g.index),
    }));
    for (const key of keys) {
      this.setTitle(key, this.titleFor(s, key));
      const chart = this.chart(key);
      switch (key) {
        case 'power': {
          // Each distinct power limit as a dashed line.
          const limits = this.powerLimits(gpus);
          const power = gpuSeries('power');
          let maxLimit = 0;
          for (const [w, gs] of limits) {
            maxLimit = Math.max(maxLimit, w);
            const who = limits.size === 1 ? '' : ` (GPU ${gs.map((g) => g.index).join(', ')})`;
            power.push({ id: `limit${w}`, label: `Power limit ${formatWatts(w)}${who}`, color: this.palette.powerLimit, points: [{ x: xMin, y: w }, { x: Math.max(xMax, xMin + 1e-3), y: w }], dash: [6, 4] });
          }
          chart.update(power, { ...axis, yMin: 0, suggestedYMax: maxLimit > 0 ? maxLimit * 1.05 : undefined }, bands, events);
          break;
        }
        case 'energy': {
          const scale = this.energyInWh(s) ? 1 / 3600 : 1;
          const energy = gpuSeries('energy', scale);
          if (gpus.length > 1) energy.unshift({ id: 'total', label: 'All GPUs', color: this.palette.total, points: scaled(s.total.decEnergy.points(), scale) });
          chart.update(energy, { ...axis, yMin: 0 }, bands, events);
          break;
        }
        case 'util':
          chart.update(gpuSeries('util'), { ...axis, yMin: 0, yMax: 100 }, bands, events);
          break;
        case 'mem':
          chart.update(gpuSeries('mem'), { ...axis, yMin: 0, yMax: this.memTotalGiB(s) }, bands, events);
          break;
        case 'sm':
          chart.update(gpuSeries('sm'), { ...axis, yMin: 0 }, bands, events);
          break;
        case 'temp':
          chart.update(gpuSeries('temp'), axis, bands, events);
          break;
        default:
          assertNever(key);
      }
    }
  }

  /** Power-source line, titles and the charts' accessible names: cheap, so every render. */
  private updateChartText(s: RunStore, xMin: number, xMax: number): void {
    const gpus = s.gpuList();
    const limits = this.powerLimits(gpus);
    const sources = [...new Set(s.gpuInfo.map((g) => g.powerSource))];
    const sourceText = sources.length === 0 ? ''
      : sources.length === 1 ? `Power source: ${powerSourceText[sources[0] ?? 'average']}.`
        : `Power source: ${s.gpuInfo.map((g) => `GPU ${g.index} ${powerSourceText[g.powerSource]}`).join('; ')}.`;
    const limitText = limits.size === 0 ? '' : ` Dashed line: power limit (${[...limits.keys()].map(formatWatts).join(', ')}).`;
    setText(this.powerSource, `${sourceText}${limitText}`.trim());
    setAttr(this.powerSource, 'data-source', sources.join(','));
    const span = `${formatClock(xMin)} to ${formatClock(xMax)}`;
    const shown = gpus.filter((g) => !this.hiddenGpus.has(g.index)).length;
    for (const def of chartDefs) {
      this.setTitle(def.key, this.titleFor(s, def.key));
      const c = this.chart(def.key);
      c.setAriaLabel(`${this.chartTitle(def.key)} of ${shown} GPU${shown === 1 ? '' : 's'}, ${span}. The same figures are in the per-GPU table below.`);
      const empty = gpus.every((g) => Number.isNaN(g.max[def.key]));
      const fig = c.canvas.closest('figure');
      if (fig && fig.hasAttribute('data-empty') !== empty) fig.toggleAttribute('data-empty', empty);
    }
  }

  private setTitle(key: ChartKey, text: string): void {
    const el = this.chartTitles.get(key);
    if (el) setText(el, text);
  }

  private chart(key: ChartKey): LineChart {
    const c = this.charts.get(key);
    if (!c) throw new Error(`no chart ${key}`);
    return c;
  }

  private bands(s: RunStore, xMax: number): BandSpec[] {
    const out: BandSpec[] = [];
    const phases = s.markers.filter((m) => m.kind === 'phase');
    phases.forEach((m, i) => out.push({ startX: m.tS, endX: phases[i + 1]?.tS ?? xMax, kind: 'phase', label: m.label }));
    for (const g of s.gaps) out.push({ startX: g.startMs / 1000, endX: (g.endMs ?? xMax * 1000) / 1000, kind: 'gap', label: `GPU ${g.gpu}: ${g.reason}` });
    // One band per stretch, so busy time between stretches is never tinted. Source findings that
    // refer to telemetry findings share their stretches: drawn once, on the telemetry finding.
    let lane = 0;
    for (const f of s.findings) {
      if (f.correlatedWith?.length || f.static || f.stretches.length === 0) continue;
      for (const st of f.stretches) out.push({ startX: st.startS, endX: st.endS, kind: 'finding', label: f.title, severity: f.severity, lane });
      lane++;
    }
    return out;
  }

  private renderFindings(findings: FindingView[]): void {
    if (findings === this.renderedFindings) return;
    this.renderedFindings = findings;
    clear(this.findingsBody);
    this.findingsSection.hidden = findings.length === 0;
    for (const f of [...findings].sort((a, b) => a.startS - b.startS)) {
      const name = h('td', {}, h('span', { class: `severity severity-${f.severity}`, text: f.severity }), ` ${f.title}`);
      this.findingsBody.append(h('tr', { attrs: { 'data-code': f.code } },
        name,
        td(`${f.stretches.length > 1 ? `${f.stretches.length} stretches, ` : ''}${formatClock(f.startS)}–${formatClock(f.endS)}${f.gpu === undefined ? '' : ` · GPU ${f.gpu}`}`),
        // A source finding that explains a measured one shows that one's joules, marked as counted there.
        td(f.correlatedWith?.length ? '—' : formatJoules(f.energyJ), 'num'),
        td(f.correlatedWith?.length ? `(${formatJoules(explainedWasteJ(f, findings))}, counted above)` : formatJoules(f.wastedJ), 'num'),
        td(f.message)));
    }
  }

  private renderGpuTable(s: RunStore): void {
    const gpus = s.gpuList();
    // Rows are built once per GPU set and their cells rewritten in place: live runs redraw often.
    if (this.gpuRows.size !== gpus.length || gpus.some((g) => !this.gpuRows.has(g.index))) {
      clear(this.gpuTableBody);
      this.gpuRows.clear();
      for (const g of gpus) {
        const cells = Array.from({ length: 7 }, () => td('', 'num'));
        this.gpuTableBody.append(h('tr', {}, h('th', { text: `${g.index}: ${g.name}`, attrs: { scope: 'row' } }), ...cells));
        this.gpuRows.set(g.index, cells);
      }
    }
    const live = s.liveFigures();
    const dash = '—';
    const fmt = (v: number, f: (x: number) => string): string => (Number.isNaN(v) ? dash : f(v));
    for (const g of gpus) {
      const fromHost = s.running ? undefined : s.summary.gpus.find((x) => x.index === g.index);
      const fromLive = live.gpus.find((x) => x.index === g.index);
      const energyJ = fromHost?.energyJ ?? fromLive?.energyJ;
      const avgW = fromHost?.avgPowerW ?? fromLive?.avgPowerW;
      const util = fromHost?.avgUtilPct ?? fromLive?.avgUtilPct;
      const memTotal = g.memTotalGiB;
      const texts = [
        energyJ === undefined ? dash : `${formatWattHours(energyJ)} (${formatJoules(energyJ)})`,
        avgW === undefined ? dash : formatWatts(avgW),
        fmt(g.max.power, formatWatts),
        util === undefined ? dash : formatPct(util),
        fmt(g.max.mem, (v) => `${formatSig(v)} GiB${memTotal === undefined ? '' : ` of ${formatSig(memTotal)}`}`),
        fmt(g.max.sm, (v) => `${v.toFixed(0)} MHz`),
        fmt(g.max.temp, (v) => `${v.toFixed(0)} °C`),
      ];
      const cells = this.gpuRows.get(g.index) ?? [];
      texts.forEach((t, i) => {
        const c = cells[i];
        if (c && c.textContent !== t) c.textContent = t;
      });
    }
  }
}

function scaled(points: XY[], k: number): XY[] {
  return points.map((p) => ({ x: p.x, y: p.y * k }));
}
