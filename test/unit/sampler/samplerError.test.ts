import * as assert from 'node:assert/strict';
import type { DeviceSource, TelemetryBackend } from '../../../src/core/sampler/backend';
import { SamplerEngine } from '../../../src/core/sampler/engine';
import { WorkerSampler } from '../../../src/core/sampler/workerSampler';
import { SamplerError, samplerErrorKind } from '../../../src/core/sampler/samplerError';
import type { SamplerErrorKind } from '../../../src/core/sampler/samplerError';
import { NvmlReturn } from '../../../src/core/nvml/constants';
import { NvmlError, NvmlLoadError, nvmlErrorKind } from '../../../src/core/nvml/nvmlError';
import { isGpuUnavailable } from '../../../src/vscode/gpuAvailability';
import { ownThreadLoop } from '../../../src/core/sampler/ownThreadLoop';

describe('sampler error kinds', () => {
  // Each way NVML fails, as the user would meet it, and the kind the editor decides on.
  const cases: Array<[string, unknown, SamplerErrorKind]> = [
    ['no library found', new NvmlLoadError('NVML could not be loaded (is an NVIDIA driver installed?). Tried: x', ['x']), 'no-library'],
    ['macOS', new NvmlLoadError('NVML is not available on macOS (NVIDIA drivers do not support it).', []), 'no-library'],
    ['driver not loaded', new NvmlError(NvmlReturn.DRIVER_NOT_LOADED, 'nvmlInit_v2', 'Driver Not Loaded'), 'driver'],
    ['library/driver mismatch', new NvmlError(NvmlReturn.LIB_RM_VERSION_MISMATCH, 'nvmlInit_v2'), 'driver'],
    ['init fails for an unspecific reason', new NvmlError(NvmlReturn.UNKNOWN, 'nvmlInit_v2', 'Unknown Error'), 'driver'],
    ['counting GPUs fails', new NvmlError(NvmlReturn.UNKNOWN, 'nvmlDeviceGetCount_v2'), 'driver'],
    ['old-style init symbol', new NvmlError(NvmlReturn.UNINITIALIZED, 'nvmlInit'), 'driver'],
    ['no permission', new NvmlError(NvmlReturn.NO_PERMISSION, 'nvmlInit_v2', 'Insufficient Permissions'), 'permission'],
    ['no GPU found', new NvmlError(NvmlReturn.GPU_NOT_FOUND, 'nvmlDeviceGetCount_v2'), 'no-gpu'],
    ['GPU lost', new NvmlError(NvmlReturn.GPU_IS_LOST, 'nvmlDeviceGetPowerUsage', 'GPU is lost'), 'lost'],
    ['a read failing mid-run', new NvmlError(NvmlReturn.UNKNOWN, 'nvmlDeviceGetPowerUsage'), 'other'],
    ['an unsupported metric', new NvmlError(NvmlReturn.NOT_SUPPORTED, 'nvmlDeviceGetTemperature'), 'other'],
    ['a broken trace', new Error('trace.jsonl:3: "t" goes backwards'), 'other'],
    ['a thrown string', 'boom', 'other'],
  ];
  for (const [what, error, kind] of cases) {
    it(`${what} -> ${kind}`, () => assert.equal(samplerErrorKind(error), kind));
  }

  it('NvmlError keeps its message; the kind comes from the code, then the call', () => {
    const e = new NvmlError(NvmlReturn.DRIVER_NOT_LOADED, 'nvmlInit_v2', 'Driver Not Loaded');
    assert.equal(e.message, 'nvmlInit_v2: Driver Not Loaded (NVML_ERROR_DRIVER_NOT_LOADED, 9)');
    assert.equal(nvmlErrorKind(NvmlReturn.NO_PERMISSION, 'nvmlDeviceGetPowerUsage'), 'permission');
    assert.equal(nvmlErrorKind(NvmlReturn.UNKNOWN, 'nvmlInitWithFlags'), 'other');
  });

  it('the editor calls every kind but "other" a machine without a measurable GPU', () => {
    for (const [, error, kind] of cases) {
      const start = new SamplerError(error instanceof Error ? error.message : String(error), samplerErrorKind(error));
      assert.equal(isGpuUnavailable(start), kind !== 'other', `${kind}: ${start.message}`);
    }
    // Only the sampler's typed failure counts: the same words in a plain Error are not classified.
    assert.equal(isGpuUnavailable(new Error('nvmlInit_v2: Driver Not Loaded (NVML_ERROR_DRIVER_NOT_LOADED, 9)')), false);
  });
});

