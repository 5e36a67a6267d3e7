import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeNvml } from '../support/fakeNvml';
import { testPython } from '../support/testPython';
import { joules, ROOT } from './support';

/** The figures of the bundled table the assertions use, read from the table itself (not from Joules' code). */
const table = JSON.parse(fs.readFileSync(path.join(ROOT, 'src/core/units/gridIntensity.json'), 'utf8')) as { entries: Array<{ name: string; code?: string; gPerKWh: number }> };
const germany = table.entries.find((e) => e.code === 'DEU')!.gPerKWh;
const world = table.entries.find((e) => e.code === 'OWID_WRL')!.gPerKWh;


/** Reads an event folder with TensorBoard's own EventAccumulator; prints its scalars and texts as JSON. */
const READ_EVENTS = `
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
acc.Reload()
tags = acc.Tags()
out = {"scalars": {t: [[e.wall_time, e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
       "texts": {t: [e.tensor_proto.string_val[0].decode("utf-8") for e in acc.Tensors(t)] for t in tags["tensors"]}}
print(json.dumps(out))
`;

interface Events {
  scalars: Record<string, Array<[number, number, number]>>;
  texts: Record<string, string[]>;
}

describe('joules report: carbon, cost and exports (CodeCarbon CSV, TensorBoard, MLflow)', function () {
  this.timeout(600_000);
  let store: string;
  let out: string;
  let lib: string;
  let runId: string;
  let run: { energyJ: number; durationS: number; startedAt: string; name: string };
  let demoId: string;

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    lib = await fakeNvml('constant-300w.scn');
    store = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-export-'));
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-export-out-'));
    // One measured run on the fake 300 W GPU, and the recorded demo (it has findings).
    const r = joules(['run', '--json', '--store', store, '--', 'python3', '-c', 'import time; time.sleep(1.5)'], { JOULES_NVML_LIBRARY: lib });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { id: string; energyJ: number; durationS: number; startedAt: string; name: string };
    runId = j.id;
    run = j;
    const d = joules(['demo', '--speed', '500', '--json', '--store', store]);
    assert.equal(d.code, 0, d.stderr);
    demoId = (JSON.parse(d.stdout) as { id: string }).id;
  });

  it('report prints carbon from the region\'s annual average, the PUE and the cost, each with its source', () => {
    const r = joules(['report', runId, '--store', store, '--region', 'Germany', '--pue', '1.5', '--price', '0.3', '--currency', 'EUR']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /carbon {5}\S+ g CO2e \(Germany 2024 average, Ember via OWID \(CC BY 4\.0\): 344\.1 g\/kWh × PUE 1\.5\)/);
    assert.match(r.stdout, /cost {7}\S+ EUR \(your price: 0\.3 EUR\/kWh × PUE 1\.5\)/);
    assert.match(r.stdout, /minutes of an average US home's electricity \(US EIA/);
    const j = JSON.parse(joules(['report', runId, '--json', '--store', store, '--region', 'DEU', '--pue', '1.5', '--price', '0.3']).stdout) as { energyJ: number; carbon: { gCO2e: number; cost: number; currency: string } };
    // By hand: J / 3.6e6 = kWh; × PUE; × g/kWh (or × price).
    const kWh = (j.energyJ / 3.6e6) * 1.5;
    assert.ok(Math.abs(j.carbon.gCO2e - kWh * germany) < 1e-3 * kWh * germany + 1e-6, `${j.carbon.gCO2e} vs ${kWh * germany}`);
    assert.ok(Math.abs(j.carbon.cost - kWh * 0.3) < 1e-3 * kWh * 0.3 + 1e-9);
    // No --currency: the price's currency is the default label.
    assert.equal(j.carbon.currency, 'USD');
  });

  it('with nothing set: the world average, and the figure says so; the environment sets it for run and report; flags win', () => {
    const plain = joules(['report', runId, '--store', store]);
    assert.match(plain.stdout, /carbon {5}\S+ g CO2e \(World 2024 average, no region set, Ember via OWID/);
    assert.doesNotMatch(plain.stdout, /^ {2}cost/m);
    const env = joules(['report', runId, '--store', store], { JOULES_CARBON_REGION: 'FRA', JOULES_PRICE_PER_KWH: '0.2', JOULES_CURRENCY: 'EUR' });
    assert.match(env.stdout, /\(France 2024 average/);
    assert.match(env.stdout, /EUR \(your price: 0\.2 EUR\/kWh\)/);
    const flag = joules(['report', runId, '--store', store, '--intensity', '100'], { JOULES_CARBON_REGION: 'FRA' });
    assert.match(flag.stdout, /\(your setting: 100 g\/kWh\)/);
    const j = JSON.parse(joules(['report', runId, '--json', '--store', store]).stdout) as { energyJ: number; carbon: { gCO2e: number } };
    assert.ok(Math.abs(j.carbon.gCO2e - (j.energyJ / 3.6e6) * world) < 1e-9 * world + 1e-9);
  });

  it('a setting that cannot be used: report refuses with the reason (exit 2); a finished run still prints its summary', () => {
    const bad = joules(['report', runId, '--store', store, '--region', 'Atlantis']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no grid intensity for region "Atlantis"/);
    assert.equal(joules(['report', runId, '--store', store, '--pue', '0.5']).code, 2);
    const envBad = joules(['report', runId, '--store', store], { JOULES_PUE: 'lots' });
    assert.equal(envBad.code, 2);
    assert.match(envBad.stderr, /JOULES_PUE needs a number, got "lots"/);
    const r = joules(['run', '--store', store, '--', 'python3', '-c', 'pass'], { JOULES_NVML_LIBRARY: lib, JOULES_CARBON_REGION: 'Atlantis' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /energy {5}/);
    assert.match(r.stderr, /carbon {5}no figure: no grid intensity for region "Atlantis"/);
  });

  it('--to codecarbon-csv FILE: CodeCarbon\'s header first (as in the stored copy of it), one row per run', () => {
    const file = path.join(out, 'emissions.csv');
    const r = joules(['report', runId, demoId, '--store', store, '--to', 'codecarbon-csv', file, '--region', 'DEU']);
    assert.equal(r.code, 0, r.stderr);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    const expected = fs.readFileSync(path.join(ROOT, 'test/fixtures/codecarbon/emissions-header.csv'), 'utf8').trim();
    assert.ok(lines[0]!.startsWith(`${expected},joules_`), lines[0]);
    assert.equal(lines.length, 3);
    const header = lines[0]!.split(',');
    const row = lines[1]!.split(',');
    const at = (c: string): string => row[header.indexOf(c)]!;
    assert.equal(at('run_id'), runId);
    assert.equal(at('country_iso_code'), 'DEU');
    assert.ok(Math.abs(Number(at('energy_consumed')) - run.energyJ / 3.6e6) < 1e-9);
    assert.ok(Math.abs(Number(at('emissions')) - ((run.energyJ / 3.6e6) * germany) / 1000) < 1e-9);
    assert.equal(at('gpu_model'), '1 x NVIDIA H200 (fake)');
    // To stdout with "-"; a missing destination is a usage error.
    const dash = joules(['report', runId, '--store', store, '--to', 'codecarbon-csv', '-']);
    assert.ok(dash.stdout.startsWith(expected));
    assert.equal(joules(['report', runId, '--store', store, '--to', 'codecarbon-csv']).code, 2);
    assert.equal(joules(['report', runId, '--store', store, '--to', 'parquet', 'x']).code, 2);
  });

  it('--to tensorboard DIR: TensorBoard\'s own EventAccumulator reads power, energy, utilization, the summary and the findings', () => {
    const dir = path.join(out, 'tb');
    const r = joules(['report', runId, demoId, '--store', store, '--to', 'tensorboard', dir, '--region', 'DEU']);
    assert.equal(r.code, 0, r.stderr);
    const python = testPython();
    const read = (id: string): Events => {
      const p = spawnSync(python, ['-c', READ_EVENTS, path.join(dir, id)], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
      return JSON.parse(p.stdout) as Events;
    };
    const ev = read(runId);
    // The fake GPU draws exactly 300 W at 100 % utilization.
    const power = ev.scalars['power_w/gpu0']!;
    assert.ok(power.length >= 10, `${power.length} power points`);
    for (const [, , v] of power) assert.equal(v, 300);
    for (const [, , v] of ev.scalars['util_pct/gpu0']!) assert.equal(v, 100);
    assert.deepEqual(ev.scalars['power_w/total']!.map((p) => p[2]), power.map((p) => p[2]));
    // Energy is cumulative, and its steps are milliseconds since the start at the samples' clock times.
    const energy = ev.scalars['energy_j/gpu0']!;
    const startS = Date.parse(run.startedAt) / 1000;
    for (let i = 1; i < energy.length; i++) {
      assert.ok(energy[i]![2] >= energy[i - 1]![2]);
      assert.ok(energy[i]![1] > energy[i - 1]![1]);
    }
    for (const [wall, step] of energy) assert.ok(Math.abs(wall - (startS + step / 1000)) < 1e-3);
    // 300 W × the time of the last point, within one 100 ms counter period.
    const [, lastStep, lastJ] = energy[energy.length - 1]!;
    assert.ok(Math.abs(lastJ - 300 * (lastStep / 1000)) <= 300 * 0.1 + 1, `${lastJ} J at ${lastStep} ms`);
    const summaryEnergy = ev.scalars['summary/energy_j']![0]![2];
    assert.ok(Math.abs(summaryEnergy - run.energyJ) <= run.energyJ * 1e-6);
    const carbon = ev.scalars['summary/carbon_g']![0]![2];
    assert.ok(Math.abs(carbon - (run.energyJ / 3.6e6) * germany) <= 1e-5 * carbon + 1e-9);
    assert.match(ev.texts['joules/summary']![0]!, /Germany 2024 average/);
    // The demo's findings come as text.
    const demo = read(demoId);
    assert.match(demo.texts['joules/summary']![0]!, /\*\*Findings\*\*[\s\S]*\[warning\] GPU 0 was idle/);
    assert.ok(demo.scalars['power_w/gpu0']!.some((p) => p[2] > 800), 'the demo\'s 900 W phase');
  });

  it('--to mlflow DIR: MLflow\'s file store layout (meta.yaml, metrics "timestamp value step", params, tags); a re-export replaces the run', () => {
    const dir = path.join(out, 'mlruns');
    const r = joules(['report', runId, '--store', store, '--to', 'mlflow', dir]);
    assert.equal(r.code, 0, r.stderr);
    // MLflow's FileStore makes the default experiment 0 in a new store; ours is named "joules".
    const yaml = (file: string): Record<string, string> => Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
      const i = l.indexOf(': ');
      return [l.slice(0, i), l.slice(i + 2)];
    }));
    assert.equal(yaml(path.join(dir, '0', 'meta.yaml')).name, '"Default"');
    assert.ok(fs.existsSync(path.join(dir, '.trash')));
    const exps = fs.readdirSync(dir).filter((e) => !e.startsWith('.') && e !== '0');
    assert.equal(exps.length, 1);
    const exp = yaml(path.join(dir, exps[0]!, 'meta.yaml'));
    // Experiment fields of MLflow's FileStore (_create_experiment_with_id: dict(Experiment) without tags).
    assert.deepEqual(Object.keys(exp).sort(), ['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name']);
    assert.equal(exp.name, '"joules"');
    assert.equal(JSON.parse(exp.experiment_id!), exps[0]);
    const runs = fs.readdirSync(path.join(dir, exps[0]!)).filter((e) => e !== 'meta.yaml');
    assert.equal(runs.length, 1);
    assert.match(runs[0]!, /^[0-9a-f]{32}$/);
    const runDir = path.join(dir, exps[0]!, runs[0]!);
    const meta = yaml(path.join(runDir, 'meta.yaml'));
    // RunInfo fields plus what _make_persisted_run_info_dict and create_run add.
    for (const k of ['run_uuid', 'run_id', 'run_name', 'experiment_id', 'user_id', 'status', 'start_time', 'end_time', 'artifact_uri', 'lifecycle_stage', 'tags', 'source_type', 'source_name', 'entry_point_name', 'source_version', 'deleted_time']) assert.ok(k in meta, `meta.yaml lacks ${k}`);
    assert.equal(JSON.parse(meta.run_id!), runs[0]);
    assert.equal(JSON.parse(meta.experiment_id!), exps[0]);
    assert.equal(meta.status, '3'); // FINISHED
    assert.equal(Number(meta.start_time), Date.parse(run.startedAt));
    assert.equal(meta.tags, '[]');
    // Metric files: lines of "<int ms> <float> <int step>", as FileStore._get_metric_from_line parses them.
    const power = fs.readFileSync(path.join(runDir, 'metrics', 'power_w', 'gpu0'), 'utf8').trim().split('\n');
    assert.ok(power.length >= 10);
    for (const line of power) {
      const parts = line.split(' ');
      assert.equal(parts.length, 3, line);
      assert.ok(Number.isInteger(Number(parts[0])) && Number.isInteger(Number(parts[2])), line);
      assert.equal(Number(parts[1]), 300);
    }
    const energy = fs.readFileSync(path.join(runDir, 'metrics', 'summary', 'energy_j'), 'utf8').trim().split(' ');
    assert.equal(Number(energy[1]), run.energyJ);
    assert.equal(fs.readFileSync(path.join(runDir, 'tags', 'mlflow.runName'), 'utf8'), run.name);
    assert.equal(fs.readFileSync(path.join(runDir, 'tags', 'joules.run_id'), 'utf8'), runId);
    assert.match(fs.readFileSync(path.join(runDir, 'tags', 'joules.carbon_source'), 'utf8'), /World 2024 average/);
    assert.equal(fs.readFileSync(path.join(runDir, 'params', 'joules.pue'), 'utf8'), '1');
    assert.ok(fs.existsSync(path.join(runDir, 'artifacts', 'joules', 'summary.md')));
    // Again: the same experiment and run folder, replaced (no second run, no temporary folder left).
    assert.equal(joules(['report', runId, '--store', store, '--to', 'mlflow', dir]).code, 0);
    assert.deepEqual(fs.readdirSync(path.join(dir, exps[0]!)).sort(), ['meta.yaml', runs[0]!].sort());
    // --experiment NAME: another experiment.
    assert.equal(joules(['report', runId, '--store', store, '--to', 'mlflow', dir, '--experiment', 'energy']).code, 0);
    assert.equal(fs.readdirSync(dir).filter((e) => !e.startsWith('.') && e !== '0').length, 2);
  });
});
