/**
 * The CLI's stdout and stderr, made safe to write to when the other end has gone away: `joules
 * history | head -1` closes the pipe (EPIPE), `joules run ... > /dev/full` fails every write
 * (ENOSPC), and closing the terminal fails writes to it (EIO). Node reports each as an 'error'
 * event on process.stdout, which, unhandled, ended the CLI with a stack trace while the run's
 * child lost its parent. Here the first failure is remembered, later writes are dropped, and the
 * owner is told once, so a run can say so on the other stream and go on measuring.
 */
export class SafeOutput {
  private failure: string | undefined;
  private readonly failListeners = new Set<(reason: string) => void>();

  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {
    stream.on('error', (e: NodeJS.ErrnoException) => this.fail(e));
  }

  get isTTY(): boolean | undefined {
    return this.stream.isTTY;
  }

  get columns(): number | undefined {
    return this.stream.columns;
  }

  /** Why writing stopped (e.g. `EPIPE`), or undefined while it works. */
  get failed(): string | undefined {
    return this.failure;
  }

  /**
   * Write `data`; false means "wait for `drain`" (Node's backpressure signal). After a failure
   * nothing is written and the result is true, so no producer waits forever on a dead reader.
   */
  write(data: string | Uint8Array): boolean {
    if (this.failure) return true;
    try {
      return this.stream.write(data);
    } catch (e) {
      // Synchronous pipes and files (Linux) can throw from write() itself.
      this.fail(e as NodeJS.ErrnoException);
      return true;
    }
  }

  /** Call `cb` once the stream can take more, or at once if writing has failed meanwhile. */
  onceDrain(cb: () => void): void {
    if (this.failure) {
      cb();
      return;
    }
    let called = false;
    const once = (): void => {
      if (called) return;
      called = true;
      this.stream.removeListener('drain', once);
      this.failListeners.delete(once);
      cb();
    };
    this.stream.once('drain', once);
    this.failListeners.add(once);
  }

  /** `cb(reason)` when writing fails (once per stream). */
  onFail(cb: (reason: string) => void): void {
    if (this.failure) cb(this.failure);
    else this.failListeners.add(cb);
  }

  private fail(e: NodeJS.ErrnoException): void {
    if (this.failure) return;
    this.failure = e.code ?? e.message;
    const listeners = [...this.failListeners];
    this.failListeners.clear();
    for (const l of listeners) l(this.failure);
  }
}

/** What the commands write to. */
export interface Io {
  stdout: SafeOutput;
  stderr: SafeOutput;
}

let processIo: Io | undefined;

/** The process's own streams, wrapped once (their 'error' handlers must be installed once). */
export function processStdio(): Io {
  processIo ??= { stdout: new SafeOutput(process.stdout), stderr: new SafeOutput(process.stderr) };
  return processIo;
}
