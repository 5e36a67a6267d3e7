import { delay } from './processes';
import type { GpuEnergy } from '../sampler/engine';
import type { RunMarker, RunSummary } from './types';
import type { WorkFields } from './work';
import { WorkTracker } from './work';

/**
 * Lines a run prints to talk to Joules (media/joules_markers.py prints them):
 *   ::joules mark <label>     a named point (e.g. "epoch 1 end"); the energy counter is read there
 *   ::joules steps <n>        n more training/inference steps done (for J/step)
 *   ::joules tokens <n>       n more tokens generated (for J/token)
 */
const MARKER_LINE = /^::joules (mark|steps|tokens)(?: (.*))?$/;

/** Longest partial line kept between chunks: a marker is short; a 1 GB line without newline is not one. */
const MAX_PARTIAL_LINE_CHARS = 1000;
const MAX_LABEL_CHARS = 200;
/**
 * Markers kept per run. Each is kept in the summary, so a window opened every step of a long run
 * (a decorated per-step function) must not grow it without end: past this, new marks and windows
 * are counted (`droppedMarks`) and named in the run's errors, not kept.
 */
export const MAX_MARKERS = 5000;

export type MarkerEvent = { kind: 'mark'; label: string | undefined } | { kind: 'steps' | 'tokens'; count: number };

/** Whether `line` (without its newline) is a marker line: what the output relay strips from the output. */
export function isMarkerLine(line: string): boolean {
  return MARKER_LINE.test(line.replace(/\r$/, '').trim());
}

/** The event of a marker line, or undefined when it is not one or its argument is not valid. */
export function parseMarkerLine(line: string): MarkerEvent | undefined {
  const m = MARKER_LINE.exec(line.replace(/\r$/, '').trim());
  if (!m) return undefined;
  const arg = (m[2] ?? '').trim();
  if (m[1] === 'mark') return { kind: 'mark', label: arg ? arg.slice(0, MAX_LABEL_CHARS) : undefined };
  const n = Number(arg || '1');
  return Number.isFinite(n) && n > 0 ? { kind: m[1] === 'steps' ? 'steps' : 'tokens', count: n } : undefined;
}

/** Finds marker lines in a stream of text chunks (lines may span chunks). */
export class MarkerScanner {
  private partial = '';

  /** Marker events in `text`, in order. */
  scan(text: string): MarkerEvent[] {
    // Cheap reject first: most output has no marker at all.
    if (!text.includes('::joules') && !this.partial) return [];
    const lines = (this.partial + text).split('\n');
    this.partial = (lines.pop() ?? '').slice(-MAX_PARTIAL_LINE_CHARS);
    const out: MarkerEvent[] = [];
    for (const raw of lines) {
      const e = parseMarkerLine(raw);
      if (e) out.push(e);
    }
    return out;
  }
}

/** One counter read as the sampler answers it. */
export interface CounterRead {
  energies: GpuEnergy[];
  elapsedMs: number;
}

export interface MarkRecorderOptions {
  /** Reads the energy counters now (the sampler worker's `mark`). */
  read: () => Promise<CounterRead>;
  /** Energy of the GPUs that count for the run, in J, from a read. */
  energyJ: (read: CounterRead) => number;
  /** Monotonic clock in ms (injected for tests). */
  nowMs: () => number;
  /**
   * Least time between two counter reads. The counter moves about every 100 ms (DESIGN.md) and
   * costs 3-4 ms a read in the driver: 5,000 marks in a burst, each read, stalled sampling 16.7 s
   * and made energy ~4x too high. Marks closer together share reads.
   */
  minReadIntervalMs?: number;
}

/** What a marker carries besides its label, time and energy (the window fields). */
export type MarkerExtra = Pick<RunMarker, 'window' | 'windowId' | 'closedAtRunEnd'>;

interface Waiting {
  label: string;
  atMs: number;
  extra?: MarkerExtra;
}

