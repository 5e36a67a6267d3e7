/**
 * The panel application: receives protocol messages, keeps the runs, and redraws at most a few
 * times a second. Messages are applied as they arrive (no sample is dropped); drawing is what
 * gets batched.
 *
 * Test hook: `window.__joulesPanelState` is a read-only getter returning a plain snapshot of
 * what the panel shows (tab, cards, series and point counts per chart, comparison deltas,
 * message counters). It holds no references into the panel, so reading it cannot change it.
 * Only when the page sets `window.__joulesPanelTestMode = true` before loading the script,
 * `window.__joulesPanelDebug` also offers `receive(message)` (the same path as a posted message,
 * but synchronous), `renderNow()` and `setDecimation(on)`; the browser tests and the benchmark
 * use them for timing. VS Code never sets the flag.
 */
import { assertNever, isToPanel } from '../src/core/protocol/panel';
import type { ExportFormat, FromPanel, RunView, ToPanel } from '../src/core/protocol/panel';
import { ComparePanel } from './comparePanel';
import type { CompareSnapshot } from './comparePanel';
import { h } from './dom';
import type { BandSpec, EventSpec } from './charts';
import { HistoryPanel } from './historyPanel';
import { RunPanel } from './runPanel';
import type { CardSnapshot } from './runCards';
import { RunStore } from './runStore';
import type { DisplayFigures } from './runStore';
import { readPalette, watchTheme } from './theme';
import type { Palette, ThemeKind } from './theme';
import type { VsCodeApi } from './vscodeApi';

export type Tab = 'run' | 'history' | 'compare';
const tabs: readonly Tab[] = ['run', 'history', 'compare'];

/** At most 5 redraws a second: enough to look live, cheap enough for 8 GPUs over hours. */
export const minRenderIntervalMs = 200;
/** Drop reports sent to the host's log per page load, so a flood cannot flood the log too. */
const maxDropReports = 20;

type ChartSnapshot = { id: string; label: string; color: string; points: number; hidden: boolean; first?: { x: number; y: number }; last?: { x: number; y: number }; maxY: number; minY: number; redraws: number }[];

export interface PanelDebugState {
  tab: Tab;
  theme: ThemeKind;
  liveRunId: string | undefined;
  shownRunId: string | undefined;
  shownIsLive: boolean;
  renderCount: number;
  /** Messages received so far (valid or not), and how many of them the last redraw included. */
  messages: number;
  renderedMessages: number;
  renderPending: boolean;
  received: Record<string, number>;
  dropped: number;
  lastDropped: string | undefined;
  errors: number;
  figures: DisplayFigures | undefined;
  cards: CardSnapshot[];
  powerSource: string;
  chartTitles: Record<string, string>;
  /** Samples kept per GPU of the shown run (full data, not the decimated points). */
  samplesPerGpu: Record<string, number>;
  duplicates: number;
  /** The last live batch the shown run includes, and batches skipped as already seen or after a gap. */
  seq: number;
  batchesSkipped: { duplicate: number; gap: number };
  bucketLimit: number;
  /** Bytes in the shown run's sample columns (typed arrays live outside the JS heap figure). */
  columnBytes: number;
  charts: Record<string, ChartSnapshot>;
  /** Bands over the run's charts: phases, gaps, and one per stretch of each finding. */
  bands: BandSpec[];
  /** Marker lines (`::joules mark`) drawn over the run's charts. */
  events: EventSpec[];
  /** The zoomed range of the run tab (undefined: the whole run); `pending` until the host answered. */
  zoom: ReturnType<RunPanel['describeZoom']>;
  history: { runIds: string[]; selected: string[] };
  compare: CompareSnapshot & { charts: Record<string, ChartSnapshot> };
  notice: { level: string; text: string } | undefined;
  palette: Palette;
}

interface SavedState {
  tab?: Tab;
}

