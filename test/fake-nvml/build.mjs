// Builds the fake NVML library (see README.md): `node test/fake-nvml/build.mjs`, or
// `await buildFakeNvml()` from test setup. No dependencies; needs a C compiler (`cc`, or $CC).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, 'fake_nvml.c');
const outDir = path.join(here, 'build');
const flags = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-pthread'];

const variants = [
  { key: 'full', file: 'libnvidia-ml-fake.so', defines: [] },
  { key: 'legacy', file: 'libnvidia-ml-fake-legacy.so', defines: ['-DFAKE_NVML_LEGACY'] },
];

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function compile(compiler, output, defines) {
  // Write next to the target and rename, so a concurrent loader never sees a half-written file.
  const tmp = `${output}.${process.pid}.tmp`;
  const args = [...flags, ...defines, '-o', tmp, source, '-lm'];
  const res = spawnSync(compiler, args, { encoding: 'utf8' });
  if (res.error) {
    fs.rmSync(tmp, { force: true });
    if (res.error.code === 'ENOENT') {
      throw new Error(`fake-nvml: C compiler '${compiler}' not found; install a C compiler: apt-get install gcc`);
    }
    throw new Error(`fake-nvml: could not run '${compiler}': ${res.error.message}`);
  }
  if (res.status !== 0) {
    fs.rmSync(tmp, { force: true });
    const log = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
    throw new Error(`fake-nvml: '${compiler} ${args.join(' ')}' failed (exit ${res.status}):\n${log}`);
  }
  fs.renameSync(tmp, output);
}

/**
 * Builds both variants when missing or older than their sources.
 * @returns {Promise<{ full: string; legacy: string }>} absolute paths of the two libraries.
 */
export async function buildFakeNvml() {
  fs.mkdirSync(outDir, { recursive: true });
  const newestSource = Math.max(mtimeMs(source), mtimeMs(fileURLToPath(import.meta.url)));
  const compiler = process.env.CC?.trim() || 'cc';
  const result = {};
  for (const v of variants) {
    const output = path.join(outDir, v.file);
    if (mtimeMs(output) <= newestSource) compile(compiler, output, v.defines);
    result[v.key] = output;
  }
  return /** @type {{ full: string; legacy: string }} */ (result);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildFakeNvml().then(
    (out) => {
      console.log(`fake-nvml: ${out.full}\nfake-nvml: ${out.legacy}`);
    },
    (err) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