/**
 * Gives every `::joules mark` an energy without reading the counter more than once per
 * `minReadIntervalMs`. The first mark after a quiet spell is read at once (`energySource:
 * 'counter'`); marks arriving while a read is recent or in flight wait for the next read and get
 * time and energy interpolated by their arrival between the two reads around them
 * (`energySource: 'interpolated'`).
 */
export class MarkRecorder {
  readonly markers: RunMarker[] = [];
  private readonly minReadIntervalMs: number;
  private waiting: Waiting[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The last answered read, on the sampler's clock and on ours (for interpolation). */
  private last: { atMs: number; tMs: number; energyJ: number };
  private lastRequestMs = -Infinity;
  private count = 0;
  private closed = false;
  /** Marks refused because MAX_MARKERS were kept or waiting. */
  droppedMarks = 0;

  constructor(private readonly opts: MarkRecorderOptions) {
    this.minReadIntervalMs = opts.minReadIntervalMs ?? 100;
    // The run's start: t = 0, energy 0, now on our clock.
    this.last = { atMs: opts.nowMs(), tMs: 0, energyJ: 0 };
  }

  /**
   * A mark line arrived now. False when it was not kept (the run ended, or MAX_MARKERS were
   * reached; `force`: kept anyway, for the end of a window whose beginning was kept).
   */
  mark(label: string | undefined, extra?: MarkerExtra, force = false): boolean {
    if (this.closed) return false;
    // `count`: every mark kept, answered or not (a read in flight holds some of them).
    if (!force && this.count >= MAX_MARKERS) {
      this.droppedMarks++;
      return false;
    }
    this.count++;
    this.waiting.push({ label: label ?? `mark ${this.count}`, atMs: this.opts.nowMs(), ...(extra ? { extra } : {}) });
    this.schedule();
    return true;
  }

  /** Answers every waiting mark (one last read) and stops; resolves when the markers are final. */
  async flush(): Promise<RunMarker[]> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight) await this.inFlight;
    if (this.waiting.length) await this.readNow(false);
    return this.markers;
  }

  private schedule(): void {
    if (this.inFlight || this.timer) return;
    const wait = this.lastRequestMs + this.minReadIntervalMs - this.opts.nowMs();
    if (wait <= 0) {
      void this.readNow(true);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.readNow(false);
    }, wait);
    this.timer.unref();
  }

  /** `askedByMark`: the one waiting mark arrived after a quiet spell and asked for this read itself. */
  private readNow(askedByMark: boolean): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    this.lastRequestMs = this.opts.nowMs();
    const run = async (): Promise<void> => {
      let read: CounterRead;
      try {
        read = await this.opts.read();
      } catch {
        // The sampler is gone (the run is ending): the marks keep the last known figures.
        for (const w of batch) this.markers.push({ label: w.label, tS: this.last.tMs / 1000, energyJ: this.last.energyJ, energySource: 'interpolated', ...w.extra });
        return;
      }
      const now = { atMs: this.opts.nowMs(), tMs: read.elapsedMs, energyJ: this.opts.energyJ(read) };
      batch.forEach((w, i) => {
        // The mark that asked for this read (the first, when nothing was recent) is the read itself.
        // Known by how the read started, not by comparing clocks: a GC pause between the mark and
        // the read's start once made the first mark of a burst "interpolated".
        if (i === 0 && askedByMark && batch.length === 1) {
          this.markers.push({ label: w.label, tS: now.tMs / 1000, energyJ: now.energyJ, energySource: 'counter', ...w.extra });
          return;
        }
        const span = now.atMs - this.last.atMs;
        const f = span > 0 ? Math.min(1, Math.max(0, (w.atMs - this.last.atMs) / span)) : 1;
        this.markers.push({
          label: w.label,
          tS: (this.last.tMs + f * (now.tMs - this.last.tMs)) / 1000,
          energyJ: this.last.energyJ + f * (now.energyJ - this.last.energyJ),
          energySource: 'interpolated',
          ...w.extra,
        });
      });
      this.last = now;
    };
    const p = run().finally(() => {
      this.inFlight = undefined;
      if (this.waiting.length && !this.closed) this.schedule();
    });
    this.inFlight = p;
    return p;
  }
}

