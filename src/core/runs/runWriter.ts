import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GpuSample, PowerPoint, SampleGap } from '../sampler/types';
import type { MinMaxView } from './minMaxView';
import type { RunOverview } from './overview';
import { OffsetIndexBuilder, writeOverview } from './overview';
import { encodeSample } from './sampleCodec';
import type { StoredRun, StoreOptions } from './store';
import { errnoText, writeJsonAtomic } from './storeFiles';

/**
 * Most unwritten sample lines held while writes fail (e.g. a full disk), ~64 MB: enough for hours
 * of one GPU at 10 Hz; beyond it the oldest are dropped (the summary is computed in memory anyway)
 * and the record notes the hole.
 */
const MAX_PENDING_CHARS = 64 * 1024 * 1024;

/** Writer for one run in progress. Never throws: failed writes are reported and retried. */
export class RunWriter {
  private pending: string[] = [];
  /** Per pending line: its samples and their time span (for the offset index). */
  private pendingSpans: Array<{ samples: number; minMs: number; maxMs: number }> = [];
  private pendingChars = 0;
  /** Bytes of samples.jsonl written so far: where the next line starts. */
  private samplesBytes = 0;
  private readonly index = new OffsetIndexBuilder();
  /** Gaps written (the overview carries them, so opening a run needs no scan for them). */
  private readonly gaps: SampleGap[] = [];
  /**
   * samples.jsonl no longer matches what went through the writer (a failed or torn append, lines
   * dropped on a full disk): no overview from memory then; the panel rebuilds it from the file.
   */
  private samplesDiverged = false;
  private droppedLines = 0;
  private outputPending = '';
  private outputBytes = 0;
  private outputTail = '';
  private outputTruncated = 0;
  /** output.log was emptied to keep run.json writable on a full disk. */
  private outputDropped = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Files whose last append failed: it may have left a torn line, so the next append starts a fresh one. */
  private readonly torn = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly maxOutputBytes: number,
    private readonly tailBytes: number,
    private readonly options: StoreOptions = {},
  ) {
    // Flush at least once a second (README: crash safety).
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  /** The run's samples file (complete on disk after {@link flush}). */
  get samplesFile(): string {
    return path.join(this.dir, 'samples.jsonl');
  }

  /** Sample lines lost because the disk refused them for too long (0 when the record is whole). */
  get droppedSampleLines(): number {
    return this.droppedLines;
  }

  /**
   * Rewrite run.json (atomically); false when it failed (reported through `onWriteError`). The
   * record matters more than Joules' own copy of the output: on a full disk, output.log (the
   * command's output, already shown to the user) is emptied to make room and the write retried.
   */
  writeMeta(run: StoredRun): boolean {
    const file = path.join(this.dir, 'run.json');
    try {
      writeJsonAtomic(file, run);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC' && this.releaseOutputLog()) return this.attempt(file, () => writeJsonAtomic(file, run));
      this.report(e, file);
      return false;
    }
  }

  /** Empty output.log to free space; true when it held anything. Further output is not logged. */
  private releaseOutputLog(): boolean {
    const log = path.join(this.dir, 'output.log');
    try {
      if (fs.statSync(log).size === 0) return false;
      fs.truncateSync(log, 0);
    } catch {
      return false;
    }
    this.outputPending = '';
    this.outputBytes = this.maxOutputBytes;
    this.outputDropped = true;
    this.torn.delete(log);
    return true;
  }

  appendBatch(samples: GpuSample[], powerPoints: PowerPoint[], gaps: SampleGap[]): void {
    if (this.closed || (samples.length === 0 && powerPoints.length === 0 && gaps.length === 0)) return;
    const line: Record<string, unknown> = { s: samples.map(encodeSample) };
    if (powerPoints.length) line.p = powerPoints.map((p) => [p.gpu, round3(p.tMs), p.powerMilliwatts]);
    if (gaps.length) line.g = gaps;
    const text = JSON.stringify(line);
    let minMs = Number.NaN;
    let maxMs = Number.NaN;
    for (const s of samples) {
      if (!(s.tMs >= minMs)) minMs = s.tMs;
      if (!(s.tMs <= maxMs)) maxMs = s.tMs;
    }
    this.pending.push(text);
    this.pendingSpans.push({ samples: samples.length, minMs, maxMs });
    this.pendingChars += text.length;
    for (const g of gaps) if (this.gaps.length < 100_000) this.gaps.push(g);
    while (this.pendingChars > MAX_PENDING_CHARS && this.pending.length > 1) {
      this.pendingChars -= this.pending.shift()!.length;
      this.pendingSpans.shift();
      this.droppedLines++;
      this.samplesDiverged = true;
    }
  }

  /**
   * Store the run's overview from `view` (the session's, fed every sample this writer was given)
   * and the offsets of the lines written: no pass over the samples. Call once the last samples
   * are flushed.
   * False when the file on disk may differ from what the view saw (then the overview is left to be
   * rebuilt from the file on first open) or the write failed (reported through `onWriteError`).
   */
  writeOverview(runId: string, view: MinMaxView): boolean {
    if (this.samplesDiverged || this.pending.length) return false;
    const overview: RunOverview = {
      runId,
      samples: view.sampleCount,
      samplesBytes: this.samplesBytes,
      malformedLines: 0,
      capacity: view.capacity,
      bucketMs: view.bucketMs,
      columns: view.allColumns(),
      gaps: this.gaps,
      index: this.index.result(),
    };
    return this.attempt(path.join(this.dir, 'overview.bin'), () => writeOverview(this.dir, overview));
  }

  appendOutput(text: string): void {
    if (this.closed) return;
    this.outputTail = (this.outputTail + text).slice(-this.tailBytes);
    const bytes = Buffer.byteLength(text);
    if (this.outputBytes + bytes <= this.maxOutputBytes) {
      this.outputPending += text;
      this.outputBytes += bytes;
    } else {
      this.outputTruncated += bytes;
    }
  }

  /** Output tail kept in memory (last `tailBytes`). */
  tail(): string {
    return this.outputTail;
  }

  flush(): void {
    if (this.pending.length) {
      const file = path.join(this.dir, 'samples.jsonl');
      if (this.append(file, this.pending.join('\n') + '\n')) {
        this.pending.forEach((text, i) => {
          const span = this.pendingSpans[i]!;
          this.index.line(this.samplesBytes, span.samples, span.minMs, span.maxMs);
          this.samplesBytes += Buffer.byteLength(text) + 1;
        });
        this.pending = [];
        this.pendingSpans = [];
        this.pendingChars = 0;
      } else {
        this.samplesDiverged = true;
      }
    }
    if (this.outputPending) {
      // output.log is capped at maxOutputBytes, so what waits here is bounded too.
      if (this.append(path.join(this.dir, 'output.log'), this.outputPending)) this.outputPending = '';
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.outputDropped) {
      this.append(path.join(this.dir, 'output.log'), `[joules: the disk filled up; this log was emptied to save the run record; last part follows]\n${this.outputTail}`);
    } else if (this.outputTruncated > 0) {
      const note = `\n[joules: output exceeded ${this.maxOutputBytes} bytes; ${this.outputTruncated} bytes omitted; last part follows]\n`;
      this.append(path.join(this.dir, 'output.log'), note + this.outputTail);
    }
  }

  private append(file: string, text: string): boolean {
    // After a failed append the file may end mid-line: a newline first keeps the torn line apart
    // (readers skip it) instead of gluing it to the next good one.
    const prefix = this.torn.has(file) ? '\n' : '';
    const ok = this.attempt(file, () => fs.appendFileSync(file, prefix + text));
    if (ok) this.torn.delete(file);
    else this.torn.add(file);
    return ok;
  }

  private attempt(file: string, write: () => void): boolean {
    try {
      write();
      return true;
    } catch (e) {
      this.report(e, file);
      return false;
    }
  }

  private report(e: unknown, file: string): void {
    this.options.onWriteError?.(errnoText(e), file);
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
