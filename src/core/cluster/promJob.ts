/**
 * Reads a job's GPUs back from Prometheus (the PromQL below is what README "Clusters" lists) and
 * builds its report (jobReport.ts).
 */
import type { JobReport, JobReportOptions, JobSeries } from './jobReport';
import { jobReport } from './jobReport';
import type { MetricSource, MetricSourceName } from './metricSources';
import { DCGM_SOURCE, JOULES_SOURCE, withSelector } from './metricSources';
import type { PromClient, PromSeries } from './promClient';
import { PrometheusError } from './promClient';
import { medianSpacing } from './seriesEnergy';

export interface JobQuery extends JobReportOptions {
  /** Label matchers that pick the job's series, e.g. `{job="train"}`. */
  selector: string;
  fromS: number;
  toS: number;
  /** Which exporter's metrics to read; `auto` tries Joules' and then dcgm-exporter's. */
  source: MetricSourceName | 'auto';
  /**
   * The window runs "up to now": end it at the newest scrape every GPU has (Prometheus scrapes every
   * 15-60 s as a rule, so "now" is usually past the data, and the figures would cover less time than
   * the window says).
   */
  upToNewestScrape?: boolean;
}

/**
 * Raw samples are fetched this far beyond the window on each side, so the counter can be
 * interpolated at the window's ends between the scrapes around them (scrape intervals are 1-60 s).
 */
const EDGE_PAD_S = 120;

/** Most points of the utilization grid (Prometheus refuses more than 11,000 a series). */
const MAX_GRID_POINTS = 2000;

/** The PromQL issued for `source` over the window (shown by `--explain`, listed in the README). */
export function jobQueries(source: MetricSource, selector: string, fromS: number, toS: number, stepS: number): string[] {
  const w = Math.max(1, Math.ceil(toS - fromS + 2 * EDGE_PAD_S));
  const at = toS + EDGE_PAD_S;
  return [
    `${withSelector(source.energy, selector)}[${w}s]   (instant query at ${at}, in chunks of an hour: raw counter samples)`,
    `${withSelector(source.power, selector)}[${w}s]   (instant query at ${at}, in chunks of an hour: raw power samples)`,
    `${withSelector(source.util, selector)}   (query_range ${fromS}..${toS}, step ${stepS}s)`,
  ];
}

/** Fetch the window's series from `client` and build the report. */
/** The newest time every series has a sample at (the earliest of their last samples after `fromS`). */
function newestCommonScrape(series: readonly PromSeries[], fromS: number): number | undefined {
  let newest: number | undefined;
  for (const s of series) {
    const last = s.points.length ? s.points[s.points.length - 1]![0] : undefined;
    if (last === undefined || last <= fromS) continue;
    newest = newest === undefined ? last : Math.min(newest, last);
  }
  return newest;
}

export async function fetchJobReport(client: PromClient, query: JobQuery): Promise<{ report: JobReport; queries: string[]; data: JobSeries }> {
  let q = query;
  if (!(q.toS > q.fromS)) throw new PrometheusError(`the window is empty: --from must be before --to`);
  const sources = q.source === 'auto' ? [JOULES_SOURCE, DCGM_SOURCE] : [q.source === 'joules' ? JOULES_SOURCE : DCGM_SOURCE];
  for (const source of sources) {
    const [energy, power] = await Promise.all([
      client.rawSamples(withSelector(source.energy, q.selector), q.fromS - EDGE_PAD_S, q.toS + EDGE_PAD_S),
      client.rawSamples(withSelector(source.power, q.selector), q.fromS - EDGE_PAD_S, q.toS + EDGE_PAD_S),
    ]);
    if (!energy.length && !power.length) continue;
    if (q.upToNewestScrape) {
      const newest = newestCommonScrape([...energy, ...power], q.fromS);
      if (newest !== undefined && newest > q.fromS && newest < q.toS) q = { ...q, toS: newest };
    }
    // The grid follows the scrape interval (finer would repeat samples), within Prometheus' limit.
    const interval = [...power, ...energy].reduce((m, s) => Math.max(m, medianSpacing(s.points)), 1);
    const stepS = Math.max(interval, Math.ceil((q.toS - q.fromS) / MAX_GRID_POINTS));
    const util = await client.queryRange(withSelector(source.util, q.selector), q.fromS, q.toS, stepS);
    const data: JobSeries = { source, fromS: q.fromS, toS: q.toS, energy, power, util, utilStepS: stepS };
    return { report: jobReport(data, q), queries: jobQueries(source, q.selector, q.fromS, q.toS, stepS), data };
  }
  const tried = sources.map((s) => `${withSelector(s.energy, q.selector)} / ${withSelector(s.power, q.selector)}`).join(', ');
  throw new PrometheusError(`no GPU series match in the window: tried ${tried}. Check the selector and the time range (Prometheus keeps 15 days by default).`);
}
