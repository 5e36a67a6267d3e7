import * as fs from 'node:fs';
import type { GpuSample, PowerPoint, SampleBatch, SampleGap } from '../sampler/types';
import { decodeSample, SAMPLE_COLUMNS } from './sampleCodec';
import { ROW_WIDTH, scanSampleLine } from './sampleScan';

/**
 * Reading a run's samples.jsonl without ever holding it as one string: Node cannot make a string
 * over ~512 MB (V8's limit), which an 8-GPU run at 10 Hz reaches after about 20 h. Lines are cut
 * from fixed-size chunks of bytes; a malformed line (a torn last line after a crash, a corrupt
 * block) is skipped and counted, never fatal.
 */

/** What a read saw, beside the samples it delivered. */
export interface ReadStats {
  lines: number;
  /** Lines that were not a valid batch (skipped). */
  malformedLines: number;
  bytes: number;
}

/** Bytes read per chunk: large enough to amortise the calls, small enough to never matter. */
const CHUNK_BYTES = 1 << 20;
/** Work between two yields to the event loop when streaming rows (wall-clock ms). */
const SLICE_MS = 8;
/** Samples per delivered batch: bounds what a consumer holds at once. */
const BATCH_SAMPLES = 8192;

/**
 * Let the event loop run (timers, messages) before going on: between the steps of work that is
 * each short but would block the extension host for too long back to back.
 */
export function yieldToLoop(): Promise<void> {
  return new Promise<void>((r) => setImmediate(r));
}

export function newReadStats(): ReadStats {
  return { lines: 0, malformedLines: 0, bytes: 0 };
}

/** One line of samples.jsonl as a batch; undefined when it is not a valid line. */
export function parseSampleLine(line: string): SampleBatch | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const { s, p, g } = o as { s?: unknown; p?: unknown; g?: unknown };
  if ((s !== undefined && !Array.isArray(s)) || (p !== undefined && !Array.isArray(p)) || (g !== undefined && !Array.isArray(g))) return undefined;
  const samples: GpuSample[] = [];
  for (const row of s ?? []) {
    const x = decodeSample(row);
    if (x) samples.push(x);
  }
  const powerPoints: PowerPoint[] = [];
  for (const q of p ?? []) {
    if (Array.isArray(q) && q.length === 3 && q.every((v) => typeof v === 'number')) {
      powerPoints.push({ gpu: q[0] as number, tMs: q[1] as number, powerMilliwatts: q[2] as number });
    }
  }
  const gaps: SampleGap[] = [];
  for (const x of g ?? []) {
    if (typeof x === 'object' && x !== null && typeof (x as SampleGap).gpu === 'number' && typeof (x as SampleGap).startMs === 'number') gaps.push(x as SampleGap);
  }
  return { samples, powerPoints, gaps };
}

/**
 * Every line of `file`, in order, read synchronously in 1 MiB chunks. Throws only when the file
 * cannot be opened or read (ENOENT included): callers decide what a missing file means.
 */
export function forEachLineSync(file: string, onLine: (line: string) => void, stats: ReadStats = newReadStats()): ReadStats {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let carry: Buffer | undefined;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (n === 0) break;
      stats.bytes += n;
      let data = chunk.subarray(0, n);
      if (carry) {
        data = Buffer.concat([carry, data]);
        carry = undefined;
      }
      let start = 0;
      for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
        if (nl > start) onLine(data.toString('utf8', start, nl));
        start = nl + 1;
      }
      // The tail without a newline waits for the next chunk (copied: `chunk` is reused).
      if (start < data.length) carry = Buffer.from(data.subarray(start));
    }
    if (carry && carry.length) onLine(carry.toString('utf8'));
  } finally {
    fs.closeSync(fd);
  }
  return stats;
}

/**
 * Where rows go: `row` gets ROW_WIDTH values (SAMPLE_COLUMNS order, NaN = not measured) at
 * `offset` of a buffer that is reused after the call; tMs and gpu are always finite.
 */
export interface RowSink {
  row(values: Float64Array, offset: number): void;
  point?(gpu: number, tMs: number, powerMilliwatts: number): void;
  gap?(gap: SampleGap): void;
}

