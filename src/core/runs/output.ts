import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Disposable } from '../events';
import { Emitter } from '../events';
import { isMarkerLine } from './markers';

export type OutputStreamName = 'stdout' | 'stderr';

/**
 * Receives a run's output as the bytes the child wrote. Returning `false` means "I cannot take
 * more now" (like `Writable.write`): the relay stops reading that pipe until the `resume` it was
 * handed is called, so the child blocks in write() instead of Joules buffering its output.
 */
export type ByteSink = (chunk: Buffer, stream: OutputStreamName, resume: () => void) => boolean | void;

/** Receives a run's output as text, decoded across chunk edges (a UTF-8 character is never split). */
export type TextSink = (text: string, stream: OutputStreamName) => void;

/** `::joules ` as bytes: what a marker line starts with after its leading blanks. */
const PREFIX = Buffer.from('::joules ');
/** Longest line held back while it may be a marker (markers.ts keeps 1,000 characters of one). */
const MAX_HELD_BYTES = 1024;

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0b || b === 0x0c;
}

/**
 * Removes `::joules` marker lines (markers.ts) from a byte stream and hands them over as text; every
 * other byte passes through unchanged and in order. A line is held back only while it can still be
 * a marker: blanks then a prefix of `::joules `, then (prefix complete) until its newline, at most
 * MAX_HELD_BYTES. Any other line passes as soon as its first distinguishing byte arrives, so
 * ordinary output is never delayed by more than a chunk. A line without a newline at the end of
 * the stream is never a marker (as before: the scanner only took whole lines).
 */
export class MarkerLineFilter {
  private held: Buffer[] = [];
  private heldLen = 0;
  /** `start`: deciding about the current line; `pass`: the current line is output. */
  private mode: 'start' | 'pass' = 'start';
  /** Bytes of PREFIX matched on the current line (blanks before it are not counted). */
  private matched = 0;

  /** The bytes to pass on (possibly empty, possibly `chunk` itself) and the marker lines removed. */
  push(chunk: Buffer): { out: Buffer; markers: string[] } {
    const parts: Buffer[] = [];
    const markers: string[] = [];
    let emitFrom = 0;
    let pos = 0;
    const len = chunk.length;
    /** Emits what comes before the line at `lineStart` and holds the line to the chunk's end (it may yet be a marker). */
    const holdRest = (lineStart: number): void => {
      if (lineStart > emitFrom) parts.push(chunk.subarray(emitFrom, lineStart));
      this.held.push(Buffer.from(chunk.subarray(lineStart, len)));
      this.heldLen += len - lineStart;
      emitFrom = len;
      pos = len;
    };
    const flushHeld = (): void => {
      // Held bytes precede this chunk's: only reached while nothing of the chunk was emitted.
      for (const h of this.held) parts.push(h);
      this.held = [];
      this.heldLen = 0;
    };
    while (pos < len) {
      if (this.mode === 'pass') {
        const nl = chunk.indexOf(0x0a, pos);
        if (nl === -1) {
          pos = len;
          break;
        }
        pos = nl + 1;
        this.mode = 'start';
        this.matched = 0;
        continue;
      }
      // Deciding about a line that starts at `lineStart` in this chunk (at 0 when part of it is held).
      const lineStart = this.heldLen ? 0 : pos;
      let j = pos;
      let decided = false;
      while (j < len && this.matched < PREFIX.length) {
        const b = chunk[j]!;
        if (this.heldLen + (j - lineStart) >= MAX_HELD_BYTES || !((this.matched === 0 && isBlank(b)) || b === PREFIX[this.matched])) {
          // Not a marker line: it passes, with whatever of it was held.
          flushHeld();
          if (b === 0x0a) {
            this.mode = 'start';
            this.matched = 0;
            pos = j + 1;
          } else {
            this.mode = 'pass';
            pos = j;
          }
          decided = true;
          break;
        }
        if (!(this.matched === 0 && isBlank(b))) this.matched++;
        j++;
      }
      if (decided) continue;
      if (j >= len) {
        // Still possibly a marker at the chunk's end: hold the line's bytes.
        holdRest(lineStart);
        break;
      }
      // The prefix is complete: the line is a marker if it is one whole.
      const nl = chunk.indexOf(0x0a, j);
      const lineLen = this.heldLen + ((nl === -1 ? len : nl) - lineStart);
      if (lineLen > MAX_HELD_BYTES) {
        flushHeld();
        this.mode = 'pass';
        pos = j;
        continue;
      }
      if (nl === -1) {
        holdRest(lineStart);
        break;
      }
      const line = Buffer.concat([...this.held, chunk.subarray(lineStart, nl)]).toString('utf8');
      if (isMarkerLine(line)) {
        if (lineStart > emitFrom) parts.push(chunk.subarray(emitFrom, lineStart));
        this.held = [];
        this.heldLen = 0;
        emitFrom = nl + 1;
        markers.push(line);
      } else {
        flushHeld();
      }
      this.mode = 'start';
      this.matched = 0;
      pos = nl + 1;
    }
    if (emitFrom === 0 && parts.length === 0) return { out: chunk, markers };
    if (emitFrom < len) parts.push(chunk.subarray(emitFrom, len));
    return { out: parts.length === 1 ? parts[0]! : Buffer.concat(parts), markers };
  }

