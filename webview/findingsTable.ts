/** The run tab's findings: one row per finding, in time order, with the energy it wasted. */
import { explainedWasteJ } from '../src/core/analysis/findings';
import type { FindingView } from '../src/core/protocol/panel';
import { clear, h, td, th } from './dom';
import { formatClock, formatJoules } from '../src/core/units/format';

export class FindingsTable {
  /** The section; hidden while the run has no findings. */
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private rendered: FindingView[] | undefined;

  constructor() {
    this.body = h('tbody');
    this.root = h('section', { class: 'findings', attrs: { 'aria-labelledby': 'findings-h' } },
      h('h3', { text: 'Findings', attrs: { id: 'findings-h' } }),
      h('table', {},
        h('thead', {}, h('tr', {}, th('Finding'), th('When'), th('Energy'), th('Avoidable'), th('Details'))),
        this.body));
  }

  /** Forgets what was drawn: the next render rebuilds the rows. */
  reset(): void {
    this.rendered = undefined;
  }

  render(findings: FindingView[]): void {
    // The store replaces the list when findings change, so an unchanged list is the same array.
    if (findings === this.rendered) return;
    this.rendered = findings;
    clear(this.body);
    this.root.hidden = findings.length === 0;
    for (const f of [...findings].sort((a, b) => a.startS - b.startS)) {
      const name = h('td', {}, h('span', { class: `severity severity-${f.severity}`, text: f.severity }), ` ${f.title}`);
      this.body.append(h('tr', { attrs: { 'data-code': f.code } },
        name,
        td(`${f.stretches.length > 1 ? `${f.stretches.length} stretches, ` : ''}${formatClock(f.startS)}–${formatClock(f.endS)}${f.gpu === undefined ? '' : ` · GPU ${f.gpu}`}`),
        // A source finding that explains a measured one shows that one's joules, marked as counted there.
        td(f.correlatedWith?.length ? '—' : formatJoules(f.energyJ), 'num'),
        td(f.correlatedWith?.length ? `(${formatJoules(explainedWasteJ(f, findings))}, counted above)` : formatJoules(f.wastedJ), 'num'),
        td(f.message)));
    }
  }
}
