/**
 * Run comparison: the deltas a user reads to tell whether a change saved energy, and the mapping
 * from time to training step that lets two runs of different speed be overlaid step by step.
 */
import type { RunSummaryView, StepPoint } from './panel';

export type CompareMetric = 'energyJ' | 'durationS' | 'avgPowerW' | 'peakPowerW' | 'jPerStep' | 'jPerToken';

export interface CompareRow {
  metric: CompareMetric;
  label: string;
  unit: 'J' | 's' | 'W' | 'J/step' | 'J/token';
  /** Baseline value; undefined when the run lacks the figure. */
  a: number | undefined;
  b: number | undefined;
  /** b - a; undefined when either is missing. Negative means run b used less. */
  delta: number | undefined;
  /** 100 * (b - a) / a; undefined when either is missing or a is 0. */
  deltaPct: number | undefined;
}

const metrics: readonly { metric: CompareMetric; label: string; unit: CompareRow['unit'] }[] = [
  { metric: 'energyJ', label: 'Energy', unit: 'J' },
  { metric: 'durationS', label: 'Duration', unit: 's' },
  { metric: 'avgPowerW', label: 'Average power', unit: 'W' },
  { metric: 'peakPowerW', label: 'Peak power', unit: 'W' },
  { metric: 'jPerStep', label: 'Energy per step', unit: 'J/step' },
  { metric: 'jPerToken', label: 'Energy per token', unit: 'J/token' },
];

/** J/step as the host reported it, else energy over steps when the step count is known. */
export function jPerStepOf(s: RunSummaryView): number | undefined {
  if (s.jPerStep !== undefined) return s.jPerStep;
  return s.steps !== undefined && s.steps > 0 ? s.energyJ / s.steps : undefined;
}

export function jPerTokenOf(s: RunSummaryView): number | undefined {
  if (s.jPerToken !== undefined) return s.jPerToken;
  return s.tokens !== undefined && s.tokens > 0 ? s.energyJ / s.tokens : undefined;
}

function valueOf(s: RunSummaryView, m: CompareMetric): number | undefined {
  switch (m) {
    case 'jPerStep':
      return jPerStepOf(s);
    case 'jPerToken':
      return jPerTokenOf(s);
    default:
      return s[m];
  }
}

/** Deltas of run `b` against baseline `a`. J/step and J/token rows appear only when either run has them. */
export function compareRuns(a: RunSummaryView, b: RunSummaryView): CompareRow[] {
  const rows: CompareRow[] = [];
  for (const { metric, label, unit } of metrics) {
    const va = valueOf(a, metric);
    const vb = valueOf(b, metric);
    if ((metric === 'jPerStep' || metric === 'jPerToken') && va === undefined && vb === undefined) continue;
    const delta = va !== undefined && vb !== undefined ? vb - va : undefined;
    const deltaPct = delta !== undefined && va !== undefined && va !== 0 ? (100 * delta) / va : undefined;
    rows.push({ metric, label, unit, a: va, b: vb, delta, deltaPct });
  }
  return rows;
}

/**
 * Step reached at `tS`, by linear interpolation between step points (sorted by tS). Undefined
 * before the first and after the last point: outside them the step is not known.
 */
export function timeToStep(steps: readonly StepPoint[], tS: number): number | undefined {
  const n = steps.length;
  if (n === 0) return undefined;
  const first = steps[0] as StepPoint;
  const last = steps[n - 1] as StepPoint;
  if (tS < first.tS || tS > last.tS) return undefined;
  if (n === 1) return first.step;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((steps[mid] as StepPoint).tS <= tS) lo = mid;
    else hi = mid;
  }
  const a = steps[lo] as StepPoint;
  const b = steps[hi] as StepPoint;
  if (b.tS === a.tS) return b.step;
  return a.step + ((b.step - a.step) * (tS - a.tS)) / (b.tS - a.tS);
}

/** Re-expresses a series over time (s) as a series over steps, keeping the points within the step record. */
export function alignByStep(
  steps: readonly StepPoint[],
  xsS: ArrayLike<number>,
  ys: ArrayLike<number>,
  length: number,
): { xs: Float64Array; ys: Float64Array; length: number } {
  const outX = new Float64Array(length);
  const outY = new Float64Array(length);
  let n = 0;
  for (let i = 0; i < length; i++) {
    const step = timeToStep(steps, xsS[i] as number);
    if (step === undefined) continue;
    outX[n] = step;
    outY[n] = ys[i] as number;
    n++;
  }
  return { xs: outX, ys: outY, length: n };
}

/**
 * The names Compare shows for its runs, told apart: two runs of the same script are both "train.py",
 * and "train.py used 63 J less than train.py" says nothing. A repeated name gets its start time
 * (`formatStart`, the webview's locale format), and a number if even that repeats.
 */
export function distinctRunLabels(runs: readonly Pick<RunSummaryView, 'name' | 'startedAt'>[], formatStart: (iso: string) => string): string[] {
  const count = (xs: readonly string[], x: string): number => xs.reduce((n, y) => n + (y === x ? 1 : 0), 0);
  const names = runs.map((r) => r.name);
  const withTime = runs.map((r, i) => (count(names, r.name) > 1 ? `${r.name} (${formatStart(r.startedAt)})` : names[i] as string));
  return withTime.map((l, i) => (count(withTime, l) > 1 ? `${l} #${withTime.slice(0, i + 1).filter((x) => x === l).length}` : l));
}
