/**
 * When the run reached each training step, kept bounded: Compare's "by training step" aligns runs
 * by these points (the energy at step N of each run), and the panel draws them. A script printing
 * `::joules steps 1` every step of a days-long run sends millions of events; the list keeps at most
 * `maxPoints`, thinning to every other point (and doubling the spacing it keeps) when full, so the
 * points stay evenly spread over the whole run and the last step is always known.
 */

/** The cumulative step count reached at `tS` seconds into the run. */
export interface StepPoint {
  tS: number;
  step: number;
}

export class StepPoints {
  private points: StepPoint[] = [];
  /** Points closer than this (in steps) to the last kept one are not kept (the latest is, in `last`). */
  private minSpacingSteps = 0;
  private latest: StepPoint | undefined;
  private total = 0;

  constructor(private readonly maxPoints = 2000) {
    if (maxPoints < 4) throw new RangeError(`maxPoints must be at least 4, got ${maxPoints}`);
  }

  /** `count` more steps done at `tS` (seconds since the run's start). */
  add(tS: number, count: number): void {
    if (!(count > 0) || !Number.isFinite(tS)) return;
    this.total += count;
    this.latest = { tS, step: this.total };
    const prev = this.points[this.points.length - 1];
    if (prev && this.total - prev.step < this.minSpacingSteps) return;
    this.points.push(this.latest);
    if (this.points.length >= this.maxPoints) {
      // Keep every other point (the first included): half the points, twice the spacing.
      this.points = this.points.filter((_, i) => i % 2 === 0);
      this.minSpacingSteps = Math.max(1, this.minSpacingSteps * 2 || (this.total / this.points.length));
    }
  }

  /** Steps reported so far. */
  get steps(): number {
    return this.total;
  }

  /** The kept points in time order, ending with the latest step (at most `maxPoints`). */
  toArray(): StepPoint[] {
    const out = this.points.slice();
    const last = out[out.length - 1];
    if (this.latest && last !== this.latest) out.push(this.latest);
    return out;
  }
}