/** The summary's fields that come from the run's markers and its work. */
export type MarkerFields = Pick<RunSummary, 'markers'> & WorkFields;

/**
 * A run's markers and work as the session sees them: `::joules` lines (removed from the output by
 * the relay, handed over here), the Python package's messages (channel.ts), and the output itself
 * for work inferred from the log. Marks and window edges are read against the energy counter.
 */
export class SessionMarkers {
  private readonly recorder: MarkRecorder;
  readonly work = new WorkTracker();
  private readonly windows = new Map<string, { id: number; label: string }>();
  private nextWindowId = 1;
  /** The markers as answered when the run ended (the recorder's own list until then). */
  private final: RunMarker[] | undefined;

  /** `runTimeS`: the run's time now, which a `steps` line is charted at. */
  constructor(
    recorder: MarkRecorderOptions,
    private readonly runTimeS: () => number,
  ) {
    this.recorder = new MarkRecorder(recorder);
  }

  /** A `::joules` line (without its newline). */
  markerLine(line: string): void {
    const e = parseMarkerLine(line);
    if (!e) return;
    if (e.kind === 'mark') this.recorder.mark(e.label);
    else this.work.report('markers', this.runTimeS(), e.kind === 'steps' ? { steps: e.count } : { tokens: e.count });
  }

  /** A chunk of the run's output without marker lines (work inferred from the log). */
  output(text: string, stream: 'stdout' | 'stderr'): void {
    this.work.output(text, stream, this.runTimeS());
  }

  /** `joules.step(n, samples, tokens)`. */
  step(n: number, samples: number | undefined, tokens: number | undefined): void {
    this.work.report('package', this.runTimeS(), { steps: n, ...(samples !== undefined ? { samples } : {}), ...(tokens !== undefined ? { tokens } : {}) });
  }

  /** A named point from the package. */
  mark(label: string): void {
    this.recorder.mark(label);
  }

  /** A window opens (`key`: unique in the run). */
  beginWindow(key: string, label: string): void {
    if (this.windows.has(key)) return;
    const id = this.nextWindowId++;
    // A window whose beginning was not kept (too many markers) is not kept at its end either.
    if (this.recorder.mark(label, { window: 'begin', windowId: id })) this.windows.set(key, { id, label });
  }

  /** A window closes; `closedAtRunEnd`: by the run's end, not by the program. */
  endWindow(key: string, closedAtRunEnd: boolean): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.windows.delete(key);
    this.recorder.mark(w.label, { window: 'end', windowId: w.id, ...(closedAtRunEnd ? { closedAtRunEnd: true } : {}) }, true);
  }

  /** Markers received so far. */
  list(): RunMarker[] {
    return [...this.recorder.markers];
  }

  /** Marks and windows not kept because the run already had MAX_MARKERS. */
  get droppedMarks(): number {
    return this.recorder.droppedMarks;
  }

  /**
   * The run ended: answer the marks asked for before the exit (one last counter read, so before
   * the sampler stops), waiting at most `timeoutMs` for it. Rejects when the recorder fails; the
   * markers answered so far stand then.
   */
  async settle(timeoutMs: number): Promise<void> {
    this.final = (await Promise.race([this.recorder.flush(), delay(timeoutMs).then(() => undefined)])) ?? this.recorder.markers;
  }

  /** The summary's marker and work fields; `energyJ` and `durationS` are the run's. */
  summaryFields(energyJ: number, durationS: number): MarkerFields {
    const markers = this.final ?? this.recorder.markers;
    return {
      ...(markers.length ? { markers: [...markers].sort((a, b) => a.tS - b.tS) } : {}),
      ...this.work.summaryFields(energyJ, durationS),
    };
  }
}
