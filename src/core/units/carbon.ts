/**
 * Carbon, cost and relatable units of a run's energy. Pure functions over a measured energy and the
 * user's settings; every figure says where its factor came from.
 *
 *   facility energy (kWh) = GPU energy (J) / 3.6e6 × PUE
 *   carbon (g CO2e)        = facility energy (kWh) × grid intensity (g CO2e/kWh)
 *   cost                   = facility energy (kWh) × price per kWh
 *
 * The grid intensity is the user's own figure when set, else the annual average of the region they
 * named from the bundled table (gridIntensity.json, built by scripts/grid-intensity.mjs from Our
 * World in Data / Ember, CC BY 4.0), else the table's world average. Annual averages ignore the time
 * of day and marginal emissions (README: Carbon and cost).
 */
import type { CostView, RelatableView, RunSummaryView } from '../protocol/panel';
import table from './gridIntensity.json';

/** One row of the bundled table: an entity's latest year with a value. */
export interface GridIntensityEntry {
  /** OWID's entity name, e.g. "Germany" or "European Union (27)". */
  name: string;
  /** ISO 3166-1 alpha-3 code for countries (OWID_WRL for the world); absent for aggregates. */
  code?: string;
  year: number;
  gPerKWh: number;
}

/** The settings that turn energy into carbon and cost (`joules.carbon.*`, `joules.cost.*`, `joules.pue`; CLI flags). */
export interface CarbonSettings {
  /** A name or code of the table ("DEU", "Germany", "European Union (27)"); empty: world average. */
  region?: string;
  /** The user's own grid intensity; overrides `region`. */
  intensityGPerKWh?: number;
  /** Power usage effectiveness of the facility, ≥ 1 (default 1: the GPUs' energy only). */
  pue?: number;
  /** Electricity price per kWh; no cost figure without it. */
  pricePerKWh?: number;
  /** Currency of the price, shown as given (no conversion). */
  currency?: string;
}

/** The grid intensity used, and where it came from in words. */
export interface ResolvedIntensity {
  gPerKWh: number;
  /** `setting`: the user's own figure; `region`: the table's entry for their region; `world`: the default. */
  origin: 'setting' | 'region' | 'world';
  /** The table entry, for `region` and `world`. */
  entry?: GridIntensityEntry;
  /** e.g. "Germany 2024 average, Ember via OWID (CC BY 4.0): 344 g/kWh" or "your setting: 250 g/kWh". */
  source: string;
}

/** Everything the surfaces show about a run's carbon and cost. */
export interface CarbonFigures {
  /** The run's energy times PUE, in kWh. */
  facilityKWh: number;
  pue: number;
  carbonG: number;
  intensity: ResolvedIntensity;
  /** Where the carbon figure came from, PUE included when it is not 1. */
  carbonSource: string;
  cost?: CostView;
  relatable: RelatableView[];
}

/** A setting that cannot be used (an unknown region, a negative price...): the message names it. */
export class CarbonSettingError extends Error {
  override readonly name = 'CarbonSettingError';
}

export const J_PER_KWH = 3.6e6;

export const GRID_TABLE: { source: string; sourceShort: string; url: string; licence: string; entries: readonly GridIntensityEntry[] } = table;

const WORLD_CODE = 'OWID_WRL';

/**
 * Relatable units, each from a named public statistic (README: Carbon and cost lists them).
 * - US EIA, "How much electricity does an American home use?" (FAQ 97): in 2020 the average US
 *   residential utility customer used 10,715 kWh; 2020 had 366 days.
 * - US EPA, "Greenhouse Gas Emissions from a Typical Passenger Vehicle" (EPA-420-F-11-041 and its
 *   later editions): burning one US gallon of gasoline emits 8,887 g CO2; a US gallon is
 *   3.785411784 L by definition.
 */
export const RELATABLE_FACTORS = {
  householdKWhPerYear: 10_715,
  householdYearMinutes: 366 * 24 * 60,
  householdSource: 'US EIA: average US home used 10,715 kWh in 2020',
  gasolineGCo2PerGallon: 8_887,
  litresPerUsGallon: 3.785411784,
  gasolineSource: 'US EPA: 8,887 g CO2 per gallon of gasoline burned',
} as const;

/** Joules to kWh. */
export function kWhOfJ(energyJ: number): number {
  return energyJ / J_PER_KWH;
}

/** The table entry a region setting names: an exact code or name, ignoring case and extra spaces. */
export function findRegion(query: string, entries: readonly GridIntensityEntry[] = GRID_TABLE.entries): GridIntensityEntry | undefined {
  const q = normalize(query);
  if (!q) return undefined;
  return entries.find((e) => e.code !== undefined && normalize(e.code) === q) ?? entries.find((e) => normalize(e.name) === q);
}

/** Up to `max` entries whose name or code contains the query: the suggestions of an error message. */
export function suggestRegions(query: string, max = 5, entries: readonly GridIntensityEntry[] = GRID_TABLE.entries): string[] {
  const q = normalize(query);
  if (!q) return [];
  // Best first: a code that starts with the query (an alpha-2 code such as "DE" finds "DEU"), then a
  // name that does, then any other match.
  const rank = (e: GridIntensityEntry): number => {
    const name = normalize(e.name);
    const code = e.code === undefined ? '' : normalize(e.code);
    if (code.startsWith(q)) return 0;
    if (name.startsWith(q)) return 1;
    return name.includes(q) || code.includes(q) ? 2 : 3;
  };
  return entries.map((e) => ({ e, r: rank(e) })).filter((x) => x.r < 3).sort((a, b) => a.r - b.r)
    .slice(0, max).map(({ e }) => (e.code && e.code !== WORLD_CODE ? `${e.name} (${e.code})` : e.name));
}

