import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CODECARBON_COLUMNS, JOULES_COLUMNS, runsToCodecarbonCsv } from '../../../src/core/export/codecarbonCsv';
import { isRunSummaryView } from '../../../src/core/protocol/panelValidation';
import type { RunSummary } from '../../../src/core/runs/types';
import { carbonViewFields } from '../../../src/core/units/carbon';
import { toSummaryView } from '../../../src/vscode/runViews';

const fixture = path.resolve(__dirname, '../../fixtures/codecarbon/emissions-header.csv');

function summary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    schema: 1, id: 'run-1', name: 'train.py', status: 'succeeded', startedAt: '2026-01-02T03:04:05.000Z', durationS: 100, exitCode: 0,
    command: ['python', 'train.py'], cwd: '/w', energyJ: 7.2e6, energyMethod: 'counter', avgPowerW: 72_000, peakPowerW: 80_000, avgUtilPct: 90,
    gpus: [
      { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-a', energyJ: 3.6e6, avgPowerW: 36_000, peakPowerW: 40_000, energyMethod: 'counter', powerSource: 'instant', attributed: true },
      { index: 1, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-b', energyJ: 3.6e6, avgPowerW: 36_000, peakPowerW: 40_000, energyMethod: 'counter', powerSource: 'instant', attributed: true },
      { index: 2, name: 'NVIDIA A100', uuid: 'GPU-c', energyJ: 0, avgPowerW: 50, peakPowerW: 60, energyMethod: 'counter', powerSource: 'instant', attributed: false },
    ],
    attribution: 'processes', sampleIntervalMs: 100, host: { cpuCount: 16, gpuCount: 3 }, steps: 1000, jPerStep: 7200,
    ...over,
  };
}

/** A minimal RFC 4180 reader: enough to read back what the writer quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else field += c;
  }
  return rows;
}

describe('CodeCarbon emissions.csv export', () => {
  it('the first columns are exactly CodeCarbon 3.3.0\'s header, in order; then Joules\' own', () => {
    const expected = fs.readFileSync(fixture, 'utf8').trim().split(',');
    assert.deepEqual([...CODECARBON_COLUMNS], expected);
    const header = parseCsv(runsToCodecarbonCsv([], {}))[0]!;
    assert.deepEqual(header.slice(0, expected.length), expected);
    assert.deepEqual(header.slice(expected.length), [...JOULES_COLUMNS]);
  });

  it('a run\'s row in CodeCarbon\'s units: 7.2 MJ × PUE 1.2 = 2.4 kWh; × 344.1 g/kWh (Germany) = 0.82584 kg', () => {
    const rows = parseCsv(runsToCodecarbonCsv([summary()], { region: 'Germany', pue: 1.2, pricePerKWh: 0.3, currency: 'EUR' }));
    assert.equal(rows.length, 2);
    const r = Object.fromEntries(rows[0]!.map((c, i) => [c, rows[1]![i]!]));
    assert.equal(r.timestamp, '2026-01-02T03:05:45'); // start + 100 s, CodeCarbon's format (UTC)
    assert.equal(r.project_name, 'train.py');
    assert.equal(r.run_id, 'run-1');
    assert.equal(r.experiment_id, '');
    assert.equal(Number(r.duration), 100);
    assert.ok(Math.abs(Number(r.energy_consumed) - 2.4) < 1e-12);
    assert.ok(Math.abs(Number(r.gpu_energy) - 2.4) < 1e-12);
    assert.ok(Math.abs(Number(r.emissions) - 0.82584) < 1e-12);
    assert.ok(Math.abs(Number(r.emissions_rate) - 0.0082584) < 1e-12);
    assert.equal(Number(r.gpu_power), 72_000);
    assert.equal(r.country_name, 'Germany');
    assert.equal(r.country_iso_code, 'DEU');
    assert.equal(r.region, '');
    assert.equal(Number(r.gpu_count), 2);
    assert.equal(r.gpu_model, '2 x NVIDIA H100 80GB HBM3');
    assert.equal(Number(r.cpu_count), 16);
    assert.equal(Number(r.gpu_utilization_percent), 90);
    assert.equal(Number(r.pue), 1.2);
    // Not measured by Joules: empty, never guessed.
    for (const c of ['cpu_power', 'ram_power', 'cpu_energy', 'ram_energy', 'water_consumed', 'os', 'python_version', 'codecarbon_version', 'longitude', 'latitude', 'on_cloud', 'wue']) assert.equal(r[c], '', c);
    assert.equal(Number(r.joules_gpu_energy_j), 7.2e6);
    assert.ok(Math.abs(Number(r.joules_cost) - 0.72) < 1e-12);
    assert.equal(r.joules_currency, 'EUR');
    assert.equal(r.joules_carbon_source, 'Germany 2024 average, Ember via OWID (CC BY 4.0): 344.1 g/kWh × PUE 1.2');
    assert.equal(Number(r.joules_steps), 1000);
  });

  it('several runs: one row each; an aggregate region goes to `region`; names with commas and formulas are quoted safely', () => {
    const rows = parseCsv(runsToCodecarbonCsv([summary(), summary({ id: 'run-2', name: '=cmd,"x"' })], { region: 'European Union (27)' }));
    assert.equal(rows.length, 3);
    const col = (name: string): number => rows[0]!.indexOf(name);
    assert.equal(rows[2]![col('run_id')], 'run-2');
    assert.equal(rows[2]![col('project_name')], '\'=cmd,"x"');
    assert.equal(rows[1]![col('region')], 'European Union (27)');
    assert.equal(rows[1]![col('country_iso_code')], '');
  });

  it('a setting that cannot be used fails the export with its message', () => {
    assert.throws(() => runsToCodecarbonCsv([summary()], { region: 'Atlantis' }), /region "Atlantis"/);
  });
});

describe('carbon in the panel\'s run view', () => {
  it('toSummaryView with settings carries carbon, cost, relatable units and the per-joule rates, and passes validation', () => {
    const v = toSummaryView(summary(), { intensityGPerKWh: 500, pricePerKWh: 0.2 });
    // 7.2 MJ = 2 kWh: 1000 g, 0.40 USD; per joule 500 / 3.6e6 g and 0.2 / 3.6e6 USD.
    assert.ok(Math.abs(v.carbonG! - 1000) < 1e-9);
    assert.ok(Math.abs(v.cost!.amount - 0.4) < 1e-12);
    assert.ok(Math.abs(v.carbonGPerJ! - 500 / 3.6e6) < 1e-15);
    assert.ok(Math.abs(v.costPerJ! - 0.2 / 3.6e6) < 1e-18);
    assert.equal(v.carbonSource, 'your setting: 500 g/kWh');
    assert.equal(v.relatable?.length, 2);
    assert.ok(isRunSummaryView(v));
    assert.equal(toSummaryView(summary()).carbonG, undefined);
  });

  it('an unknown region: no figure, and the source says why', () => {
    const f = carbonViewFields(3.6e6, { region: 'Atlantis' });
    assert.equal(f.carbonG, undefined);
    assert.match(f.carbonSource!, /^no carbon figure: no grid intensity for region "Atlantis"/);
  });
});
