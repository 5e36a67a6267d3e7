/**
 * A run's overview: what the panel draws of a stored run (min/max per time bucket per GPU, the
 * bounded MinMaxView), kept in `overview.bin` beside run.json so that opening a run reads a few
 * hundred kB instead of streaming its whole samples file (14 s for 24 h on 8 GPUs). With it, a
 * sparse index of byte offsets into samples.jsonl (one entry per ~10 s of run time), so a zoomed
 * range is read by seeking rather than by scanning from the start.
 *
 * The file is a cache of samples.jsonl, never the record: it is written at the end of a run (from
 * the session's view and the writer's offsets, no extra scan), by recovery (which streams the
 * samples anyway), or on first open; a missing, stale or damaged one is rebuilt from the samples.
 *
 * Layout (version 1, little-endian):
 *
 *   8 bytes   "JOULESOV"
 *   u32       version (1)
 *   u32       H, bytes of the header
 *   H bytes   header, JSON (OverviewHeader)
 *   padding   zeros up to a multiple of 8 bytes
 *   f64 x 2N  the index: N pairs (latest sample time before the offset, byte offset)
 *   f64 ...   per GPU in header order, `used` values of each column: the minima of VIEW_METRICS,
 *             their maxima, then the energy counter (NaN = no data in that bucket)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GpuSample, SampleGap } from '../sampler/types';
import type { ViewColumns, ViewMetric } from './minMaxView';
import { MinMaxView, VIEW_BUCKETS, VIEW_METRICS } from './minMaxView';
import type { LineSpan, ReadStats } from './sampleReader';
import { newReadStats, rowToSample, streamSampleRowsFrom } from './sampleReader';
import { writeFileAtomic } from './store';

export const OVERVIEW_FILE = 'overview.bin';
export const OVERVIEW_VERSION = 1;
const MAGIC = 'JOULESOV';
/** Run time between two index entries: a range read starts at most this much early. */
export const INDEX_STEP_MS = 10_000;
/** Columns stored per GPU: min and max of each metric, and the energy counter. */
const COLUMNS_PER_GPU = 2 * VIEW_METRICS.length + 1;
/** Gaps kept in the overview; past this the rest are left out (a run with more is already unreadable). */
const MAX_GAPS = 100_000;

/**
 * Where to start reading samples.jsonl for a time: entry i says that every sample on a line
 * before byte `offsets[i]` is at or before `beforeMs[i]`. Entry 0 is (-1, 0).
 */
export interface OffsetIndex {
  stepMs: number;
  beforeMs: number[];
  offsets: number[];
  /**
   * Every line's earliest sample is at or after every sample of the lines before it (the writer's
   * batches are): a range read may stop at the first line that starts past the range.
   */
  ordered: boolean;
}

/** A run's overview in memory. */
export interface RunOverview {
  runId: string;
  /** Samples summarized (rows of samples.jsonl with a time >= 0). */
  samples: number;
  /** Size of samples.jsonl the overview covers: a file of another size makes it stale. */
  samplesBytes: number;
  malformedLines: number;
  capacity: number;
  bucketMs: number;
  columns: ViewColumns[];
  gaps: SampleGap[];
  index: OffsetIndex;
}

/** The file's JSON header: the overview's own figures, then what its binary body holds. */
interface OverviewHeader extends Pick<RunOverview, 'runId' | 'samples' | 'samplesBytes' | 'malformedLines' | 'capacity' | 'bucketMs'> {
  metrics: string[];
  gpus: Array<{ gpu: number; used: number; lastMs: number }>;
  gaps: SampleGap[];
  index: { stepMs: number; entries: number; ordered: boolean };
}

/** Builds the offset index line by line, as the lines are written or read. */
export class OffsetIndexBuilder {
  private readonly beforeMs: number[] = [-1];
  private readonly offsets: number[] = [0];
  private latestMs = -1;
  private nextMs: number;
  private ordered = true;

  constructor(readonly stepMs: number = INDEX_STEP_MS) {
    this.nextMs = stepMs;
  }

  /** The line at `offset` held samples from `minMs` to `maxMs` (lines without samples are skipped). */
  line(offset: number, samples: number, minMs: number, maxMs: number): void {
    if (samples === 0) return;
    if (this.latestMs >= this.nextMs) {
      this.beforeMs.push(this.latestMs);
      this.offsets.push(offset);
      this.nextMs = this.latestMs + this.stepMs;
    }
    if (minMs < this.latestMs) this.ordered = false;
    if (maxMs > this.latestMs) this.latestMs = maxMs;
  }

  result(): OffsetIndex {
    return { stepMs: this.stepMs, beforeMs: [...this.beforeMs], offsets: [...this.offsets], ordered: this.ordered };
  }
}

