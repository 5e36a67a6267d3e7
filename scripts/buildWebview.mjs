// Bundles the energy panel webview: webview/main.ts -> dist/webview/panel.js (IIFE, browser,
// ES2022) with Chart.js and @vscode-elements inlined, plus media/panel.css -> dist/webview/panel.css.
// Everything the panel loads is inside dist/webview/, the panel's only script/style resource root.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {{ minify?: boolean, outdir?: string }} [options]
 *   minify: production build (no source map); outdir: defaults to <repo>/dist/webview.
 * @returns {Promise<{ script: string, style: string, bytes: number }>}
 */
export async function buildWebview({ minify = false, outdir = join(root, 'dist', 'webview') } = {}) {
  await mkdir(outdir, { recursive: true });
  const script = join(outdir, 'panel.js');
  const style = join(outdir, 'panel.css');
  const result = await build({
    absWorkingDir: root,
    entryPoints: [join(root, 'webview', 'main.ts')],
    outfile: script,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: minify ? false : 'linked',
    legalComments: minify ? 'eof' : 'inline',
    metafile: true,
    logLevel: 'warning',
  });
  // A minified build has no map; remove one left by a development build so it is not shipped.
  if (minify) await rm(`${script}.map`, { force: true });
  await copyFile(join(root, 'media', 'panel.css'), style);
  const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
  return { script, style, bytes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const minify = process.argv.includes('--minify');
  buildWebview({ minify }).then(
    (r) => console.log(`webview: ${r.script} (${(r.bytes / 1024).toFixed(0)} KiB${minify ? ', minified' : ''})`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
