/**
 * Display decimation. The panel keeps every sample, but a chart a few hundred pixels wide cannot
 * show more than a few points per pixel column, and Chart.js's cost grows with the points it is
 * given. Min/max per column keeps every spike and dip visible (a power peak must never vanish
 * from the chart); LTTB keeps the shape with fewer points and suits smooth overlays.
 */

export interface XY {
  x: number;
  y: number;
}

/**
 * Min/max decimation into `buckets` equal-width columns over [xs[0], xs[last]]. Each column with
 * data yields its minimum and maximum in time order (one point if they coincide). Non-finite y
 * values are skipped. Input must be sorted by x; returns at most 2 * buckets points.
 */
export function decimateMinMaxColumns(xs: ArrayLike<number>, ys: ArrayLike<number>, length: number, buckets: number): XY[] {
  const out: XY[] = [];
  if (length <= 0 || buckets < 1) return out;
  const x0 = xs[0] as number;
  const span = (xs[length - 1] as number) - x0;
  if (length <= 2 * buckets || span <= 0) {
    for (let i = 0; i < length; i++) {
      const y = ys[i] as number;
      if (Number.isFinite(y)) out.push({ x: xs[i] as number, y });
    }
    return out;
  }
  const width = span / buckets;
  let col = -1;
  let minI = -1;
  let maxI = -1;
  const flush = (): void => {
    if (minI < 0) return;
    const a = Math.min(minI, maxI);
    const b = Math.max(minI, maxI);
    out.push({ x: xs[a] as number, y: ys[a] as number });
    if (b !== a) out.push({ x: xs[b] as number, y: ys[b] as number });
  };
  for (let i = 0; i < length; i++) {
    const y = ys[i] as number;
    if (!Number.isFinite(y)) continue;
    const c = Math.min(buckets - 1, Math.floor(((xs[i] as number) - x0) / width));
    if (c !== col) {
      flush();
      col = c;
      minI = i;
      maxI = i;
    } else {
      if (y < (ys[minI] as number)) minI = i;
      if (y > (ys[maxI] as number)) maxI = i;
    }
  }
  flush();
  return out;
}

/** Min/max decimation of points sorted by x (see `decimateMinMaxColumns`). */
export function decimateMinMax(points: readonly XY[], buckets: number): XY[] {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  return decimateMinMaxColumns(xs, ys, points.length, buckets);
}

/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013): keeps the first and last point and, per
 * bucket, the point forming the largest triangle with the previous pick and the next bucket's mean.
 * Points must be sorted by x and have finite y. Returns `threshold` points (or all if fewer).
 */
export function lttb(points: readonly XY[], threshold: number): XY[] {
  const n = points.length;
  if (threshold >= n || threshold < 3) return points.slice();
  const out: XY[] = [points[0] as XY];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // Mean of the next bucket is the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(n, Math.floor((i + 2) * every) + 1);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += (points[j] as XY).x;
      avgY += (points[j] as XY).y;
    }
    const cnt = Math.max(1, nextEnd - nextStart);
    avgX /= cnt;
    avgY /= cnt;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const pa = points[a] as XY;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const p = points[j] as XY;
      const area = Math.abs((pa.x - avgX) * (p.y - pa.y) - (pa.x - p.x) * (avgY - pa.y));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(points[best] as XY);
    a = best;
  }
  out.push(points[n - 1] as XY);
  return out;
}

/**
 * Incremental min/max decimation for a growing series. Buckets have a power-of-two width in x;
 * when there are more than `maxBuckets` of them, neighbours merge and the width doubles. So an
 * append costs O(1) amortized and the output stays between maxBuckets/2 and maxBuckets buckets
 * (at most 2 points each), however long the run. The output array is rebuilt only for the
 * buckets that changed: appending to an hour-long series touches the last bucket only.
 */
export class MinMaxBuckets {
  private width: number;
  private keys: number[] = [];
  private minX: number[] = [];
  private minY: number[] = [];
  private maxX: number[] = [];
  private maxY: number[] = [];
  private out: XY[] = [];
  /** Buckets before this index are final and already in `out`, taking `finalLen` points. */
  private finalBuckets = 0;
  private finalLen = 0;
  private lastX = -Infinity;
  /** Changes whenever `points()` would return something different; lets a chart skip redraws. */
  version = 0;
  /**
   * Changes when buckets are added, merged or reset, but not when only the last bucket's min/max
   * moved: a change confined to the last pixel column or two, which a chart may draw a little later.
   */
  shapeVersion = 0;