export function worldEntry(entries: readonly GridIntensityEntry[] = GRID_TABLE.entries): GridIntensityEntry {
  const w = entries.find((e) => e.code === WORLD_CODE);
  if (!w) throw new Error('the grid intensity table has no world entry');
  return w;
}

/** The grid intensity the settings give, or a CarbonSettingError naming what is wrong. */
export function resolveIntensity(settings: CarbonSettings, entries: readonly GridIntensityEntry[] = GRID_TABLE.entries): ResolvedIntensity {
  const own = settings.intensityGPerKWh;
  if (own !== undefined) {
    if (!Number.isFinite(own) || own < 0) throw new CarbonSettingError(`grid intensity must be a number of g CO2e/kWh of at least 0, got ${own}`);
    return { gPerKWh: own, origin: 'setting', source: `your setting: ${formatIntensity(own)} g/kWh` };
  }
  const region = settings.region?.trim();
  if (region) {
    const entry = findRegion(region, entries);
    if (!entry) {
      const near = suggestRegions(region, 5, entries);
      throw new CarbonSettingError(`no grid intensity for region "${region}" in the bundled table (${GRID_TABLE.sourceShort}, ${entries.length} entries)`
        + `${near.length ? `; did you mean: ${near.join(', ')}` : ''}; use a country's ISO 3166-1 alpha-3 code (DEU) or its name (Germany), or set the intensity yourself`);
    }
    return { gPerKWh: entry.gPerKWh, origin: 'region', entry, source: tableSource(entry, '') };
  }
  const w = worldEntry(entries);
  return { gPerKWh: w.gPerKWh, origin: 'world', entry: w, source: tableSource(w, ', no region set') };
}

function tableSource(e: GridIntensityEntry, note: string): string {
  return `${e.name} ${e.year} average${note}, ${GRID_TABLE.sourceShort} (${GRID_TABLE.licence}): ${formatIntensity(e.gPerKWh)} g/kWh`;
}

/** The PUE a setting gives: at least 1 (a facility cannot use less than its IT load). */
export function checkPue(pue: number | undefined): number {
  if (pue === undefined) return 1;
  if (!Number.isFinite(pue) || pue < 1) throw new CarbonSettingError(`PUE must be a number of at least 1, got ${pue}`);
  return pue;
}

/** Carbon, cost and relatable units of `energyJ` (the run's GPU energy) under `settings`. */
export function carbonFigures(energyJ: number, settings: CarbonSettings, entries: readonly GridIntensityEntry[] = GRID_TABLE.entries): CarbonFigures {
  if (!Number.isFinite(energyJ) || energyJ < 0) throw new CarbonSettingError(`energy must be a number of joules of at least 0, got ${energyJ}`);
  const pue = checkPue(settings.pue);
  const intensity = resolveIntensity(settings, entries);
  const facilityKWh = kWhOfJ(energyJ) * pue;
  const carbonG = facilityKWh * intensity.gPerKWh;
  const pueText = pue === 1 ? '' : ` × PUE ${formatIntensity(pue)}`;
  const figures: CarbonFigures = { facilityKWh, pue, carbonG, intensity, carbonSource: `${intensity.source}${pueText}`, relatable: relatableUnits(facilityKWh, carbonG) };
  if (settings.pricePerKWh !== undefined) {
    const price = settings.pricePerKWh;
    if (!Number.isFinite(price) || price < 0) throw new CarbonSettingError(`price per kWh must be a number of at least 0, got ${price}`);
    const currency = (settings.currency ?? '').trim() || 'USD';
    figures.cost = { amount: facilityKWh * price, currency, source: `your price: ${formatIntensity(price)} ${currency}/kWh${pueText}` };
  }
  return figures;
}

/** Minutes of an average US home's electricity, and the millilitres of gasoline whose burning emits as much CO2. */
export function relatableUnits(facilityKWh: number, carbonG: number): RelatableView[] {
  const f = RELATABLE_FACTORS;
  const householdKWhPerMinute = f.householdKWhPerYear / f.householdYearMinutes;
  return [
    { label: "minutes of an average US home's electricity", value: facilityKWh / householdKWhPerMinute, source: f.householdSource },
    { label: 'mL of gasoline burned (same CO2)', value: (carbonG / f.gasolineGCo2PerGallon) * f.litresPerUsGallon * 1000, source: f.gasolineSource },
  ];
}

/** A factor as the sources print it: up to 3 decimals, no trailing zeros. */
function formatIntensity(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

function normalize(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** The carbon, cost and relatable fields of a run's summary view (the panel's cards, the exports). */
export type CarbonViewFields = Pick<RunSummaryView, 'carbonG' | 'carbonSource' | 'cost' | 'relatable' | 'carbonGPerJ' | 'costPerJ'>;

/**
 * The view fields of `energyJ` under `settings`. A setting that cannot be used gives no figure and
 * a `carbonSource` that says why (the card shows it), rather than a figure from a default the user
 * did not choose.
 */
export function carbonViewFields(energyJ: number, settings: CarbonSettings): CarbonViewFields {
  try {
    const f = carbonFigures(energyJ, settings);
    // Per joule from 1 J under the same settings: exact, since every figure is linear in energy.
    const unit = carbonFigures(1, settings);
    return {
      carbonG: f.carbonG, carbonSource: f.carbonSource, relatable: f.relatable, carbonGPerJ: unit.carbonG,
      ...(f.cost && unit.cost ? { cost: f.cost, costPerJ: unit.cost.amount } : {}),
    };
  } catch (e) {
    if (e instanceof CarbonSettingError) return { carbonSource: `no carbon figure: ${e.message}` };
    throw e;
  }
}
