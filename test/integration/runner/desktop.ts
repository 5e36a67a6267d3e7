// Runs an integration suite in desktop VS Code through @vscode/test-electron, for machines that can
// download VS Code (it is fetched into .vscode-test/ on first use). The same compiled suite runs
// offline under runner/codeServer.ts.
//
//   npx tsx test/integration/runner/desktop.ts --extension <dir> --tests <abs suite index.js> [options]
//
// Options: --workspace <dir>, --env KEY=VALUE (repeatable), --restricted, --vscode-version <v>
// [VSCODE_TEST_VERSION] (default 1.139.1, the version code-server 4.139.1 carries, so both runners
// see the same API). On Linux without a display, run it under xvfb-run -a.
//
// runTests always adds --disable-workspace-trust; --restricted therefore downloads VS Code with
// test-electron and starts it itself with the same arguments minus that flag.
// Screenshots on request are not available here: requestScreenshot() resolves undefined.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { downloadAndUnzipVSCode, runTests, TestRunFailedError } from '@vscode/test-electron';
import { writeUserSettings } from './settings';

const DEFAULT_VERSION = '1.139.1';

function fail(message: string): never {
  console.error(`desktop: ${message}`);
  process.exit(64);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      extension: { type: 'string' },
      tests: { type: 'string' },
      workspace: { type: 'string' },
      env: { type: 'string', multiple: true },
      restricted: { type: 'boolean' },
      'vscode-version': { type: 'string' },
    },
  });
  if (!values.extension || !values.tests) fail('usage: desktop.ts --extension <dir> --tests <suite index.js> [--workspace <dir>] [--env KEY=VALUE]... [--restricted] [--vscode-version <v>]');
  const extensionDevelopmentPath = path.resolve(values.extension);
  const extensionTestsPath = path.resolve(values.tests);
  if (!fs.existsSync(extensionTestsPath)) fail(`--tests ${extensionTestsPath} does not exist (build the suite first)`);
  const version = values['vscode-version'] ?? process.env.VSCODE_TEST_VERSION ?? DEFAULT_VERSION;
  const restricted = !!values.restricted;

  const env: Record<string, string | undefined> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) fail(`--env expects KEY=VALUE, got ${pair}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (restricted) env.JOULES_INTEGRATION_RESTRICTED = '1';
  // No screenshots here: make requestScreenshot() a no-op even if the caller's shell sets this.
  delete process.env.JOULES_SCREENSHOT_DIR;

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-it-desktop-'));
  try {
    const workspace = values.workspace ? path.resolve(values.workspace) : path.join(tmp, 'workspace');
    fs.mkdirSync(workspace, { recursive: true });
    const userData = path.join(tmp, 'user-data');
    writeUserSettings(userData, restricted);
    const launchArgs = [workspace, '--user-data-dir', userData, '--extensions-dir', path.join(tmp, 'extensions'), '--disable-extensions'];

    if (!restricted) {
      return await runTests({ version, extensionDevelopmentPath, extensionTestsPath, launchArgs, extensionTestsEnv: env });
    }

    // Restricted mode: runTests' arguments without --disable-workspace-trust.
    const executable = await downloadAndUnzipVSCode({ version });
    const args = [
      ...launchArgs,
      '--no-sandbox',
      '--disable-gpu-sandbox',
      '--disable-updates',
      '--skip-welcome',
      '--skip-release-notes',
      '--no-cached-data',
      `--extensionTestsPath=${extensionTestsPath}`,
      `--extensionDevelopmentPath=${extensionDevelopmentPath}`,
    ];
    const child = spawn(executable, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    return await new Promise<number>((resolve) => {
      child.on('error', (err) => {
        console.error(`desktop: ${err.message}`);
        resolve(70);
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
  } catch (err) {
    if (err instanceof TestRunFailedError) return err.code ?? 1;
    console.error(err);
    return 70;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(70);
  },
);