export class PanelApp {
  private palette: Palette;
  private readonly runPanel: RunPanel;
  private readonly historyPanel: HistoryPanel;
  private readonly comparePanel: ComparePanel;
  private readonly tabsEl: HTMLElement & { selectedIndex: number };
  private readonly noticeEl: HTMLElement;
  private live: RunStore | undefined;
  private tab: Tab = 'run';
  private renderTimer: ReturnType<typeof setTimeout> | undefined;
  private framePending = false;
  private lastRenderAt = -Infinity;
  private renderCount = 0;
  private messages = 0;
  private renderedMessages = 0;
  private readonly received: Record<string, number> = {};
  private dropped = 0;
  private lastDropped: string | undefined;
  private errors = 0;
  private dropReports = 0;
  private decimation = true;
  private notice: { level: string; text: string } | undefined;

  constructor(private readonly api: VsCodeApi, private readonly mount: HTMLElement) {
    this.palette = readPalette();
    const post = (m: FromPanel): void => this.api.postMessage(m);
    const exportRuns = (runIds: string[], format: ExportFormat): void => post({ type: 'export', runIds, format });
    this.runPanel = new RunPanel(this.palette, {
      exportRuns,
      backToLive: () => {
        post({ type: 'showLive' });
        this.runPanel.show(this.live, true, !!this.live);
        this.requestRender();
      },
      requestRender: () => this.requestRender(),
      requestRange: (runId, requestId, startMs, endMs) => post({ type: 'zoom', runId, requestId, startMs, endMs }),
      newStore: (run) => this.newStore(run),
    });
    this.historyPanel = new HistoryPanel({
      open: (runId) => post({ type: 'selectRun', runId }),
      compare: (runIds) => post({ type: 'compare', runIds }),
      exportRuns,
    });
    this.comparePanel = new ComparePanel(this.palette, { exportRuns });
    this.noticeEl = h('div', { class: 'notice', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.noticeEl.hidden = true;
    this.tabsEl = h('vscode-tabs', { attrs: { 'aria-label': 'Joules energy panel' } },
      h('vscode-tab-header', { text: 'Run', attrs: { slot: 'header', 'data-tab': 'run' } }),
      h('vscode-tab-panel', { attrs: { 'data-tab': 'run' } }, this.runPanel.root),
      h('vscode-tab-header', { text: 'History', attrs: { slot: 'header', 'data-tab': 'history' } }),
      h('vscode-tab-panel', { attrs: { 'data-tab': 'history' } }, this.historyPanel.root),
      h('vscode-tab-header', { text: 'Compare', attrs: { slot: 'header', 'data-tab': 'compare' } }),
      h('vscode-tab-panel', { attrs: { 'data-tab': 'compare' } }, this.comparePanel.root));
    this.tabsEl.addEventListener('vsc-tabs-select', (e) => {
      const t = tabs[(e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex];
      if (t) this.setTab(t, false);
    });
    this.mount.replaceChildren(this.noticeEl, this.tabsEl);
    this.mount.removeAttribute('aria-busy');
    const saved = this.api.getState() as SavedState | undefined;
    if (saved && typeof saved === 'object' && saved.tab && tabs.includes(saved.tab)) this.setTab(saved.tab, true);
  }

  start(): void {
    window.addEventListener('message', (e: MessageEvent<unknown>) => this.receive(e.data));
    watchTheme(() => this.applyTheme());
    // Charts size their buckets by width; a resize may need coarser or finer ones.
    window.addEventListener('resize', () => this.requestRender());
    this.api.postMessage({ type: 'ready' });
  }

  /** Entry point for every host message: validate, then apply. Never throws. */
  receive(data: unknown): void {
    this.messages++;
    // Even a dropped message schedules a (cheap, no-op) redraw, so "drawn up to message N" holds.
    this.requestRender();
    if (!isToPanel(data)) {
      this.drop(data);
      return;
    }
    this.received[data.type] = (this.received[data.type] ?? 0) + 1;
    try {
      this.handle(data);
    } catch (err) {
      this.errors++;
      const message = `panel failed on '${data.type}': ${err instanceof Error ? err.message : String(err)}`;
      console.error(message);
      this.api.postMessage({ type: 'log', level: 'error', message: message.slice(0, 2000) });
    }
  }

  /** Draws now. `force` redraws every chart (the benchmark's full-redraw figure). */
  renderNow(force = false): void {
    if (this.renderTimer !== undefined) {
      clearTimeout(this.renderTimer);
      this.renderTimer = undefined;
    }
    this.lastRenderAt = performance.now();
    this.renderedMessages = this.messages;
    if (this.tab === 'run') {
      const store = this.runPanel.shownStore;
      const width = this.runPanel.plotWidth();
      if (store && this.decimation && width > 0) store.setMaxBuckets(width);
      this.renderCount++;
      // Some chart waits for its turn (see RunPanel.renderCharts): come back shortly.
      if (this.runPanel.render(force)) this.requestRender();
      return;
    }
    if (this.tab === 'compare') this.comparePanel.render();
    this.renderCount++;
  }

  setDecimation(on: boolean): void {
    this.decimation = on;
    const stores = [this.live, this.runPanel.shownStore].filter((s): s is RunStore => !!s);
    for (const s of stores) s.setMaxBuckets(on ? this.bucketHint() : Number.POSITIVE_INFINITY);
    this.runPanel.render(true);
  }

  debugState(): PanelDebugState {
    const shown = this.runPanel.shownStore;
    const samplesPerGpu: Record<string, number> = {};
    for (const g of shown?.gpuList() ?? []) samplesPerGpu[String(g.index)] = g.t.length;
    const titles: Record<string, string> = {};
    for (const k of ['power', 'energy', 'util', 'mem', 'sm', 'temp'] as const) titles[k] = this.runPanel.chartTitle(k);
    const snapshot: PanelDebugState = {
      tab: this.tab,
      theme: this.palette.kind,
      liveRunId: this.live?.id,
      shownRunId: shown?.id,
      shownIsLive: this.runPanel.shownIsLive,
      renderCount: this.renderCount,
      messages: this.messages,
      renderedMessages: this.renderedMessages,
      renderPending: this.renderTimer !== undefined || this.framePending,
      received: { ...this.received },
      dropped: this.dropped,
      lastDropped: this.lastDropped,
      errors: this.errors,
      figures: shown?.figures(),
      cards: this.runPanel.describeCards(),
      powerSource: this.mount.querySelector('.power-source')?.textContent ?? '',
      chartTitles: titles,
      samplesPerGpu,
      duplicates: shown?.duplicates ?? 0,
      seq: shown?.seq ?? 0,
      batchesSkipped: { duplicate: shown?.duplicateBatches ?? 0, gap: shown?.gapBatches ?? 0 },
      bucketLimit: shown?.bucketLimit ?? 0,
      columnBytes: shown?.columnBytes() ?? 0,
      charts: this.runPanel.describeCharts(),
      bands: this.runPanel.describeBands(),
      events: this.runPanel.describeEvents(),
      zoom: this.runPanel.describeZoom(),
      history: { runIds: this.historyPanel.runIds, selected: [...this.historyPanel.selection] },
      compare: { ...this.comparePanel.snapshot(), charts: this.comparePanel.describeCharts() },
      notice: this.notice,
      palette: this.palette,
    };
    // A deep copy: callers get data, never handles into the panel.
    return JSON.parse(JSON.stringify(snapshot)) as PanelDebugState;
  }

  private handle(msg: ToPanel): void {
    switch (msg.type) {
      case 'init': {
        this.live = msg.live ? this.newStore(msg.live) : undefined;
        this.historyPanel.setHistory(msg.history);
        const selected = (msg.selected ?? []).map((r) => (r.summary.id === this.live?.id && this.live ? this.live : this.newStore(r)));
        if (selected.length >= 2) {
          this.comparePanel.show(selected);
          this.runPanel.show(this.live, true, !!this.live);
        } else if (selected[0] && selected[0] !== this.live) {
          this.comparePanel.show([]);
          this.runPanel.show(selected[0], false, !!this.live);
        } else {
          this.comparePanel.show([]);
          this.runPanel.show(this.live, true, !!this.live);
        }
        // Keep the tab the user was on (the page is rebuilt each time the panel is shown again).
        if (selected.length >= 2 && this.tab !== 'compare') this.setTab('compare', true);
        break;
      }
      case 'samples': {
        if (!this.live || this.live.id !== msg.runId) {
          this.drop(msg, `samples for run ${msg.runId}, which is not the live run`);
          return;
        }
        // Batches are numbered: one already in the snapshot (or re-sent) is skipped, and a gap
        // asks the host for a new snapshot rather than drawing a run with a hole in it.
        if (msg.seq <= this.live.seq) {
          this.live.duplicateBatches++;
          return;
        }
        if (msg.seq > this.live.seq + 1) {
          this.live.gapBatches++;
          this.api.postMessage({ type: 'ready' });
          return;
        }
        this.live.seq = msg.seq;
        this.live.ingest(msg.batch.samples);
        this.live.addGaps(msg.batch.gaps);
        if (msg.live) this.live.setHostLive(msg.live);
        break;
      }
      case 'runEnded': {
        for (const s of this.stores()) if (s.id === msg.summary.id) s.end(msg.summary);
        this.historyPanel.upsert(msg.summary);
        this.comparePanel.invalidate();
        break;
      }
      case 'findings': {
        for (const s of this.stores()) if (s.id === msg.runId) s.setFindings(msg.findings);
        this.comparePanel.invalidate();
        break;
      }
      case 'showRuns': {
        const stores = msg.runs.map((r) => (r.summary.id === this.live?.id && this.live ? this.live : this.newStore(r)));
        if (msg.view === 'compare') {
          this.comparePanel.show(stores);
          this.setTab('compare', true);
        } else if (stores[0]) {
          this.runPanel.show(stores[0], stores[0] === this.live, !!this.live);
          this.setTab('run', true);
        }
        break;
      }
      case 'history':
        this.historyPanel.setHistory(msg.history);
        break;
      case 'notice':
        this.showNotice(msg.level, msg.message);
        break;
      case 'range':
        // An answer the panel no longer waits for (another run shown, zoom reset) is dropped.
        if (!this.runPanel.showRange(msg.range)) return;
        break;
      default:
        assertNever(msg);
    }
    this.requestRender();
  }

  private stores(): RunStore[] {
    const all = [this.live, this.runPanel.shownStore, ...this.comparePanel.runStores];
    return [...new Set(all.filter((s): s is RunStore => !!s))];
  }

  private newStore(run: RunView): RunStore {
    return new RunStore(run, this.decimation ? this.bucketHint() : Number.POSITIVE_INFINITY);
  }

  /** Bucket count before the charts have been laid out: about the width a chart will get. */
  private bucketHint(): number {
    const w = this.runPanel.plotWidth();
    if (w > 0) return w;
    const viewport = document.documentElement.clientWidth || 800;
    return Math.max(200, Math.round(viewport > 900 ? viewport / 2 - 120 : viewport - 120));
  }

  private setTab(tab: Tab, select: boolean): void {
    if (tab === 'run' && this.tab !== 'run') this.runPanel.assumeVisible();
    this.tab = tab;
    if (select) this.tabsEl.selectedIndex = tabs.indexOf(tab);
    this.api.setState({ tab } satisfies SavedState);
    this.requestRender();
  }

  private requestRender(): void {
    if (this.renderTimer !== undefined || this.framePending) return;
    const wait = Math.max(0, this.lastRenderAt + minRenderIntervalMs - performance.now());
    this.renderTimer = setTimeout(() => {
      this.renderTimer = undefined;
      this.framePending = true;
      requestAnimationFrame(() => {
        this.framePending = false;
        this.renderNow();
      });
    }, wait);
  }

  private applyTheme(): void {
    this.palette = readPalette();
    this.runPanel.setPalette(this.palette);
    this.comparePanel.setPalette(this.palette);
    this.requestRender();
  }

  private showNotice(level: 'info' | 'error', text: string): void {
    this.notice = { level, text };
    this.noticeEl.textContent = text;
    this.noticeEl.className = `notice notice-${level}`;
    this.noticeEl.hidden = false;
  }

  private drop(data: unknown, why?: string): void {
    this.dropped++;
    const type = typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string'
      ? String((data as { type: string }).type).slice(0, 40)
      : typeof data;
    const message = why ?? `dropped a malformed or unknown message (type: ${type})`;
    this.lastDropped = message;
    console.warn(`[joules panel] ${message}`);
    if (this.dropReports++ < maxDropReports) this.api.postMessage({ type: 'log', level: 'warn', message });
  }
}
