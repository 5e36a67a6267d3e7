/**
 * `npm run bench:activation`: what activating the extension costs, against the 50 ms budget.
 *
 * The extension is bundled exactly as scripts/build.mjs does (esbuild, CommonJS), except that
 * `vscode` resolves to a stub: a minimal fake of the API surface activate() touches, in which
 * every call returns at once. What is timed is therefore Joules's own cost: loading the bundle
 * (parse + module evaluation) and running activate().
 *
 * - cold: a fresh Node process per sample (no V8 code cache, no warm require cache), which is what
 *   an editor window pays once. Timed inside the child, from before require() to after activate().
 *   Also with the Node built-ins preloaded that VS Code's extension host has loaded anyway
 *   (child_process alone costs a fresh Node ~10 ms the first time).
 * - warm: the same process, the bundle dropped from require's cache between samples.
 * - deferred start-up: the work activate() schedules for later (history recovery, the ambient
 *   wattmeter's worker), timed until the API's `ready` resolves; it is off the activation path.
 *
 *   npx tsx bench/activation.ts [--runs N]        (BENCH_RUNS also sets N; default 30 cold, 200 warm)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';

const BUDGET_MS = 50;
// The repository; children get it on their command line (they run from a bundle in dist/bench/).
let root = path.resolve(__dirname, '..');
const STUB_GLOBAL = '__joulesBenchVscode';
// CommonJS require on purpose: the extension host loads the bundle exactly this way.
const load = createRequire(__filename);

interface Sample {
  requireMs: number;
  activateMs: number;
  totalMs: number;
  readyMs: number;
}

// ---- the stubbed `vscode` module ---------------------------------------------------------------

type Listener = (e: unknown) => void;

class EventEmitter {
  private readonly listeners = new Set<Listener>();
  readonly event = (l: Listener): { dispose(): void } => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(e: unknown): void {
    for (const l of this.listeners) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

const disposable = (): { dispose(): void } => ({ dispose: () => undefined });

class Memento {
  private readonly values = new Map<string, unknown>();
  get<T>(key: string, fallback?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : fallback;
  }
  update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
  keys(): string[] {
    return [...this.values.keys()];
  }
}

/** Errors the extension showed the user during a sample (a failed deferred start-up would show one). */
const shownErrors: string[] = [];

/**
 * A value for any API the explicit stub below does not model: callable, constructible, and every
 * property is again such a value, so code that merely registers things runs through.
 */
const anything: unknown = new Proxy(function () {}, {
  get: (_t, key) => (key === 'then' ? undefined : key === Symbol.toPrimitive ? () => '' : anything),
  apply: () => anything,
  construct: () => anything as object,
});

function withFallback<T extends object>(o: T): T {
  return new Proxy(o, { get: (t, key) => (key in t ? (t as Record<string | symbol, unknown>)[key] : anything) });
}

/** The API surface the extension reaches at load and activation; everything else is a no-op. */
function vscodeStub(): Record<string, unknown> {
  class ThemeIcon {
    constructor(
      readonly id: string,
      readonly color?: unknown,
    ) {}
  }
  class ThemeColor {
    constructor(readonly id: string) {}
  }
  class MarkdownString {
    isTrusted: unknown;
    constructor(
      public value = '',
      readonly supportThemeIcons = false,
    ) {}
    appendMarkdown(v: string): this {
      this.value += v;
      return this;
    }
    appendCodeblock(v: string): this {
      this.value += v;
      return this;
    }
  }
  class TreeItem {
    constructor(
      readonly label: string,
      readonly collapsibleState = 0,
    ) {}
  }
  const file = (fsPath: string): Record<string, unknown> => ({ scheme: 'file', fsPath, path: fsPath, toString: () => `file://${fsPath}` });
  const noop = (): undefined => undefined;
  const config = { get: <T>(_key: string, fallback?: T) => fallback, inspect: noop, update: () => Promise.resolve() };
  return withFallback({
    EventEmitter,
    ThemeIcon,
    ThemeColor,
    MarkdownString,
    TreeItem,
    Disposable: class {
      constructor(readonly dispose: () => void) {}
    },
    Uri: { file, joinPath: (base: { fsPath: string }, ...parts: string[]) => file(path.join(base.fsPath, ...parts)) },
    StatusBarAlignment: { Left: 1, Right: 2 },
    // Used at module load by the findings code; the bundle's namespace import copies own
    // properties only, so these must be listed rather than left to the fallback.
    CodeActionKind: { QuickFix: anything, Empty: anything },
    DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
    Range: anything,
    Position: anything,
    Diagnostic: anything,
    DiagnosticRelatedInformation: anything,
    CodeAction: anything,
    Hover: anything,
    Location: anything,
    WorkspaceEdit: anything,
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
    window: withFallback({
      createStatusBarItem: () => ({ show: noop, hide: noop, dispose: noop }),
      createTreeView: () => disposable(),
      createOutputChannel: () => ({ info: noop, warn: noop, error: noop, dispose: noop }),
      createTerminal: () => ({ show: noop, dispose: noop }),
      showInformationMessage: () => Promise.resolve(undefined),
      showWarningMessage: () => Promise.resolve(undefined),
      showErrorMessage: (message: string) => {
        shownErrors.push(message);
        return Promise.resolve(undefined);
      },
    }),
    commands: withFallback({ registerCommand: disposable, executeCommand: () => Promise.resolve(undefined) }),
    tasks: withFallback({ registerTaskProvider: disposable }),
    workspace: withFallback({
      isTrusted: true,
      workspaceFolders: undefined,
      getConfiguration: () => config,
      onDidChangeConfiguration: disposable,
      onDidGrantWorkspaceTrust: disposable,
      onDidChangeTextDocument: disposable,
      onDidCloseTextDocument: disposable,
      onDidSaveTextDocument: disposable,
      textDocuments: [],
    }),
    extensions: withFallback({ getExtension: noop }),
    languages: withFallback({ createDiagnosticCollection: () => withFallback({ dispose: noop }), registerCodeActionsProvider: disposable, registerHoverProvider: disposable }),
  });
}

