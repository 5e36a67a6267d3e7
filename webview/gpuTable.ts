/** The run tab's per-GPU table: in text, what the charts show (for screen readers, and to copy). */
import { clear, h, td, th } from './dom';
import { formatJoules, formatPct, formatSig, formatWattHours, formatWatts } from '../src/core/units/format';
import type { RunStore } from './runStore';

export class GpuTable {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private readonly rows = new Map<number, HTMLTableCellElement[]>();

  constructor() {
    this.body = h('tbody');
    this.root = h('section', { class: 'gpu-table', attrs: { 'aria-labelledby': 'gpu-table-h' } },
      h('h3', { text: 'Per-GPU figures', attrs: { id: 'gpu-table-h' } }),
      h('table', {},
        h('caption', { class: 'sr-only', text: 'Text equivalent of the charts: per-GPU energy, power, utilization, memory, clock and temperature.' }),
        h('thead', {}, h('tr', {}, th('GPU'), th('Energy'), th('Avg power'), th('Peak power'), th('Avg util'), th('Peak memory'), th('Max SM clock'), th('Max temp'))),
        this.body));
  }

  /** Forgets the rows built: the next render builds them for the run then shown. */
  reset(): void {
    this.rows.clear();
  }

  render(s: RunStore): void {
    const gpus = s.gpuList();
    // Rows are built once per GPU set and their cells rewritten in place: live runs redraw often.
    if (this.rows.size !== gpus.length || gpus.some((g) => !this.rows.has(g.index))) {
      clear(this.body);
      this.rows.clear();
      for (const g of gpus) {
        const cells = Array.from({ length: 7 }, () => td('', 'num'));
        this.body.append(h('tr', {}, h('th', { text: `${g.index}: ${g.name}`, attrs: { scope: 'row' } }), ...cells));
        this.rows.set(g.index, cells);
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
      const cells = this.rows.get(g.index) ?? [];
      texts.forEach((t, i) => {
        const c = cells[i];
        if (c && c.textContent !== t) c.textContent = t;
      });
    }
  }
}
