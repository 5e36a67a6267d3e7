/**
 * The work a run did (steps, samples, tokens) and its energy per unit of work. Three sources, in
 * order of trust: the Python package over the run's channel (`package`), `::joules` marker lines
 * (`markers`), and the run's ordinary log (`log`, logWork.ts: "inferred from the log"). Work is
 * inferred only when the run reported none itself: a run that reports steps and also prints a tqdm
 * bar is never counted twice.
 *
 * Steady-state J/token (inference): the energy per token between the moment the run had reported
 * 10 % of its tokens and the moment it had reported 90 % of them, so the warm-up (model load,
 * first batches filling up) and the drain (the last requests finishing with a half-empty batch)
 * are left out, in the spirit of the ML.ENERGY leaderboard's steady-state measurement. Both
 * moments are token reports; the tokens are those reported after the first moment up to the
 * second; the energy between them is interpolated on the run's counter readings (about one a
 * second, see {@link EnergyTimeline}). Needs at least 3 token reports and the two moments apart.
 */
import type { LogWork } from './logWork';
import { LogWorkInference } from './logWork';
import { StepPoints } from './stepPoints';
import type { LiveWork, RunSummary, SteadyState, WorkSource } from './types';

/** Share of the tokens left out at each end for the steady state (10 %: warm-up; 10 %: drain). */
export const STEADY_EDGE_FRACTION = 0.1;

/**
 * The run's energy over time, from the counter readings the sampler hands over with each batch
 * (about one a second); bounded like StepPoints (thinned to every other point when full).
 */
export class EnergyTimeline {
  private tS: number[] = [0];
  private energyJ: number[] = [0];
  private minSpacingS = 0;

  constructor(private readonly maxPoints = 4000) {}

  add(tS: number, energyJ: number): void {
    const last = this.tS.length - 1;
    if (!(tS > this.tS[last]!) || !Number.isFinite(energyJ)) return;
    if (tS - this.tS[last]! < this.minSpacingS && last > 0) {
      // Too close to the last kept point: move that point instead (the latest reading is kept).
      this.tS[last] = tS;
      this.energyJ[last] = energyJ;
      return;
    }
    this.tS.push(tS);
    this.energyJ.push(energyJ);
    if (this.tS.length >= this.maxPoints) {
      const keep = (_: number, i: number): boolean => i % 2 === 0 || i === this.tS.length - 1;
      this.tS = this.tS.filter(keep);
      this.energyJ = this.energyJ.filter(keep);
      this.minSpacingS = Math.max(this.minSpacingS * 2, (this.tS[this.tS.length - 1]! - this.tS[0]!) / this.tS.length);
    }
  }

  /** Energy at `tS`, linear between readings; past the last reading, the last reading. */
  at(tS: number): number {
    const t = this.tS;
    if (tS <= 0) return 0;
    if (tS >= t[t.length - 1]!) return this.energyJ[t.length - 1]!;
    let lo = 0;
    let hi = t.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (t[mid]! <= tS) lo = mid;
      else hi = mid;
    }
    const f = (tS - t[lo]!) / (t[hi]! - t[lo]!);
    return this.energyJ[lo]! + f * (this.energyJ[hi]! - this.energyJ[lo]!);
  }
}

/** The steady state of a token series (see the file's comment), or undefined. */
export function steadyState(tokens: StepPoints, energy: EnergyTimeline): SteadyState | undefined {
  const pts = tokens.toArray();
  const total = tokens.steps;
  if (pts.length < 3 || !(total > 0)) return undefined;
  const a = pts.find((p) => p.step >= STEADY_EDGE_FRACTION * total);
  const b = pts.find((p) => p.step >= (1 - STEADY_EDGE_FRACTION) * total);
  if (!a || !b || !(b.tS > a.tS) || !(b.step > a.step)) return undefined;
  const energyJ = energy.at(b.tS) - energy.at(a.tS);
  if (!(energyJ >= 0)) return undefined;
  const n = b.step - a.step;
  return { startS: a.tS, endS: b.tS, tokens: n, energyJ, jPerToken: energyJ / n };
}

