import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Disposable } from '../events';
import { Emitter } from '../events';

export type OutputStreamName = 'stdout' | 'stderr';

/**
 * Receives a run's output as the bytes the child wrote. Returning `false` means "I cannot take
 * more now" (like `Writable.write`): the relay stops reading that pipe until the `resume` it was
 * handed is called, so the child blocks in write() instead of Joules buffering its output.
 */
export type ByteSink = (chunk: Buffer, stream: OutputStreamName, resume: () => void) => boolean | void;

/** Receives a run's output as text, decoded across chunk edges (a UTF-8 character is never split). */
export type TextSink = (text: string, stream: OutputStreamName) => void;

/**
 * Passes a child's stdout and stderr through to its consumers: the bytes untouched (the CLI
 * writes them to its own stdout byte for byte), and text for the marker scanner, the store's log
 * and the editor's terminal. Text is decoded with one StringDecoder per stream, because a pipe
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

  /** Start relaying `readable` as `name`; `end` fires once it has ended (after the last text). */
  attach(name: OutputStreamName, readable: Readable | null | undefined): void {
    if (!readable) return;
    this.streams.set(name, readable);
    readable.on('data', (chunk: Buffer) => this.relay(name, chunk));
    readable.on('end', () => {
      const rest = this.decoders[name].end();
      if (rest) this.text.fire(rest, name);
    });
  }

  /** Relay one chunk (public so tests and replays can feed bytes without a child process). */
  relay(name: OutputStreamName, chunk: Buffer): void {
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
