// The fake NVML library (test/fake-nvml), driven directly through koffi: its ABI, its scenario replay
// and its fault injection are what every higher-level test relies on.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { buildFakeNvml } from '../fake-nvml/build.mjs';

const REPO = path.resolve(__dirname, '..', '..');
const SCENARIOS = path.join(REPO, 'test', 'fake-nvml', 'scenarios');
const ENV_KEYS = ['FAKE_NVML_SCENARIO', 'FAKE_NVML_SPEED', 'FAKE_NVML_TIME_OFFSET_S'] as const;

const SUCCESS = 0;
const UNINITIALIZED = 1;
const INVALID_ARGUMENT = 2;
const NOT_SUPPORTED = 3;
const NOT_FOUND = 6;
const INSUFFICIENT_SIZE = 7;
const DRIVER_NOT_LOADED = 9;
const GPU_IS_LOST = 15;
const UNKNOWN = 999;

type Fn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };
type Handle = unknown;

/** Thin typed wrappers over one loaded copy of the library. Struct pointers are raw Buffers, so the
 * assertions below pin the byte layout of nvml.h rather than a koffi struct declaration. */
class FakeNvml {
  private readonly lib: LibraryHandle;
  readonly initV1: Fn;
  readonly shutdown: Fn;
  readonly reset: () => void;
  readonly now: () => number;
  readonly errorString: (code: number) => string;
  private readonly fns = new Map<string, Fn>();

  constructor(file: string) {
    this.lib = koffi.load(file);
    this.initV1 = this.lib.func('int nvmlInit()') as Fn;
    this.shutdown = this.lib.func('int nvmlShutdown()') as Fn;
    this.reset = this.lib.func('void fakeNvmlReset()') as () => void;
    this.now = this.lib.func('double fakeNvmlNow()') as () => number;
    this.errorString = this.lib.func('const char *nvmlErrorString(int)') as (code: number) => string;
  }

  init(): number {
    return this.fn('int nvmlInit_v2()')();
  }

  fn(proto: string): Fn {
    let f = this.fns.get(proto);
    if (!f) {
      f = this.lib.func(proto) as Fn;
      this.fns.set(proto, f);
    }
    return f;
  }

  count(): [number, number] {
    const out = [0];
    const rc = this.fn('int nvmlDeviceGetCount_v2(_Out_ unsigned int *count)')(out);
    return [rc, out[0] ?? -1];
  }

  handle(index: number): [number, Handle] {
    const out: unknown[] = [null];
    const rc = this.fn('int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ void **device)')(index, out);
    return [rc, out[0]];
  }

  dev(index: number): Handle {
    const [rc, h] = this.handle(index);
    assert.equal(rc, SUCCESS, `handle ${index}`);
    return h;
  }

  string(name: string, dev: Handle | null, len = 96): [number, string] {
    const buf = Buffer.alloc(len);
    const rc = dev === null
      ? this.fn(`int ${name}(void *buf, unsigned int len)`)(buf, len)
      : this.fn(`int ${name}(void *dev, void *buf, unsigned int len)`)(dev, buf, len);
    return [rc, buf.toString('utf8', 0, Math.max(0, buf.indexOf(0)))];
  }

  uint(name: string, dev: Handle): [number, number] {
    const out = [0];
    const rc = this.fn(`int ${name}(void *dev, _Out_ unsigned int *value)`)(dev, out);
    return [rc, out[0] ?? -1];
  }

  u64(name: string, dev: Handle): [number, number] {
    const out: Array<number | bigint> = [0];
    const rc = this.fn(`int ${name}(void *dev, _Out_ unsigned long long *value)`)(dev, out);
    return [rc, Number(out[0])];
  }

  power(dev: Handle): number {
    const [rc, mw] = this.uint('nvmlDeviceGetPowerUsage', dev);
    assert.equal(rc, SUCCESS, `power: ${this.errorString(rc)}`);
    return mw;
  }

  energy(dev: Handle): [number, number] {
    return this.u64('nvmlDeviceGetTotalEnergyConsumption', dev);
  }

  clock(dev: Handle, type: number): [number, number] {
    const out = [0];
    const rc = this.fn('int nvmlDeviceGetClockInfo(void *dev, int type, _Out_ unsigned int *mhz)')(dev, type, out);
    return [rc, out[0] ?? -1];
  }

