// Bundles an integration suite for the extension host with esbuild.
//
// buildSuite(entryTs, outFile) writes:
//   - outFile: the suite entry (exports run()), with mocha bundled in, so the suite does not depend
//     on how the host resolves modules or on its Node version (mocha 12 is ESM at its package root);
//   - every *.test.ts under the entry's folder, as *.test.js under outFile's folder (same relative
//     paths), for the entry to find and hand to mocha.
// `vscode` stays external (the extension host provides it). Source maps are inline.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

/**
 * @param {string} entryTs suite entry (exports `run(): Promise<void>`)
 * @param {string} outFile output .js for the entry; test files land next to it
 * @returns {Promise<{ outFile: string, tests: string[] }>}
 */
export async function buildSuite(entryTs, outFile) {
  const entry = path.resolve(entryTs);
  const out = path.resolve(outFile);
  const srcDir = path.dirname(entry);
  const outDir = path.dirname(out);
  const tests = findTests(srcDir);
  const entryPoints = [
    { in: entry, out: path.basename(out).replace(/\.[cm]?js$/, '') },
    ...tests.map((t) => ({ in: t, out: path.relative(srcDir, t).replace(/\.ts$/, '') })),
  ];
  await build({
    entryPoints,
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode'],
    // Resolve mocha etc. from the repository even when the suite lives outside it.
    nodePaths: [path.join(repoRoot, 'node_modules')],
    logLevel: 'warning',
    // mocha's parallel mode (unused here) resolves worker files at run time.
    logOverride: { 'require-resolve-not-external': 'silent' },
  });
  return { outFile: out, tests: tests.map((t) => path.join(outDir, path.relative(srcDir, t).replace(/\.ts$/, '.js'))) };
}
