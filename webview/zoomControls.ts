/**
 * Zoom into a time range of a stored run: drag across the power chart, or type the range; the host
 * sends that stretch at full resolution (the overview is one min/max pair per pixel column of the
 * whole run).
 */
import type { RangeView, RunView } from '../src/core/protocol/panel';
import { h, setText } from './dom';
import { formatClock, formatSig } from '../src/core/units/format';
import type { RunStore } from './runStore';

/** A zoomed time range of the shown run: asked for, then drawn from the host's answer. */
export interface Zoom {
  runId: string;
  requestId: number;
  startS: number;
  endS: number;
  /** The range's drawing, once the host answered. */
  store?: RunStore;
  bucketMs?: number;
}

export interface ZoomHost {
  /** The run shown, the one a zoom applies to. */
  shownStore(): RunStore | undefined;
  /** Asks the host for [startMs, endMs] of a stored run at full resolution (answered by `range`). */
  requestRange(runId: string, requestId: number, startMs: number, endMs: number): void;
  /** A store for a zoomed range's drawing (the app's, sized to the charts). */
  newStore(run: RunView): RunStore;
  /** The zoom changed and wants a render; `redrawCharts`: what the charts drew no longer holds. */
  changed(redrawCharts: boolean): void;
}

/** Narrower drags are taken for clicks. */
const minDragPx = 4;

export class ZoomControls {
  /** The bar with the range fields. */
  readonly root: HTMLElement;
  private zoom: Zoom | undefined;
  private nextRequestId = 1;
  private readonly text: HTMLElement;
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private readonly resetButton: HTMLElement;
  private readonly selection: HTMLElement;

  constructor(private readonly host: ZoomHost) {
    this.fromInput = h('input', { attrs: { type: 'number', min: '0', step: 'any', id: 'zoom-from', 'aria-label': 'Zoom from (seconds)' } });
    this.toInput = h('input', { attrs: { type: 'number', min: '0', step: 'any', id: 'zoom-to', 'aria-label': 'Zoom to (seconds)' } });
    const apply = h('vscode-button', { text: 'Zoom', attrs: { secondary: '', id: 'zoom-apply' } });
    apply.addEventListener('click', () => this.zoomInto(Number(this.fromInput.value), Number(this.toInput.value)));
    this.resetButton = h('vscode-button', { text: 'Reset zoom', attrs: { secondary: '', id: 'zoom-reset' } });
    this.resetButton.addEventListener('click', () => this.reset());
    this.text = h('span', { class: 'zoom-text', attrs: { 'aria-live': 'polite' } });
    this.root = h('div', { class: 'zoom-bar', attrs: { role: 'group', 'aria-label': 'Zoom into a time range' } },
      h('label', { text: 'From (s) ', attrs: { for: 'zoom-from' } }), this.fromInput,
      h('label', { text: ' to (s) ', attrs: { for: 'zoom-to' } }), this.toInput, apply, this.resetButton, this.text);
    this.selection = h('div', { class: 'zoom-selection', attrs: { 'aria-hidden': 'true' } });
    this.selection.hidden = true;
  }

  /** The zoom asked for or shown, if any. */
  get current(): Zoom | undefined {
    return this.zoom;
  }

  /** Drops the zoom without a render (another run is shown). */
  clear(): void {
    this.zoom = undefined;
  }

  /** What the zoom shows, for the test hook. */
  describe(): { startS: number; endS: number; bucketMs?: number; pending: boolean } | undefined {
    const z = this.zoom;
    return z ? { startS: z.startS, endS: z.endS, ...(z.bucketMs !== undefined ? { bucketMs: z.bucketMs } : {}), pending: !z.store } : undefined;
  }

  /**
   * The host's answer to a zoom: kept when it is the one the panel waits for, else ignored. The
   * caller redraws the charts when it was kept.
   */
  showRange(range: RangeView): boolean {
    const z = this.zoom;
    const s = this.host.shownStore();
    if (!z || !s || z.runId !== range.runId || z.requestId !== range.requestId) return false;
    z.store = this.host.newStore({ summary: s.summary, gpus: s.gpuInfo, samples: [], drawing: range, markers: s.markers, findings: s.findings, gaps: s.gaps });
    z.bucketMs = range.bucketMs;
    return true;
  }

  render(s: RunStore): void {
    // A live run's samples are still being written: zoom once it has ended.
    this.root.hidden = s.running;
    this.resetButton.hidden = !this.zoom;
    const z = this.zoom;
    const text = !z ? 'Drag across the power chart to zoom.'
      : !z.store ? `Reading ${formatClock(z.startS)}–${formatClock(z.endS)}…`
        : `Showing ${formatClock(z.startS)}–${formatClock(z.endS)} at full resolution (${formatSig(z.bucketMs ?? 0)} ms per point).`;
    setText(this.text, text);
  }

  /**
   * Drag across `canvas` to select a range; the selection is drawn as a shaded box. `timeAt`: the
   * run time (s) at a pixel of the canvas's plot.
   */
  attachDrag(canvas: HTMLCanvasElement, timeAt: (px: number) => number | undefined): void {
    let startPx: number | undefined;
    const wrap = canvas.parentElement;
    wrap?.append(this.selection);
    canvas.addEventListener('mousedown', (e) => {
      const s = this.host.shownStore();
      if (!s || s.running || e.button !== 0) return;
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
      const a = timeAt(Math.min(from, e.offsetX));
      const b = timeAt(Math.max(from, e.offsetX));
      if (a !== undefined && b !== undefined) this.zoomInto(a, b);
    };
    canvas.addEventListener('mouseup', end);
    canvas.addEventListener('mouseleave', end);
  }

  /**
   * Zoom into [startS, endS] of the shown run: asks the host for that stretch. Only a stored run
   * zooms (a live run's samples are still being written); a range outside the run is clamped.
   */
  private zoomInto(startS: number, endS: number): void {
    const s = this.host.shownStore();
    if (!s || s.running || !Number.isFinite(startS) || !Number.isFinite(endS)) return;
    const end = Math.max(startS, endS);
    const a = Math.max(0, Math.min(startS, endS));
    const b = Math.min(end, s.xMaxS());
    if (!(b > a)) return;
    const requestId = this.nextRequestId++;
    this.zoom = { runId: s.id, requestId, startS: a, endS: b };
    // The fields show the range drawn, whichever way it was chosen (a drag, or typed and clamped).
    this.fromInput.value = String(Math.round(a * 10) / 10);
    this.toInput.value = String(Math.round(b * 10) / 10);
    this.host.requestRange(s.id, requestId, a * 1000, b * 1000);
    // Until the answer comes, the charts keep the overview they drew.
    this.host.changed(false);
  }

  private reset(): void {
    if (!this.zoom) return;
    this.zoom = undefined;
    this.host.changed(true);
  }
}