function fakeContext(storageDir: string): Record<string, unknown> {
  const file = (fsPath: string): Record<string, unknown> => ({ scheme: 'file', fsPath, path: fsPath });
  return {
    subscriptions: [] as Array<{ dispose(): void }>,
    workspaceState: new Memento(),
    globalState: new Memento(),
    globalStorageUri: file(storageDir),
    extensionUri: file(root),
    extensionPath: root,
    asAbsolutePath: (rel: string) => path.join(root, rel),
  };
}

// ---- measuring ---------------------------------------------------------------------------------

interface ExtensionModule {
  activate(context: unknown): { ready: Promise<void> };
  deactivate(): Promise<void>;
}

/** One sample in this process: require (uncached) + activate, then wait for the deferred start-up. */
async function sampleOnce(bundle: string): Promise<Sample> {
  (globalThis as Record<string, unknown>)[STUB_GLOBAL] = vscodeStub();
  delete load.cache[load.resolve(bundle)];
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-bench-activation-'));
  const context = fakeContext(storage);
  const t0 = performance.now();
  const mod = load(bundle) as ExtensionModule;
  const t1 = performance.now();
  const api = mod.activate(context);
  const t2 = performance.now();
  await api.ready;
  const t3 = performance.now();
  if (shownErrors.length) throw new Error(`the extension showed an error: ${shownErrors.join('; ')}`);
  await mod.deactivate();
  fs.rmSync(storage, { recursive: true, force: true });
  return { requireMs: t1 - t0, activateMs: t2 - t1, totalMs: t2 - t0, readyMs: t3 - t2 };
}

/**
 * Bundle `entry` for Node (as scripts/build.mjs does); `stubVscode`: `vscode` resolves to the stub;
 * `withoutFindings`: the findings module (tree-sitter and the analysis) is left out, to show what
 * its share of the bundle costs at load even though it only runs after activation.
 */
async function bundle_(entry: string, name: string, stubVscode: boolean, withoutFindings = false): Promise<string> {
  // Under dist/bench/ (git-ignored), so the bundle resolves node_modules like the real one.
  const outfile = path.join(root, 'dist', 'bench', `activation-${name}-${process.pid}.js`);
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['koffi', 'tsx/cjs', 'esbuild'],
    logLevel: 'error',
    plugins: stubVscode
      ? [
          {
            name: 'vscode-stub',
            setup(build) {
              build.onResolve({ filter: /^vscode$/ }, () => ({ path: 'vscode', namespace: 'vscode-stub' }));
              build.onLoad({ filter: /.*/, namespace: 'vscode-stub' }, () => ({ contents: `module.exports = globalThis.${STUB_GLOBAL};`, loader: 'js' }));
              if (withoutFindings) {
                build.onResolve({ filter: /findings\/findingsController$/ }, () => ({ path: 'findings', namespace: 'no-findings' }));
                build.onLoad({ filter: /.*/, namespace: 'no-findings' }, () => ({
                  contents: 'exports.registerFindings = () => ({ dispose() {} }); exports.runEndsOf = () => () => ({ dispose() {} });',
                  loader: 'js',
                }));
              }
            },
          },
        ]
      : [],
  });
  return outfile;
}

