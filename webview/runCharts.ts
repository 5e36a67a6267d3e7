/**
 * The run tab's charts: one per metric (a line per GPU, all on one time axis), with the run's
 * phases, gaps and findings as bands and its `::joules mark` events as lines. Redraws only what a
 * user could see change (see `render`).
 */
import { assertNever } from '../src/core/protocol/panel';
import type { XY } from '../src/core/protocol/decimate';
import { LineChart } from './charts';
import type { BandSpec, EventSpec, SeriesSpec } from './charts';
import { h, setAttr, setText } from './dom';
import { formatClock, formatSig, formatWatts } from '../src/core/units/format';
import type { GpuMetric, GpuSeries, RunStore } from './runStore';
import type { Palette } from './theme';
import type { Zoom } from './zoomControls';

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

const powerSourceText = {
  instant: 'instantaneous reading (NVML field POWER_INSTANT, nvidia-smi power.draw.instant)',
  average: '1 s moving average (nvmlDeviceGetPowerUsage, nvidia-smi power.draw)',
} as const;

export class RunCharts {
  /** The chart grid. */
  readonly root: HTMLElement;
  /** The power-source line shown above the charts. */
  readonly powerSource: HTMLElement;
  /** GPUs the user switched off in the filter; their lines are kept but hidden. */
  readonly hiddenGpus = new Set<number>();
  private readonly chartTitles = new Map<ChartKey, HTMLElement>();
  private readonly charts = new Map<ChartKey, LineChart>();
  private drawnBands: BandSpec[] = [];
  /** The `::joules mark` lines drawn on every chart of the shown run. */
  private drawnEvents: EventSpec[] = [];
  /** Per chart: what it last drew (shape and any-change signatures) and when. */
  private readonly drawnState = new Map<ChartKey, DrawnState>();
  private readonly drawnAt = new Map<ChartKey, number>();
  private readonly chartVisible = new Map<ChartKey, boolean>();
  private paletteVersion = 0;
  private palette: Palette;

  /** `cameIntoView`: a chart scrolled back into view and waits for a render. */
  constructor(palette: Palette, cameIntoView: () => void) {
    this.palette = palette;
    this.powerSource = h('p', { class: 'power-source' });
    this.root = h('div', { class: 'charts' });
    // Charts out of view (scrolled away, or on a hidden tab) are not redrawn until they come back.
    const observer = new IntersectionObserver((entries) => {
      let came = false;
      for (const e of entries) {
        const key = (e.target as HTMLElement).dataset.chart as ChartKey | undefined;
        if (!key) continue;
        if (e.isIntersecting && this.chartVisible.get(key) === false) {
          came = true;
          this.drawnState.delete(key);
        }
        this.chartVisible.set(key, e.isIntersecting);
      }
      if (came) cameIntoView();
    }, { rootMargin: '200px' });
    for (const def of chartDefs) {
      const caption = h('figcaption', { text: `${def.title} (${def.unit})` });
      const canvas = h('canvas');
      const fig = h('figure', { class: `chart chart-${def.key}`, attrs: { 'data-chart': def.key } }, caption, h('div', { class: 'canvas-wrap' }, canvas));
      this.root.append(fig);
      observer.observe(fig);
      this.chartTitles.set(def.key, caption);
      this.charts.set(def.key, new LineChart(canvas, palette, {
        ariaLabel: `${def.title} chart`,
        xFormat: formatClock,
        yFormat: (v) => formatSig(v),
        bandLabels: def.key === 'power',
      }));
    }
  }

  /** The power chart's canvas: the zoom's drag surface. */
  get powerCanvas(): HTMLCanvasElement {
    return this.chart('power').canvas;
  }

  /** Run time (s) at a pixel of the power chart's plot, once it has been drawn. */
  powerTimeAt(px: number): number | undefined {
    const x = this.charts.get('power')?.chart.scales.x;
    return x ? x.getValueForPixel(px) : undefined;
  }

  /** Forgets what every chart drew: the next render draws them all. */
  forgetDrawn(): void {
    this.drawnState.clear();
  }

  /** Forgets what the observer said (see RunPanel.assumeVisible). */
  assumeVisible(): void {
    this.chartVisible.clear();
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.paletteVersion++;
    for (const c of this.charts.values()) c.setPalette(p);
  }

  /** Narrowest plot width over the charts, in CSS pixels (0 while hidden). */
  plotWidth(): number {
    let w = Infinity;
    for (const c of this.charts.values()) w = Math.min(w, c.plotWidth());
    return Number.isFinite(w) ? w : 0;
  }

  describe(): Record<string, ReturnType<LineChart['describe']>> {
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

  chartTitle(key: ChartKey): string {
    return this.chartTitles.get(key)?.textContent ?? '';
  }

  /**
   * Redraws the charts whose picture changed. A chart is redrawn at once when its axis, its
   * buckets (a new pixel column), its overlays or the theme changed. A change confined to the last
   * bucket (the last pixel column or two of a long run) is drawn only if it moves a line end by
   * half a pixel or more, within about a second, one such chart per render; so most live updates
   * of an hour-long run redraw nothing, and the others one chart, not six. Charts scrolled out of
   * view are skipped and drawn when they come back. Returns whether some chart waits for its turn.
   * `zoom`: the shown run's zoom, drawn when `s` is its store.
   */
  render(s: RunStore, force: boolean, zoom: Zoom | undefined): boolean {
    const gpus = s.gpuList();
    const zoomed = zoom?.store === s ? zoom : undefined;
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
}

function scaled(points: XY[], k: number): XY[] {
  return points.map((p) => ({ x: p.x, y: p.y * k }));
}
