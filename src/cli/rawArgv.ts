import * as fs from 'node:fs';

/**
 * The exact bytes of the last `decoded.length` arguments of this process, when any of them is not
 * valid UTF-8; otherwise undefined (the strings are exact). Node decodes argv as UTF-8 and puts
 * U+FFFD for each invalid byte, losing the original: a file name in Latin-1 or a binary
 * argument would reach the command changed. Linux keeps the original bytes in /proc/self/cmdline;
 * elsewhere there is no way back and the decoded strings are used.
 */
export function rawArgs(decoded: readonly string[], cmdline = '/proc/self/cmdline'): Buffer[] | undefined {
  if (process.platform !== 'linux' || decoded.length === 0) return undefined;
  let raw: Buffer;
  try {
    raw = fs.readFileSync(cmdline);
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      parts.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (parts.length < decoded.length) return undefined;
  const tail = parts.slice(parts.length - decoded.length);
  // Only trust the bytes when they are what Node decoded (node options come before, never after).
  if (!tail.every((b, i) => b.toString('utf8') === decoded[i])) return undefined;
  return tail.some((b, i) => !b.equals(Buffer.from(decoded[i]!, 'utf8'))) ? tail : undefined;
}
