// Shared helpers of the Joules integration suite (runs inside the extension host).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { JoulesApi } from '../../../src/vscode/extension';

export const EXTENSION_ID = 'joules-dev.joules';

/**
 * Which run of the suite this is, from the environment runAll.mjs gives the extension host:
 * `restricted` (the runner's --restricted), `noGpu` (JOULES_NVML_LIBRARY names a missing file),
 * else `gpu` (the fake NVML library with twoGpus.scn).
 */
export type SuiteMode = 'gpu' | 'restricted' | 'noGpu';

export function suiteMode(): SuiteMode {
  if (process.env.JOULES_INTEGRATION_RESTRICTED === '1') return 'restricted';
  const lib = process.env.JOULES_NVML_LIBRARY;
  if (!lib || !fs.existsSync(lib)) return 'noGpu';
  return 'gpu';
}

/** Skip the enclosing suite unless this run is in `mode`. */
export function onlyIn(mode: SuiteMode): void {
  suiteSetup(function () {
    if (suiteMode() !== mode) this.skip();
  });
}

export async function joules(): Promise<JoulesApi> {
  const ext = vscode.extensions.getExtension<JoulesApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not installed in this extension host`);
  const api = await ext.activate();
  await api.ready;
  return api;
}

/** The fixture workspace the runner opened. */
export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the runner must open test/integration/fixtures/workspace');
  return folder.uri.fsPath;
}

export function fixture(name: string): string {
  return path.join(workspaceDir(), name);
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** Poll until `check` returns a truthy value; fail with `what` (and the last value) after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 100): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Alive and not a zombie (a zombie has exited; only its parent has not collected it yet). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Start a run through the command, as a user's keybinding or another extension would. */
export async function startRun(command: string, args: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const id = await vscode.commands.executeCommand<string | undefined>('joules.startRun', { command, args, cwd: workspaceDir(), ...extra });
  assert.ok(id, `joules.startRun did not start ${command} ${args.join(' ')}`);
  return id;
}

export async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('joules').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Live (non-zombie) processes whose process group is `pgid` (Linux /proc). */
export function liveGroupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command name: state, ppid, pgrp, ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * Starts `args` with the fake NVML library playing `scenario` from the run's first tick: the run's
 * sampler worker loads a fresh copy of the library (so its scenario clock starts at the run's
 * nvmlInit), and the environment is restored as soon as the run has started, so the wattmeter and
 * the other tests keep the suite's scenario.
 */
export async function startWithScenario(scenario: string, command: string, args: string[]): Promise<string> {
  const lib = process.env.JOULES_NVML_LIBRARY;
  assert.ok(lib && fs.existsSync(lib), 'gpu mode runs with the fake NVML library');
  const copy = path.join(os.tmpdir(), `joules-it-nvml-${process.pid}-${Date.now()}.so`);
  fs.copyFileSync(lib, copy);
  const saved = { JOULES_NVML_LIBRARY: process.env.JOULES_NVML_LIBRARY, FAKE_NVML_SCENARIO: process.env.FAKE_NVML_SCENARIO };
  process.env.JOULES_NVML_LIBRARY = copy;
  process.env.FAKE_NVML_SCENARIO = scenario;
  try {
    return await startRun(command, args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    // Loaded libraries stay mapped: removing the file is safe.
    fs.rmSync(copy, { force: true });
  }
}