  /** The stream ended: what was held passes (an unterminated line is output, not a marker). */
  end(): Buffer {
    const rest = Buffer.concat(this.held);
    this.held = [];
    this.heldLen = 0;
    this.mode = 'start';
    this.matched = 0;
    return rest;
  }
}

/**
 * Passes a child's stdout and stderr through to its consumers: the bytes untouched except for
 * `::joules` marker lines, which go to `onMarkerLine` instead (MarkerLineFilter; the CLI writes the
 * rest to its own stdout byte for byte), and that same output as text for the store's log, the
 * editor's terminal and the log's work inference. Text is decoded with one StringDecoder per stream, because a pipe
 * hands out arbitrary 64 KiB chunks: decoding each chunk alone broke 240 multi-byte characters
 * in 9 MB of output.
 *
 * Backpressure: a byte sink that returns `false` pauses that pipe until it calls `resume`; with
 * several sinks the pipe is read again once every one of them has resumed. Without this, a slow
 * reader of `joules run ... | slow` made Joules hold 712 MB for 300 MB of output.
 */
export class OutputRelay {
  private readonly byteSinks = new Set<ByteSink>();
  private readonly text = new Emitter<Parameters<TextSink>>();
  private readonly markerLines = new Emitter<[string, OutputStreamName]>();
  private readonly filters: Record<OutputStreamName, MarkerLineFilter> = { stdout: new MarkerLineFilter(), stderr: new MarkerLineFilter() };
  private readonly decoders: Record<OutputStreamName, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private readonly streams = new Map<OutputStreamName, Readable>();
  /** Resumes still owed per stream before it may be read again. */
  private readonly holds: Record<OutputStreamName, number> = { stdout: 0, stderr: 0 };

  onBytes(sink: ByteSink): Disposable {
    // Not an Emitter: each sink answers whether it can take more, and the relay counts the holds.
    this.byteSinks.add(sink);
    return { dispose: () => void this.byteSinks.delete(sink) };
  }

  onText(sink: TextSink): Disposable {
    return this.text.subscribe(sink);
  }

  /** Marker lines removed from the output (without their newline), in order. */
  onMarkerLine(listener: (line: string, stream: OutputStreamName) => void): Disposable {
    return this.markerLines.subscribe(listener);
  }

  /** Start relaying `readable` as `name`; `end` fires once it has ended (after the last text). */
  attach(name: OutputStreamName, readable: Readable | null | undefined): void {
    if (!readable) return;
    this.streams.set(name, readable);
    readable.on('data', (chunk: Buffer) => this.relay(name, chunk));
    readable.on('end', () => {
      const held = this.filters[name].end();
      if (held.length) this.pass(name, held);
      const rest = this.decoders[name].end();
      if (rest) this.text.fire(rest, name);
    });
  }

  /** Relay one chunk (public so tests and replays can feed bytes without a child process). */
  relay(name: OutputStreamName, chunk: Buffer): void {
    const { out, markers } = this.filters[name].push(chunk);
    for (const line of markers) this.markerLines.fire(line, name);
    if (out.length) this.pass(name, out);
  }

  private pass(name: OutputStreamName, chunk: Buffer): void {
    const text = this.decoders[name].write(chunk);
    if (text) this.text.fire(text, name);
    for (const sink of this.byteSinks) {
      let resumed = false;
      const resume = (): void => {
        if (resumed) return;
        resumed = true;
        if (--this.holds[name] === 0) this.streams.get(name)?.resume();
      };
      // Count the hold before calling, so a sink that resumes synchronously nets to zero.
      this.holds[name]++;
      const ok = sink(chunk, name, resume);
      if (ok !== false) resume();
      else if (this.holds[name] > 0) this.streams.get(name)?.pause();
    }
  }

  /** Whether `name` is paused waiting for a slow consumer. */
  isHeld(name: OutputStreamName): boolean {
    return this.holds[name] > 0;
  }
}
