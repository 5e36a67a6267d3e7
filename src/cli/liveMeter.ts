import type { RunSession } from '../core/runs/runSession';
import { formatDuration, formatJoules, formatWatts } from '../core/units/format';
import type { Io } from './stdio';

/** One-line live wattmeter on stderr, redrawn once a second. */
export class LiveMeter {
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  constructor(
    private readonly session: RunSession,
    private readonly out: Io['stderr'],
  ) {}
  start(): void {
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }
  draw(): void {
    const l = this.session.live();
    const util = l.gpus.filter((g) => g.utilPct !== undefined && (g.attributed || l.gpus.length === 1)).map((g) => `${g.utilPct} %`);
    const text = `\u26a1 ${formatWatts(l.powerW)} \u00b7 ${formatJoules(l.energyJ)} \u00b7 ${formatDuration(l.elapsedS)}${util.length ? ` \u00b7 util ${util.join('/')}` : ''}${this.session.replay ? ' \u00b7 REPLAY' : ''}`;
    this.clear();
    this.out.write(`\x1b[2m${text.slice(0, (this.out.columns ?? 100) - 1)}\x1b[0m`);
    this.shown = true;
  }
}
