// Runs an integration suite inside a real VS Code extension host, offline: code-server (VS Code's
// server and web workbench, run on Node 24) is driven by headless Chromium through playwright-core.
// The workbench's smoke-test driver hands the extension host's console (mocha's output) to the page
// function codeAutomationLog and the suite's result to codeAutomationExit.
//
//   npx tsx test/integration/runner/codeServer.ts --extension <dir> --tests <abs suite index.js> [options]
//
// Options (environment fallback in brackets):
//   --extension <dir>        extensionDevelopmentPath (required)
//   --vsix <file>            install this package with code-server's --install-extension first (the
//                            installed extension, as users get it; --extension then only hosts the tests)
//   --tests <file>           compiled suite entry exporting run() (required)
//   --workspace <dir>        folder to open (default: a fresh empty temp folder)
//   --timeout-s <n>          whole-run limit in seconds [JOULES_IT_TIMEOUT_S] (default 300)
//   --screenshot-dir <dir>   screenshots [JOULES_IT_SCREENSHOT_DIR] (default test/integration/.work/screenshots)
//   --log-dir <dir>          workbench, server and VS Code logs (default test/integration/.work/logs/<time>)
//   --env KEY=VALUE          extra environment for code-server and the extension host (repeatable)
//   --restricted             workspace trust ON: the folder opens in Restricted Mode
//   --verbose                echo the whole workbench log, not only the extension host's console
//   --node <file>            Node 24 binary [JOULES_NODE24]
//   --code-server <file>     code-server/out/node/entry.js [JOULES_CODE_SERVER_ENTRY]
//   --chromium <file>        Chromium binary [JOULES_CHROMIUM] (default /usr/bin/chromium)
// Without --node/--code-server, scripts/setup-integration.sh is run (fast when already installed).
//
// The runner's environment, plus --env, reaches the extension host (process.env there). The runner
// adds JOULES_SCREENSHOT_DIR (see runner/screenshot.ts) and, with --restricted,
// JOULES_INTEGRATION_RESTRICTED=1. A test that logs `JOULES_PANEL_STATE <file.json>` gets the energy
// panel webview's `window.__joulesPanelState` written to that file (see runner/panelState.ts).
//
// Exit codes: the extension host's exit code (0: all tests passed, 1: run() rejected), or the
// runner's own: 64 bad arguments, 70 runner error, 71 harness missing (setup failed),
// 72 code-server failed to start or died, 73 browser failed to launch or disconnected,
// 74 page crashed, 75 timeout (a screenshot is saved first).
import { spawn, spawnSync } from 'child_process';
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { writeUserSettings } from './settings';

const EXIT = { usage: 64, internal: 70, harness: 71, server: 72, browser: 73, pageCrash: 74, timeout: 75 } as const;
const SCREENSHOT_MARKER = 'JOULES_SCREENSHOT';
const PANEL_STATE_LINE = /JOULES_PANEL_STATE (.+?\.json)(?=\s|$)/;
const REPO_ROOT = path.resolve(__dirname, '../../..');
const WORK_DIR = path.join(REPO_ROOT, 'test/integration/.work');

class RunnerError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

interface Options {
  extension: string;
  vsix: string | undefined;
  tests: string;
  workspace: string | undefined;
  timeoutS: number;
  screenshotDir: string;
  logDir: string;
  env: Record<string, string>;
  restricted: boolean;
  verbose: boolean;
  node: string | undefined;
  codeServer: string | undefined;
  chromium: string;
}

