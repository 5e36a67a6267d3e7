/**
 * The two metric vocabularies the Prometheus source reads: Joules' own exporter and NVIDIA's
 * dcgm-exporter. Each names its energy counter, power and utilization series, the unit of its
 * counter, and the labels that identify a node and a GPU.
 */
import type { EnergyMethod } from '../sampler/types';
import { JOULES_METRICS } from '../metrics/gpuMetrics';

export type MetricSourceName = 'joules' | 'dcgm';

export interface MetricSource {
  name: MetricSourceName;
  /** Energy counter series name (as stored: a counter's `_total` included). */
  energy: string;
  /** Multiply the counter by this to get joules. */
  energyToJ: number;
  /** Power gauge (W). */
  power: string;
  /** Utilization gauge (%). */
  util: string;
  /** Labels naming the node, first present wins (`instance`, Prometheus' own, is the last resort). */
  hostLabels: readonly string[];
  gpuLabel: string;
  uuidLabel: string;
  nameLabel: string;
  /** How the exporter obtained a GPU's counter, from its labels. */
  counterMethod(labels: Record<string, string>): EnergyMethod;
}

export const JOULES_SOURCE: MetricSource = {
  name: 'joules',
  energy: `${JOULES_METRICS.energy}_total`,
  energyToJ: 1,
  power: JOULES_METRICS.power,
  util: JOULES_METRICS.util,
  hostLabels: ['host', 'instance'],
  gpuLabel: 'gpu',
  uuidLabel: 'uuid',
  nameLabel: 'name',
  // Joules' exporter integrates power into its counter where the GPU has no hardware counter, and says so.
  counterMethod: (labels) => (labels.method === 'integrated' ? 'integrated' : 'counter'),
};

/**
 * dcgm-exporter's default counters (its default-counters.csv): DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION
 * is the hardware counter in mJ since the driver loaded, DCGM_FI_DEV_POWER_USAGE watts,
 * DCGM_FI_DEV_GPU_UTIL percent; every series carries `gpu`, `UUID`, `modelName` and `Hostname`.
 */
export const DCGM_SOURCE: MetricSource = {
  name: 'dcgm',
  energy: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
  energyToJ: 1e-3,
  power: 'DCGM_FI_DEV_POWER_USAGE',
  util: 'DCGM_FI_DEV_GPU_UTIL',
  hostLabels: ['Hostname', 'instance'],
  gpuLabel: 'gpu',
  uuidLabel: 'UUID',
  nameLabel: 'modelName',
  counterMethod: () => 'counter',
};

export const METRIC_SOURCES: Record<MetricSourceName, MetricSource> = { joules: JOULES_SOURCE, dcgm: DCGM_SOURCE };

/**
 * `metric` restricted by the user's label selector, e.g. `{job="train"}` → `metric{job="train"}`.
 * Throws on a selector that is not one `{...}` block (a metric name or a function would change what
 * is asked for).
 */
export function withSelector(metric: string, selector: string): string {
  const s = selector.trim();
  if (s === '' || s === '{}') return metric;
  if (!s.startsWith('{') || !s.endsWith('}') || s.slice(1, -1).includes('{')) {
    throw new Error(`--selector must be label matchers in braces, e.g. {job="train"}, got ${JSON.stringify(selector)}`);
  }
  return `${metric}${s}`;
}
