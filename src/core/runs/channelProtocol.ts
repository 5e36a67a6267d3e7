/**
 * The messages a run's programs send Joules over the run's channel (channel.ts), and their parser.
 * Newline-delimited JSON, one object a line; the Python package (python/joules/_channel.py) writes
 * them. Pure: no sockets here, so the parser is fuzzed on its own.
 *
 *   {"t":"hello","token":"<hex>","pid":123}            first line of every connection
 *   {"t":"step","n":1,"samples":32,"tokens":4096}     n more steps (samples, tokens: optional)
 *   {"t":"begin","w":"<id>","label":"epoch 1"}         a window opens (w: the client's id for it)
 *   {"t":"end","w":"<id>"}                             that window closes
 *   {"t":"mark","label":"eval"}                        a named point
 *   {"t":"energy","q":7}                               asks for the run's energy so far; answered
 *   <- {"t":"energy","q":7,"tS":12.3,"energyJ":{"0":1234.5},"totalJ":1234.5}
 */

/** Longest line kept: a message is a few hundred bytes; a larger one is dropped whole, not buffered. */
export const MAX_CHANNEL_LINE_BYTES = 16 * 1024;
export const MAX_CHANNEL_LABEL_CHARS = 200;
/** Largest count one message may report: beyond this a number is a bug, not work done. */
const MAX_COUNT = 1e15;

export type ChannelMessage =
  | { t: 'hello'; token: string; pid?: number }
  | { t: 'step'; n: number; samples?: number; tokens?: number }
  | { t: 'begin'; w: string; label: string }
  | { t: 'end'; w: string }
  | { t: 'mark'; label: string }
  | { t: 'energy'; q: number };

/**
 * Splits a byte stream into lines with bounded memory. Bytes are kept as bytes until a line is
 * whole (a UTF-8 character split across reads stays intact); a line longer than `maxLineBytes` is
 * dropped up to its newline and counted in `oversized`.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private skipping = false;
  oversized = 0;

  constructor(private readonly maxLineBytes = MAX_CHANNEL_LINE_BYTES) {}

  /** Whole lines completed by `chunk` (without their newline). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.skipping) {
        const piece = chunk.subarray(start, end);
        if (this.held + piece.length > this.maxLineBytes) {
          // Too long to be a message: forget what was held and skip to the newline.
          this.parts = [];
          this.held = 0;
          this.skipping = true;
          this.oversized++;
        } else if (piece.length) {
          // Copy: the caller's buffer may be reused after this returns.
          this.parts.push(Buffer.from(piece));
          this.held += piece.length;
        }
      }
      if (nl === -1) break;
      if (!this.skipping) out.push(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
      this.parts = [];
      this.held = 0;
      this.skipping = false;
      start = nl + 1;
    }
    return out;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.held;
  }
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_COUNT ? v : undefined;
}

function label(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  // One line of plain text: control characters would break the CLI's table and the panel's labels.
  return v.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, MAX_CHANNEL_LABEL_CHARS);
}

function windowId(v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0 && v.length <= 64) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return undefined;
}

/** One line as a message, or a reason it is not one. Never throws. */
export function parseChannelLine(line: Buffer | string): ChannelMessage | { error: string } {
  const text = (typeof line === 'string' ? line : line.toString('utf8')).replace(/\r$/, '');
  if (!text.trim()) return { error: 'empty line' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  switch (o.t) {
    case 'hello':
      if (typeof o.token !== 'string' || o.token.length > 256) return { error: 'hello without a token' };
      return { t: 'hello', token: o.token, ...(Number.isSafeInteger(o.pid) ? { pid: o.pid as number } : {}) };
    case 'step': {
      const n = o.n === undefined ? 1 : count(o.n);
      const samples = o.samples === undefined || o.samples === null ? undefined : count(o.samples);
      const tokens = o.tokens === undefined || o.tokens === null ? undefined : count(o.tokens);
      if (n === undefined) return { error: 'step: n must be a number >= 0' };
      if (o.samples != null && samples === undefined) return { error: 'step: samples must be a number >= 0' };
      if (o.tokens != null && tokens === undefined) return { error: 'step: tokens must be a number >= 0' };
      return { t: 'step', n, ...(samples !== undefined ? { samples } : {}), ...(tokens !== undefined ? { tokens } : {}) };
    }
    case 'begin': {
      const w = windowId(o.w);
      const l = label(o.label);
      if (w === undefined || l === undefined) return { error: 'begin: needs w and label' };
      return { t: 'begin', w, label: l };
    }
    case 'end': {
      const w = windowId(o.w);
      if (w === undefined) return { error: 'end: needs w' };
      return { t: 'end', w };
    }
    case 'mark': {
      const l = label(o.label);
      if (l === undefined) return { error: 'mark: needs a label' };
      return { t: 'mark', label: l };
    }
    case 'energy':
      if (!Number.isSafeInteger(o.q)) return { error: 'energy: needs an integer q' };
      return { t: 'energy', q: o.q as number };
    default:
      return { error: `unknown message type ${JSON.stringify(String(o.t)).slice(0, 40)}` };
  }
}