  /**
   * @param maxBuckets about the chart's width in pixels (or half of it).
   * @param initialWidth the smallest bucket width in x units; below the sample spacing, so short
   *   series are drawn point for point.
   */
  constructor(readonly maxBuckets: number, private readonly initialWidth = 1) {
    if (!(maxBuckets >= 2)) throw new RangeError('maxBuckets must be at least 2');
    this.width = initialWidth;
  }

  get bucketCount(): number {
    return this.keys.length;
  }

  get bucketWidth(): number {
    return this.width;
  }

  /** Lowest and highest y of the last bucket, or undefined while empty. */
  tail(): { minY: number; maxY: number } | undefined {
    const i = this.keys.length - 1;
    return i < 0 ? undefined : { minY: this.minY[i] as number, maxY: this.maxY[i] as number };
  }

  reset(): void {
    this.width = this.initialWidth;
    this.keys = [];
    this.minX = [];
    this.minY = [];
    this.maxX = [];
    this.maxY = [];
    this.invalidate();
    this.lastX = -Infinity;
    this.version++;
    this.shapeVersion++;
  }

  /** Appends one point. Non-finite y is skipped; an x earlier than the last one joins the last bucket. */
  push(x: number, y: number): void {
    if (!Number.isFinite(y) || !Number.isFinite(x)) return;
    if (x < this.lastX) x = this.lastX;
    this.lastX = x;
    const k = Math.floor(x / this.width);
    const n = this.keys.length;
    if (n > 0 && this.keys[n - 1] === k) {
      const i = n - 1;
      // Only a new extreme changes the output; most samples of a wide bucket do not.
      if (y < (this.minY[i] as number)) {
        this.minY[i] = y;
        this.minX[i] = x;
        this.version++;
      }
      if (y > (this.maxY[i] as number)) {
        this.maxY[i] = y;
        this.maxX[i] = x;
        this.version++;
      }
      return;
    }
    this.version++;
    this.shapeVersion++;
    this.keys.push(k);
    this.minX.push(x);
    this.minY.push(y);
    this.maxX.push(x);
    this.maxY.push(y);
    while (this.keys.length > this.maxBuckets) this.merge();
  }

  /** The decimated points. The returned array is owned by this object and changes on the next call. */
  points(): XY[] {
    const n = this.keys.length;
    const out = this.out;
    out.length = this.finalLen;
    for (let i = this.finalBuckets; i < n; i++) {
      this.emit(i);
      if (i < n - 1) {
        this.finalBuckets = i + 1;
        this.finalLen = out.length;
      }
    }
    return out;
  }

  private emit(i: number): void {
    const ax = this.minX[i] as number;
    const bx = this.maxX[i] as number;
    const ay = this.minY[i] as number;
    const by = this.maxY[i] as number;
    if (ax === bx) {
      this.out.push({ x: ax, y: ay });
    } else if (ax < bx) {
      this.out.push({ x: ax, y: ay }, { x: bx, y: by });
    } else {
      this.out.push({ x: bx, y: by }, { x: ax, y: ay });
    }
  }

  private merge(): void {
    this.width *= 2;
    let w = 0;
    for (let r = 0; r < this.keys.length; r++) {
      const k = Math.floor((this.keys[r] as number) / 2);
      if (w > 0 && this.keys[w - 1] === k) {
        const i = w - 1;
        if ((this.minY[r] as number) < (this.minY[i] as number)) {
          this.minY[i] = this.minY[r] as number;
          this.minX[i] = this.minX[r] as number;
        }
        if ((this.maxY[r] as number) > (this.maxY[i] as number)) {
          this.maxY[i] = this.maxY[r] as number;
          this.maxX[i] = this.maxX[r] as number;
        }
      } else {
        this.keys[w] = k;
        this.minX[w] = this.minX[r] as number;
        this.minY[w] = this.minY[r] as number;
        this.maxX[w] = this.maxX[r] as number;
        this.maxY[w] = this.maxY[r] as number;
        w++;
      }
    }
    this.keys.length = w;
    this.minX.length = w;
    this.minY.length = w;
    this.maxX.length = w;
    this.maxY.length = w;
    this.invalidate();
  }

  private invalidate(): void {
    this.out = [];
    this.finalBuckets = 0;
    this.finalLen = 0;
  }
}
