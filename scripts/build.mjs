// Bundles the extension, the CLI, the sampler worker and the benchmarks with esbuild; koffi stays
// external (a native module with per-platform binaries), as does `vscode` (provided by the host).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const minify = process.argv.includes('--minify');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  minify,
  external: ['vscode', 'koffi'],
  logLevel: 'warning',
  absWorkingDir: root,
};

const entries = [
  { in: 'src/cli/index.ts', out: 'dist/cli.js' },
  { in: 'src/core/sampler/worker.ts', out: 'dist/samplerWorker.js' },
  // The end-of-run analysis (detectors + tree-sitter) runs in this worker, off the host's thread.
  { in: 'src/core/analysis/analysisWorker.ts', out: 'dist/analysisWorker.js' },
  { in: 'src/vscode/extension.ts', out: 'dist/extension.js' },
  // Benchmarks, bundled too, so they run where there is Node but no npm (e.g. a GPU machine).
  { in: 'bench/sampler.ts', out: 'dist/bench/sampler.js' },
  // The benchmarks restart themselves through tsx when run from sources: never from the bundle.
  { in: 'bench/longrun.ts', out: 'dist/bench/longrun.js', external: ['tsx/cjs'] },
  // The bundled soak takes a prebuilt fake library (JOULES_FAKE_NVML_LIB): leave the C build script out.
  { in: 'bench/soak.ts', out: 'dist/bench/soak.js', external: ['*/fake-nvml/build.mjs', 'tsx/cjs'] },
  { in: 'bench/trainCompare.ts', out: 'dist/bench/trainCompare.js' },
];

export async function build() {
  await Promise.all(
    entries.map((e) => esbuild.build({ ...common, external: [...common.external, ...(e.external ?? [])], entryPoints: [path.join(root, e.in)], outfile: path.join(root, e.out) })),
  );
  // The benchmark looks for the worker beside itself.
  fs.copyFileSync(path.join(root, 'dist/samplerWorker.js'), path.join(root, 'dist/bench/samplerWorker.js'));
  // tree-sitter runtime and the Python grammar, loaded at run time by the analysis.
  // A missing file fails the build (copyFileSync throws with its path): never a package without them.
  const wasmSrc = path.join(root, 'node_modules/@vscode/tree-sitter-wasm/wasm');
  fs.mkdirSync(path.join(root, 'dist/wasm'), { recursive: true });
  for (const f of ['tree-sitter.wasm', 'tree-sitter-python.wasm']) fs.copyFileSync(path.join(wasmSrc, f), path.join(root, 'dist/wasm', f));
  const { buildWebview } = await import(pathToFileURL(path.join(root, 'scripts/buildWebview.mjs')).href);
  await buildWebview({ minify });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  build().then(
    () => process.stdout.write('built dist/\n'),
    (e) => {
      process.stderr.write(`build failed: ${e.message}\n`);
      process.exit(1);
    },
  );
}
