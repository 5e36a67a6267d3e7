import { SAMPLE_COLUMNS } from './sampleCodec';

/**
 * A fast path for the lines RunWriter writes (`{"s":[[...],...],"p":[[...],...]}`): numbers are
 * read straight from the text into a reusable buffer, with no JSON.parse and no object per sample.
 * On 8 GPUs x 24 h (6.9 M samples) that is the difference between seconds of garbage collection
 * and none. Anything else (gaps, unusual spacing, a corrupt line) returns false, and the caller
 * takes the general path (JSON.parse), which also decides whether the line is malformed.
 */

/** Values per sample row (SAMPLE_COLUMNS); NaN where the row has null or nothing. */
export const ROW_WIDTH = SAMPLE_COLUMNS.length;

/** What a scanned line holds: `rows` x ROW_WIDTH values and `points` x 3 (gpu, tMs, mW). */
export interface ScannedLine {
  rowValues: Float64Array;
  rows: number;
  pointValues: Float64Array;
  points: number;
}

const scratch: ScannedLine = { rowValues: new Float64Array(ROW_WIDTH * 256), rows: 0, pointValues: new Float64Array(3 * 256), points: 0 };
let pos = 0;
let bad = false;

function num(line: string): number {
  const start = pos;
  let c = line.charCodeAt(pos);
  if (c === 110) {
    // null
    if (line.startsWith('null', pos)) {
      pos += 4;
      return Number.NaN;
    }
    bad = true;
    return 0;
  }
  let neg = false;
  if (c === 45) {
    neg = true;
    c = line.charCodeAt(++pos);
  }
  let v = 0;
  let digits = 0;
  while (c >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    digits++;
    c = line.charCodeAt(++pos);
  }
  if (digits === 0) {
    bad = true;
    return 0;
  }
  if (c === 46 || c === 101 || c === 69 || digits > 15) {
    // A fraction, an exponent or more digits than a double holds exactly: let Number() read it.
    while (c === 46 || c === 101 || c === 69 || c === 43 || c === 45 || (c >= 48 && c <= 57)) c = line.charCodeAt(++pos);
    const x = Number(line.slice(start, pos));
    if (!Number.isFinite(x)) bad = true;
    return x;
  }
  return neg ? -v : v;
}

function expect(line: string, code: number): void {
  if (line.charCodeAt(pos) === code) pos++;
  else bad = true;
}

function grow(a: Float64Array, need: number): Float64Array {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Scan one line; the result is valid until the next call. Undefined: not the plain writer format
 * (use the general parser). Rows with fewer than two values keep NaN there and are dropped by
 * the caller, as `decodeSample` drops them.
 */
export function scanSampleLine(line: string): ScannedLine | undefined {
  if (!line.startsWith('{"s":[')) return undefined;
  pos = 6;
  bad = false;
  scratch.rows = 0;
  scratch.points = 0;
  if (line.charCodeAt(pos) !== 93) {
    for (;;) {
      expect(line, 91);
      scratch.rowValues = grow(scratch.rowValues, (scratch.rows + 1) * ROW_WIDTH);
      const base = scratch.rows * ROW_WIDTH;
      let k = 0;
      if (line.charCodeAt(pos) !== 93) {
        for (;;) {
          const v = num(line);
          if (bad) return undefined;
          if (k < ROW_WIDTH) scratch.rowValues[base + k] = v;
          k++;
          if (line.charCodeAt(pos) === 44) pos++;
          else break;
        }
      }
      for (; k < ROW_WIDTH; k++) scratch.rowValues[base + k] = Number.NaN;
      expect(line, 93);
      if (bad) return undefined;
      scratch.rows++;
      if (line.charCodeAt(pos) === 44) pos++;
      else break;
    }
  }
  expect(line, 93);
  if (line.startsWith(',"p":[', pos)) {
    pos += 6;
    if (line.charCodeAt(pos) !== 93) {
      for (;;) {
        expect(line, 91);
        scratch.pointValues = grow(scratch.pointValues, (scratch.points + 1) * 3);
        const base = scratch.points * 3;
        for (let k = 0; k < 3; k++) {
          scratch.pointValues[base + k] = num(line);
          if (k < 2) expect(line, 44);
        }
        expect(line, 93);
        if (bad) return undefined;
        scratch.points++;
        if (line.charCodeAt(pos) === 44) pos++;
        else break;
      }
    }
    expect(line, 93);
  }
  expect(line, 125);
  // Gaps (objects) or anything after the closing brace: the general parser decides.
  if (bad || pos !== line.length) return undefined;
  return scratch;
}