function stats(values: number[]): { median: number; p95: number; min: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p95: at(0.95), min: s[0]! };
}

function line(label: string, values: number[]): string {
  const { median, p95, min } = stats(values);
  return `${label.padEnd(44)} median ${median.toFixed(2).padStart(6)} ms   p95 ${p95.toFixed(2).padStart(6)} ms   min ${min.toFixed(2).padStart(6)} ms   ${(median / BUDGET_MS).toFixed(3)}x of ${BUDGET_MS} ms`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    // Samples printed as JSON lines for the parent: the first is cold, the rest warm.
    root = args[3] ?? root;
    // VS Code's extension host has these loaded long before any extension activates.
    if (args[4] === 'preload') for (const m of ['node:child_process', 'node:worker_threads', 'node:crypto', 'node:os']) load(m);
    const n = Number(args[2] ?? 1);
    for (let i = 0; i < n; i++) process.stdout.write(JSON.stringify(await sampleOnce(args[1]!)) + '\n');
    process.exit(0);
  }
  const runsArg = args.indexOf('--runs');
  const runs = Number(runsArg >= 0 ? args[runsArg + 1] : (process.env.BENCH_RUNS ?? 30));
  const bundle = await bundle_(path.join(root, 'src/vscode/extension.ts'), 'extension', true);
  const lean = await bundle_(path.join(root, 'src/vscode/extension.ts'), 'lean', true, true);
  // The children run this file compiled to plain JavaScript: under tsx, its require hook would
  // transform the bundle on load and be timed with it.
  const self = await bundle_(__filename, 'bench', false);
  const sizeKb = fs.statSync(bundle).size / 1024;
  console.log(`Joules activation benchmark: extension bundle ${sizeKb.toFixed(0)} kB, stubbed vscode API, Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}`);

  const child = (n: number, preload = false, file = bundle): Sample[] => {
    const r = spawnSync(process.execPath, [self, '--child', file, String(n), root, preload ? 'preload' : ''], { encoding: 'utf8', env: process.env });
    if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Sample);
  };
  const cold: Sample[] = [];
  const coldPreloaded: Sample[] = [];
  const coldLean: Sample[] = [];
  // Interleaved, so a busy moment on the machine hits every series alike.
  for (let i = 0; i < runs; i++) {
    cold.push(child(1)[0]!);
    coldPreloaded.push(child(1, true)[0]!);
    coldLean.push(child(1, false, lean)[0]!);
  }
  // Warm: one process, the first (cold) sample dropped.
  const warm = child(runs * 5 + 1).slice(1);
  const leanKb = fs.statSync(lean).size / 1024;
  for (const f of [bundle, lean, self]) fs.rmSync(f, { force: true });

  console.log(`\ncold: a fresh process per sample (N=${cold.length})`);
  console.log(line('  require(bundle) + activate()', cold.map((s) => s.totalMs)));
  console.log(line('    of which require(bundle)', cold.map((s) => s.requireMs)));
  console.log(line('    of which activate()', cold.map((s) => s.activateMs)));
  console.log(line('  deferred start-up (after activate returns)', cold.map((s) => s.readyMs)));
  console.log(`\ncold, with the Node built-ins the extension host has already loaded (child_process, worker_threads, crypto, os) (N=${coldPreloaded.length})`);
  console.log(line('  require(bundle) + activate()', coldPreloaded.map((s) => s.totalMs)));
  console.log(line('    of which activate()', coldPreloaded.map((s) => s.activateMs)));
  console.log(`\ncold, the same bundle without the findings module (${leanKb.toFixed(0)} kB instead of ${sizeKb.toFixed(0)} kB) (N=${coldLean.length})`);
  console.log(line('  require(bundle) + activate()', coldLean.map((s) => s.totalMs)));
  console.log(`  ratio with / without the findings module: ${(stats(cold.map((s) => s.totalMs)).median / stats(coldLean.map((s) => s.totalMs)).median).toFixed(2)}x (medians)`);
  console.log(`\nwarm: same process, bundle re-required (N=${warm.length})`);
  console.log(line('  require(bundle) + activate()', warm.map((s) => s.totalMs)));
  console.log(line('    of which activate()', warm.map((s) => s.activateMs)));
  const coldMedian = stats(cold.map((s) => s.totalMs)).median;
  console.log(`\nactivation (cold median) ${coldMedian.toFixed(2)} ms = ${(coldMedian / BUDGET_MS).toFixed(3)}x the ${BUDGET_MS} ms budget: ${coldMedian < BUDGET_MS ? 'within' : 'OVER'} budget`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