/** The overview file as bytes. */
export function encodeOverview(o: RunOverview): Buffer {
  const header: OverviewHeader = {
    runId: o.runId,
    samples: o.samples,
    samplesBytes: o.samplesBytes,
    malformedLines: o.malformedLines,
    capacity: o.capacity,
    bucketMs: o.bucketMs,
    metrics: [...VIEW_METRICS],
    gpus: o.columns.map((c) => ({ gpu: c.gpu, used: c.tMs.length, lastMs: c.lastMs })),
    gaps: o.gaps.slice(0, MAX_GAPS),
    index: { stepMs: o.index.stepMs, entries: o.index.offsets.length, ordered: o.index.ordered },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const bodyStart = align8(16 + json.length);
  const values = 2 * o.index.offsets.length + o.columns.reduce((a, c) => a + COLUMNS_PER_GPU * c.tMs.length, 0);
  // The body is filled as one Float64Array with block copies: value by value (writeDoubleLE) took
  // 50-290 ms for 8 GPUs x 2,048 buckets on a loaded 2-core machine, on the extension host's thread.
  const body = new Float64Array(values);
  let at = 0;
  for (let i = 0; i < o.index.offsets.length; i++) {
    body[at++] = o.index.beforeMs[i]!;
    body[at++] = o.index.offsets[i]!;
  }
  for (const c of o.columns) {
    for (const a of columnsOf(c)) {
      body.set(a.subarray(0, c.tMs.length), at);
      at += c.tMs.length;
    }
  }
  const buf = Buffer.alloc(bodyStart + 8 * values);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(OVERVIEW_VERSION, 8);
  buf.writeUInt32LE(json.length, 12);
  json.copy(buf, 16);
  const bytes = new Uint8Array(body.buffer);
  if (!LITTLE_ENDIAN) swap8(bytes);
  buf.set(bytes, bodyStart);
  return buf;
}

/** Typed arrays use the host's byte order; the file is little-endian (as every platform Joules ships for). */
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Reverse the bytes of each 8-byte value in place (big-endian hosts only). */
function swap8(b: Uint8Array): void {
  for (let i = 0; i + 8 <= b.length; i += 8) {
    for (let j = 0; j < 4; j++) {
      const x = b[i + j]!;
      b[i + j] = b[i + 7 - j]!;
      b[i + 7 - j] = x;
    }
  }
}

function columnsOf(c: ViewColumns): Float64Array[] {
  return [...VIEW_METRICS.map((m) => c.min[m]), ...VIEW_METRICS.map((m) => c.max[m]), c.energyMj];
}

/**
 * The overview in `buf`, checked against what it claims to summarize: the run's id and the size of
 * its samples file now. Any inconsistency (a truncated body, buckets past the capacity, a minimum
 * above its maximum, fewer samples than non-empty buckets, an index offset past the file) is
 * refused with one line saying why: the caller rebuilds rather than draw a wrong picture.
 */
export function decodeOverview(buf: Buffer, expect: { runId: string; samplesBytes: number }): RunOverview | string {
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) return 'not an overview file';
  const version = buf.readUInt32LE(8);
  if (version !== OVERVIEW_VERSION) return `overview version ${version}, expected ${OVERVIEW_VERSION}`;
  const headerBytes = buf.readUInt32LE(12);
  if (16 + headerBytes > buf.length) return 'header cut short';
  let h: unknown;
  try {
    h = JSON.parse(buf.toString('utf8', 16, 16 + headerBytes));
  } catch (e) {
    return `header is not JSON (${(e as Error).message})`;
  }
  const why = checkHeader(h);
  if (why) return why;
  const header = h as OverviewHeader;
  if (header.runId !== expect.runId) return `overview of run ${header.runId}, not ${expect.runId}`;
  if (header.samplesBytes !== expect.samplesBytes) return `covers ${header.samplesBytes} bytes of samples, the file has ${expect.samplesBytes}`;
  const bodyStart = align8(16 + headerBytes);
  const entries = header.index.entries;
  const values = 2 * entries + header.gpus.reduce((a, g) => a + COLUMNS_PER_GPU * g.used, 0);
  if (buf.length !== bodyStart + 8 * values) return `body is ${buf.length - bodyStart} bytes, expected ${8 * values}`;
  // One copy of the body into an aligned buffer, then views: reading value by value (readDoubleLE)
  // took 60-320 ms for 8 GPUs x 2,048 buckets on a loaded 2-core machine.
  const bytes = new Uint8Array(8 * values);
  bytes.set(buf.subarray(bodyStart));
  if (!LITTLE_ENDIAN) swap8(bytes);
  const body = new Float64Array(bytes.buffer);
  const beforeMs: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < entries; i++) {
    const t = body[2 * i]!;
    const off = body[2 * i + 1]!;
    const prev = offsets[i - 1] ?? 0;
    if (!Number.isFinite(t) || !Number.isInteger(off) || off < prev || off > header.samplesBytes || (i === 0 && off !== 0)) return `index entry ${i} is out of order or past the file`;
    beforeMs.push(t);
    offsets.push(off);
  }
  let at = 2 * entries;
  const columns: ViewColumns[] = [];
  let buckets = 0;
  for (const g of header.gpus) {
    const read = (): Float64Array => {
      const a = body.subarray(at, at + g.used);
      at += g.used;
      return a;
    };
    const mins = VIEW_METRICS.map(read);
    const maxs = VIEW_METRICS.map(read);
    const energyMj = read();
    const filled = new Uint8Array(g.used);
    for (let m = 0; m < VIEW_METRICS.length; m++) {
      const lo = mins[m]!;
      const hi = maxs[m]!;
      for (let k = 0; k < g.used; k++) {
        const a = lo[k]!;
        const b = hi[k]!;
        // Both NaN (no reading) or a <= b; anything else is not what a view writes.
        if (Number.isNaN(a) !== Number.isNaN(b) || a > b || a === Infinity || b === -Infinity) {
          return `GPU ${g.gpu} ${VIEW_METRICS[m]} bucket ${k}: min ${a} and max ${b} disagree`;
        }
        if (!Number.isNaN(a)) filled[k] = 1;
      }
    }
    for (let k = 0; k < g.used; k++) buckets += filled[k]!;
    const tMs = new Float64Array(g.used);
    for (let k = 0; k < g.used; k++) tMs[k] = k * header.bucketMs;
    const byMetric = (arrays: Float64Array[]): Record<ViewMetric, Float64Array> =>
      Object.fromEntries(VIEW_METRICS.map((m, i) => [m, arrays[i]!])) as Record<ViewMetric, Float64Array>;
    columns.push({ gpu: g.gpu, bucketMs: header.bucketMs, tMs, lastMs: g.lastMs, min: byMetric(mins), max: byMetric(maxs), energyMj });
  }
  if (header.samples < buckets) return `${header.samples} samples cannot fill ${buckets} buckets`;
  return {
    runId: header.runId,
    samples: header.samples,
    samplesBytes: header.samplesBytes,
    malformedLines: header.malformedLines,
    capacity: header.capacity,
    bucketMs: header.bucketMs,
    columns,
    gaps: header.gaps,
    index: { stepMs: header.index.stepMs, beforeMs, offsets, ordered: header.index.ordered },
  };
}

