import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  carbonFigures, CarbonSettingError, findRegion, GRID_TABLE, kWhOfJ, relatableUnits, resolveIntensity, suggestRegions, worldEntry,
} from '../../../src/core/units/carbon';

const root = path.resolve(__dirname, '../../..');

/** The value of one entity and year in the committed OWID input, read independently of the script. */
function csvValue(entity: string, year: number): number {
  const text = fs.readFileSync(path.join(root, 'scripts/data/owid-carbon-intensity-electricity.csv'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${entity},`) && l.split(',')[2] === String(year));
  assert.ok(line, `${entity} ${year} in the input`);
  return Number(line.split(',')[3]);
}

const close = (actual: number, expected: number, tol = 1e-9): void => assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${actual} ≈ ${expected}`);

describe('carbon and cost of a run (gCO2e = kWh × PUE × grid intensity)', () => {
  it('the table is what scripts/grid-intensity.mjs makes of the committed OWID input, unchanged', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/grid-intensity.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('table entries are the input\'s latest year, rounded to 0.1 g/kWh', () => {
    const de = findRegion('DEU')!;
    assert.equal(de.name, 'Germany');
    assert.equal(de.year, 2024);
    assert.equal(de.gPerKWh, Math.round(csvValue('Germany', 2024) * 10) / 10);
    assert.equal(de.gPerKWh, 344.1);
    const w = worldEntry();
    assert.equal(w.name, 'World');
    assert.equal(w.gPerKWh, Math.round(csvValue('World', 2024) * 10) / 10);
    assert.equal(GRID_TABLE.licence, 'CC BY 4.0');
  });

  it('regions by alpha-3 code or name, any case; aggregates by name', () => {
    assert.equal(findRegion('deu')?.name, 'Germany');
    assert.equal(findRegion('  germany ')?.code, 'DEU');
    assert.equal(findRegion('France')?.gPerKWh, 44.2);
    assert.equal(findRegion('European Union (27)')?.code, undefined);
    assert.equal(findRegion('Atlantis'), undefined);
    assert.equal(findRegion(''), undefined);
    assert.ok(suggestRegions('united').some((s) => s.startsWith('United States')));
    // An alpha-2 code is not a key of the table, but its alpha-3 code comes first among the suggestions.
    assert.equal(findRegion('DE'), undefined);
    assert.equal(suggestRegions('DE')[0], 'Germany (DEU)');
  });

  it('1 kWh at the world average (no region): 473 g, and the figure says so', () => {
    const f = carbonFigures(3.6e6, {});
    assert.equal(kWhOfJ(3.6e6), 1);
    close(f.carbonG, 473);
    assert.equal(f.intensity.origin, 'world');
    assert.equal(f.carbonSource, 'World 2024 average, no region set, Ember via OWID (CC BY 4.0): 473 g/kWh');
    assert.equal(f.cost, undefined);
  });

  it('Germany with PUE 1.5: 7.2 MJ = 2 kWh × 1.5 × 344.1 g/kWh = 1032.3 g, PUE in the source', () => {
    const f = carbonFigures(7.2e6, { region: 'DEU', pue: 1.5 });
    close(f.facilityKWh, 3);
    close(f.carbonG, 1032.3);
    assert.equal(f.carbonSource, 'Germany 2024 average, Ember via OWID (CC BY 4.0): 344.1 g/kWh × PUE 1.5');
  });

  it('the user\'s own intensity overrides the region: 1.8 MJ = 0.5 kWh × 250 = 125 g', () => {
    const f = carbonFigures(1.8e6, { region: 'DEU', intensityGPerKWh: 250 });
    close(f.carbonG, 125);
    assert.equal(f.carbonSource, 'your setting: 250 g/kWh');
    assert.equal(carbonFigures(1.8e6, { intensityGPerKWh: 0 }).carbonG, 0);
  });

  it('cost: 36 MJ = 10 kWh × PUE 1.2 × 0.30 EUR/kWh = 3.60 EUR; currency USD when none given', () => {
    const f = carbonFigures(3.6e7, { pricePerKWh: 0.3, currency: 'EUR', pue: 1.2 });
    close(f.cost!.amount, 3.6);
    assert.equal(f.cost!.currency, 'EUR');
    assert.equal(f.cost!.source, 'your price: 0.3 EUR/kWh × PUE 1.2');
    assert.equal(carbonFigures(3.6e6, { pricePerKWh: 0.15 }).cost!.currency, 'USD');
  });

  it('relatable units: 1 kWh = 527,040 / 10,715 = 49.187 minutes of a US home; 8,887 g CO2 = 1 gallon = 3,785.41 mL of gasoline', () => {
    const [home, gas] = relatableUnits(1, 8887);
    close(home!.value, 527_040 / 10_715);
    close(home!.value, 49.18712085, 1e-8);
    assert.match(home!.source, /EIA/);
    close(gas!.value, 3785.411784);
    assert.match(gas!.source, /EPA/);
  });

  it('bad settings are errors that name the setting, never a silent default', () => {
    assert.throws(() => resolveIntensity({ region: 'Atlantis' }), (e: unknown) => e instanceof CarbonSettingError && /region "Atlantis"/.test(e.message));
    assert.throws(() => resolveIntensity({ region: 'Germ' }), /did you mean: Germany \(DEU\)/);
    assert.throws(() => carbonFigures(1, { pue: 0.9 }), /PUE must be a number of at least 1/);
    assert.throws(() => carbonFigures(1, { intensityGPerKWh: -1 }), /grid intensity/);
    assert.throws(() => carbonFigures(1, { pricePerKWh: Number.NaN }), /price per kWh/);
    assert.throws(() => carbonFigures(-1, {}), /energy/);
  });
});
