// `npm run bench:pyapi`: what the joules Python package costs per call, outside a Joules run (where
// every call must cost no more than an empty Python function call) and inside one (a socket write
// to Joules). The in-run half runs under the built CLI with the fake NVML library (one GPU at 300 W):
// the figures are the Python side's cost, which does not depend on the GPU.
//   PYTHON=python3.11 npm run bench:pyapi     (default: python3)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFakeNvml } from '../test/fake-nvml/build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.PYTHON ?? 'python3';
const script = path.join(root, 'bench', 'pyapi.py');

function json(r) {
  if (r.status !== 0) throw new Error(`bench failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  return lines.map((l) => JSON.parse(l));
}

const env = { ...process.env };
delete env.JOULES_CHANNEL;
const outside = json(spawnSync(python, [script], { encoding: 'utf8', env }))[0];
const libs = await buildFakeNvml();
const runEnv = { ...env, JOULES_NVML_LIBRARY: libs.full, FAKE_NVML_SCENARIO: path.join(root, 'test/fake-nvml/scenarios/constant-300w.scn'), FAKE_NVML_SPEED: '1' };
// --json: the summary is the last line of stdout, the script's own line goes to stderr.
// A store of its own: the benchmark's run does not join the user's history.
const store = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-pyapi-'));
const r = spawnSync(process.execPath, [path.join(root, 'bin/joules.js'), 'run', '--json', '--no-analysis', '--store', store, '--', python, script], { encoding: 'utf8', env: runEnv, maxBuffer: 256 * 1024 * 1024 });
if (r.status !== 0) throw new Error(`in-run bench failed:\n${r.stderr}`);
const inside = JSON.parse(r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).pop());
const summary = json(r).pop();
fs.rmSync(store, { recursive: true, force: true });

const ns = (x) => `${x.toFixed(0).padStart(8)} ns`;
console.log(`joules Python package, ns per call (Python ${outside.python}, best of 5 repeats)`);
console.log('');
console.log('                              outside a run   bare Python equivalent      inside a run');
console.log(`  step()  (imported name)     ${ns(outside.stepName)}     ${ns(outside.bare)}  f()              ${ns(inside.step)}`);
console.log(`  joules.step()               ${ns(outside.step)}     ${ns(outside.bareAttr)}  obj.f()`);
console.log(`  step(1, samples=32)         ${ns(outside.stepSamples)}     ${ns(outside.bareArgs)}  f(1, samples=32) ${ns(inside.stepSamples)}`);
console.log(`  with window('w'): pass      ${ns(outside.window)}     ${ns(outside.nullcontext)}  nullcontext()    ${ns(inside.window)}`);
console.log(`  energy()${' '.repeat(66)}${ns(inside.energy)}`);
console.log('');
console.log(`outside: ${outside.calls} calls per repeat; inside: ${inside.calls} step calls per repeat (${inside.stepsSent} in all), steps Joules counted: ${summary.steps}${summary.steps === inside.stepsSent ? ' (all)' : ' (MISSING SOME)'}`);