function usage(message: string): never {
  throw new RunnerError(EXIT.usage, `${message}\nusage: codeServer.ts --extension <dir> --tests <suite index.js> [--workspace <dir>] [--timeout-s <n>] [--screenshot-dir <dir>] [--log-dir <dir>] [--env KEY=VALUE]... [--restricted] [--verbose] [--node <file>] [--code-server <entry.js>] [--chromium <file>]`);
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        extension: { type: 'string' },
        vsix: { type: 'string' },
        tests: { type: 'string' },
        workspace: { type: 'string' },
        'timeout-s': { type: 'string' },
        'screenshot-dir': { type: 'string' },
        'log-dir': { type: 'string' },
        env: { type: 'string', multiple: true },
        restricted: { type: 'boolean' },
        verbose: { type: 'boolean' },
        node: { type: 'string' },
        'code-server': { type: 'string' },
        chromium: { type: 'string' },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (!values.extension) usage('--extension is required');
  if (!values.tests) usage('--tests is required');
  const extension = path.resolve(values.extension);
  const tests = path.resolve(values.tests);
  if (!fs.existsSync(path.join(extension, 'package.json'))) usage(`no package.json in --extension ${extension}`);
  if (!fs.existsSync(tests)) usage(`--tests ${tests} does not exist (build the suite first)`);
  const timeoutS = Number(values['timeout-s'] ?? process.env.JOULES_IT_TIMEOUT_S ?? 300);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage('--timeout-s must be a positive number');
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) usage(`--env expects KEY=VALUE, got ${pair}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (values.vsix && !fs.existsSync(values.vsix)) usage(`--vsix ${values.vsix} does not exist (npm run package first)`);
  return {
    extension,
    vsix: values.vsix ? path.resolve(values.vsix) : undefined,
    tests,
    workspace: values.workspace ? path.resolve(values.workspace) : undefined,
    timeoutS,
    screenshotDir: path.resolve(values['screenshot-dir'] ?? process.env.JOULES_IT_SCREENSHOT_DIR ?? path.join(WORK_DIR, 'screenshots')),
    logDir: path.resolve(values['log-dir'] ?? path.join(WORK_DIR, 'logs', stamp)),
    env,
    restricted: !!values.restricted,
    verbose: !!values.verbose,
    node: values.node ?? process.env.JOULES_NODE24,
    codeServer: values['code-server'] ?? process.env.JOULES_CODE_SERVER_ENTRY,
    chromium: values.chromium ?? process.env.JOULES_CHROMIUM ?? '/usr/bin/chromium',
  };
}

/** Paths of the installed harness: from the options, else from scripts/setup-integration.sh. */
function resolveHarness(opts: Options): { node: string; entry: string } {
  let node = opts.node;
  let entry = opts.codeServer;
  if (!node || !entry) {
    const setup = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/setup-integration.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (setup.status !== 0) throw new RunnerError(EXIT.harness, `scripts/setup-integration.sh failed (exit ${setup.status ?? setup.signal})`);
    const vars = Object.fromEntries(setup.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    node ??= vars.NODE24;
    entry ??= vars.CODE_SERVER_ENTRY;
  }
  for (const [what, file] of [['Node 24', node], ['code-server entry', entry], ['Chromium', opts.chromium]] as const) {
    if (!file || !fs.existsSync(file)) throw new RunnerError(EXIT.harness, `${what} not found (${file ?? 'unset'}): run scripts/setup-integration.sh`);
  }
  return { node: node as string, entry: entry as string };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Environment for code-server (and so for the extension host it forks). */
function childEnv(opts: Options, tmp: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Variables of an enclosing VS Code / code-server terminal make code-server hand the folder to
  // that instance instead of serving it; a runner-side NODE_OPTIONS (tsx loader) must not reach Node 24.
  for (const key of Object.keys(env)) {
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE' || key === 'NODE_OPTIONS' || key.startsWith('CODE_SERVER_')) delete env[key];
  }
  // code-server and the extension host put IPC sockets and scratch files under TMPDIR: keep them in
  // the run's temp folder, removed at the end.
  fs.mkdirSync(path.join(tmp, 'tmp'), { recursive: true });
  Object.assign(env, {
    TMPDIR: path.join(tmp, 'tmp'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
    JOULES_SCREENSHOT_DIR: opts.screenshotDir,
  });
  if (opts.restricted) env.JOULES_INTEGRATION_RESTRICTED = '1';
  Object.assign(env, opts.env);
  return env;
}

async function waitForServer(port: number, server: ChildProcess, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) throw new RunnerError(EXIT.server, `code-server exited during startup (${server.exitCode ?? server.signalCode})`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new RunnerError(EXIT.timeout, 'code-server did not answer /healthz in time');
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  killGroup(server, 'SIGTERM');
  const timer = setTimeout(() => killGroup(server, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function screenshotName(reason: string): string {
  return `${reason}-${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
}

/**
 * Saves a PNG of the page. `crop`: `below-title` leaves out the title bar (in a test run it names the
 * "[Extension Development Host]", which README screenshots must not show); `statusbar` keeps only the
 * status bar.
 */
async function saveScreenshot(page: Page | undefined, file: string, crop?: string): Promise<boolean> {
  if (!page || page.isClosed()) return false;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const partial = `${file}.partial`;
    const size = page.viewportSize();
    let clip: { x: number; y: number; width: number; height: number } | undefined;
    if (crop === 'below-title' && size) {
      const title = await page.$('.part.titlebar');
      const h = (await title?.boundingBox())?.height ?? 0;
      clip = { x: 0, y: h, width: size.width, height: size.height - h };
    } else if (crop === 'statusbar') {
      clip = (await (await page.$('.part.statusbar'))?.boundingBox()) ?? undefined;
    }
    await page.screenshot({ path: partial, type: 'png', timeout: 10_000, ...(clip ? { clip } : {}) });
    fs.renameSync(partial, file); // appears whole to a test polling for it
    return true;
  } catch (err) {
    console.error(`runner: screenshot ${file} failed: ${(err as Error).message}`);
    return false;
  }
}