  buffer(name: string, dev: Handle, size: number): [number, Buffer] {
    const buf = Buffer.alloc(size, 0xee);
    const rc = this.fn(`int ${name}(void *dev, void *out)`)(dev, buf);
    return [rc, buf];
  }

  /** nvmlFieldValue_t[ids.length], 40 bytes each. */
  fields(dev: Handle, ids: number[]): [number, Array<{ id: number; ts: number; type: number; rc: number; ui: number }>] {
    const buf = Buffer.alloc(40 * ids.length);
    ids.forEach((id, i) => buf.writeUInt32LE(id, i * 40));
    const rc = this.fn('int nvmlDeviceGetFieldValues(void *dev, int count, void *values)')(dev, ids.length, buf);
    const out = ids.map((_, i) => {
      const o = i * 40;
      return {
        id: buf.readUInt32LE(o),
        ts: Number(buf.readBigInt64LE(o + 8)),
        type: buf.readInt32LE(o + 24),
        rc: buf.readInt32LE(o + 28),
        ui: buf.readUInt32LE(o + 32),
      };
    });
    return [rc, out];
  }

  /** nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES); capacity null means a NULL samples pointer. */
  samples(dev: Handle, lastSeen: number, capacity: number | null): { rc: number; count: number; valType: number; samples: Array<{ ts: number; mw: number }> } {
    const f = this.fn('int nvmlDeviceGetSamples(void *dev, int type, unsigned long long lastSeen, _Inout_ int *valType, _Inout_ unsigned int *count, void *samples)');
    const valType = [-1];
    const count = [capacity ?? 0];
    const buf = capacity === null ? null : Buffer.alloc(16 * capacity);
    const rc = f(dev, 0, lastSeen, valType, count, buf);
    const n = count[0] ?? 0;
    const samples = [];
    for (let i = 0; buf && rc === SUCCESS && i < n; i++) {
      samples.push({ ts: Number(buf.readBigUInt64LE(i * 16)), mw: buf.readUInt32LE(i * 16 + 8) });
    }
    return { rc, count: n, valType: valType[0] ?? -1, samples };
  }

  /** Compute processes through `_v3`/`_v2` (24-byte entries) or v1 (16-byte entries). */
  processes(dev: Handle, capacity: number | null, variant: '' | '_v2' | '_v3' = '_v3'): { rc: number; count: number; entries: Array<{ pid: number; mem: number; gi: number; ci: number }> } {
    const size = variant === '' ? 16 : 24;
    const f = this.fn(`int nvmlDeviceGetComputeRunningProcesses${variant}(void *dev, _Inout_ unsigned int *count, void *infos)`);
    const count = [capacity ?? 0];
    const buf = capacity === null ? null : Buffer.alloc(size * Math.max(capacity, 1));
    const rc = f(dev, count, buf);
    const n = count[0] ?? 0;
    const entries = [];
    for (let i = 0; buf && rc === SUCCESS && i < n; i++) {
      const o = i * size;
      entries.push({
        pid: buf.readUInt32LE(o),
        mem: Number(buf.readBigUInt64LE(o + 8)),
        gi: size === 24 ? buf.readUInt32LE(o + 16) : -1,
        ci: size === 24 ? buf.readUInt32LE(o + 20) : -1,
      });
    }
    return { rc, count: n, entries };
  }

  /** nvmlDeviceGetProcessUtilization with 32-byte samples. */
  processUtil(dev: Handle, capacity: number | null, lastSeen = 0): { rc: number; count: number; entries: Array<{ pid: number; ts: number; sm: number; mem: number }> } {
    const f = this.fn('int nvmlDeviceGetProcessUtilization(void *dev, void *samples, _Inout_ unsigned int *count, unsigned long long lastSeen)');
    const count = [capacity ?? 0];
    const buf = capacity === null ? null : Buffer.alloc(32 * Math.max(capacity, 1));
    const rc = f(dev, buf, count, lastSeen);
    const n = count[0] ?? 0;
    const entries = [];
    for (let i = 0; buf && rc === SUCCESS && i < n; i++) {
      const o = i * 32;
      entries.push({ pid: buf.readUInt32LE(o), ts: Number(buf.readBigUInt64LE(o + 8)), sm: buf.readUInt32LE(o + 16), mem: buf.readUInt32LE(o + 20) });
    }
    return { rc, count: n, entries };
  }

