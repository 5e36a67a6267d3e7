import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CarbonSettings } from '../core/units/carbon';

/**
 * Settings whose workspace value could make Joules run something the workspace chose (an
 * interpreter) or write somewhere it chose (the history folder). In Restricted Mode only the user's
 * own (global) value counts. Keep in sync with `capabilities.untrustedWorkspaces.restrictedConfigurations`.
 */
export const RESTRICTED_SETTINGS = ['joules.python.path', 'joules.history.directory'] as const;

const SECTION = 'joules';

/** One typed getter per `joules.*` setting (package.json `contributes.configuration`). */
export class Config {
  constructor(private readonly isTrusted: () => boolean = () => vscode.workspace.isTrusted) {}

  /** `joules.sampling.intervalMs`: sampler tick of a run (nvidia-smi `-lms`), 20-10000. */
  get sampleIntervalMs(): number {
    return clamp(this.number('sampling.intervalMs', 100), 20, 10_000);
  }

  /** `joules.sampling.powerSamplesPerSecond`: power points kept per second from the driver's ring, 1-50. */
  get powerSamplesPerSecond(): number {
    return clamp(this.number('sampling.powerSamplesPerSecond', 50), 1, 50);
  }

  /** `joules.statusBar.ambient`: show all GPUs' power between runs (samples NVML once a second). */
  get ambientWattmeter(): boolean {
    return this.get<boolean>('statusBar.ambient', true) === true;
  }

  /** `joules.warnings.idleSeconds`: GPUs idle this long turn the wattmeter to the warning colour. */
  get idleWarningS(): number {
    return Math.max(1, this.number('warnings.idleSeconds', 30));
  }

  /** `joules.warnings.starvedSeconds`: GPUs starved this long turn the wattmeter to the warning colour. */
  get starvedWarningS(): number {
    return Math.max(1, this.number('warnings.starvedSeconds', 60));
  }

  /** `joules.warnings.starvedUtilPct`: below this utilisation (and above 0) a GPU counts as starved. */
  get starvedUtilPct(): number {
    return clamp(this.number('warnings.starvedUtilPct', 30), 1, 100);
  }

  /**
   * `joules.history.directory`: where runs are stored; undefined = the extension's storage.
   * Relative paths and `~` resolve against the home folder.
   */
  get historyDirectory(): string | undefined {
    const v = this.restricted<string>('history.directory');
    return v?.trim() ? path.resolve(os.homedir(), expandHome(v.trim())) : undefined;
  }

  /** `joules.notebooks.cellEnergy`: measure each notebook cell's GPU energy while a notebook is open. */
  get notebookCellEnergy(): boolean {
    return this.get<boolean>('notebooks.cellEnergy', true) === true;
  }

  /** `joules.watchdog.idleMinutes`: tell the user about a process holding an idle GPU this long; 0 = off. */
  get watchdogIdleMinutes(): number {
    const v = this.number('watchdog.idleMinutes', 15);
    return v <= 0 ? 0 : clamp(v, 0.05, 7 * 24 * 60);
  }

  /** `joules.history.maxRuns`: finished runs kept (the oldest go first). */
  get historyMaxRuns(): number {
    return Math.max(1, Math.floor(this.number('history.maxRuns', 200)));
  }

  /** `joules.history.maxSizeMB`: history size bound in megabytes (10^6 bytes). */
  get historyMaxBytes(): number {
    return Math.max(1, this.number('history.maxSizeMB', 1024)) * 1e6;
  }

  /**
   * `joules.python.path`: interpreter override; undefined = the Python extension's choice, else
   * python3/python. A relative path resolves against the first workspace folder.
   */
  get pythonPath(): string | undefined {
    const v = this.restricted<string>('python.path')?.trim();
    if (!v) return undefined;
    const expanded = expandHome(v);
    if (path.isAbsolute(expanded) || !/[\\/]/.test(expanded)) return expanded;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return folder ? path.resolve(folder, expanded) : expanded;
  }

  /** `joules.run.stopGraceSeconds`: time between SIGINT, SIGTERM and SIGKILL when stopping a run. */
  get stopGraceS(): number {
    return clamp(this.number('run.stopGraceSeconds', 5), 0, 600);
  }

  /** `joules.run.watchAfterExitSeconds`: GPUs are watched this long after a run exits (leak check). */
  get watchAfterExitS(): number {
    return clamp(this.number('run.watchAfterExitSeconds', 3), 0, 60);
  }

  /**
   * `joules.carbon.region`, `joules.carbon.intensityGPerKWh`, `joules.pue`, `joules.cost.pricePerKWh`,
   * `joules.cost.currency`: what turns a run's energy into carbon and cost (src/core/units/carbon.ts).
   * Out-of-range numbers are passed on as typed: carbonFigures reports them instead of guessing.
   */
  get carbon(): CarbonSettings {
    const s: CarbonSettings = {};
    const region = this.get<unknown>('carbon.region', '');
    if (typeof region === 'string' && region.trim()) s.region = region.trim().slice(0, 64);
    const intensity = this.get<unknown>('carbon.intensityGPerKWh', null);
    if (typeof intensity === 'number') s.intensityGPerKWh = intensity;
    const pue = this.get<unknown>('pue', 1);
    if (typeof pue === 'number') s.pue = pue;
    const price = this.get<unknown>('cost.pricePerKWh', null);
    if (typeof price === 'number') s.pricePerKWh = price;
    const currency = this.get<unknown>('cost.currency', 'USD');
    if (typeof currency === 'string' && currency.trim()) s.currency = currency.trim().slice(0, 16);
    return s;
  }

  /** Fires when any `joules.*` setting changes (the key is relative, e.g. `history.directory`). */
  onDidChange(listener: (affects: (key: string) => boolean) => void): vscode.Disposable {
    return vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) listener((key) => e.affectsConfiguration(`${SECTION}.${key}`));
    });
  }

  private get<T>(key: string, fallback: T): T {
    return vscode.workspace.getConfiguration(SECTION).get<T>(key, fallback);
  }

  private number(key: string, fallback: number): number {
    const v = this.get<unknown>(key, fallback);
    return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
  }

  /**
   * A restricted setting: in an untrusted workspace, workspace and folder values are ignored even
   * if the host would apply them (VS Code filters them too, but this must not depend on it).
   */
  private restricted<T>(key: string): T | undefined {
    const config = vscode.workspace.getConfiguration(SECTION);
    if (this.isTrusted()) return config.get<T>(key);
    const i = config.inspect<T>(key);
    return i?.globalValue ?? i?.defaultValue;
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}

function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/') || p.startsWith('~\\')) return path.join(os.homedir(), p.slice(2));
  return p;
}