/** A row back to a sample object (only the measured fields). */
export function rowToSample(values: Float64Array, offset: number): GpuSample {
  const s: GpuSample = { tMs: values[offset]!, gpu: values[offset + 1]! };
  for (let i = 2; i < ROW_WIDTH; i++) {
    const v = values[offset + i]!;
    if (!Number.isNaN(v)) s[SAMPLE_COLUMNS[i]!] = v;
  }
  return s;
}

const slowRow = new Float64Array(ROW_WIDTH);

/** Parse one line into `sink`: the fast scanner, else JSON.parse; false when the line is malformed. */
function feedLine(line: string, sink: RowSink): boolean {
  const fast = scanSampleLine(line);
  if (fast) {
    const v = fast.rowValues;
    for (let r = 0; r < fast.rows; r++) {
      const o = r * ROW_WIDTH;
      if (Number.isFinite(v[o]!) && Number.isFinite(v[o + 1]!)) sink.row(v, o);
    }
    if (sink.point) {
      const p = fast.pointValues;
      for (let i = 0; i < fast.points; i++) {
        const g = p[3 * i]!;
        const t = p[3 * i + 1]!;
        const w = p[3 * i + 2]!;
        if (!Number.isNaN(g) && !Number.isNaN(t) && !Number.isNaN(w)) sink.point(g, t, w);
      }
    }
    return true;
  }
  const b = parseSampleLine(line);
  if (!b) return false;
  for (const x of b.samples) {
    for (let i = 0; i < ROW_WIDTH; i++) {
      const v = x[SAMPLE_COLUMNS[i]!];
      slowRow[i] = v === undefined ? Number.NaN : v;
    }
    sink.row(slowRow, 0);
  }
  if (sink.point) for (const p of b.powerPoints) sink.point(p.gpu, p.tMs, p.powerMilliwatts);
  if (sink.gap) for (const g of b.gaps) sink.gap(g);
  return true;
}

function lineHandler(stats: ReadStats, sink: RowSink): (line: string) => void {
  return (line) => {
    if (!line.trim()) return;
    stats.lines++;
    if (!feedLine(line, sink)) stats.malformedLines++;
  };
}

/** A sink that collects sample objects, power points and gaps. */
function collecting(out: SampleBatch): RowSink {
  return {
    row: (v, o) => out.samples.push(rowToSample(v, o)),
    point: (gpu, tMs, powerMilliwatts) => out.powerPoints.push({ gpu, tMs, powerMilliwatts }),
    gap: (g) => out.gaps.push(g),
  };
}

/** Every batch of a samples file, synchronously (small runs, tests, exports). */
export function forEachBatchSync(file: string, onBatch: (b: SampleBatch) => void, stats: ReadStats = newReadStats()): ReadStats {
  return forEachLineSync(
    file,
    (line) => {
      const b: SampleBatch = { samples: [], powerPoints: [], gaps: [] };
      lineHandler(stats, collecting(b))(line);
      if (b.samples.length || b.powerPoints.length || b.gaps.length) onBatch(b);
    },
    stats,
  );
}

/**
 * Every row of a samples file into `sink`, read in 1 MiB chunks; the event loop runs between
 * chunks (a few ms each), so the extension host never blocks for the whole file. Rejects when the
 * file cannot be opened or read; malformed lines are counted in `stats`.
 */
export async function streamSampleRows(file: string, sink: RowSink, stats: ReadStats = newReadStats()): Promise<ReadStats> {
  const handle = lineHandler(stats, sink);
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let sliceStart = performance.now();
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    stats.bytes += chunk.length;
    const text = carry + decoder.decode(chunk, { stream: true });
    let start = 0;
    let lines = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      handle(text.slice(start, nl));
      start = nl + 1;
      // Yield to the event loop every few ms of work: the extension host stays responsive.
      if (++lines % 16 === 0 && performance.now() - sliceStart > SLICE_MS) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
    carry = text.slice(start);
  }
  carry += decoder.decode();
  if (carry) handle(carry);
  return stats;
}

/**
 * The samples of a stored run as an async stream of batches of about 8,192 samples (for the
 * panel's data path and other consumers that want sample objects a piece at a time). Rejects when
 * the file cannot be opened or read; malformed lines are counted in `stats`.
 */
