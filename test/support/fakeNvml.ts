import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// The fake library is built from C by the test setup (needs a C compiler: see .ci/run).
import { buildFakeNvml } from '../fake-nvml/build.mjs';

export const SCENARIOS = path.join(__dirname, '..', 'fake-nvml', 'scenarios');

let built: Promise<{ full: string; legacy: string }> | undefined;

/**
 * A private copy of the fake NVML library with `scenario` in force. Each copy is a separate
 * dlopen() with its own state and clock, so tests do not share scenario time.
 */
export async function fakeNvml(scenario: string, opts: { legacy?: boolean; speed?: number } = {}): Promise<string> {
  built ??= buildFakeNvml();
  const libs = await built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-fake-nvml-'));
  const lib = path.join(dir, 'libnvidia-ml.so.1');
  fs.copyFileSync(opts.legacy ? libs.legacy : libs.full, lib);
  // The library reads these with getenv() at its first nvmlInit.
  process.env.FAKE_NVML_SCENARIO = path.isAbsolute(scenario) ? scenario : path.join(SCENARIOS, scenario);
  process.env.FAKE_NVML_SPEED = String(opts.speed ?? 1);
  delete process.env.FAKE_NVML_TIME_OFFSET_S;
  return lib;
}

/** Write a scenario file to a temp dir. */
export function writeScenario(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-scn-'));
  const file = path.join(dir, 'test.scn');
  fs.writeFileSync(file, text);
  return file;
}
