// Entry of `npm run test:integration` (offline, code-server) and `npm run test:integration:desktop`
// (@vscode/test-electron; downloads VS Code).
//
//   node test/integration/run.mjs [--desktop] [--extension <dir>] [--suite <index.ts>] [--restricted]
//                                 [--workspace <dir>] [--env KEY=VALUE]... [--skip-setup] [runner options]
//
// Steps: scripts/setup-integration.sh (installs the harness once, into a cache outside the repo),
// optional extension build, suite bundle (test/integration/build.mjs) into test/integration/.work/build/,
// then runner/codeServer.ts (or runner/desktop.ts with --desktop). Other options go to the runner
// (--timeout-s, --verbose, --screenshot-dir, --log-dir ...). Exit code: the runner's.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSuite } from './build.mjs';

// What runs when no option says otherwise. For the Joules extension, e.g.:
//   extension: '.', suite: 'test/integration/suite/index.ts', prebuild: ['node', 'scripts/build.mjs'], env: {}
const DEFAULTS = {
  extension: '.',
  suite: 'test/integration/suite/index.ts',
  prebuild: ['node', 'scripts/build.mjs'], // command (argv array) run in the repo root before the suite is built, or null
  env: {}, // environment for the extension host, added to the caller's
};

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (p) => path.relative(process.cwd(), p) || '.';

function parse(argv) {
  // Defaults are relative to the repository root, command-line paths to the working directory.
  const opts = { desktop: false, extension: path.resolve(repoRoot, DEFAULTS.extension), suite: path.resolve(repoRoot, DEFAULTS.suite), skipSetup: false, forward: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--desktop') opts.desktop = true;
    else if (a === '--extension') opts.extension = path.resolve(value());
    else if (a === '--suite') opts.suite = path.resolve(value());
    else if (a === '--skip-setup') opts.skipSetup = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node test/integration/run.mjs [--desktop] [--extension <dir>] [--suite <index.ts>] [--restricted] [--workspace <dir>] [--env KEY=VALUE]... [--skip-setup] [--timeout-s <n>] [--verbose]');
      process.exit(0);
    } else if (a.startsWith('--') && !a.includes('=') && i + 1 < argv.length && !argv[i + 1].startsWith('--')) opts.forward.push(a, value());
    else opts.forward.push(a);
  }
  return opts;
}

function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: 'inherit', ...options });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', (err) => {
      console.error(`integration: ${cmd}: ${err.message}`);
      resolve(70);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 143));
    });
  });
}

async function main() {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`integration: ${err.message}`);
    return 64;
  }
  const t0 = Date.now();
  const env = { ...process.env };

  if (!opts.desktop && !opts.skipSetup) {
    const setup = spawnSync('bash', [path.join(repoRoot, 'scripts/setup-integration.sh')], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (setup.status !== 0) {
      console.error(`integration: scripts/setup-integration.sh failed (exit ${setup.status ?? setup.signal})`);
      return 71;
    }
    const vars = Object.fromEntries(setup.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    env.JOULES_NODE24 = vars.NODE24;
    env.JOULES_CODE_SERVER_ENTRY = vars.CODE_SERVER_ENTRY;
    env.JOULES_CHROMIUM = vars.CHROMIUM;
  }
  const tSetup = Date.now();

  if (DEFAULTS.prebuild && opts.extension === repoRoot) {
    const [cmd, ...args] = DEFAULTS.prebuild;
    const code = await run(cmd, args);
    if (code !== 0) {
      console.error(`integration: extension build failed (${DEFAULTS.prebuild.join(' ')}: exit ${code})`);
      return code;
    }
  }

  const suite = opts.suite;
  if (!existsSync(suite)) {
    console.error(`integration: no suite at ${rel(suite)}`);
    return 64;
  }
  const outDir = path.join(repoRoot, 'test/integration/.work/build', path.basename(path.dirname(suite)));
  rmSync(outDir, { recursive: true, force: true });
  let built;
  try {
    built = await buildSuite(suite, path.join(outDir, 'index.js'));
  } catch (err) {
    console.error(`integration: suite build failed: ${err.message}`);
    return 65;
  }
  const tBuild = Date.now();
  console.log(`integration: setup ${((tSetup - t0) / 1000).toFixed(1)} s, build ${((tBuild - tSetup) / 1000).toFixed(1)} s (${built.tests.length} test file(s))`);

  const runner = path.join(repoRoot, 'test/integration/runner', opts.desktop ? 'desktop.ts' : 'codeServer.ts');
  const envArgs = Object.entries(DEFAULTS.env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const args = ['--import', 'tsx', runner, '--extension', opts.extension, '--tests', built.outFile, ...envArgs, ...opts.forward];
  const code = await run(process.execPath, args, { env });
  console.log(`integration: exit ${code} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(70);
  },
);
