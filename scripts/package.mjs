// `npm run package`: one VSIX per platform in dist/vsix/, each with only that platform's koffi
// binary (@koromix/koffi-<target>). Packages for other platforms than this machine's are fetched
// from the npm registry with `npm pack` (npm installs only the local platform's).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const koffiVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/koffi/package.json'), 'utf8')).version;
// VS Code target -> koffi's platform package.
const TARGETS = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'alpine-x64': 'linux-x64',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
  'darwin-x64': 'darwin-x64',
  'darwin-arm64': 'darwin-arm64',
};
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const targets = only.length ? only : Object.keys(TARGETS);

execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--minify'], { stdio: 'inherit' });
const outDir = path.join(root, 'dist/vsix');
fs.mkdirSync(outDir, { recursive: true });
const cache = path.join(os.tmpdir(), 'joules-koffi-cache');
fs.mkdirSync(cache, { recursive: true });

function koffiPlatformDir(platform) {
  const local = path.join(root, 'node_modules/@koromix', `koffi-${platform}`);
  if (fs.existsSync(local)) return local;
  const dir = path.join(cache, `koffi-${platform}-${koffiVersion}`);
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    const tgz = execFileSync('npm', ['pack', `@koromix/koffi-${platform}@${koffiVersion}`, '--silent'], { cwd: cache, encoding: 'utf8' }).trim().split('\n').pop();
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(cache, tgz), '-C', dir, '--strip-components=1']);
  }
  return dir;
}

const results = [];
for (const target of targets) {
  const platform = TARGETS[target];
  if (!platform) throw new Error(`unknown target ${target}; known: ${Object.keys(TARGETS).join(', ')}`);
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `joules-vsix-${target}-`));
  // python/: the `joules` package runs find on PYTHONPATH (its tests and caches stay behind).
  for (const item of ['package.json', 'README.md', 'LICENSE', '.vscodeignore', 'dist', 'media', 'bin', 'python']) {
    fs.cpSync(path.join(root, item), path.join(stage, item), {
      recursive: true,
      filter: (src) => !src.includes(`${path.sep}vsix`) && !src.endsWith('.map') && !src.includes(`${path.sep}bench`) && !src.includes('__pycache__') && !src.includes(`python${path.sep}tests`),
    });
  }
  fs.cpSync(path.join(root, 'node_modules/koffi'), path.join(stage, 'node_modules/koffi'), { recursive: true });
  let koffiDir;
  try {
    koffiDir = koffiPlatformDir(platform);
  } catch (e) {
    results.push(`${target}: skipped (could not get @koromix/koffi-${platform}: ${e.message.split('\n')[0]})`);
    continue;
  }
  fs.cpSync(koffiDir, path.join(stage, 'node_modules/@koromix', `koffi-${platform}`), { recursive: true });
  // The staged manifest depends on koffi alone (everything else is bundled): vsce lists production
  // dependencies with npm and packs exactly the staged node_modules.
  const staged = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'));
  staged.dependencies = { koffi: koffiVersion };
  delete staged.devDependencies;
  delete staged.scripts;
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(staged, null, 2));
  const out = path.join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
  const vsce = path.join(root, 'node_modules/.bin/vsce');
  const r = spawnSync(vsce, ['package', '--target', target, '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', out], { cwd: stage, encoding: 'utf8' });
  fs.rmSync(stage, { recursive: true, force: true });
  if (r.status !== 0) {
    results.push(`${target}: FAILED\n${r.stdout}\n${r.stderr}`);
    process.exitCode = 1;
    continue;
  }
  const mb = fs.statSync(out).size / 1024 / 1024;
  results.push(`${target}: ${path.relative(root, out)}  ${mb.toFixed(2)} MB${mb >= 5 ? '  (over the 5 MB target)' : ''}`);
}
console.log(results.join('\n'));