/** The summary's work fields (RunSummary). */
export type WorkFields = Pick<RunSummary, 'steps' | 'stepPoints' | 'jPerStep' | 'samples' | 'jPerSample' | 'tokens' | 'jPerToken' | 'workSource' | 'workDetail' | 'steadyState'>;

export class WorkTracker {
  private readonly steps = new StepPoints();
  private samples = 0;
  private readonly tokens = new StepPoints();
  private readonly sources = new Set<'package' | 'markers'>();
  private readonly log = new LogWorkInference();
  readonly energy = new EnergyTimeline();

  /** Work the run reported itself. */
  report(source: 'package' | 'markers', tS: number, w: { steps?: number; samples?: number; tokens?: number }): void {
    let any = false;
    if (w.steps !== undefined && w.steps > 0) {
      this.steps.add(tS, w.steps);
      any = true;
    }
    if (w.samples !== undefined && w.samples > 0) {
      this.samples += w.samples;
      any = true;
    }
    if (w.tokens !== undefined && w.tokens > 0) {
      this.tokens.add(tS, w.tokens);
      any = true;
    }
    if (any) this.sources.add(source);
  }

  /** The run's output (for inference from the log). */
  output(text: string, stream: 'stdout' | 'stderr', tS: number): void {
    // Once the run reports work itself the log is not read: the cost stops with the need.
    if (this.sources.size > 0) return;
    this.log.feed(text, stream, tS);
  }

  private inferred(): LogWork | undefined {
    return this.sources.size > 0 ? undefined : this.log.result();
  }

  private source(): WorkSource | undefined {
    if (this.sources.size === 2) return 'package+markers';
    if (this.sources.has('package')) return 'package';
    if (this.sources.has('markers')) return 'markers';
    return this.inferred() ? 'log' : undefined;
  }

  /** Work so far, for the live figures (undefined while none). */
  live(): LiveWork | undefined {
    const source = this.source();
    if (!source) return undefined;
    const inferred = source === 'log' ? this.inferred() : undefined;
    const steps = inferred ? inferred.steps : this.steps.steps;
    const samples = inferred ? inferred.samples ?? 0 : this.samples;
    const tokens = inferred ? inferred.tokens ?? 0 : this.tokens.steps;
    return {
      source,
      ...(steps ? { steps } : {}),
      ...(samples ? { samples } : {}),
      ...(tokens ? { tokens } : {}),
      ...(inferred ? { detail: inferred.detail } : {}),
    };
  }

  /** The summary's fields; `energyJ`: the run's energy, `durationS`: its length (closes the timeline). */
  summaryFields(energyJ: number, durationS: number): WorkFields {
    this.energy.add(durationS, energyJ);
    const source = this.source();
    if (!source) return {};
    const inferred = source === 'log' ? this.inferred() : undefined;
    const stepPoints = inferred ? inferred.stepPoints : this.steps;
    const steps = stepPoints.steps;
    const samples = inferred ? inferred.samples ?? 0 : this.samples;
    const tokens = inferred ? inferred.tokens ?? 0 : this.tokens.steps;
    // The steady state needs token reports over time: the log's cumulative count is not kept so.
    const steady = tokens && !inferred ? steadyState(this.tokens, this.energy) : undefined;
    return {
      workSource: source,
      ...(inferred ? { workDetail: inferred.detail } : {}),
      ...(steps ? { steps, stepPoints: stepPoints.toArray(), jPerStep: energyJ / steps } : {}),
      ...(samples ? { samples, jPerSample: energyJ / samples } : {}),
      ...(tokens ? { tokens, jPerToken: energyJ / tokens } : {}),
      ...(steady ? { steadyState: steady } : {}),
    };
  }
}