  unload(): void {
    this.lib.unload();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('fake NVML library', function () {
  this.timeout(20000);
  let tmp: string;
  let nvml: FakeNvml;
  let legacyPath: string;
  const savedEnv: Partial<Record<string, string>> = {};

  /** Point the environment at a scenario, drop the library state and nvmlInit it afresh. */
  function start(env: { scenario?: string; speed?: number; offset?: number }, expectInit = SUCCESS): void {
    for (const k of ENV_KEYS) delete process.env[k];
    if (env.scenario !== undefined) process.env.FAKE_NVML_SCENARIO = env.scenario.includes('/') ? env.scenario : path.join(SCENARIOS, env.scenario);
    if (env.speed !== undefined) process.env.FAKE_NVML_SPEED = String(env.speed);
    if (env.offset !== undefined) process.env.FAKE_NVML_TIME_OFFSET_S = String(env.offset);
    nvml.reset();
    assert.equal(nvml.init(), expectInit);
  }

  function writeScenario(name: string, text: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
  }

  before(async function () {
    this.timeout(60000);
    const built = await buildFakeNvml();
    assert.ok(fs.existsSync(built.full) && fs.existsSync(built.legacy));
    // A private copy: other test files may load the shared build and keep their own state in it.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-nvml-test-'));
    const copy = path.join(tmp, 'libnvidia-ml-fake.so');
    fs.copyFileSync(built.full, copy);
    legacyPath = path.join(tmp, 'libnvidia-ml-fake-legacy.so');
    fs.copyFileSync(built.legacy, legacyPath);
    for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
    nvml = new FakeNvml(copy);
  });

  afterEach(() => {
    nvml.reset();
  });

  after(() => {
    nvml?.reset();
    nvml?.unload();
    for (const k of ENV_KEYS) {
      const v = savedEnv[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the built-in idle H200 when FAKE_NVML_SCENARIO is unset', () => {
    start({});
    assert.deepEqual(nvml.count(), [SUCCESS, 1]);
    const dev = nvml.dev(0);
    assert.deepEqual(nvml.string('nvmlDeviceGetName', dev), [SUCCESS, 'NVIDIA H200 (fake)']);
    assert.deepEqual(nvml.uint('nvmlDeviceGetArchitecture', dev), [SUCCESS, 9]);
    assert.equal(nvml.power(dev), 100000);
    const [rc, mj] = nvml.energy(dev);
    assert.equal(rc, SUCCESS);
    assert.ok(mj >= 9441685 && mj < 9441685 + 100000 * 60, `energy ${mj}`);
  });

  it('ref-counts init/shutdown and answers UNINITIALIZED outside it', () => {
    start({});
    assert.equal(nvml.initV1(), SUCCESS);
    assert.equal(nvml.shutdown(), SUCCESS);
    assert.equal(nvml.count()[0], SUCCESS, 'still initialised after one of two shutdowns');
    const dev = nvml.dev(0);
    assert.equal(nvml.shutdown(), SUCCESS);
    assert.equal(nvml.count()[0], UNINITIALIZED);
    assert.equal(nvml.uint('nvmlDeviceGetPowerUsage', dev)[0], UNINITIALIZED);
    assert.equal(nvml.string('nvmlSystemGetDriverVersion', null)[0], UNINITIALIZED);
    assert.equal(nvml.shutdown(), UNINITIALIZED);
    assert.equal(nvml.errorString(UNINITIALIZED), 'Uninitialized');
    assert.equal(nvml.errorString(NOT_SUPPORTED), 'Not Supported');
    assert.equal(nvml.errorString(GPU_IS_LOST), 'GPU is lost');
    assert.equal(nvml.errorString(INSUFFICIENT_SIZE), 'Insufficient Size');
    assert.equal(nvml.errorString(UNKNOWN), 'Unknown Error');
  });

  it('lists the devices of a scenario with their identity and static figures', () => {
    start({ scenario: 'two-gpus.scn', speed: 0 });
    assert.deepEqual(nvml.count(), [SUCCESS, 2]);
    assert.deepEqual(nvml.string('nvmlSystemGetDriverVersion', null), [SUCCESS, '560.35.03']);
    assert.deepEqual(nvml.string('nvmlSystemGetNVMLVersion', null), [SUCCESS, '12.560.35.03']);
    assert.equal(nvml.string('nvmlSystemGetDriverVersion', null, 5)[0], INSUFFICIENT_SIZE);
    const [d0, d1] = [nvml.dev(0), nvml.dev(1)];
    assert.deepEqual(nvml.string('nvmlDeviceGetName', d0), [SUCCESS, 'NVIDIA A100-SXM4-80GB']);
    assert.equal(nvml.string('nvmlDeviceGetName', d0, 8)[0], INSUFFICIENT_SIZE);
    assert.deepEqual(nvml.string('nvmlDeviceGetUUID', d1), [SUCCESS, 'GPU-0a1b2c3d-0000-4000-8000-000000000a01']);
    assert.deepEqual(nvml.uint('nvmlDeviceGetArchitecture', d0), [SUCCESS, 7]);
    assert.equal(nvml.handle(2)[0], INVALID_ARGUMENT);

    // nvmlPciInfo_t (v3): busIdLegacy[16], domain, bus, device, pciDeviceId, pciSubSystemId, busId[32]
    const [rc, pci] = nvml.buffer('nvmlDeviceGetPciInfo_v3', d1, 68);
    assert.equal(rc, SUCCESS);
    assert.equal(pci.toString('utf8', 0, pci.indexOf(0)), '0000:0F:00.0');
    assert.deepEqual([0, 1, 2, 3].map((i) => pci.readUInt32LE(16 + 4 * i)), [0, 0x0f, 0, 0x20b210de]);
    assert.equal(pci.toString('utf8', 36, pci.indexOf(0, 36)), '00000000:0F:00.0');

    const [mrc, mem] = nvml.buffer('nvmlDeviceGetMemoryInfo', d0, 24);
    assert.equal(mrc, SUCCESS);
    const [total, free, used] = [0, 8, 16].map((o) => Number(mem.readBigUInt64LE(o)));
    assert.equal(total, 81920 * 1024 * 1024);
    assert.equal(used, 4 * 1024 * 1024);
    assert.equal(free, total - used);
    assert.deepEqual(nvml.uint('nvmlDeviceGetEnforcedPowerLimit', d0), [SUCCESS, 400000]);
    const lim = [0];
    const lmax = [0];
    assert.equal(nvml.fn('int nvmlDeviceGetPowerManagementLimitConstraints(void *d, _Out_ unsigned int *a, _Out_ unsigned int *b)')(d0, lim, lmax), SUCCESS);
    assert.deepEqual([lim[0], lmax[0]], [100000, 400000]);
  });

  it('replays each phase of the series at the right scenario time (step)', () => {
    const at = (t: number) => {
      start({ scenario: 'h200-phased.scn', speed: 0, offset: t });
      const dev = nvml.dev(0);
      const util = nvml.buffer('nvmlDeviceGetUtilizationRates', dev, 8)[1];
      return {
        power: nvml.power(dev),
        util: util.readUInt32LE(0),
        reasons: nvml.u64('nvmlDeviceGetCurrentClocksEventReasons', dev)[1],
        throttle: nvml.u64('nvmlDeviceGetCurrentClocksThrottleReasons', dev)[1],
        sm: nvml.clock(dev, 1)[1],
        temp: (() => {
          const out = [0];
          nvml.fn('int nvmlDeviceGetTemperature(void *d, int sensor, _Out_ unsigned int *t)')(dev, 0, out);
          return out[0];
        })(),
      };
    };
    assert.deepEqual(at(2), { power: 82000, util: 0, reasons: 0x1, throttle: 0x1, sm: 345, temp: 31 });
    assert.deepEqual(at(7), { power: 110000, util: 0, reasons: 0, throttle: 0, sm: 1980, temp: 32 });
    assert.deepEqual(at(10.5), { power: 690000, util: 99, reasons: 0x4, throttle: 0x4, sm: 1830, temp: 63 });
    assert.equal(at(11.2).reasons, 0);
    assert.deepEqual(at(17), { power: 160000, util: 3, reasons: 0, throttle: 0, sm: 1980, temp: 55 });
    assert.equal(at(21).power, 690000);
    assert.deepEqual(at(27), { power: 82000, util: 0, reasons: 0x1, throttle: 0x1, sm: 345, temp: 45 });
    assert.equal(at(500).temp, 36, 'holds the last point');

    start({ scenario: 'h200-phased.scn', speed: 0, offset: 10.5 });
    const dev = nvml.dev(0);
    const [rc, f] = nvml.fields(dev, [186, 185, 999]);
    assert.equal(rc, SUCCESS);
    assert.deepEqual(f.map((v) => [v.id, v.rc]), [[186, SUCCESS], [185, SUCCESS], [999, NOT_SUPPORTED]]);
    assert.deepEqual([f[0]?.type, f[0]?.ui, f[1]?.ui], [1, 712000, 690000]);
    assert.ok(Math.abs((f[0]?.ts ?? 0) - Date.now() * 1000) < 5e6, 'field timestamp is wall-clock microseconds');
    const pstate = [-1];
    assert.equal(nvml.fn('int nvmlDeviceGetPerformanceState(void *d, _Out_ int *p)')(dev, pstate), SUCCESS);
    assert.equal(pstate[0], 0);
    assert.deepEqual(nvml.clock(dev, 2), [SUCCESS, 3201]);
    assert.deepEqual(nvml.clock(dev, 0), [SUCCESS, 1830], 'graphics clock follows the SM clock');
    assert.equal(nvml.clock(dev, 9)[0], INVALID_ARGUMENT);
  });

  it('interpolates linearly and integrates the power series into the energy counter', () => {
    start({ scenario: 'two-gpus.scn', speed: 0, offset: 0.5 });
    const dev = nvml.dev(0);
    assert.equal(nvml.power(dev), 196000);
    assert.equal(nvml.buffer('nvmlDeviceGetUtilizationRates', dev, 8)[1].readUInt32LE(0), 49);
    // trapezoid 0..0.5 s: (62000 + 196000) / 2 * 0.5 = 64500 mJ
    assert.deepEqual(nvml.energy(dev), [SUCCESS, 52113290 + 64500]);
    start({ scenario: 'two-gpus.scn', speed: 0, offset: 3.05 });
    // 0..1 s ramp 196000 mJ, 1..3 s from 330 W towards 345 W: (330000 + 336000) / 2 * 2 = 666000 mJ
    assert.deepEqual(nvml.energy(nvml.dev(0)), [SUCCESS, 52113290 + 196000 + 666000]);
    assert.deepEqual(nvml.energy(nvml.dev(1)), [SUCCESS, 48870021 + 58000 * 3]);
  });

  it('runs scenario time at FAKE_NVML_SPEED from FAKE_NVML_TIME_OFFSET_S', async () => {
    const t0 = Date.now();
    start({ scenario: 'h200-phased.scn', speed: 20, offset: 4.6 });
    const dev = nvml.dev(0);
    assert.equal(nvml.power(dev), 82000);
    while (nvml.now() < 5.05) await sleep(5);
    assert.equal(nvml.power(dev), 110000);
    const elapsed = (Date.now() - t0) / 1000;
    const now = nvml.now();
    assert.ok(now >= 5.05 && now <= 4.6 + 20 * elapsed + 0.05, `now ${now} after ${elapsed} s`);
  });

  it('advances the energy counter by power x time, in 100 ms steps', async () => {
    start({ scenario: 'constant-300w.scn', speed: 0, offset: 2.35 });
    assert.deepEqual(nvml.energy(nvml.dev(0)), [SUCCESS, 9441685 + 300000 * 2.3]);

    start({ scenario: 'constant-300w.scn' });
    const dev = nvml.dev(0);
    const seen: number[] = [];
    let exact = 0;
    const end = Date.now() + 450;
    while (Date.now() < end) {
      const before = nvml.now();
      const [rc, mj] = nvml.energy(dev);
      const after = nvml.now();
      assert.equal(rc, SUCCESS);
      if (Math.floor(before * 10) === Math.floor(after * 10)) {
        assert.equal(mj, 9441685 + 30000 * Math.floor(before * 10), `at t=${before}`);
        exact++;
      }
      if (seen[seen.length - 1] !== mj) seen.push(mj);
      await sleep(3);
    }
    assert.ok(exact > 20, `checked ${exact} readings`);
    assert.ok(seen.length >= 4, `saw ${seen.length} distinct values`);
    const steps = seen.slice(1).map((v, i) => v - (seen[i] ?? 0));
    // 30000 mJ per 100 ms step of 300 W (a stalled event loop may skip a step, never split one)
    assert.ok(steps.every((d) => d > 0 && d % 30000 === 0), `steps ${steps.join(',')}`);
    assert.ok(steps.includes(30000), `steps ${steps.join(',')}`);
  });

  it('keeps a 120-entry, 20 ms power sample ring with the newer-than protocol', () => {
    start({ scenario: 'h200-phased.scn', speed: 0, offset: 10.05 });
    const dev = nvml.dev(0);
    const cap = nvml.samples(dev, 0, null);
    assert.deepEqual([cap.rc, cap.count], [SUCCESS, 120]);

    const all = nvml.samples(dev, 0, 120);
    assert.deepEqual([all.rc, all.count, all.valType], [SUCCESS, 120, 1]);
    for (let i = 1; i < all.samples.length; i++) {
      const step = (all.samples[i]?.ts ?? 0) - (all.samples[i - 1]?.ts ?? 0);
      assert.ok(Math.abs(step - 20000) <= 1, `step ${step} us`);
    }
    const last = all.samples[119];
    assert.ok(last && Math.abs(last.ts - Date.now() * 1000) < 5e6, 'wall-clock microseconds');
    assert.equal(last?.mw, 712000, 'newest sample carries the instant power at t=10.04');
    assert.equal(all.samples[0]?.mw, 110000, 'oldest sample is from t=7.66');
    assert.equal(all.samples.filter((s) => s.mw === 655000).length, 50, '9.00..9.98 s');

    const newer = nvml.samples(dev, all.samples[100]?.ts ?? 0, 120);
    assert.deepEqual([newer.rc, newer.count], [SUCCESS, 19]);
    assert.deepEqual(newer.samples[0], all.samples[101]);

    const few = nvml.samples(dev, 0, 10);
    assert.deepEqual([few.rc, few.count], [SUCCESS, 10]);
    assert.deepEqual(few.samples, all.samples.slice(0, 10), 'oldest first');

    const none = nvml.samples(dev, last?.ts ?? 0, 120);
    assert.deepEqual([none.rc, none.count], [NOT_FOUND, 0]);
  });

  describe('processes', () => {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const c of children.splice(0)) c.kill('SIGKILL');
    });

    it('attributes live processes by command-line substring, with the INSUFFICIENT_SIZE protocol', async () => {
      const marker = `fake_train_${process.pid}_${Date.now()}.py`;
      const file = writeScenario('procs.scn', [
        'device name="GPU zero"',
        `process match="${marker}" mem=1GiB sm=77 mem_util=12`,
        'device name="GPU one"',
        'process pid=4000001 mem=2GiB sm=5 from=5 to=6',
        'process pid=4000002 from=7',
      ].join('\n'));
      for (let i = 0; i < 2; i++) {
        children.push(spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', marker], { stdio: 'ignore' }));
      }
      const pids = children.map((c) => c.pid).sort((a, b) => (a ?? 0) - (b ?? 0));
      start({ scenario: file, speed: 0, offset: 5.5 });
      const [d0, d1] = [nvml.dev(0), nvml.dev(1)];

      let probe = nvml.processes(d0, 0);
      for (let i = 0; i < 200 && probe.count < 2; i++) {
        await sleep(10);
        probe = nvml.processes(d0, 0);
      }
      assert.deepEqual([probe.rc, probe.count], [INSUFFICIENT_SIZE, 2], 'count 0 asks for the size');
      assert.deepEqual(nvml.processes(d0, null).rc, INSUFFICIENT_SIZE, 'NULL buffer with count 0');
      assert.deepEqual(nvml.processes(d0, 1).count, 2);
      const v3 = nvml.processes(d0, 4);
      assert.equal(v3.rc, SUCCESS);
      assert.deepEqual(v3.entries.map((e) => e.pid).sort((a, b) => a - b), pids);
      assert.deepEqual(v3.entries[0], { pid: v3.entries[0]?.pid, mem: 1024 ** 3, gi: 0xffffffff, ci: 0xffffffff });
      const v2 = nvml.processes(d0, 4, '_v2');
      assert.deepEqual(v2.entries, v3.entries);
      const v1 = nvml.processes(d0, 4, '');
      assert.deepEqual(v1.entries.map((e) => [e.pid, e.mem]), v3.entries.map((e) => [e.pid, e.mem]));

      const util = nvml.processUtil(d0, null);
      assert.deepEqual([util.rc, util.count], [INSUFFICIENT_SIZE, 2]);
      const filled = nvml.processUtil(d0, 2);
      assert.equal(filled.rc, SUCCESS);
      assert.deepEqual(filled.entries.map((e) => [e.sm, e.mem]), [[77, 12], [77, 12]]);
      assert.equal(nvml.processUtil(d0, 2, filled.entries[0]?.ts).rc, NOT_FOUND, 'nothing newer than lastSeen');

      const gpu1 = nvml.processes(d1, 4);
      assert.deepEqual(gpu1.entries, [{ pid: 4000001, mem: 2 * 1024 ** 3, gi: 0xffffffff, ci: 0xffffffff }], 'time windows');

      for (const c of children) c.kill('SIGKILL');
      await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('exit', resolve)))));
      assert.deepEqual([nvml.processes(d0, 0).rc, nvml.processes(d0, 0).count], [SUCCESS, 0]);
      assert.equal(nvml.processUtil(d0, 4).rc, NOT_FOUND);
    });
  });

  it('returns GPU_IS_LOST for every call on a lost GPU from its time on', async () => {
    start({ scenario: 'gpu-lost.scn', speed: 0, offset: 0.99 });
    assert.equal(nvml.power(nvml.dev(1)), 415000);

    start({ scenario: 'gpu-lost.scn', offset: 0.9 });
    const [d0, d1] = [nvml.dev(0), nvml.dev(1)];
    while (nvml.now() < 1.0) await sleep(5);
    assert.equal(nvml.uint('nvmlDeviceGetPowerUsage', d1)[0], GPU_IS_LOST);
    assert.equal(nvml.energy(d1)[0], GPU_IS_LOST);
    assert.equal(nvml.string('nvmlDeviceGetName', d1)[0], GPU_IS_LOST);
    assert.equal(nvml.fields(d1, [186])[0], GPU_IS_LOST);
    assert.equal(nvml.samples(d1, 0, 120).rc, GPU_IS_LOST);
    assert.equal(nvml.processes(d1, 0).rc, GPU_IS_LOST);
    assert.equal(nvml.handle(1)[0], GPU_IS_LOST);
    assert.deepEqual(nvml.count(), [SUCCESS, 2]);
    assert.equal(nvml.power(d0), 420000);
  });

  it('injects NOT_SUPPORTED per metric (pre-Volta card without counter, instant field or ring)', () => {
    start({ scenario: 'pascal-no-counter.scn', speed: 0, offset: 5 });
    const dev = nvml.dev(0);
    assert.deepEqual(nvml.uint('nvmlDeviceGetArchitecture', dev), [SUCCESS, 4]);
    assert.equal(nvml.energy(dev)[0], NOT_SUPPORTED);
    assert.equal(nvml.samples(dev, 0, null).rc, NOT_SUPPORTED);
    const [rc, f] = nvml.fields(dev, [186, 185]);
    assert.equal(rc, SUCCESS, 'the call succeeds, the entry fails');
    assert.deepEqual(f.map((v) => v.rc), [NOT_SUPPORTED, SUCCESS]);
    assert.equal(nvml.power(dev), 179000, 'halfway between 182 W at 2 s and 176 W at 8 s');
  });

  it('injects transient errors, init failure and a slow energy call that leaves other threads alone', async () => {
    const file = writeScenario('faults.scn', [
      'device',
      'at 0 power=250W',
      'fault error metric=clockEventReasons,processUtilization code=no_permission from=1 to=2',
      'fault slow_energy ms=400',
    ].join('\n'));
    start({ scenario: file, speed: 0, offset: 1.5 });
    const dev = nvml.dev(0);
    assert.equal(nvml.u64('nvmlDeviceGetCurrentClocksEventReasons', dev)[0], 4);
    assert.equal(nvml.processUtil(dev, 0).rc, 4);

    // The energy call runs on a koffi worker thread and sleeps there; the main thread is not blocked.
    const energyOut: Array<number | bigint> = [0];
    const t0 = Date.now();
    let done = false;
    const pending = new Promise<number>((resolve, reject) => {
      nvml.fn('int nvmlDeviceGetTotalEnergyConsumption(void *dev, _Out_ unsigned long long *value)').async(dev, energyOut, (err: unknown, rc: number) => {
        done = true;
        if (err) reject(err as Error);
        else resolve(rc);
      });
    });
    await sleep(20);
    assert.equal(nvml.power(dev), 250000);
    assert.equal(done, false, 'power read while the energy call is still sleeping');
    assert.equal(await pending, SUCCESS);
    assert.ok(Date.now() - t0 >= 390, 'energy call took its scripted time');
    assert.equal(Number(energyOut[0]), 9441685 + 250000 * 1.5);

    start({ scenario: writeScenario('init-fail.scn', 'fault init_fail\ndevice\n') }, DRIVER_NOT_LOADED);
    assert.equal(nvml.count()[0], UNINITIALIZED);
  });

  it('rejects a bad scenario with UNKNOWN and one stderr line naming file and line', () => {
    // In a child process, to capture what the library writes to stderr.
    const initIn = (env: Record<string, string>) => {
      const script = `
        const koffi = require('koffi');
        const lib = koffi.load(${JSON.stringify(path.join(tmp, 'libnvidia-ml-fake.so'))});
        process.stdout.write(String(lib.func('int nvmlInit_v2()')()));`;
      const res = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env } });
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, res.stderr);
      return { rc: Number(res.stdout), line: lines[0] ?? '' };
    };
    const bad = writeScenario('bad.scn', 'device name="x"\n\nat 0 power=100W wattage=3\n');
    const r1 = initIn({ FAKE_NVML_SCENARIO: bad });
    assert.equal(r1.rc, UNKNOWN);
    assert.equal(r1.line.startsWith(`fake-nvml: invalid scenario ${bad} line 3: unknown key 'wattage'`), true, r1.line);
    const r2 = initIn({ FAKE_NVML_SCENARIO: path.join(tmp, 'missing.scn') });
    assert.equal(r2.rc, UNKNOWN);
    assert.match(r2.line, /cannot open scenario .*missing\.scn: No such file/);
    const r3 = initIn({ FAKE_NVML_SCENARIO: path.join(SCENARIOS, 'constant-300w.scn'), FAKE_NVML_SPEED: 'fast' });
    assert.equal(r3.rc, UNKNOWN);
    assert.match(r3.line, /FAKE_NVML_SPEED=fast/);
  });

  it('legacy variant lacks the newer entry points but serves the old ones', () => {
    const legacy = new FakeNvml(legacyPath);
    try {
      for (const name of ['nvmlInit_v2', 'nvmlDeviceGetCount_v2', 'nvmlDeviceGetHandleByIndex_v2', 'nvmlDeviceGetComputeRunningProcesses_v3', 'nvmlDeviceGetComputeRunningProcesses_v2', 'nvmlDeviceGetCurrentClocksEventReasons', 'nvmlDeviceGetSamples', 'nvmlDeviceGetFieldValues', 'nvmlDeviceGetArchitecture']) {
        assert.throws(() => legacy.fn(`int ${name}()`), /Cannot find function/, name);
      }
      for (const k of ENV_KEYS) delete process.env[k];
      legacy.reset();
      assert.equal(legacy.initV1(), SUCCESS);
      const count = [0];
      assert.equal(legacy.fn('int nvmlDeviceGetCount(_Out_ unsigned int *n)')(count), SUCCESS);
      assert.equal(count[0], 1);
      const h: unknown[] = [null];
      assert.equal(legacy.fn('int nvmlDeviceGetHandleByIndex(unsigned int i, _Out_ void **d)')(0, h), SUCCESS);
      assert.equal(legacy.power(h[0]), 100000);
      assert.deepEqual(legacy.u64('nvmlDeviceGetCurrentClocksThrottleReasons', h[0]), [SUCCESS, 1]);
      assert.deepEqual(legacy.processes(h[0], 0, ''), { rc: SUCCESS, count: 0, entries: [] });
      assert.equal(legacy.shutdown(), SUCCESS);
    } finally {
      legacy.reset();
      legacy.unload();
    }
  });
});
