/**
 * The pure part of "Joules: Show Prometheus Job" (no `vscode` import, so it is unit-tested): the
 * windows offered and the `joules job` command line the extension runs in a child process.
 */

export interface JobWindow {
  label: string;
  /** `--from` of `joules job` (relative to now). */
  from: string;
  /** Follow the job: read again every refresh, from the same start to now. */
  follow?: boolean;
}

export const JOB_WINDOWS: readonly JobWindow[] = [
  { label: 'Last 15 minutes', from: '-15m' },
  { label: 'Last hour', from: '-1h' },
  { label: 'Last 6 hours', from: '-6h' },
  { label: 'Last 24 hours', from: '-24h' },
  { label: 'Last 7 days', from: '-7d' },
  { label: 'Follow live (from 15 minutes ago)', from: '-15m', follow: true },
];

/** What the command needs; an object with these fields may also be passed to it (no prompts). */
export interface JobRequest {
  url: string;
  selector: string;
  from: string;
  to?: string;
  /** Follow live: `from` is fixed when following starts, the window's end is each refresh's now. */
  follow?: boolean;
  /** Seconds between a followed job's reads (default 15). */
  refreshS?: number;
}

/** `-15m` and the like as Unix seconds at `nowS` (so a followed job keeps its start); other forms unchanged. */
export function fixedFrom(from: string, nowS: number): string {
  const rel = /^(?:now)?-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(from.trim());
  if (!rel) return from;
  return (nowS - Number(rel[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[rel[2] as 's' | 'm' | 'h' | 'd']).toFixed(3);
}

/** Arguments of the bundled CLI (`dist/cli.js`) for `request`. */
export function jobCliArgs(cliPath: string, r: JobRequest, saveTo?: string, runId?: string): string[] {
  return [cliPath, 'job', '--prometheus', r.url, '--selector', r.selector, '--from', r.from, ...(r.to ? ['--to', r.to] : []), ...(saveTo ? ['--save', '--store', saveTo, ...(runId ? ['--run-id', runId] : [])] : [])];
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
  return { url: a.url, selector: a.selector, from: typeof a.from === 'string' ? a.from : '-1h', ...(typeof a.to === 'string' ? { to: a.to } : {}), ...(a.follow === true ? { follow: true } : {}), ...(typeof a.refreshS === 'number' && a.refreshS >= 1 ? { refreshS: a.refreshS } : {}) };
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
