/**
 * Runs as CodeCarbon's `emissions.csv`: one row per run, whose first columns are exactly the header
 * CodeCarbon 3.3.0 writes (its `EmissionsData` fields in order), so dashboards and notebooks that
 * read CodeCarbon's file read this one; then Joules' own columns. Pure: no Node built-ins.
 *
 * Units follow CodeCarbon: `emissions` in kg CO2e, `emissions_rate` in kg/s, energies in kWh with
 * the PUE applied (CodeCarbon multiplies measured energy by its PUE), powers in W. What Joules does
 * not measure (CPU, RAM, water, location, cloud) is left empty, never guessed.
 */
import { csvField } from '../protocol/exportFormat';
import type { RunSummary } from '../runs/types';
import type { CarbonSettings } from '../units/carbon';
import { carbonFigures } from '../units/carbon';

/** CodeCarbon 3.3.0's `emissions.csv` header, in order (test/fixtures/codecarbon holds the copy it is checked against). */
export const CODECARBON_COLUMNS = [
  'timestamp', 'project_name', 'run_id', 'experiment_id', 'duration', 'emissions', 'emissions_rate',
  'cpu_power', 'gpu_power', 'ram_power', 'cpu_energy', 'gpu_energy', 'ram_energy', 'energy_consumed',
  'water_consumed', 'country_name', 'country_iso_code', 'region', 'cloud_provider', 'cloud_region', 'os',
  'python_version', 'codecarbon_version', 'cpu_count', 'cpu_model', 'gpu_count', 'gpu_model', 'longitude',
  'latitude', 'ram_total_size', 'tracking_mode', 'cpu_utilization_percent', 'gpu_utilization_percent',
  'ram_utilization_percent', 'ram_used_gb', 'on_cloud', 'pue', 'wue',
] as const;

/** Joules' own columns after CodeCarbon's. */
export const JOULES_COLUMNS = [
  'joules_status', 'joules_started_at', 'joules_gpu_energy_j', 'joules_energy_method', 'joules_avg_power_w',
  'joules_peak_power_w', 'joules_carbon_intensity_g_per_kwh', 'joules_carbon_source', 'joules_cost', 'joules_currency',
  'joules_wasted_j', 'joules_steps', 'joules_j_per_step', 'joules_tokens', 'joules_j_per_token', 'joules_findings',
  'joules_replay',
] as const;

type Row = Partial<Record<(typeof CODECARBON_COLUMNS)[number] | (typeof JOULES_COLUMNS)[number], string | number>>;

/** CodeCarbon's timestamp format, `%Y-%m-%dT%H:%M:%S`, in UTC (CodeCarbon writes local time without a zone). */
function codecarbonTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** The GPUs a run's figures count: the attributed ones, or all when none was (the summary's own rule). */
function countedGpus(s: RunSummary): RunSummary['gpus'] {
  const attributed = s.gpus.filter((g) => g.attributed);
  return attributed.length ? attributed : s.gpus;
}

/** CodeCarbon's `gpu_model` shape, e.g. "2 x NVIDIA H100 80GB HBM3", one group per model. */
function gpuModel(gpus: RunSummary['gpus']): string {
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${n} x ${name}`).join(', ');
}

/** One run's row. Throws CarbonSettingError for settings that cannot be used. */
export function codecarbonRow(s: RunSummary, settings: CarbonSettings): Row {
  const f = carbonFigures(s.energyJ, settings);
  const gpus = countedGpus(s);
  const entry = f.intensity.origin === 'region' ? f.intensity.entry : undefined;
  const endMs = Date.parse(s.startedAt) + s.durationS * 1000;
  const emissionsKg = f.carbonG / 1000;
  return {
    timestamp: Number.isFinite(endMs) ? codecarbonTime(endMs) : '',
    project_name: s.name,
    run_id: s.id,
    duration: s.durationS,
    emissions: emissionsKg,
    emissions_rate: s.durationS > 0 ? emissionsKg / s.durationS : 0,
    gpu_power: s.avgPowerW,
    gpu_energy: f.facilityKWh,
    energy_consumed: f.facilityKWh,
    // A country entry fills CodeCarbon's country columns (its ISO code is alpha-3, as the table's);
    // an aggregate such as "European Union (27)" goes to `region`.
    ...(entry?.code ? { country_name: entry.name, country_iso_code: entry.code } : entry ? { region: entry.name } : {}),
    ...(s.host ? { cpu_count: s.host.cpuCount } : {}),
    gpu_count: gpus.length,
    gpu_model: gpuModel(gpus),
    ...(s.avgUtilPct !== undefined ? { gpu_utilization_percent: s.avgUtilPct } : {}),
    pue: f.pue,
    joules_status: s.status,
    joules_started_at: s.startedAt,
    joules_gpu_energy_j: s.energyJ,
    joules_energy_method: s.energyMethod,
    joules_avg_power_w: s.avgPowerW,
    joules_peak_power_w: s.peakPowerW,
    joules_carbon_intensity_g_per_kwh: f.intensity.gPerKWh,
    joules_carbon_source: f.carbonSource,
    ...(f.cost ? { joules_cost: f.cost.amount, joules_currency: f.cost.currency } : {}),
    ...(s.wastedJ !== undefined ? { joules_wasted_j: s.wastedJ } : {}),
    ...(s.steps ? { joules_steps: s.steps, ...(s.jPerStep !== undefined ? { joules_j_per_step: s.jPerStep } : {}) } : {}),
    ...(s.tokens ? { joules_tokens: s.tokens, ...(s.jPerToken !== undefined ? { joules_j_per_token: s.jPerToken } : {}) } : {}),
    joules_findings: s.findings?.length ?? 0,
    joules_replay: s.replay ? 'true' : 'false',
  };
}

/** The CSV text: header, then one row per run. */
export function runsToCodecarbonCsv(runs: readonly RunSummary[], settings: CarbonSettings): string {
  const columns = [...CODECARBON_COLUMNS, ...JOULES_COLUMNS];
  const lines = [columns.join(',')];
  for (const s of runs) {
    const row = codecarbonRow(s, settings);
    lines.push(columns.map((c) => csvField(row[c])).join(','));
  }
  return lines.join('\n') + '\n';
}
