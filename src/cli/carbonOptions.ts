/**
 * The CLI's carbon and cost settings (the same as the extension's `joules.carbon.*`, `joules.pue`,
 * `joules.cost.*`): flags of `joules report`, else environment variables (which `joules run` and
 * `joules demo` read too), and the summary lines they give.
 */
import type { FlagSpec, Parsed } from './args';
import { UsageError } from './args';
import type { RunSummary } from '../core/runs/types';
import type { CarbonSettings } from '../core/units/carbon';
import { carbonFigures, CarbonSettingError, checkPue, resolveIntensity } from '../core/units/carbon';
import { formatSig } from '../core/units/format';

export const CARBON_FLAGS: Record<string, FlagSpec> = {
  region: { type: 'string' },
  intensity: { type: 'number', min: 0 },
  pue: { type: 'number', min: 1 },
  price: { type: 'number', min: 0 },
  currency: { type: 'string' },
};

/** Environment variables of the same settings, by flag. */
export const CARBON_ENV = {
  region: 'JOULES_CARBON_REGION',
  intensity: 'JOULES_CARBON_INTENSITY',
  pue: 'JOULES_PUE',
  price: 'JOULES_PRICE_PER_KWH',
  currency: 'JOULES_CURRENCY',
} as const;

/**
 * The settings from `flags` (when given) over the environment. A value that cannot be used throws
 * a UsageError naming the flag or variable it came from.
 */
export function carbonSettingsFrom(flags: Parsed['flags'], env: NodeJS.ProcessEnv = process.env): CarbonSettings {
  const s: CarbonSettings = {};
  const text = (key: keyof typeof CARBON_ENV): { value: string; from: string } | undefined => {
    const f = flags[key];
    if (typeof f === 'string') return { value: f, from: `--${key}` };
    const e = env[CARBON_ENV[key]];
    return e !== undefined && e.trim() !== '' ? { value: e, from: CARBON_ENV[key] } : undefined;
  };
  const num = (key: 'intensity' | 'pue' | 'price'): number | undefined => {
    const f = flags[key];
    if (typeof f === 'number') return f;
    const t = text(key);
    if (!t) return undefined;
    const n = Number(t.value);
    if (t.value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${t.from} needs a number, got "${t.value}"`);
    return n;
  };
  const region = text('region');
  if (region) s.region = region.value.trim();
  const intensity = num('intensity');
  if (intensity !== undefined) s.intensityGPerKWh = intensity;
  const pue = num('pue');
  if (pue !== undefined) s.pue = pue;
  const price = num('price');
  if (price !== undefined) s.pricePerKWh = price;
  const currency = text('currency');
  if (currency) {
    const c = currency.value.trim();
    if (!c || c.length > 16) throw new UsageError(`${currency.from} needs a currency label of 1-16 characters, got "${currency.value}"`);
    s.currency = c;
  }
  // Checked now, so a bad region or PUE is a usage error before anything is written.
  try {
    resolveIntensity(s);
    checkPue(s.pue);
    if (s.pricePerKWh !== undefined && s.pricePerKWh < 0) throw new CarbonSettingError(`price per kWh must be at least 0, got ${s.pricePerKWh}`);
  } catch (e) {
    if (e instanceof CarbonSettingError) throw new UsageError(`${e.message}${region ? ` (from ${region.from})` : ''}`);
    throw e;
  }
  return s;
}

/**
 * The summary's carbon, cost and relatable lines. Never throws: after a run has been measured, a
 * setting that cannot be used costs its own line, not the summary.
 */
export function carbonSummaryLines(s: RunSummary, settings?: CarbonSettings): string[] {
  let f: ReturnType<typeof carbonFigures>;
  try {
    f = carbonFigures(s.energyJ, settings ?? carbonSettingsFrom({}));
  } catch (e) {
    if (e instanceof CarbonSettingError || e instanceof UsageError) return [`  carbon     no figure: ${e.message}`];
    throw e;
  }
  const lines = [`  carbon     ${formatSig(f.carbonG)} g CO2e (${f.carbonSource})`];
  if (f.cost) lines.push(`  cost       ${formatSig(f.cost.amount)} ${f.cost.currency} (${f.cost.source})`);
  lines.push(`  same as    ${f.relatable.map((r) => `${formatSig(r.value)} ${r.label} (${r.source})`).join('; ')}`);
  return lines;
}