describe('WorkerSampler.start failures', () => {
  it('rejects with the kind set where NVML failed, and the same message', async () => {
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'nvml', libraryPath: '/nonexistent/libnvidia-ml.so.1' }, onOwnThread: ownThreadLoop }), (e: unknown) => {
      assert.ok(e instanceof SamplerError && e.kind === 'no-library', String(e));
      assert.match(e.message, /^NVML could not be loaded \(is an NVIDIA driver installed\?\)\. Tried: \/nonexistent\/libnvidia-ml\.so\.1/);
      assert.equal(isGpuUnavailable(e), true);
      return true;
    });
  });

  it('a broken trace is "other": not a statement about the GPUs', async () => {
    await assert.rejects(WorkerSampler.start({ backend: { kind: 'replay', tracePath: '/nonexistent/trace.jsonl', speed: 1 }, onOwnThread: ownThreadLoop }), (e: unknown) => {
      assert.ok(e instanceof SamplerError && e.kind === 'other', String(e));
      assert.equal(isGpuUnavailable(e), false);
      return true;
    });
  });
});

describe('SamplerEngine and a lost device', () => {
  /** A backend whose own error type marks a lost device: the engine must know it only through the backend. */
  class Gone extends Error {}
  function fake(lostFromMs: number): { backend: TelemetryBackend; setNow(ms: number): void } {
    let nowMs = 0;
    const source = (index: number): DeviceSource => ({
      info: { index, name: 'fake', uuid: `GPU-${index}`, powerSource: 'instant', energyMethod: 'integrated', supported: {} },
      readTick: () => {
        if (index === 1 && nowMs >= lostFromMs) throw new Gone('gone');
        return { powerMilliwatts: 100_000, utilGpuPct: 50 };
      },
      readEnergyCounterMj: () => undefined,
      drainPowerRing: () => undefined,
      processes: () => undefined,
    });
    const backend: TelemetryBackend = {
      kind: 'replay',
      devices: [source(0), source(1)],
      nowMs: () => nowMs,
      takeNotices: () => [],
      takeErrors: () => ({}),
      isDeviceLost: (e) => e instanceof Gone,
      errorKey: () => undefined,
      close: () => undefined,
    };
    return { backend, setNow: (ms) => (nowMs = ms) };
  }

  it('closes the lost GPU with a gap and keeps measuring the other; no error is counted', () => {
    const { backend, setNow } = fake(1000);
    const engine = new SamplerEngine(backend, { intervalMs: 100, powerRing: 'off' });
    engine.start();
    for (let t = 100; t <= 2000; t += 100) {
      setNow(t);
      engine.tick();
    }
    const batch = engine.takeBatch();
    const [g0, g1] = engine.energies();
    assert.equal(g0!.lostAtMs, undefined);
    assert.ok(g1!.lostAtMs !== undefined && g1!.lostAtMs >= 1000 && g1!.lostAtMs <= 1100, `lost at ${g1!.lostAtMs}`);
    assert.ok(batch.gaps.some((g) => g.gpu === 1 && /GPU is lost/.test(g.reason)), JSON.stringify(batch.gaps));
    assert.ok(batch.samples.some((s) => s.gpu === 0 && s.tMs >= 1900), 'GPU 0 still sampled after GPU 1 was lost');
    assert.equal(batch.samples.filter((s) => s.gpu === 1 && s.tMs > 1100).length, 0);
    assert.deepEqual(batch.errors, {});
  });

  it('counts an error the backend does not call lost, under its own key', () => {
    const { backend, setNow } = fake(1000);
    const engine = new SamplerEngine({ ...backend, isDeviceLost: () => false, errorKey: (e) => (e instanceof Gone ? 'readTick: GONE' : undefined) }, { intervalMs: 100, powerRing: 'off' });
    engine.start();
    for (let t = 100; t <= 1500; t += 100) {
      setNow(t);
      engine.tick();
    }
    const batch = engine.takeBatch();
    assert.equal(engine.energies()[1]!.lostAtMs, undefined);
    assert.ok((batch.errors['readTick: GONE'] ?? 0) >= 1, JSON.stringify(batch.errors));
  });
});