/**
 * Writes the energy panel's debug snapshot (`window.__joulesPanelState`, a read-only getter the
 * webview always defines) from whichever frame of the page holds it; `{ "missing": true }` when no
 * frame does (the panel is not open). Written whole (rename), so a test polling for it reads it once.
 */
async function savePanelState(page: Page, file: string): Promise<void> {
  const tried: string[] = [];
  let state: unknown;
  for (const frame of page.frames()) {
    try {
      const s = await frame.evaluate(() => (window as unknown as { __joulesPanelState?: unknown }).__joulesPanelState);
      if (s !== undefined) {
        state = s;
        break;
      }
      tried.push(frame.url().slice(0, 120));
    } catch (err) {
      // a frame navigating or gone
      tried.push(`${frame.url().slice(0, 120)} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  state ??= { missing: true, frames: tried };
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.partial`, JSON.stringify(state));
    fs.renameSync(`${file}.partial`, file);
  } catch (err) {
    console.error(`runner: panel state ${file} failed: ${(err as Error).message}`);
  }
}

function codeServerVersion(entry: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(entry, '../../../package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

/** What a test logs to ask for a screenshot (see runner/screenshot.ts). */
const SCREENSHOT_LINE = new RegExp(`${SCREENSHOT_MARKER} (.+?\\.png)(?=\\s|$)`);

/** Keeps the newest `keep` run folders under the default logs folder. */
function pruneLogs(logDir: string, keep = 10): void {
  const parent = path.dirname(logDir);
  if (parent !== path.join(WORK_DIR, 'logs')) return;
  try {
    const runs = fs.readdirSync(parent).filter((d) => /^\d{4}-\d\d-\d\dT/.test(d)).sort();
    for (const old of runs.slice(0, Math.max(0, runs.length - keep))) fs.rmSync(path.join(parent, old), { recursive: true, force: true });
  } catch {
    // best effort
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const harness = resolveHarness(opts);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-it-'));
  fs.mkdirSync(opts.logDir, { recursive: true });
  pruneLogs(opts.logDir);
  fs.mkdirSync(opts.screenshotDir, { recursive: true });
  const workbenchLog = fs.createWriteStream(path.join(opts.logDir, 'workbench.log'));
  const serverLog = fs.createWriteStream(path.join(opts.logDir, 'server.log'));
  const started = Date.now();
  const deadline = started + opts.timeoutS * 1000;
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let stopping = false;

  let fail: (err: RunnerError) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (err) => {
      if (!stopping) reject(err);
    };
  });
  failed.catch(() => {}); // observed through Promise.race below

  const onSignal = (sig: NodeJS.Signals): void => fail(new RunnerError(128 + (sig === 'SIGINT' ? 2 : 15), `runner: ${sig}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const workspace = opts.workspace ?? path.join(tmp, 'workspace');
    fs.mkdirSync(workspace, { recursive: true });
    const userData = path.join(tmp, 'user-data');
    writeUserSettings(userData, opts.restricted);
    fs.writeFileSync(path.join(tmp, 'config.yaml'), 'auth: none\ncert: false\n');
    if (opts.vsix) {
      // As a user installs it: the packaged VSIX, unpacked by code-server into the extensions folder.
      const r = spawnSync(harness.node, [harness.entry, '--user-data-dir', userData, '--extensions-dir', path.join(tmp, 'extensions'), '--install-extension', opts.vsix], { cwd: tmp, env: childEnv(opts, tmp), encoding: 'utf8', timeout: 120_000 });
      serverLog.write(`install ${opts.vsix}:\n${r.stdout ?? ''}${r.stderr ?? ''}\n`);
      if (r.status !== 0) throw new RunnerError(EXIT.server, `code-server --install-extension ${opts.vsix} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`);
      console.log(`runner: installed ${path.basename(opts.vsix)} into the extensions folder`);
    }
    const port = await freePort();
    const args = [
      harness.entry,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', userData,
      '--extensions-dir', path.join(tmp, 'extensions'),
      '--config', path.join(tmp, 'config.yaml'),
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      // Makes the built workbench honour the extension development options in the URL.
      '--vscode-option', 'enable-smoke-test-driver',
      '--vscode-option', 'skip-welcome',
      ...(opts.restricted ? [] : ['--disable-workspace-trust']),
    ];
    server = spawn(harness.node, args, { cwd: tmp, env: childEnv(opts, tmp), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const srv = server;
    const serverTail: string[] = [];
    const onServerData = (chunk: Buffer): void => {
      serverLog.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) serverTail.push(line);
      serverTail.splice(0, Math.max(0, serverTail.length - 40));
      if (opts.verbose) process.stdout.write(`[server] ${chunk.toString('utf8')}`);
    };
    srv.stdout?.on('data', onServerData);
    srv.stderr?.on('data', onServerData);
    srv.on('error', (err) => fail(new RunnerError(EXIT.server, `code-server failed to start: ${err.message}`)));
    srv.on('exit', (code, signal) => {
      if (!stopping) console.error(`runner: code-server exited (${code ?? signal}); last lines:\n${serverTail.join('\n')}`);
      fail(new RunnerError(EXIT.server, `code-server died (${code ?? signal})`));
    });
    await Promise.race([waitForServer(port, srv, deadline), failed]);

    try {
      browser = await chromium.launch({
        executablePath: opts.chromium,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        env: { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'chromium-config'), XDG_CACHE_HOME: path.join(tmp, 'chromium-cache') },
      });
    } catch (err) {
      throw new RunnerError(EXIT.browser, `Chromium failed to launch: ${(err as Error).message}`);
    }
    browser.on('disconnected', () => fail(new RunnerError(EXIT.browser, 'browser disconnected')));
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    const pg = page;
    pg.on('crash', () => fail(new RunnerError(EXIT.pageCrash, 'page crashed')));

    let exitCode: (code: number) => void = () => {};
    const exited = new Promise<number>((resolve) => (exitCode = resolve));
    let screenshots: Promise<unknown> = Promise.resolve();
    let sawHostOutput = false;

    // The workbench hands every log line to codeAutomationLog(level, message) without telling where it
    // came from. Lines of the extension host's console (mocha's output) are the ones logged from
    // within MainThreadConsole.$logExtensionHostMessage (an RPC method name, kept by the minifier):
    // the page-side wrapper looks for it on the call stack.
    await pg.exposeFunction('__joulesAutomationLog', (level: string, message: unknown, fromExtensionHost: boolean) => {
      // The message arrives as a string or as the logger's argument list.
      const text = typeof message === 'string' ? message : Array.isArray(message) ? message.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ') : JSON.stringify(message);
      workbenchLog.write(`${level}\t${fromExtensionHost ? 'exthost\t' : ''}${text}\n`);
      if (fromExtensionHost) sawHostOutput = true;
      if (fromExtensionHost) process.stdout.write(`${text}\n`);
      else if (opts.verbose) process.stdout.write(`[workbench ${level}] ${text}\n`);
      const state = fromExtensionHost ? PANEL_STATE_LINE.exec(text) : null;
      if (state?.[1]) void savePanelState(pg, state[1]);
      const shot = SCREENSHOT_LINE.exec(text);
      if (shot?.[1]) {
        const file = shot[1];
        const crop = /crop=([\w-]+)/.exec(text)?.[1];
        screenshots = screenshots.then(async () => {
          if (await saveScreenshot(pg, file, crop)) console.log(`runner: screenshot saved: ${path.relative(process.cwd(), file) || file}`);
        });
      }
    });
    await pg.addInitScript(() => {
      const w = window as unknown as {
        codeAutomationLog?: (level: string, message: unknown) => void;
        __joulesAutomationLog?: (level: string, message: unknown, fromExtensionHost: boolean) => Promise<void>;
      };
      w.codeAutomationLog = (level, message) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 100;
        const stack = new Error().stack ?? '';
        Error.stackTraceLimit = limit;
        void w.__joulesAutomationLog?.(level, message, stack.includes('$logExtensionHostMessage'));
      };
    });
    await pg.exposeFunction('codeAutomationExit', async (code: number, logs?: { relativePath: string; contents: string }[]) => {
      for (const log of logs ?? []) {
        try {
          const file = path.join(opts.logDir, 'vscode', path.normalize(log.relativePath).replace(/^(\.\.(\/|\\|$))+/, ''));
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, log.contents);
        } catch {
          // logs are a convenience
        }
      }
      exitCode(code);
    });

    const remote = (p: string): string => `vscode-remote://127.0.0.1:${port}${p.split(path.sep).map(encodeURIComponent).join('/')}`;
    const payload = [
      ['extensionDevelopmentPath', remote(opts.extension)],
      ['extensionTestsPath', remote(opts.tests)],
      ['skipWelcome', 'true'],
    ];
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    console.log(`runner: code-server ${codeServerVersion(harness.entry)} at http://127.0.0.1:${port}/${opts.restricted ? ' [restricted mode]' : ''}; logs in ${path.relative(process.cwd(), opts.logDir) || opts.logDir}`);

    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RunnerError(EXIT.timeout, `timed out after ${opts.timeoutS} s`)), Math.max(0, remaining));
    });
    try {
      await Promise.race([pg.goto(url, { waitUntil: 'domcontentloaded', timeout: Math.max(1000, remaining) }), failed, timedOut]);
      const code = await Promise.race([exited, failed, timedOut]);
      await screenshots;
      if (!sawHostOutput) console.log(`runner: no extension host output arrived; see ${path.join(opts.logDir, 'workbench.log')}`);
      console.log(`runner: extension host exited with ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return code;
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    const e = err instanceof RunnerError ? err : new RunnerError(EXIT.internal, (err as Error).stack ?? String(err));
    console.error(`runner: ${e.message}`);
    if (e.code !== EXIT.pageCrash && e.code !== EXIT.browser && page) {
      const file = path.join(opts.screenshotDir, screenshotName(e.code === EXIT.timeout ? 'timeout' : 'failure'));
      if (await saveScreenshot(page, file)) console.error(`runner: screenshot of the page: ${file}`);
    }
    return e.code;
  } finally {
    stopping = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await browser?.close().catch(() => {});
    if (server) await stopServer(server);
    workbenchLog.end();
    serverLog.end();
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof RunnerError) {
      console.error(`runner: ${err.message}`);
      process.exit(err.code);
    }
    console.error(err);
    process.exit(EXIT.internal);
  },
);