export async function* streamSampleBatches(file: string, stats: ReadStats = newReadStats()): AsyncGenerator<SampleBatch> {
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let pending: SampleBatch = { samples: [], powerPoints: [], gaps: [] };
  let sink = collecting(pending);
  const lines = lineHandler(stats, { row: (v, o) => sink.row(v, o), point: (g, t, w) => sink.point!(g, t, w), gap: (g) => sink.gap!(g) });
  const take = (): SampleBatch => {
    const out = pending;
    pending = { samples: [], powerPoints: [], gaps: [] };
    sink = collecting(pending);
    return out;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    stats.bytes += chunk.length;
    const text = carry + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      lines(text.slice(start, nl));
      start = nl + 1;
      if (pending.samples.length >= BATCH_SAMPLES) yield take();
    }
    carry = text.slice(start);
  }
  carry += decoder.decode();
  if (carry) lines(carry);
  if (pending.samples.length || pending.powerPoints.length || pending.gaps.length) yield take();
}

/** Where one line of a samples file lies, and the times of the samples it held. */
export interface LineSpan {
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** Bytes of the line, its newline included. */
  bytes: number;
  /** Sample rows delivered from the line (0: power points or gaps only, or malformed). */
  samples: number;
  /** Earliest and latest sample time in the line (NaN without samples). */
  minMs: number;
  maxMs: number;
}

/**
 * {@link streamSampleRows}, from byte `startOffset` on, telling `onLine` where each line lies (for
 * the sparse offset index of a run's overview) after its rows went to `sink`; `onLine` returning
 * false stops the read there (a range read past its end). Lines are cut on bytes, so offsets are
 * exact whatever the text holds; the event loop runs every few ms.
 */
export async function streamSampleRowsFrom(
  file: string,
  sink: RowSink,
  options: { startOffset?: number; onLine?: (span: LineSpan) => boolean | void } = {},
  stats: ReadStats = newReadStats(),
): Promise<ReadStats> {
  const span: LineSpan = { offset: 0, bytes: 0, samples: 0, minMs: Number.NaN, maxMs: Number.NaN };
  const spanning: RowSink = {
    row: (v, o) => {
      const t = v[o]!;
      if (span.samples === 0 || t < span.minMs) span.minMs = t;
      if (span.samples === 0 || t > span.maxMs) span.maxMs = t;
      span.samples++;
      sink.row(v, o);
    },
    ...(sink.point ? { point: sink.point } : {}),
    ...(sink.gap ? { gap: sink.gap } : {}),
  };
  const handle = lineHandler(stats, spanning);
  const fh = await fs.promises.open(file, 'r');
  try {
    let position = options.startOffset ?? 0;
    let carry: Buffer | undefined;
    let carryOffset = position;
    let sliceStart = performance.now();
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    // One line: its rows to the sink, then its span; false when the reader asked to stop.
    const line = (data: Buffer, start: number, end: number, offset: number, withNewline: boolean): boolean => {
      span.offset = offset;
      span.bytes = end - start + (withNewline ? 1 : 0);
      span.samples = 0;
      span.minMs = Number.NaN;
      span.maxMs = Number.NaN;
      if (end > start) handle(data.toString('utf8', start, end));
      return options.onLine?.(span) !== false;
    };
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, CHUNK_BYTES, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      stats.bytes += bytesRead;
      let data = chunk.subarray(0, bytesRead);
      // `data` starts at carryOffset in the file (the carried tail first).
      if (carry) data = Buffer.concat([carry, data]);
      const base = carryOffset;
      carry = undefined;
      let start = 0;
      for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
        if (!line(data, start, nl, base + start, true)) return stats;
        start = nl + 1;
        if (performance.now() - sliceStart > SLICE_MS) {
          await yieldToLoop();
          sliceStart = performance.now();
        }
      }
      // The tail without a newline waits for the next chunk (copied: `chunk` is reused).
      if (start < data.length) carry = Buffer.from(data.subarray(start));
      carryOffset = base + start;
    }
    if (carry && carry.length) line(carry, 0, carry.length, carryOffset, false);
  } finally {
    await fh.close();
  }
  return stats;
}
