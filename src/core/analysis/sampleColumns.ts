import { SAMPLE_COLUMNS } from '../runs/sampleCodec';
import type { GpuSample } from '../sampler/types';
import type { GpuSeriesSource } from './telemetry';

/**
 * One GPU's samples as typed columns, for the analysis of long runs: about 48 bytes a sample
 * instead of ~150 for a sample object, and nothing for the garbage collector to trace. The
 * detectors work on sample objects, so `toSamples()` materialises one GPU at a time and the
 * objects of a 24 h, 8-GPU run never all exist at once.
 */
const F64_FIELDS = ['tMs', 'memUsedBytes', 'energyMillijoules'] as const satisfies ReadonlyArray<keyof GpuSample>;
/** Integers well under 2^24 in practice (mW up to 16 kW, %, MHz, C, reason bits): exact in float32. */
const F32_FIELDS = ['powerMilliwatts', 'utilGpuPct', 'smClockMhz', 'temperatureC', 'clockEventReasons', 'powerLimitMilliwatts'] as const satisfies ReadonlyArray<keyof GpuSample>;

type F64Field = (typeof F64_FIELDS)[number];
type F32Field = (typeof F32_FIELDS)[number];

/** Where each kept field sits in a store row (SAMPLE_COLUMNS order). */
const F64_AT = F64_FIELDS.map((f) => SAMPLE_COLUMNS.indexOf(f));
const F32_AT = F32_FIELDS.map((f) => SAMPLE_COLUMNS.indexOf(f));
const GPU_AT = SAMPLE_COLUMNS.indexOf('gpu');

export class GpuColumns implements GpuSeriesSource {
  private f64: Record<F64Field, Float64Array>;
  private f32: Record<F32Field, Float32Array>;
  private n = 0;

  constructor(
    readonly gpu: number,
    initialCapacity = 4096,
    /** Growth stops here (the capacity never doubles past it); pushing more is the caller's error. */
    private readonly maxCapacity = Infinity,
  ) {
    this.f64 = Object.fromEntries(F64_FIELDS.map((f) => [f, new Float64Array(initialCapacity)])) as Record<F64Field, Float64Array>;
    this.f32 = Object.fromEntries(F32_FIELDS.map((f) => [f, new Float32Array(initialCapacity)])) as Record<F32Field, Float32Array>;
  }

  get length(): number {
    return this.n;
  }

  /** Bytes held (capacity, not length: what the process pays). */
  byteSize(): number {
    let b = 0;
    for (const f of F64_FIELDS) b += this.f64[f].byteLength;
    for (const f of F32_FIELDS) b += this.f32[f].byteLength;
    return b;
  }

  /** Append a store row (SAMPLE_COLUMNS order, NaN = not measured) found at `offset` of `values`. */
  pushRow(values: Float64Array, offset: number): void {
    if (this.n === this.f64.tMs.length) this.grow();
    const i = this.n++;
    for (let k = 0; k < F64_FIELDS.length; k++) this.f64[F64_FIELDS[k]!][i] = values[offset + F64_AT[k]!]!;
    for (let k = 0; k < F32_FIELDS.length; k++) this.f32[F32_FIELDS[k]!][i] = values[offset + F32_AT[k]!]!;
  }

  tMs(i: number): number {
    return this.f64.tMs[i]!;
  }

  energyMillijoules(i: number): number {
    return this.f64.energyMillijoules[i]!;
  }

  powerMilliwatts(i: number): number {
    return this.f32.powerMilliwatts[i]!;
  }

  /** Sample `i` as a store row (SAMPLE_COLUMNS order) into `out`; NaN for the fields not kept. */
  rowAt(i: number, out: Float64Array): void {
    out.fill(Number.NaN);
    out[GPU_AT] = this.gpu;
    for (let k = 0; k < F64_FIELDS.length; k++) out[F64_AT[k]!] = this.f64[F64_FIELDS[k]!][i]!;
    for (let k = 0; k < F32_FIELDS.length; k++) out[F32_AT[k]!] = this.f32[F32_FIELDS[k]!][i]!;
  }

  private grow(): void {
    const cap = Math.min(this.f64.tMs.length * 2, this.maxCapacity);
    if (cap <= this.f64.tMs.length) throw new Error(`GpuColumns: over its ${this.maxCapacity} samples`);
    for (const f of F64_FIELDS) {
      const a = new Float64Array(cap);
      a.set(this.f64[f]);
      this.f64[f] = a;
    }
    for (const f of F32_FIELDS) {
      const a = new Float32Array(cap);
      a.set(this.f32[f]);
      this.f32[f] = a;
    }
  }

  /** The samples at or before `endMs`, as objects, in the order they were pushed. */
  toSamples(endMs: number): GpuSample[] {
    const out: GpuSample[] = [];
    const t = this.f64.tMs;
    for (let i = 0; i < this.n; i++) {
      if (t[i]! > endMs) continue;
      const s: GpuSample = { tMs: t[i]!, gpu: this.gpu };
      for (const f of F64_FIELDS) {
        const v = this.f64[f][i]!;
        if (f !== 'tMs' && !Number.isNaN(v)) s[f] = v;
      }
      for (const f of F32_FIELDS) {
        const v = this.f32[f][i]!;
        if (!Number.isNaN(v)) s[f] = v;
      }
      out.push(s);
    }
    return out;
  }
}
