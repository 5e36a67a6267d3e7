// Runs the Joules integration suite in its three modes, each in a fresh VS Code (code-server):
//   gpu         the fake NVML library with twoGpus.scn (two GPUs, constant figures)
//   restricted  the same, with the folder in Restricted Mode (workspace trust on, not trusted)
//   noGpu       JOULES_NVML_LIBRARY pointing at a file that does not exist
//   vsix        the smoke suite (test/integration/smoke) on the packaged VSIX (`npm run package`,
//               linux-x64), installed with code-server's --install-extension, with the gpu mode's NVML
//
//   node test/integration/suite/runAll.mjs [--mode gpu|restricted|noGpu]... [runner options, e.g. --verbose]
//
// Builds the extension and the fake NVML library first. Prints each mode's result line and a
// total "integration: N passed, N failed"; exits non-zero when any mode failed.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const fakeNvml = path.join(repo, 'test/fake-nvml/build/libnvidia-ml-fake.so');
const scenario = path.join(here, 'twoGpus.scn');
// A Python with ipykernel and jupyter_client for the notebook tests' real kernel: the test
// virtualenv (scripts/setup-python.sh, cached), unless JOULES_TEST_PYTHON names one already.
function testPython() {
  if (process.env.JOULES_TEST_PYTHON) return process.env.JOULES_TEST_PYTHON;
  const r = spawnSync('bash', [path.join(repo, 'scripts/setup-python.sh')], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const m = /^PYTHON=(.*)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) {
    console.error('runAll: scripts/setup-python.sh failed; the real-kernel notebook test will fail');
    return '';
  }
  return m[1];
}
const gpuEnv = [`JOULES_NVML_LIBRARY=${fakeNvml}`, `FAKE_NVML_SCENARIO=${scenario}`, `JOULES_TEST_PYTHON=${testPython()}`];
const MODES = {
  gpu: { env: gpuEnv, args: [] },
  restricted: { env: gpuEnv, args: ['--restricted'] },
  noGpu: { env: ['JOULES_NVML_LIBRARY=/nonexistent/joules-it/libnvidia-ml.so.1'], args: [] },
  vsix: { env: gpuEnv, args: ['--vsix', path.join(repo, `dist/vsix/joules-linux-x64-${JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version}.vsix`)], suite: path.join(repo, 'test/integration/smoke/index.ts'), extension: path.join(repo, 'test/integration/fixtures/hello-ext'), package: true },
};

const argv = process.argv.slice(2);
const chosen = [];
const forward = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--mode') chosen.push(argv[++i]);
  else forward.push(argv[i]);
}
for (const m of chosen) {
  if (!(m in MODES)) {
    console.error(`runAll: unknown mode ${m} (${Object.keys(MODES).join(', ')})`);
    process.exit(64);
  }
}
const modes = chosen.length ? chosen : Object.keys(MODES);

for (const [cmd, ...args] of [['node', 'scripts/build.mjs'], ['node', 'test/fake-nvml/build.mjs']]) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`runAll: ${cmd} ${args.join(' ')} failed`);
    process.exit(r.status ?? 70);
  }
}

function runMode(mode) {
  const { env, args, suite, extension, package: pack } = MODES[mode];
  if (pack) {
    // The package users install; the tests are hosted by a fixture extension, not the source folder.
    const r = spawnSync(process.execPath, ['scripts/package.mjs', 'linux-x64'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) return Promise.resolve({ mode, code: r.status ?? 1, passed: 0, failed: 1 });
  }
  const cmd = [
    path.join(repo, 'test/integration/run.mjs'),
    '--extension', extension ?? repo,
    '--suite', suite ?? path.join(here, 'index.ts'),
    '--workspace', path.join(repo, 'test/integration/fixtures/workspace'),
    '--screenshot-dir', path.join(repo, 'test/integration/.work/screenshots', mode),
    ...env.flatMap((e) => ['--env', e]),
    ...args,
    ...forward,
  ];
  console.log(`\n=== Joules integration: ${mode} ===`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cmd, { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const lines = [...out.matchAll(/integration: (\d+) passed, (\d+) failed/g)];
      const last = lines.at(-1);
      resolve({ mode, code: code ?? 1, passed: last ? Number(last[1]) : 0, failed: last ? Number(last[2]) : code === 0 ? 0 : 1 });
    });
  });
}

const results = [];
for (const mode of modes) results.push(await runMode(mode));
console.log('');
for (const r of results) console.log(`integration (${r.mode}): ${r.passed} passed, ${r.failed} failed, exit ${r.code}`);
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
console.log(`integration: ${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
