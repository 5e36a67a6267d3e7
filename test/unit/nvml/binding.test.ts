import * as assert from 'node:assert/strict';
import { NvmlReturn } from '../../../src/core/nvml/constants';
import { nvmlCandidates } from '../../../src/core/nvml/library';
import { Nvml } from '../../../src/core/nvml/nvml';
import { NvmlBackend } from '../../../src/core/nvml/nvmlBackend';
import { NvmlError, NvmlLoadError } from '../../../src/core/nvml/nvmlError';
import { fakeNvml, writeScenario } from '../../support/fakeNvml';

describe('NVML binding through koffi (fake NVML library)', function () {
  this.timeout(60_000);

  it('lists devices with name, UUID, PCI bus id, architecture, memory and power limits', async () => {
    const lib = await fakeNvml('two-gpus.scn');
    const backend = NvmlBackend.open({ libraryPath: lib });
    try {
      assert.equal(backend.devices.length, 2);
      const g0 = backend.devices[0]!.info;
      assert.equal(g0.name, 'NVIDIA A100-SXM4-80GB');
      assert.equal(g0.uuid, 'GPU-0a1b2c3d-0000-4000-8000-000000000a00');
      assert.equal(g0.pciBusId, '00000000:07:00.0');
      assert.equal(g0.architecture, 'Ampere');
      assert.equal(g0.memTotalBytes, 81920 * 1024 * 1024);
      assert.equal(g0.powerLimitMilliwatts, 400_000);
      assert.equal(g0.powerLimitMinMilliwatts, 100_000);
      assert.equal(g0.energyMethod, 'counter');
      assert.equal(g0.powerSource, 'instant');
      assert.equal(backend.nvml.resolved.init, 'nvmlInit_v2');
      assert.equal(backend.nvml.resolved.deviceGetComputeRunningProcesses, 'nvmlDeviceGetComputeRunningProcesses_v3');
    } finally {
      backend.close();
    }
  });

  it('reads the scenario power, utilisation and memory, and the energy counter advances by P x t', async () => {
    const lib = await fakeNvml('constant-300w.scn');
    const backend = NvmlBackend.open({ libraryPath: lib });
    try {
      const d = backend.devices[0]!;
      const r = d.readTick(true);
      assert.equal(r.powerMilliwatts, 300_000);
      assert.equal(r.utilGpuPct, 100);
      assert.equal(r.memUsedBytes, 20 * 1024 ** 3);
      assert.equal(r.smClockMhz, 1980);
      assert.equal(r.temperatureC, 60);
      assert.equal(r.powerLimitMilliwatts, 700_000);
      const e0 = d.readEnergyCounterMj()!;
      await new Promise((res) => setTimeout(res, 500));
      const e1 = d.readEnergyCounterMj()!;
      // 300 W for ~0.5 s = ~150 J; the counter moves in 100 ms steps of 30 J.
      const deltaJ = (e1 - e0) / 1000;
      assert.ok(deltaJ >= 120 && deltaJ <= 210, `counter moved ${deltaJ} J in 0.5 s`);
      assert.equal((e1 - e0) % 30_000, 0, 'the counter moves in whole 100 ms steps');
    } finally {
      backend.close();
    }
  });

  it('falls back to older symbols on a legacy driver and marks absent optional calls unsupported', async () => {
    const lib = await fakeNvml('constant-300w.scn', { legacy: true });
    const backend = NvmlBackend.open({ libraryPath: lib });
    try {
      const nvml = backend.nvml;
      assert.equal(nvml.resolved.init, 'nvmlInit');
      assert.equal(nvml.resolved.deviceGetCount, 'nvmlDeviceGetCount');
      assert.equal(nvml.resolved.deviceGetCurrentClocksEventReasons, 'nvmlDeviceGetCurrentClocksThrottleReasons');
      assert.equal(nvml.resolved.deviceGetComputeRunningProcesses, 'nvmlDeviceGetComputeRunningProcesses');
      assert.equal(nvml.has('deviceGetSamples'), false);
      const info = backend.devices[0]!.info;
      // No field values: power comes from nvmlDeviceGetPowerUsage, labelled as the average.
      assert.equal(info.powerSource, 'average');
      assert.equal(info.supported.powerSamples, false);
      assert.equal(info.supported.architecture, false);
      const r = backend.devices[0]!.readTick(true);
      assert.equal(r.powerMilliwatts, 300_000);
      assert.equal(typeof r.clockEventReasons, 'number');
      // The v1 process struct (16 bytes) is read correctly.
      assert.deepEqual(backend.devices[0]!.processes(), []);
      const notices = backend.takeNotices().join('\n');
      assert.match(notices, /power sample ring \(nvmlDeviceGetSamples\) is not supported/);
    } finally {
      backend.close();
    }
  });

  it('falls back to integrating power where the energy counter is not supported, and says why', async () => {
    const lib = await fakeNvml('pascal-no-counter.scn');
    const backend = NvmlBackend.open({ libraryPath: lib });
    try {
      const info = backend.devices[0]!.info;
      assert.equal(info.architecture, 'Pascal');
      assert.equal(info.energyMethod, 'integrated');
      assert.match(info.energyMethodReason ?? '', /not supported/);
      assert.equal(backend.devices[0]!.readEnergyCounterMj(), undefined);
    } finally {
      backend.close();
    }
  });

  it('throws a typed NvmlError with the call and NVML\'s message', async () => {
    const lib = await fakeNvml(writeScenario('device name="X" uuid=GPU-x arch=hopper\nfault not_supported metric=temperature\n'));
    const nvml = Nvml.load({ libraryPath: lib });
    nvml.init();
    try {
      const h = nvml.deviceGetHandleByIndex(0);
      assert.throws(
        () => nvml.deviceGetTemperature(h),
        (e: unknown) => NvmlError.is(e, NvmlReturn.NOT_SUPPORTED) && e.call === 'nvmlDeviceGetTemperature' && /Not Supported/i.test(e.message),
      );
      assert.throws(() => nvml.deviceGetHandleByIndex(7), (e: unknown) => NvmlError.is(e, NvmlReturn.INVALID_ARGUMENT));
    } finally {
      nvml.shutdown();
    }
  });

  it('reports an init failure (driver not loaded) as an NvmlError, not a crash', async () => {
    const lib = await fakeNvml(writeScenario('fault init_fail\ndevice name="X" uuid=GPU-x\n'));
    assert.throws(() => NvmlBackend.open({ libraryPath: lib }), (e: unknown) => NvmlError.is(e, NvmlReturn.DRIVER_NOT_LOADED));
  });

  it('drains the power ring without gaps or repeats', async () => {
    const lib = await fakeNvml('constant-300w.scn');
    const backend = NvmlBackend.open({ libraryPath: lib });
    try {
      const d = backend.devices[0]!;
      d.drainPowerRing();
      await new Promise((res) => setTimeout(res, 300));
      const a = d.drainPowerRing() ?? [];
      await new Promise((res) => setTimeout(res, 300));
      const b = d.drainPowerRing() ?? [];
      assert.ok(a.length >= 10 && b.length >= 10, `${a.length} and ${b.length} ring points in 0.3 s`);
      assert.ok(b[0]!.tMs > a[a.length - 1]!.tMs, 'no point is returned twice');
      assert.ok(a.every((p) => p.powerMilliwatts === 300_000));
      const gaps = b.slice(1).map((p, i) => p.tMs - b[i]!.tMs);
      assert.ok(Math.max(...gaps) < 30, `points ~20 ms apart, max gap ${Math.max(...gaps)} ms`);
    } finally {
      backend.close();
    }
  });

  it('lists NVML where each platform keeps it, with the JOULES_NVML_LIBRARY override first', () => {
    const linux = nvmlCandidates('linux', { JOULES_NVML_LIBRARY: '/opt/x/libnvidia-ml.so.1' });
    assert.equal(linux[0], '/opt/x/libnvidia-ml.so.1');
    assert.ok(linux.includes('libnvidia-ml.so.1'));
    assert.ok(linux.includes('/usr/lib/wsl/lib/libnvidia-ml.so.1'));
    const win = nvmlCandidates('win32', { SystemRoot: 'C:\\Windows', ProgramW6432: 'C:\\Program Files' });
    assert.deepEqual(win, ['C:\\Windows\\System32\\nvml.dll', 'C:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvml.dll']);
  });

  it('fails to load with one error naming every path tried (and says so plainly on macOS)', () => {
    assert.throws(
      () => Nvml.load({ platform: 'linux', env: { JOULES_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1' } }),
      (e: unknown) => e instanceof NvmlLoadError && e.tried.includes('/nonexistent/libnvidia-ml.so.1') && /Tried: \/nonexistent/.test(e.message),
    );
    assert.throws(() => Nvml.load({ platform: 'darwin', env: {} }), /NVML is not available on macOS/);
  });
});
