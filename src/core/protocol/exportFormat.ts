/**
 * The files the panel's Export buttons produce. The host writes them (a webview cannot touch the
 * disk); the formats live here so the CLI can produce the same files.
 */
import type { RunView } from './panel';

const csvColumns = [
  'run_id', 'run_name', 't_s', 'gpu', 'power_w', 'util_gpu_pct', 'util_mem_pct', 'mem_used_bytes',
  'sm_clock_mhz', 'mem_clock_mhz', 'temperature_c', 'power_limit_w', 'pstate', 'clock_event_reasons', 'energy_j',
] as const;

export function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return String(v);
  // RFC 4180 quoting; a leading =,+,-,@ is prefixed so spreadsheets do not run it as a formula.
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One row per sample of every run: long format, empty cells where a metric was not read. */
export function runsToCsv(runs: readonly RunView[]): string {
  const lines: string[] = [csvColumns.join(',')];
  for (const run of runs) {
    const idField = csvField(run.summary.id);
    const nameField = csvField(run.summary.name);
    for (const s of run.samples) {
      lines.push([
        idField,
        nameField,
        s.tMs / 1000,
        s.gpu,
        s.powerMilliwatts === undefined ? undefined : s.powerMilliwatts / 1000,
        s.utilGpuPct,
        s.utilMemPct,
        s.memUsedBytes,
        s.smClockMhz,
        s.memClockMhz,
        s.temperatureC,
        s.powerLimitMilliwatts === undefined ? undefined : s.powerLimitMilliwatts / 1000,
        s.pstate,
        s.clockEventReasons,
        s.energyMillijoules === undefined ? undefined : s.energyMillijoules / 1000,
      ].map((v) => (typeof v === 'string' ? v : csvField(v))).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/** The runs exactly as the panel received them, with a format tag for readers. */
export function runsToJson(runs: readonly RunView[]): string {
  return JSON.stringify({ format: 'joules-runs', version: 1, runs }, null, 2) + '\n';
}