function checkHeader(h: unknown): string | undefined {
  if (typeof h !== 'object' || h === null) return 'header is not an object';
  const x = h as Partial<Record<keyof OverviewHeader, unknown>>;
  const count = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
  if (typeof x.runId !== 'string') return 'no run id';
  if (!count(x.samples) || !count(x.samplesBytes) || !count(x.malformedLines)) return 'counts are not whole numbers';
  if (!count(x.capacity) || (x.capacity as number) < 2 || (x.capacity as number) % 2 !== 0) return `capacity ${String(x.capacity)}`;
  if (typeof x.bucketMs !== 'number' || !(x.bucketMs > 0) || !Number.isFinite(x.bucketMs)) return `bucket width ${String(x.bucketMs)}`;
  if (!Array.isArray(x.metrics) || x.metrics.join(',') !== VIEW_METRICS.join(',')) return 'other metrics than this version draws';
  if (!Array.isArray(x.gpus)) return 'no GPU list';
  const seen = new Set<number>();
  for (const g of x.gpus as unknown[]) {
    const gg = g as { gpu?: unknown; used?: unknown; lastMs?: unknown };
    if (typeof g !== 'object' || g === null || !count(gg.gpu) || !count(gg.used) || (gg.used as number) > (x.capacity as number) || typeof gg.lastMs !== 'number' || !Number.isFinite(gg.lastMs)) {
      return 'a GPU entry is malformed';
    }
    if (seen.has(gg.gpu as number)) return `GPU ${String(gg.gpu)} listed twice`;
    seen.add(gg.gpu as number);
  }
  if (!Array.isArray(x.gaps) || !(x.gaps as unknown[]).every((g) => typeof g === 'object' && g !== null && typeof (g as SampleGap).gpu === 'number' && typeof (g as SampleGap).startMs === 'number')) return 'gaps are malformed';
  const ix = x.index as { stepMs?: unknown; entries?: unknown; ordered?: unknown } | undefined;
  if (typeof ix !== 'object' || ix === null || typeof ix.stepMs !== 'number' || !(ix.stepMs > 0) || !count(ix.entries) || (ix.entries as number) < 1 || typeof ix.ordered !== 'boolean') return 'index is malformed';
  return undefined;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Write `o` beside run.json, atomically (temporary file, then rename). Throws on failure. */
export function writeOverview(runDir: string, o: RunOverview): void {
  writeFileAtomic(path.join(runDir, OVERVIEW_FILE), encodeOverview(o));
}

/**
 * The overview stored in `runDir`: `{ overview }`, or `{ reason }` when the file exists but cannot
 * be trusted (damaged, stale, another run's), or undefined when there is none.
 */
export function readOverview(runDir: string, runId: string): { overview: RunOverview } | { reason: string } | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path.join(runDir, OVERVIEW_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { reason: `cannot read it (${(e as Error).message})` };
  }
  let samplesBytes = 0;
  try {
    samplesBytes = fs.statSync(path.join(runDir, 'samples.jsonl')).size;
  } catch {
    samplesBytes = 0;
  }
  const r = decodeOverview(buf, { runId, samplesBytes });
  return typeof r === 'string' ? { reason: r } : { overview: r };
}

