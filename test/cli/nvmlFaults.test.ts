/**
 * Energy stays honest when NVML misbehaves: each fault is injected through the fake NVML library
 * and observed the way a user does, through `joules run` / `joules devices` (the built CLI), the
 * printed summary, `--json`, the exit code and the stored record.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../support/fakeNvml';
import type { Result } from './support';
import { BIN, ROOT } from './support';


interface GpuJson {
  index: number;
  energyJ: number;
  energyMethod: string;
  energyMethodReason?: string;
  counterS?: number;
  integratedS?: number;
  gapS?: number;
  counterFailedAtS?: number;
  lostAtS?: number;
}

interface RunJson {
  id: string;
  durationS: number;
  energyJ: number;
  energyMethod: string;
  exitCode: number;
  gpus: GpuJson[];
  errors?: Record<string, number>;
  markers?: Array<{ label: string; tS: number; energyJ: number }>;
  unavailableGpus?: Array<{ index: number; error: string }>;
}

/** A python one-liner: sleep, print a marker (a counter read), sleep. */
function script(parts: Array<number | string>): string {
  return `import time\n${parts.map((p) => (typeof p === 'number' ? `time.sleep(${p})` : `print(${JSON.stringify(p)}, flush=True)`)).join('\n')}\n`;
}

describe('energy under NVML faults (joules CLI + fake NVML)', function () {
  this.timeout(120_000);
  let store: string;

  before(() => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
  });
  beforeEach(() => (store = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-faults-'))));

  /** Run the CLI against a private copy of the fake library with `scenario` in force. */
  async function joules(scenario: string, args: string[]): Promise<Result> {
    const lib = await fakeNvml(writeScenario(scenario));
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, JOULES_NVML_LIBRARY: lib },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async function runJson(scenario: string, py: string, extra: string[] = []): Promise<{ json: RunJson; r: Result; text: string }> {
    const r = await joules(scenario, ['run', '--json', '--no-analysis', '--store', store, ...extra, '--', 'python3', '-c', py]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as RunJson;
    // The human summary of the same stored run, as `joules report` prints it.
    const rep = spawnSync(process.execPath, [BIN, 'report', json.id, '--store', store], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(rep.status, 0, rep.stderr);
    return { json, r, text: rep.stdout };
  }

  /** The stored record's gaps (samples.jsonl lines carry them under `g`). */
  function storedGaps(id: string): Array<{ gpu: number; startMs: number; endMs?: number; reason: string }> {
    const lines = fs.readFileSync(path.join(store, id, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean);
    return lines.flatMap((l) => (JSON.parse(l) as { g?: Array<{ gpu: number; startMs: number; endMs?: number; reason: string }> }).g ?? []);
  }

  const CONSTANT_300W = 'device name="NVIDIA H200 (fake)" arch=hopper\nat 0 power=300W util=100\n';

  it('the counter failing mid-run: energy goes on from integrated power, labelled counter+integrated with each method\'s time', async () => {
    // The counter works for the marker at ~1 s, then fails from 5 s on (its later reads all fail).
    // The scenario clock starts before Python does: margins of seconds keep the "before" marker
    // ahead of the fault and the "after" one past it on a loaded machine.
    const { json, text } = await runJson(
      `${CONSTANT_300W}fault error gpu=0 metric=energy code=unknown from=5\n`,
      script([1, '::joules mark before', 5.5, '::joules mark after', 1]),
    );
    const g = json.gpus[0]!;
    // 300 W throughout: the whole run's energy, not 0 J and not the counter's partial figure.
    assert.ok(Math.abs(json.energyJ - 300 * json.durationS) < 300 * 0.15, `${json.energyJ} J over ${json.durationS} s`);
    assert.equal(g.energyMethod, 'counter+integrated');
    assert.equal(json.energyMethod, 'counter+integrated');
    const before = json.markers!.find((m) => m.label === 'before')!;
    assert.ok(Math.abs(g.counterS! - before.tS) < 0.3 && g.counterS! < 5, `counterS ${g.counterS}, last good read at ${before.tS}`);
    assert.ok(Math.abs(g.counterS! + g.integratedS! - json.durationS) < 0.3, `${g.counterS} + ${g.integratedS} vs ${json.durationS}`);
    // The first failed read was the second marker's.
    const after = json.markers!.find((m) => m.label === 'after')!;
    assert.ok(Math.abs(g.counterFailedAtS! - after.tS) < 0.05, `failed at ${g.counterFailedAtS}, marker at ${after.tS}`);
    assert.ok((json.errors?.['nvmlDeviceGetTotalEnergyConsumption: UNKNOWN'] ?? 0) >= 2, JSON.stringify(json.errors));
    assert.match(text, /energy\s+[\d,.]+ k?J .*hardware counter, then integrated power where it failed/);
    assert.match(text, /energy: counter for \d+\.\d s, then integrated power for \d+\.\d s after the counter failed \(a read failed at \d+\.\d s\)/);
    assert.doesNotMatch(text, /energy\s+0\.0 J/);
  });

  it('a failing final counter read keeps the energy since the last good read (no -14 %)', async () => {
    // Only the read at the exit fails: the counter was read at the marker (~1 s), and works until 5 s.
    const { json, text } = await runJson(`${CONSTANT_300W}fault error gpu=0 metric=energy code=unknown from=5\n`, script([1, '::joules mark m', 5.5]));
    const g = json.gpus[0]!;
    assert.ok(Math.abs(json.energyJ - 300 * json.durationS) < 300 * 0.15, `${json.energyJ} J over ${json.durationS} s`);
    assert.equal(g.energyMethod, 'counter+integrated');
    assert.ok(g.integratedS! > 4.5, `integratedS ${g.integratedS}`);
    assert.ok(Math.abs(g.counterFailedAtS! - json.durationS) < 0.3, `failed at ${g.counterFailedAtS} of ${json.durationS}`);
    assert.match(text, /then integrated power for/);
  });

  it('failed power readings are gaps: counted in errors, not bridged, their time stated (GPU without a counter)', async () => {
    // A Pascal-like GPU (no counter, no instant field, no ring) at 300 W until 1 s, then 50 W; power
    // reads fail from 1 s to 2.5 s. Bridging 300 W -> 50 W across the failure would add ~190 J.
    const { json, text } = await runJson(
      'device name="Tesla P100-PCIE-16GB" arch=pascal\nat 0 power=300W util=90\nat 1 power=50W util=10\n' +
        'fault not_supported metric=energyCounter,powerInstant,powerSamples\n' +
        'fault error gpu=0 metric=power code=unknown from=1 to=2.5\n',
      script([3.5]),
    );
    const g = json.gpus[0]!;
    assert.equal(g.energyMethod, 'integrated');
    assert.ok(g.gapS! > 1.2 && g.gapS! < 1.9, `gapS ${g.gapS}`);
    assert.ok((json.errors?.['nvmlDeviceGetPowerUsage: UNKNOWN'] ?? 0) >= 10, JSON.stringify(json.errors));
    // Measured time only: 300 W for the first ~1 s and 50 W after the gap; at most the truth.
    const truthJ = 300 * 1 + 50 * (json.durationS - 1);
    assert.ok(json.energyJ <= truthJ + 30, `${json.energyJ} J > truth ${truthJ} J`);
    assert.ok(json.energyJ >= truthJ - 50 * 1.9 - 30 - 300 * 0.3, `${json.energyJ} J, truth ${truthJ} J`);
    const gaps = storedGaps(json.id).filter((x) => /power reading failed/.test(x.reason));
    assert.equal(gaps.length, 1, JSON.stringify(gaps));
    assert.ok(gaps[0]!.endMs! - gaps[0]!.startMs > 1200, JSON.stringify(gaps));
    assert.match(gaps[0]!.reason, /NVML_ERROR_UNKNOWN/);
    assert.match(text, /energy: integrated power; \d\.\d s without power readings not counted/);
  });

  it('a GPU lost mid-run is named, with when, in the summary and in --json; the other GPU is still measured', async () => {
    const { json, text } = await runJson(
      'device arch=hopper\nat 0 power=420W util=90\ndevice arch=hopper\nat 0 power=415W util=89\nfault lost gpu=1 at=1.0\n',
      script([2.5]),
    );
    const [g0, g1] = json.gpus;
    assert.equal(g0!.lostAtS, undefined);
    assert.ok(Math.abs(g0!.energyJ - 420 * json.durationS) < 420 * 0.1, `GPU 0 ${g0!.energyJ} J`);
    assert.equal(g0!.energyMethod, 'counter');
    // Lost at scenario time 1.0 s; the run's epoch comes a little after the library's first init.
    assert.ok(g1!.lostAtS! >= 0.5 && g1!.lostAtS! <= 1.1, `lost at ${g1!.lostAtS}`);
    // GPU 1's energy covers the time before the loss only.
    assert.ok(g1!.energyJ < 415 * 1.5, `GPU 1 ${g1!.energyJ} J`);
    assert.match(text, /GPU 1 .*\n\s+energy: .*\n\s+LOST at \d\.\d s \(NVML_ERROR_GPU_IS_LOST\)/);
  });

  for (const [what, fault] of [
    ['lost before the start', 'fault lost gpu=1 at=0'],
    ['failing to open (handle)', 'fault error gpu=1 metric=handle code=unknown'],
    ['failing to open (uuid)', 'fault error gpu=1 metric=uuid code=unknown'],
  ] as const) {
    it(`a GPU ${what}: devices lists it with its error, run measures the healthy one`, async () => {
      const scenario = `device arch=hopper\nat 0 power=300W util=100\ndevice name="NVIDIA H200 (bad)" arch=hopper\nat 0 power=200W\n${fault}\n`;
      const dev = await joules(scenario, ['devices']);
      assert.equal(dev.code, 0, dev.stderr);
      assert.match(dev.stdout, /GPU 0: NVIDIA H200 \(fake\)/);
      assert.match(dev.stdout, /GPU 1: cannot be opened: nvmlDevice\w+: .*\(NVML_ERROR_\w+, \d+\)/);
      const devJson = JSON.parse((await joules(scenario, ['devices', '--json'])).stdout) as { gpus: unknown[]; unavailable: Array<{ index: number }> };
      assert.equal(devJson.gpus.length, 1);
      assert.deepEqual(devJson.unavailable.map((u) => u.index), [1]);

      const { json, text } = await runJson(scenario, script([1.5]));
      assert.deepEqual(json.gpus.map((g) => g.index), [0]);
      assert.ok(Math.abs(json.energyJ - 300 * json.durationS) < 300 * 0.1, `${json.energyJ} J over ${json.durationS} s`);
      assert.equal(json.unavailableGpus?.[0]?.index, 1);
      assert.match(text, /GPU 1 not measured: it could not be opened \(nvmlDevice/);
    });
  }

  it('no GPU can be opened at all: one line naming each GPU\'s error, exit 3, nothing run', async () => {
    const r = await joules('device arch=hopper\nfault lost gpu=0 at=0\n', ['run', '--store', store, '--', 'python3', '-c', 'print("ran")']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no GPU could be opened \(GPU 0: nvmlDeviceGetHandleByIndex\w*: .*GPU_IS_LOST/);
    assert.doesNotMatch(r.stdout, /ran/);
  });
});
