// `joules exporter` and `joules run --metrics-port` through the built CLI and the fake NVML library:
// what a Prometheus scrape gets (format, negotiation, values), and that Ctrl-C stops it cleanly.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../support/fakeNvml';
import { httpGet, startServing } from './metricsSupport';
import { exited, joules, nvmlEnv, ROOT, tempDir } from './support';

/** The value of the one sample line matching `re` (its last field). */
function valueOf(body: string, re: RegExp): number {
  const lines = body.split('\n').filter((l) => re.test(l));
  assert.equal(lines.length, 1, `one line matching ${re} in:\n${body}`);
  return Number(lines[0]!.split(' ').pop());
}

describe('joules exporter', function () {
  this.timeout(120_000);
  let lib: string;

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    lib = await fakeNvml('two-gpus.scn');
  });

  it('serves every GPU for Prometheus (OpenMetrics when asked, 0.0.4 text otherwise), its energy counter moving with power, and stops on Ctrl-C', async () => {
    // GPU 0 at a constant 300 W, GPU 1 without an energy counter at 50 W: counter and integrated.
    const scn = writeScenario(
      [
        'device name="NVIDIA H200" uuid=GPU-aaaa',
        'at 0 power=300W util=90 mem_used=10GiB temp=55',
        'device name="Tesla P100" arch=pascal uuid=GPU-bbbb mem_total=16GiB',
        'at 0 power=50W util=0 mem_used=1GiB temp=30',
        'fault not_supported gpu=1 metric=energyCounter,powerInstant,powerSamples',
      ].join('\n'),
    );
    const { child, url, stderr } = await startServing(['exporter', '--port', '0', '--host', 'node-a', '--interval-ms', '100'], nvmlEnv(lib, scn));
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'binds to loopback by default');
      // Wait for the first batch (about a second).
      let om = await httpGet(url, 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5');
      for (let i = 0; i < 40 && !/joules_gpu_power_watts\{.*gpu="1"/.test(om.body); i++) {
        await new Promise((r) => setTimeout(r, 250));
        om = await httpGet(url, 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5');
      }
      assert.equal(om.status, 200);
      assert.match(om.type, /^application\/openmetrics-text; version=1\.0\.0/);
      assert.ok(om.body.endsWith('# EOF\n'), 'OpenMetrics ends with # EOF');
      assert.match(om.body, /^# TYPE joules_gpu_energy_joules counter$/m);
      assert.match(om.body, /^# UNIT joules_gpu_energy_joules joules$/m);
      const g0 = 'host="node-a",gpu="0",uuid="GPU-aaaa",name="NVIDIA H200"';
      const g1 = 'host="node-a",gpu="1",uuid="GPU-bbbb",name="Tesla P100"';
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_power_watts\\{${g0}\\}`)), 300);
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_power_watts\\{${g1}\\}`)), 50);
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_utilization_percent\\{${g0}\\}`)), 90);
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_memory_used_bytes\\{${g0}\\}`)), 10 * 2 ** 30);
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_memory_total_bytes\\{${g1}\\}`)), 16 * 2 ** 30);
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_temperature_celsius\\{${g0}\\}`)), 55);
      assert.equal(valueOf(om.body, new RegExp(`^joules_gpu_up\\{${g1}\\}`)), 1);
      const start = valueOf(om.body, /^joules_sampling_start_time_seconds\{host="node-a"\}/);
      assert.ok(Math.abs(start - Date.now() / 1000) < 30, `sampling start ${start}`);
      const e0a = valueOf(om.body, new RegExp(`^joules_gpu_energy_joules_total\\{${g0},method="counter"\\}`));
      const e1a = valueOf(om.body, new RegExp(`^joules_gpu_energy_joules_total\\{${g1},method="integrated"\\}`));
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 2500));
      const text = await httpGet(url);
      const dtS = (Date.now() - t0) / 1000;
      assert.match(text.type, /^text\/plain; version=0\.0\.4/);
      assert.doesNotMatch(text.body, /# EOF/);
      assert.match(text.body, /^# TYPE joules_gpu_energy_joules_total counter$/m);
      const e0b = valueOf(text.body, new RegExp(`^joules_gpu_energy_joules_total\\{${g0},method="counter"\\}`));
      const e1b = valueOf(text.body, new RegExp(`^joules_gpu_energy_joules_total\\{${g1},method="integrated"\\}`));
      // A scrape reads the hardware counter (which moves every 100 ms): exact to a few tenths of a
      // second. The integrated GPU's figure is as of the last batch, up to a second old at either end.
      assert.ok(Math.abs(e0b - e0a - 300 * dtS) < 300 * 0.4, `GPU 0 energy moved ${e0b - e0a} J in ${dtS} s at 300 W`);
      assert.ok(e1b - e1a > 50 * (dtS - 1.2) && e1b - e1a < 50 * (dtS + 1.2), `GPU 1 energy moved ${e1b - e1a} J in ${dtS} s at 50 W`);
      assert.equal((await httpGet(url.replace('/metrics', '/nope'))).status, 404);
      child.kill('SIGINT');
      assert.equal(await exited(child), 0, stderr());
      assert.match(stderr(), /joules exporter: stopped/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a GPU lost mid-way reads joules_gpu_up 0, loses its gauges and keeps its last energy; the other GPU goes on', async () => {
    const { child, url, stderr } = await startServing(['exporter', '--port', '0', '--host', 'node-l'], nvmlEnv(lib, 'gpu-lost.scn'));
    try {
      let body = '';
      for (let i = 0; i < 60 && !/^joules_gpu_up\{[^}]*gpu="1"[^}]*\} 0$/m.test(body); i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = (await httpGet(url)).body;
      }
      assert.match(body, /^joules_gpu_up\{[^}]*gpu="1"[^}]*\} 0$/m);
      assert.match(body, /^joules_gpu_up\{[^}]*gpu="0"[^}]*\} 1$/m);
      assert.doesNotMatch(body, /^joules_gpu_power_watts\{[^}]*gpu="1"/m);
      assert.match(body, /^joules_gpu_power_watts\{[^}]*gpu="0"/m);
      const lost = valueOf(body, /^joules_gpu_energy_joules_total\{[^}]*gpu="1"/);
      assert.ok(lost > 0, `GPU 1's energy before it was lost: ${lost}`);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(valueOf((await httpGet(url)).body, /^joules_gpu_energy_joules_total\{[^}]*gpu="1"/), lost, 'the lost GPU\'s counter stays');
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0, stderr());
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a port in use is a clear one-line error, and no GPU is exit code 3', async () => {
    const busy = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = joules(['exporter', '--port', String(port)], nvmlEnv(lib, 'constant-300w.scn'));
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`joules: cannot serve metrics on 127\\.0\\.0\\.1:${port}: the port is in use`));
    } finally {
      busy.close();
    }
    const none = joules(['exporter', '--port', '0'], { JOULES_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1' });
    assert.equal(none.code, 3);
    assert.equal(joules(['exporter', '--port', '70000']).code, 2);
  });

  it('run --metrics-port serves the run\'s energy and state while it runs', async () => {
    const store = tempDir('joules-exp-');
    const { child, url, stderr } = await startServing(
      ['run', '--metrics-port', '0', '--name', 'exp-run', '--store', store, '--', 'python3', '-c', 'import time; time.sleep(3)'],
      nvmlEnv(lib, 'constant-300w.scn'),
    );
    try {
      let body = '';
      for (let i = 0; i < 40 && !/joules_run_energy_joules_total\{[^}]*\} [1-9]/.test(body); i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = (await httpGet(url)).body;
      }
      assert.match(body, /^joules_run_state\{host="[^"]+",run_id="[^"]+",run_name="exp-run",state="running"\} 1$/m);
      const e = valueOf(body, /^joules_run_energy_joules_total\{/);
      assert.ok(e > 0 && e < 300 * 4, `run energy ${e}`);
      assert.match(body, /^joules_gpu_power_watts\{[^}]*\} 300$/m);
      assert.equal(await exited(child), 0, stderr());
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