/**
 * Builds the overview of a samples file by streaming it once (the event loop runs every few ms):
 * for runs stored without one, and by recovery. `onSample` sees every sample too (recovery's
 * figures come from the same pass; the object is not kept). A missing file is an empty run.
 */
export async function buildOverview(
  file: string,
  runId: string,
  intervalMs: number,
  options: { capacity?: number; onSample?: (s: GpuSample) => void; onPoint?: (gpu: number, tMs: number, powerMilliwatts: number) => void } = {},
): Promise<{ overview: RunOverview; stats: ReadStats }> {
  const capacity = options.capacity ?? VIEW_BUCKETS;
  const view = new MinMaxView(Math.max(1, intervalMs), capacity);
  const index = new OffsetIndexBuilder();
  const gaps: SampleGap[] = [];
  const stats = newReadStats();
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  let end = 0;
  if (size > 0) {
    await streamSampleRowsFrom(
      file,
      {
        row: (v, o) => {
          const x = rowToSample(v, o);
          view.add(x);
          options.onSample?.(x);
        },
        ...(options.onPoint ? { point: options.onPoint } : {}),
        gap: (g) => {
          if (gaps.length < MAX_GAPS) gaps.push(g);
        },
      },
      {
        onLine: (span: LineSpan) => {
          index.line(span.offset, span.samples, span.minMs, span.maxMs);
          end = span.offset + span.bytes;
        },
      },
      stats,
    );
  }
  const overview: RunOverview = {
    runId,
    samples: view.sampleCount,
    // The bytes read, not the size before: a file that grew meanwhile is covered up to here only.
    samplesBytes: end,
    malformedLines: stats.malformedLines,
    capacity,
    bucketMs: view.bucketMs,
    columns: view.allColumns(),
    gaps,
    index: index.result(),
  };
  return { overview, stats };
}

/** A time range of a run at full bucket resolution (what the panel draws when zoomed). */
export interface RangeDrawing {
  startMs: number;
  endMs: number;
  bucketMs: number;
  columns: ViewColumns[];
  /** Bytes of samples.jsonl whose lines were parsed for it (a seek skips the rest). */
  bytesRead: number;
}

/**
 * The min/max drawing of [startMs, endMs] of a samples file, read from the index entry just before
 * `startMs` and, when the file's lines are in time order, only up to the first line past `endMs`.
 * The buckets are as fine as the sampling interval allows, `capacity` of them at most.
 */
export async function readRange(file: string, index: OffsetIndex, range: { startMs: number; endMs: number; intervalMs: number; capacity?: number }): Promise<RangeDrawing> {
  const capacity = range.capacity ?? VIEW_BUCKETS;
  const { startMs, endMs } = range;
  if (!(endMs > startMs) || !(startMs >= 0)) throw new Error(`invalid range ${startMs}-${endMs} ms`);
  // Sized so the range fits the capacity without merging buckets (a sample at endMs included).
  const view = new MinMaxView(Math.max(1, range.intervalMs, (endMs - startMs) / (capacity - 1)), capacity, startMs);
  let i = 0;
  while (i + 1 < index.offsets.length && index.beforeMs[i + 1]! < startMs) i++;
  const startOffset = index.offsets[i] ?? 0;
  let lineEnd = startOffset;
  await streamSampleRowsFrom(
    file,
    {
      row: (v, o) => {
        const t = v[o]!;
        if (t >= startMs && t <= endMs) view.add(rowToSample(v, o));
      },
    },
    {
      startOffset,
      onLine: (span) => {
        lineEnd = span.offset + span.bytes;
        return !(index.ordered && span.samples > 0 && span.minMs > endMs);
      },
    },
  );
  return { startMs, endMs, bucketMs: view.bucketMs, columns: view.allColumns(), bytesRead: lineEnd - startOffset };
}
