import * as fs from 'node:fs';
import type { GpuSample, PowerPoint, SampleBatch, SampleGap } from '../sampler/types';
import { decodeSample } from './sampleCodec';

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
/** Samples per delivered batch: bounds what a consumer holds at once. */
const BATCH_SAMPLES = 8192;

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

/** Parse-and-count wrapper shared by the sync and async readers. */
function lineHandler(stats: ReadStats, onBatch: (b: SampleBatch) => void): (line: string) => void {
  return (line) => {
    if (!line.trim()) return;
    stats.lines++;
    const b = parseSampleLine(line);
    if (b) onBatch(b);
    else stats.malformedLines++;
  };
}

/** Every batch of a samples file, synchronously (small runs, tests, exports). */
export function forEachBatchSync(file: string, onBatch: (b: SampleBatch) => void, stats: ReadStats = newReadStats()): ReadStats {
  return forEachLineSync(file, lineHandler(stats, onBatch), stats);
}

/**
 * The samples of a stored run as an async stream of batches of at most ~8,192 samples. Between
 * batches the event loop runs, so a caller on the extension host never blocks for the whole file.
 * Rejects when the file cannot be opened or read; malformed lines are counted in `stats`.
 */
export async function* streamSampleBatches(file: string, stats: ReadStats = newReadStats()): AsyncGenerator<SampleBatch> {
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  let carry = '';
  let pending: SampleBatch = { samples: [], powerPoints: [], gaps: [] };
  const handle = lineHandler(stats, (b) => {
    for (const s of b.samples) pending.samples.push(s);
    for (const p of b.powerPoints) pending.powerPoints.push(p);
    for (const g of b.gaps) pending.gaps.push(g);
  });
  const take = (): SampleBatch => {
    const out = pending;
    pending = { samples: [], powerPoints: [], gaps: [] };
    return out;
  };
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    stats.bytes += chunk.length;
    const text = carry + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      handle(text.slice(start, nl));
      start = nl + 1;
      if (pending.samples.length >= BATCH_SAMPLES) yield take();
    }
    carry = text.slice(start);
  }
  carry += decoder.decode();
  if (carry) handle(carry);
  if (pending.samples.length || pending.powerPoints.length || pending.gaps.length) yield take();
}
