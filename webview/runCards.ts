/** The run tab's summary cards: duration, energy, power, efficiency, carbon and cost of the run. */
import { jPerStepOf, jPerTokenOf } from '../src/core/protocol/compare';
import { clear, h } from './dom';
import { formatDuration, formatInt, formatJoules, formatPct, formatSig, formatWattHours, formatWatts } from '../src/core/units/format';
import type { RunStore } from './runStore';

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

const energyMethodText = {
  counter: 'Hardware counter',
  integrated: 'Integrated from power',
  mixed: 'Counter and integrated (per GPU)',
} as const;

const workSourceText = {
  package: 'from the joules package',
  markers: 'from ::joules lines',
  'package+markers': 'from the joules package and ::joules lines',
  log: 'inferred from the log',
} as const;

export class RunCards {
  readonly root: HTMLElement;
  private cards: Card[] = [];

  constructor() {
    this.root = h('dl', { class: 'cards' });
  }

  /** Builds the cards afresh (the GPU set changed). */
  build(): void {
    clear(this.root);
    const make = (key: string, label: string): Card => {
      const value = h('dd', { class: 'card-value' });
      const detail = h('dd', { class: 'card-detail' });
      const root = h('div', { class: `card card-${key}`, attrs: { 'data-card': key } }, h('dt', { text: label }), value, detail);
      this.root.append(root);
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
      make('jPerSample', 'Energy per sample'),
      make('jPerToken', 'Energy per token'),
      make('steadyJPerToken', 'Steady-state energy per token'),
      make('carbon', 'Carbon'),
      make('cost', 'Cost'),
      make('relatable', 'Equivalent to'),
    ];
  }

  /** The cards shown, for the test hook. */
  describe(): CardSnapshot[] {
    return this.cards.filter((c) => !c.root.hidden).map((c) => ({ key: c.key, label: c.label, value: c.value.textContent ?? '', detail: c.detail.textContent ?? '' }));
  }

  render(s: RunStore): void {
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
    this.renderWork(s, f.energyJ);
    // A live run's carbon and cost follow its energy at the host's rate per joule (both are linear
    // in energy); a stored run shows the host's figures. No figure but a source: the setting's error.
    const live = f.source === 'live';
    const carbonG = live && sum.carbonGPerJ !== undefined ? f.energyJ * sum.carbonGPerJ : sum.carbonG;
    this.setCard('carbon', carbonG === undefined ? (sum.carbonSource ? '—' : undefined) : `${formatSig(carbonG)} g CO₂e`, sum.carbonSource ?? '');
    const costAmount = live && sum.costPerJ !== undefined ? f.energyJ * sum.costPerJ : sum.cost?.amount;
    this.setCard('cost', sum.cost === undefined || costAmount === undefined ? undefined : `${formatSig(costAmount)} ${sum.cost.currency}`, sum.cost?.source ?? '');
    // Relatable units are shown for the figures the host computed: a live run's come at its end.
    const rel = live ? [] : sum.relatable ?? [];
    this.setCard('relatable', rel.length === 0 ? undefined : rel.map((r) => `${formatSig(r.value)} ${r.label}`).join(' · '),
      [...new Set(rel.map((r) => r.source))].join('; '));
  }

  /**
   * The efficiency cards: J/step, J/sample, J/token (live: the energy so far over the work so far)
   * and, for a finished inference run, the steady-state J/token; each says where its work came from.
   */
  private renderWork(s: RunStore, energyJ: number): void {
    const sum = s.summary;
    const live = s.liveWork();
    const source = live?.source ?? sum.workSource;
    const detail = live?.detail ?? sum.workDetail;
    const from = source === undefined ? '' : ` · ${workSourceText[source]}${detail ? ` (${detail})` : ''}`;
    const steps = live ? live.steps : sum.steps;
    const samples = live ? live.samples : sum.samples;
    const tokens = live ? live.tokens : sum.tokens;
    const jps = live ? (steps ? energyJ / steps : undefined) : jPerStepOf(sum);
    this.setCard('jPerStep', jps === undefined ? undefined : `${formatSig(jps)} J/step`, steps === undefined ? '' : `${formatInt(steps)} steps${from}`);
    const jpsa = live ? (samples ? energyJ / samples : undefined) : sum.jPerSample;
    this.setCard('jPerSample', jpsa === undefined ? undefined : `${formatSig(jpsa)} J/sample`, samples === undefined ? '' : `${formatInt(samples)} samples${from}`);
    const jpt = live ? (tokens ? energyJ / tokens : undefined) : jPerTokenOf(sum);
    this.setCard('jPerToken', jpt === undefined ? undefined : `${formatSig(jpt)} J/token`, tokens === undefined ? '' : `${formatInt(tokens)} tokens${steps ? '' : from}`);
    const st = live ? undefined : sum.steadyState;
    this.setCard('steadyJPerToken', st === undefined ? undefined : `${formatSig(st.jPerToken)} J/token`,
      st === undefined ? '' : `${formatInt(st.tokens)} tokens from ${formatDuration(st.startS)} to ${formatDuration(st.endS)} (first and last 10 % of tokens left out)`);
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
}
