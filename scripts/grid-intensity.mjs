// Builds src/core/units/gridIntensity.json, the bundled table of annual average carbon intensity
// of electricity generation (gCO2e/kWh), from Our World in Data's "Carbon intensity of electricity
// generation" chart data.
//
// Input: scripts/data/owid-carbon-intensity-electricity.csv, the chart's CSV download
// (https://ourworldindata.org/grapher/carbon-intensity-electricity, columns
// `Entity,Code,Year,Carbon intensity of electricity - gCO2/kWh`). The copy committed here was taken
// from the public GitHub repository twsaf1-sys/math_331_cryptocurrency_project (file
// carbon-intensity-electricity.csv, commit 7149bf49f9cf7031d71e6293ef4af0c3419cf98f, December 2025),
// which holds OWID's download unchanged; its SHA-256 is checked below so that a different file is
// never taken for it silently. OWID publishes the series under CC BY 4.0; it is derived from Ember's
// Yearly Electricity Data (and the Energy Institute's Statistical Review for the aggregates Ember
// does not cover).
//
// What it keeps: for every entity (country, or an aggregate such as "European Union (27)" or
// "Europe"), the latest year that has a value, rounded to 0.1 g/kWh. Nothing else is changed.
//
//   node scripts/grid-intensity.mjs [input.csv] [--check]
//
// --check: exit 1 when the committed JSON differs from what the input gives (a unit test runs the
// same comparison).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const INPUT_SHA256 = '05cc67255160164595170be57904032788fab0b80f70a4171d791abf39dec508';
const OUTPUT = path.join(root, 'src/core/units/gridIntensity.json');

/** The table from the CSV text: one entry per entity, its latest year with a value. */
export function buildTable(csvText) {
  const lines = csvText.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',');
  if (!header || header[0] !== 'Entity' || header[1] !== 'Code' || header[2] !== 'Year' || !/gCO2\/kWh/.test(header[3] ?? '')) {
    throw new Error(`unexpected header: ${lines[0]}`);
  }
  const latest = new Map();
  for (const [i, line] of lines.slice(1).entries()) {
    // OWID's download quotes no field (no entity name holds a comma); a quote would mean another format.
    if (line.includes('"')) throw new Error(`line ${i + 2}: quoted fields are not expected: ${line}`);
    const [name, code, yearText, valueText] = line.split(',');
    const year = Number(yearText);
    const value = Number(valueText);
    if (!name || !Number.isInteger(year) || valueText === undefined || valueText === '' || !Number.isFinite(value) || value < 0) {
      throw new Error(`line ${i + 2}: cannot read: ${line}`);
    }
    const prev = latest.get(name);
    if (!prev || year > prev.year) latest.set(name, { name, ...(code ? { code } : {}), year, gPerKWh: Math.round(value * 10) / 10 });
  }
  return {
    source: 'Our World in Data, "Carbon intensity of electricity generation", based on Ember Yearly Electricity Data and the Energy Institute Statistical Review of World Energy',
    sourceShort: 'Ember via OWID',
    url: 'https://ourworldindata.org/grapher/carbon-intensity-electricity',
    licence: 'CC BY 4.0',
    unit: 'gCO2e/kWh (lifecycle emissions per kWh generated, annual average)',
    inputSha256: INPUT_SHA256,
    entries: [...latest.values()].sort((a, b) => a.name.localeCompare(b.name, 'en')),
  };
}

function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const input = args.find((a) => !a.startsWith('--')) ?? path.join(root, 'scripts/data/owid-carbon-intensity-electricity.csv');
  const bytes = fs.readFileSync(input);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== INPUT_SHA256) throw new Error(`${input}: SHA-256 ${sha}, expected ${INPUT_SHA256} (another file: update the provenance above first)`);
  const text = JSON.stringify(buildTable(bytes.toString('utf8')), null, 1) + '\n';
  if (check) {
    const same = fs.existsSync(OUTPUT) && fs.readFileSync(OUTPUT, 'utf8') === text;
    process.stdout.write(same ? 'gridIntensity.json is up to date\n' : 'gridIntensity.json differs from the input\n');
    process.exit(same ? 0 : 1);
  }
  fs.writeFileSync(OUTPUT, text);
  process.stdout.write(`wrote ${path.relative(root, OUTPUT)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
