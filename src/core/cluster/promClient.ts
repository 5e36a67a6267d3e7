/**
 * The few calls of Prometheus' HTTP API (v1) the job report needs, over the runtime's fetch:
 * an instant query returning raw samples of a range selector, and a range query on a grid.
 * Every failure is one line naming the server and what it said.
 */

/** One series: its labels (without `__name__`) and its points, time in Unix seconds, oldest first. */
export interface PromSeries {
  metric: string;
  labels: Record<string, string>;
  points: Array<[tS: number, value: number]>;
}

export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
}

export interface PromClient {
  /** Raw samples of `selector` in (startS, endS]: the instant query `selector[<range>s]` at endS. */
  rawSamples(selector: string, startS: number, endS: number): Promise<PromSeries[]>;
  /** `expr` evaluated every `stepS` from startS to endS (query_range). */
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<PromSeries[]>;
}

type Fetch = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

/**
 * Raw samples are fetched in chunks of this many seconds, so a week at a 1 s scrape interval does
 * not ask one query for more samples than Prometheus allows (query.max-samples, 50 M by default).
 */
const RAW_CHUNK_S = 3600;

/** A client for the server at `baseUrl` (e.g. http://prometheus:9090). */
export function promClient(baseUrl: string, o: { timeoutMs?: number; fetch?: Fetch } = {}): PromClient {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new PrometheusError(`not a URL: "${baseUrl}" (e.g. http://localhost:9090)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new PrometheusError(`Prometheus URL must be http(s), got "${baseUrl}"`);
  const doFetch: Fetch = o.fetch ?? (globalThis.fetch as unknown as Fetch);
  const timeoutMs = o.timeoutMs ?? 30_000;

  const call = async (path: string, params: Record<string, string>): Promise<PromSeries[]> => {
    const url = new URL(path, base.href.endsWith('/') ? base.href : `${base.href}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    let status: number;
    let text: string;
    try {
      const res = await doFetch(url.href, { signal: AbortSignal.timeout(timeoutMs), headers: { Accept: 'application/json' } });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new PrometheusError(`cannot reach Prometheus at ${base.origin}: ${cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e))}`);
    }
    return parseResponse(text, status, `${base.origin}${url.pathname}`);
  };

  return {
    async rawSamples(selector, startS, endS) {
      const merged = new Map<string, PromSeries>();
      for (let t = startS; t < endS; t += RAW_CHUNK_S) {
        const chunkEnd = Math.min(endS, t + RAW_CHUNK_S);
        const range = Math.max(1, Math.ceil(chunkEnd - t));
        const part = await call('api/v1/query', { query: `${selector}[${range}s]`, time: String(chunkEnd) });
        for (const s of part) {
          const key = seriesKey(s);
          const m = merged.get(key);
          // A chunk's range is (end - range, end]: points may repeat at the seam only if the range was rounded up.
          if (m) for (const p of s.points) if (p[0] > (m.points[m.points.length - 1]?.[0] ?? -Infinity)) m.points.push(p);
          if (!m) merged.set(key, s);
        }
      }
      for (const s of merged.values()) s.points = s.points.filter((p) => p[0] > startS - 1e-9 && p[0] <= endS);
      return [...merged.values()].filter((s) => s.points.length);
    },
    queryRange(expr, startS, endS, stepS) {
      return call('api/v1/query_range', { query: expr, start: String(startS), end: String(endS), step: String(stepS) });
    },
  };
}

/** Identity of a series: its name and sorted labels. */
export function seriesKey(s: Pick<PromSeries, 'metric' | 'labels'>): string {
  return `${s.metric}{${Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}`;
}

/** Parse an API answer (exported for tests): matrix results only, values as numbers. */
export function parseResponse(text: string, status: number, where: string): PromSeries[] {
  let body: { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: unknown[] } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new PrometheusError(`${where}: HTTP ${status}, not a Prometheus API answer: ${text.slice(0, 120).replace(/\s+/g, ' ')}`);
  }
  if (body.status !== 'success') throw new PrometheusError(`${where}: ${body.errorType ?? `HTTP ${status}`}: ${body.error ?? 'no error message'}`);
  const data = body.data;
  if (!data || !Array.isArray(data.result)) throw new PrometheusError(`${where}: answer without data.result`);
  if (data.resultType !== 'matrix') throw new PrometheusError(`${where}: expected a matrix result, got ${data.resultType ?? 'none'}`);
  return data.result.map((r) => {
    const { metric = {}, values = [] } = r as { metric?: Record<string, string>; values?: Array<[number, string]> };
    const { __name__: name = '', ...labels } = metric;
    return { metric: name, labels, points: values.map(([t, v]) => [Number(t), Number(v)] as [number, number]).filter(([t, v]) => Number.isFinite(t) && !Number.isNaN(v)) };
  });
}
