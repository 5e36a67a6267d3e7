/**
 * The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text, written from plain metric
 * families. Pure: the exporter's HTTP server and the tests call it; nothing here knows NVML.
 *
 * The two formats differ where a scraper checks them:
 * - a counter's family is named without `_total` in OpenMetrics (`# TYPE x counter`, sample
 *   `x_total`), and with it in the 0.0.4 format (`# TYPE x_total counter`);
 * - OpenMetrics has `# UNIT` lines (the family name must end with the unit) and ends with `# EOF`.
 */

export type MetricType = 'gauge' | 'counter';

export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** Base name: for a counter, without `_total` (the sample lines get it). */
  name: string;
  help: string;
  type: MetricType;
  /** OpenMetrics unit, e.g. `joules`; the name must end with `_<unit>`. */
  unit?: string;
  samples: MetricSample[];
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The format to answer a scrape with, from its Accept header: OpenMetrics when the scraper lists
 * it (Prometheus does, first), else the 0.0.4 text every scraper reads.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    return 'openmetrics';
  }
  return 'prometheus';
}

/** Label values: backslash, double quote and line feed are escaped (both formats). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: 0.0.4 escapes backslash and line feed; OpenMetrics also the double quote. */
function escapeHelp(v: string, format: ExpositionFormat): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? s.replace(/"/g, '\\"') : s;
}

/** Numbers as both formats spell them: `NaN`, `+Inf`, `-Inf`, else JavaScript's shortest round-trip form. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Write `families` in `format`. Throws on a name or label that neither format can carry. */
export function formatExposition(families: readonly MetricFamily[], format: ExpositionFormat): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name "${f.name}"`);
    if (f.type === 'counter' && f.name.endsWith('_total')) throw new Error(`counter family "${f.name}" must be named without _total`);
    if (f.unit !== undefined && !f.name.endsWith(`_${f.unit}`)) throw new Error(`metric "${f.name}" must end with its unit _${f.unit}`);
    if (seen.has(f.name)) throw new Error(`metric family "${f.name}" written twice`);
    seen.add(f.name);
    const sampleName = f.type === 'counter' ? `${f.name}_total` : f.name;
    const familyName = format === 'openmetrics' ? f.name : sampleName;
    lines.push(`# HELP ${familyName} ${escapeHelp(f.help, format)}`);
    lines.push(`# TYPE ${familyName} ${f.type}`);
    if (format === 'openmetrics' && f.unit !== undefined) lines.push(`# UNIT ${familyName} ${f.unit}`);
    for (const s of f.samples) {
      if (f.type === 'counter' && !(s.value >= 0)) throw new Error(`counter ${sampleName} must be a non-negative number, got ${s.value}`);
      lines.push(`${sampleName}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
  }
  if (format === 'openmetrics') lines.push('# EOF');
  return lines.join('\n') + '\n';
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (!entries.length) return '';
  for (const [k] of entries) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`invalid label name "${k}"`);
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}
