// `npm run bench:sampler`: on a machine with NVML, benchmarks the real GPUs; without one, against
// the fake NVML library with eight simulated GPUs (and says so: those figures are not a GPU's).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const probe = spawnSync(process.execPath, [path.join(root, 'bin/joules.js'), 'devices', '--json'], { encoding: 'utf8' });
const env = { ...process.env };
if (probe.status !== 0) {
  const { buildFakeNvml } = await import(pathToFileURL(path.join(root, 'test/fake-nvml/build.mjs')).href);
  const { full } = await buildFakeNvml();
  env.JOULES_NVML_LIBRARY = full;
  env.FAKE_NVML_SCENARIO = path.join(root, 'bench/scenarios/eight-gpus.scn');
  console.log('No NVML here: benchmarking against the FAKE NVML library (8 simulated H100s).');
  console.log('Its per-call costs are the fake\'s, not a GPU driver\'s; run this on a GPU machine for real figures.\n');
}
const r = spawnSync(process.execPath, [path.join(root, 'dist/bench/sampler.js')], { stdio: 'inherit', env });
process.exitCode = r.status ?? 1;
