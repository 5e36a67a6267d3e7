// The Python package's tests (python/tests, pytest): makes the test virtualenv
// (scripts/setup-python.sh), builds the fake NVML library, and runs pytest with the built CLI, so
// that tiny models train under `joules run` as a user would run them. Prints
// "python: N passed, N failed[, N skipped]" last; exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFakeNvml } from '../test/fake-nvml/build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fail = (message) => {
  process.stdout.write(`${message}\npython: 0 passed, 1 failed\n`);
  process.exit(1);
};

if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) {
  const b = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (b.status !== 0) fail('build failed');
}
const setup = spawnSync('bash', [path.join(root, 'scripts', 'setup-python.sh')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const python = /^PYTHON=(.*)$/m.exec(setup.stdout ?? '')?.[1];
if (setup.status !== 0 || !python) fail(`scripts/setup-python.sh failed (exit ${setup.status})`);
const libs = await buildFakeNvml();

const env = {
  ...process.env,
  JOULES_TEST_NODE: process.execPath,
  JOULES_TEST_BIN: path.join(root, 'bin', 'joules.js'),
  JOULES_NVML_LIBRARY: libs.full,
  FAKE_NVML_SCENARIO: path.join(root, 'test', 'fake-nvml', 'scenarios', 'constant-300w.scn'),
  FAKE_NVML_SPEED: '1',
  // Nothing of the frameworks reaches the network; no telemetry either.
  HF_HUB_OFFLINE: '1',
  TRANSFORMERS_OFFLINE: '1',
  HF_HUB_DISABLE_TELEMETRY: '1',
  WANDB_MODE: 'offline',
  PYTHONDONTWRITEBYTECODE: '1',
};
delete env.JOULES_CHANNEL;
delete env.PYTHONPATH;

const child = spawn(python, ['-m', 'pytest', path.join(root, 'python', 'tests'), '-q', '-p', 'no:cacheprovider', '-rs'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  tail = (tail + d.toString()).slice(-4000);
});
child.on('close', (code) => {
  // pytest's last line: "3 passed, 1 failed, 1 skipped in 12.3s" (any subset, any order).
  const last = tail.trim().split('\n').pop() ?? '';
  const count = (what) => Number(new RegExp(`(\\d+) ${what}`).exec(last)?.[1] ?? 0);
  const passed = count('passed');
  const failed = count('failed') + count('errors?');
  const skipped = count('skipped');
  const outside = code !== 0 && failed === 0 ? 1 : 0; // pytest itself failed (collection, usage...)
  process.stdout.write(`python: ${passed} passed, ${failed + outside} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exitCode = code === 0 ? 0 : 1;
});
