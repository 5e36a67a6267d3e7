/**
 * Chart.js line charts tuned for long telemetry series, and the plugin that draws phases,
 * findings and sampling gaps as bands behind the lines.
 */
import { Chart, LineController, LineElement, LinearScale, PointElement, Tooltip } from 'chart.js';
import type { ChartDataset, Plugin, Scale } from 'chart.js';
import type { XY } from '../src/core/protocol/decimate';
import type { Palette } from './theme';

export interface SeriesSpec {
  /** Stable across updates, so Chart.js keeps the dataset and its elements. */
  id: string;
  label: string;
  color: string;
  points: XY[];
  width?: number;
  dash?: number[];
  hidden?: boolean;
}

export interface BandSpec {
  startX: number;
  endX: number;
  kind: 'phase' | 'finding' | 'gap';
  label: string;
  /** For findings. */
  severity?: 'warning' | 'information' | 'hint';
  /**
   * For findings: the row of the finding's strip and label (0 = top). Each finding has its own row,
   * so findings that overlap in time stay apart instead of piling up into one block.
   */
  lane?: number;
}

export interface EventSpec {
  x: number;
  label: string;
}

export interface AxisSpec {
  xMin: number;
  xMax: number;
  yMin?: number;
  yMax?: number;
  suggestedYMax?: number;
}

interface Overlay {
  bands: BandSpec[];
  events: EventSpec[];
  labels: boolean;
  palette: Palette;
}

const overlays = new WeakMap<Chart, Overlay>();

/** Y-axis width shared by all charts, so the plot areas line up on one time axis. */
const yAxisWidthPx = 64;

const bandsPlugin: Plugin<'line'> = {
  id: 'joulesBands',
  beforeDatasetsDraw(chart) {
    const o = overlays.get(chart);
    const x = chart.scales.x;
    if (!o || !x) return;
    const { top, bottom, left, right } = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, right - left, bottom - top);
    ctx.clip();
    let phase = 0;
    const labelled = new Set<string>();
    const rowPx = o.palette.fontSizePx + 4;
    for (const b of o.bands) {
      const x0 = x.getPixelForValue(b.startX);
      const x1 = Math.max(x0 + 1, x.getPixelForValue(b.endX));
      if (x1 < left || x0 > right) continue;
      if (b.kind === 'phase') {
        // Alternate two tints so neighbouring phases stay distinguishable.
        ctx.fillStyle = o.palette.foreground;
        ctx.globalAlpha = phase++ % 2 === 0 ? 0.05 : 0.1;
        ctx.fillRect(x0, top, x1 - x0, bottom - top);
      } else {
        const color = b.kind === 'gap' ? o.palette.foreground : b.severity === 'warning' ? o.palette.warning : o.palette.info;
        ctx.fillStyle = color;
        // Faint enough that two overlapping findings stay readable (a stronger tint piled into a block).
        ctx.globalAlpha = b.kind === 'gap' ? 0.18 : 0.07;
        ctx.fillRect(x0, top, x1 - x0, bottom - top);
        // A solid strip in the finding's own row marks the span even where the tint is faint.
        ctx.globalAlpha = 0.85;
        const stripY = b.kind === 'finding' ? top + rowPx * (1 + (b.lane ?? 0)) - 4 : top;
        ctx.fillRect(x0, stripY, x1 - x0, 3);
      }
      // One label per band name (a finding of many stretches is named once), in its own row.
      if (o.labels && x1 - x0 > 28 && !labelled.has(`${b.kind}:${b.label}`)) {
        labelled.add(`${b.kind}:${b.label}`);
        ctx.globalAlpha = 0.9;
        ctx.fillStyle = o.palette.foreground;
        ctx.font = `${Math.round(o.palette.fontSizePx * 0.85)}px ${o.palette.fontFamily}`;
        ctx.textBaseline = 'top';
        const y = b.kind === 'phase' ? top + 5 : top + 5 + rowPx * (1 + (b.lane ?? 0)) - 4;
        ctx.fillText(fit(ctx, b.label, Math.max(x1 - x0, right - x0) - 6), x0 + 3, y);
      }
    }
    ctx.globalAlpha = 0.7;
    ctx.strokeStyle = o.palette.foreground;
    ctx.setLineDash([2, 3]);
    for (const e of o.events) {
      const px = x.getPixelForValue(e.x);
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, bottom);
      ctx.stroke();
    }
    ctx.restore();
  },
};

function fit(ctx: CanvasRenderingContext2D, text: string, maxPx: number): string {
  if (ctx.measureText(text).width <= maxPx) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(`${s}…`).width > maxPx) s = s.slice(0, -1);
  return `${s}…`;
}

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, bandsPlugin);

export interface LineChartOptions {
  ariaLabel: string;
  xFormat: (v: number) => string;
  yFormat: (v: number) => string;
  tooltipTitle?: (x: number) => string;
  bandLabels?: boolean;
}

export class LineChart {
  readonly chart: Chart<'line', XY[]>;
  private palette: Palette;
  private ids: string[] = [];
  /** Redraws so far (for the test hook: a batch that changes nothing visible must not redraw). */
  redraws = 0;

