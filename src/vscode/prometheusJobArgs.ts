/**
 * The pure part of "Joules: Show Prometheus Job" (no `vscode` import, so it is unit-tested): the
 * windows offered and the `joules job` command line the extension runs in a child process.
 */

export interface JobWindow {
  label: string;
  /** `--from` of `joules job` (relative to now). */
  from: string;
}

export const JOB_WINDOWS: readonly JobWindow[] = [
  { label: 'Last 15 minutes', from: '-15m' },
  { label: 'Last hour', from: '-1h' },
  { label: 'Last 6 hours', from: '-6h' },
  { label: 'Last 24 hours', from: '-24h' },
  { label: 'Last 7 days', from: '-7d' },
];

/** What the command needs; an object with these fields may also be passed to it (no prompts). */
export interface JobRequest {
  url: string;
  selector: string;
  from: string;
  to?: string;
}

/** Arguments of the bundled CLI (`dist/cli.js`) for `request`. */
export function jobCliArgs(cliPath: string, r: JobRequest, saveTo?: string): string[] {
  return [cliPath, 'job', '--prometheus', r.url, '--selector', r.selector, '--from', r.from, ...(r.to ? ['--to', r.to] : []), ...(saveTo ? ['--save', '--store', saveTo] : [])];
}

/** The run id `joules job --save` reports on stderr, if any. */
export function savedRunId(stderr: string): string | undefined {
  return /saved as run (\S+)/.exec(stderr)?.[1];
}

/** The request in a command argument, or undefined when it is not one (then the command asks). */
export function jobRequestOf(arg: unknown): JobRequest | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const a = arg as Record<string, unknown>;
  if (typeof a.url !== 'string' || typeof a.selector !== 'string') return undefined;
  return { url: a.url, selector: a.selector, from: typeof a.from === 'string' ? a.from : '-1h', ...(typeof a.to === 'string' ? { to: a.to } : {}) };
}

/** An input-box check of a Prometheus URL: undefined when fine, else why not. */
export function checkPrometheusUrl(text: string): string | undefined {
  try {
    const u = new URL(text.trim());
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'an http:// or https:// URL, e.g. http://prometheus:9090';
  } catch {
    return 'a URL, e.g. http://prometheus:9090';
  }
}