  constructor(readonly canvas: HTMLCanvasElement, palette: Palette, opts: LineChartOptions) {
    this.palette = palette;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', opts.ariaLabel);
    this.chart = new Chart<'line', XY[]>(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        // Every update redraws at once: animation would lag behind live data and cost frames.
        animation: false,
        locale: 'en-US',
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0, hitRadius: 4, hoverRadius: 3 }, line: { tension: 0 } },
        datasets: { line: { spanGaps: true } },
        events: ['mousemove', 'mouseout', 'click', 'touchstart', 'touchmove'],
        scales: {
          x: {
            type: 'linear',
            ticks: { callback: (v) => opts.xFormat(Number(v)), maxTicksLimit: 8, maxRotation: 0 },
          },
          y: {
            type: 'linear',
            // Chart.js's own tick labels keep one number of decimals per axis (0.5, 1.0, 1.5).
            ticks: { maxTicksLimit: 6 },
            afterFit: (scale: Scale) => {
              scale.width = yAxisWidthPx;
            },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => {
                const x = items[0]?.parsed.x;
                return x === undefined || x === null ? '' : (opts.tooltipTitle ?? opts.xFormat)(x);
              },
              label: (item) => `${item.dataset.label ?? ''}: ${opts.yFormat(item.parsed.y ?? NaN)}`,
            },
          },
        },
      },
    });
    overlays.set(this.chart, { bands: [], events: [], labels: opts.bandLabels ?? false, palette });
    this.applyPalette();
  }

  setPalette(palette: Palette): void {
    this.palette = palette;
    const o = overlays.get(this.chart);
    if (o) o.palette = palette;
    this.applyPalette();
  }

  /** Width of the plot area in CSS pixels (what the decimators size their buckets by). */
  plotWidth(): number {
    const a = this.chart.chartArea;
    return a ? Math.max(0, a.right - a.left) : 0;
  }

  /** The y axis as last drawn: its range and pixels per unit (undefined before the first draw). */
  yAxis(): { min: number; max: number; pxPerUnit: number } | undefined {
    const y = this.chart.scales.y;
    const area = this.chart.chartArea;
    if (!y || !area || !(y.max > y.min)) return undefined;
    return { min: y.min, max: y.max, pxPerUnit: (area.bottom - area.top) / (y.max - y.min) };
  }

  setAriaLabel(label: string): void {
    if (this.canvas.getAttribute('aria-label') !== label) this.canvas.setAttribute('aria-label', label);
  }

  /** Replaces the data and redraws synchronously (no animation). */
  update(series: SeriesSpec[], axis: AxisSpec, bands: BandSpec[] = [], events: EventSpec[] = []): void {
    const datasets = this.chart.data.datasets;
    const sameShape = series.length === this.ids.length && series.every((s, i) => s.id === this.ids[i]);
    if (!sameShape) {
      datasets.length = 0;
      for (const s of series) datasets.push(this.dataset(s));
      this.ids = series.map((s) => s.id);
    } else {
      series.forEach((s, i) => {
        const d = datasets[i] as ChartDataset<'line', XY[]>;
        // A fresh array each time: Chart.js instruments the data array it is given.
        d.data = s.points.slice();
        d.label = s.label;
        d.borderColor = s.color;
        d.backgroundColor = s.color;
        d.borderWidth = (s.width ?? 1) * this.palette.lineWidth;
        d.borderDash = s.dash ?? [];
        d.hidden = s.hidden ?? false;
      });
    }
    const o = overlays.get(this.chart);
    if (o) {
      o.bands = bands;
      o.events = events;
    }
    const scales = this.chart.options.scales;
    if (scales?.x) {
      scales.x.min = axis.xMin;
      scales.x.max = axis.xMax > axis.xMin ? axis.xMax : axis.xMin + 1;
    }
    if (scales?.y) {
      scales.y.min = axis.yMin;
      scales.y.max = axis.yMax;
      (scales.y as { suggestedMax?: number }).suggestedMax = axis.suggestedYMax;
    }
    this.chart.update('none');
    this.redraws++;
  }

  /** Series as drawn, for the test hook. */
  describe(): { id: string; label: string; color: string; points: number; hidden: boolean; first?: XY; last?: XY; maxY: number; minY: number; redraws: number }[] {
    return this.chart.data.datasets.map((d, i) => {
      let maxY = -Infinity;
      let minY = Infinity;
      for (const p of d.data) {
        if (p.y > maxY) maxY = p.y;
        if (p.y < minY) minY = p.y;
      }
      return {
        id: this.ids[i] ?? '',
        label: d.label ?? '',
        color: String(d.borderColor),
        points: d.data.length,
        hidden: d.hidden ?? false,
        first: d.data[0],
        last: d.data[d.data.length - 1],
        maxY,
        minY,
        redraws: this.redraws,
      };
    });
  }

  destroy(): void {
    this.chart.destroy();
  }

  private dataset(s: SeriesSpec): ChartDataset<'line', XY[]> {
    return {
      label: s.label,
      data: s.points.slice(),
      borderColor: s.color,
      backgroundColor: s.color,
      borderWidth: (s.width ?? 1) * this.palette.lineWidth,
      borderDash: s.dash ?? [],
      hidden: s.hidden ?? false,
      pointRadius: 0,
    };
  }

  private applyPalette(): void {
    const p = this.palette;
    const o = this.chart.options;
    o.color = p.foreground;
    o.font = { family: p.fontFamily, size: Math.round(p.fontSizePx * 0.9) };
    for (const axis of [o.scales?.x, o.scales?.y]) {
      if (!axis) continue;
      if (axis.ticks) axis.ticks.color = p.foreground;
      axis.grid = { ...axis.grid, color: p.grid, tickColor: p.grid };
      axis.border = { ...axis.border, color: p.grid };
    }
    const t = o.plugins?.tooltip;
    if (t) {
      t.backgroundColor = p.background;
      t.titleColor = p.foreground;
      t.bodyColor = p.foreground;
      t.borderColor = p.grid;
      t.borderWidth = 1;
    }
  }
}
