// Issue 12's proof against a real Prometheus server (Debian's `prometheus`, started here on a
// loopback port with its own config and a temporary TSDB; never the system service): three
// `joules exporter` processes on fake-NVML scenarios stand in for three nodes, a fixture serves
// dcgm-exporter's metric names, Prometheus scrapes them every second, and `joules job` reads each
// job back. Expected energies are computed here from the scenario definitions, not from Joules.
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../support/fakeNvml';
import { httpGet, startServing } from './metricsSupport';
import { exited, joules, nvmlEnv, ROOT, startJoules, tempDir, waitFor } from './support';
import { freePort } from '../support/net';

/** A node of the fake cluster: its GPUs' power as step functions of scenario time (s -> W), and utilization. */
interface FakeGpu {
  /** [scenario time from which it holds, W]; the first must be at 0. */
  powerW: Array<[number, number]>;
  utilPct: number;
  /** No hardware energy counter (the exporter integrates power and labels it so). */
  noCounter?: boolean;
}

const NODES: Record<string, FakeGpu[]> = {
  'node-a': [
    { powerW: [[0, 300]], utilPct: 95 },
    { powerW: [[0, 250]], utilPct: 93 },
  ],
  // A step inside the measured window: 400 W until 8 s of scenario time, then 200 W.
  'node-b': [{ powerW: [[0, 400], [8, 200]], utilPct: 90 }],
  // Idle while the others are busy (the straggler), and without an energy counter (integrated path).
  'node-c': [{ powerW: [[0, 120]], utilPct: 0, noCounter: true }],
};

function scenarioText(gpus: FakeGpu[]): string {
  const lines: string[] = [];
  gpus.forEach((g, i) => {
    lines.push(`device name="NVIDIA H100 (fake)" uuid=GPU-c1a55e00-0000-4000-8000-00000000000${i}`);
    for (const [t, w] of g.powerW) lines.push(`at ${t} power=${w}W util=${g.utilPct} mem_used=8GiB temp=50`);
    if (g.noCounter) lines.push(`fault not_supported gpu=${i} metric=energyCounter,powerInstant,powerSamples`);
  });
  return lines.join('\n') + '\n';
}

/** Energy of a step-power GPU between scenario times a and b (J): the exact integral of the definition. */
function stepEnergyJ(steps: Array<[number, number]>, a: number, b: number): number {
  let j = 0;
  steps.forEach(([t, w], i) => {
    const end = steps[i + 1]?.[0] ?? Infinity;
    const lo = Math.max(a, t);
    const hi = Math.min(b, end);
    if (hi > lo) j += w * (hi - lo);
  });
  return j;
}

/** dcgm-exporter stand-in: two hosts, DCGM field names and labels, values moving with time. */
const DCGM_GPUS = [
  { host: 'dgx-1', gpu: '0', uuid: 'GPU-dc000000-0000-4000-8000-000000000000', powerW: 500, util: 99 },
  { host: 'dgx-1', gpu: '1', uuid: 'GPU-dc000000-0000-4000-8000-000000000001', powerW: 480, util: 98 },
  { host: 'dgx-2', gpu: '0', uuid: 'GPU-dc000000-0000-4000-8000-000000000002', powerW: 100, util: 3 },
];

function dcgmFixture(t0Ms: number): http.Server {
  return http.createServer((_req, res) => {
    const nowMs = Date.now();
    const lines = [
      '# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).',
      '# TYPE DCGM_FI_DEV_POWER_USAGE gauge',
      ...DCGM_GPUS.map((g) => `DCGM_FI_DEV_POWER_USAGE{gpu="${g.gpu}",UUID="${g.uuid}",device="nvidia${g.gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="${g.host}"} ${g.powerW}`),
      '# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).',
      '# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter',
      // Constant power: the counter is base + P x elapsed, in mJ, exact at the moment of the scrape.
      ...DCGM_GPUS.map((g, i) => `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="${g.gpu}",UUID="${g.uuid}",device="nvidia${g.gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="${g.host}"} ${Math.round(7e9 + i * 1e9 + g.powerW * (nowMs - t0Ms))}`),
      '# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).',
      '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
      ...DCGM_GPUS.map((g) => `DCGM_FI_DEV_GPU_UTIL{gpu="${g.gpu}",UUID="${g.uuid}",device="nvidia${g.gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="${g.host}"} ${g.util}`),
    ];
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
  });
}


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface JobJson {
  source: string;
  energyJ: number;
  errorBoundJ: number;
  jPerStep?: number;
  nodes: Array<{ host: string; energyJ: number; energyMethod: string; errorBoundJ?: number }>;
  gpus: Array<{ host: string; gpu: string; energyJ: number; energyMethod: string; intervalS: number }>;
  findings: Array<{ host: string; code: string; lowShare: number }>;
  queries: string[];
}

describe('joules job against a real Prometheus server (issue 12)', function () {
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  let fixture: http.Server | undefined;
  let promUrl = '';
  const exporterStartS = new Map<string, number>();
  let dcgmT0Ms = 0;
  let fromS = 0;
  let promDir: string | undefined;
  let toS = 0;

  before(async function () {
    const which = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
    if (which.status !== 0) {
      // scripts/setup-integration.sh installs Debian's prometheus package; without it there is no server to test against.
      console.log('    (skipped: no prometheus binary; scripts/setup-integration.sh installs Debian\'s package)');
      this.skip();
    }
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const targets: string[] = [];
    for (const [host, gpus] of Object.entries(NODES)) {
      const lib = await fakeNvml(writeScenario(scenarioText(gpus)));
      const scn = process.env.FAKE_NVML_SCENARIO!;
      const s = await startServing(['exporter', '--port', '0', '--host', host, '--interval-ms', '100'], nvmlEnv(lib, scn));
      children.push(s.child);
      targets.push(new URL(s.url).host);
      const start = /^joules_sampling_start_time_seconds\{host="[^"]+"\} (\S+)$/m.exec((await httpGet(s.url)).body);
      exporterStartS.set(host, Number(start![1]));
    }
    dcgmT0Ms = Date.now();
    fixture = dcgmFixture(dcgmT0Ms).listen(0, '127.0.0.1');
    await new Promise((r) => fixture!.once('listening', r));
    const dcgmTarget = `127.0.0.1:${(fixture.address() as AddressInfo).port}`;

    const dir = tempDir('joules-prom-');
    promDir = dir;
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 900ms',
        'scrape_configs:',
        '  - job_name: train',
        '    static_configs:',
        `      - targets: [${targets.map((t) => `"${t}"`).join(', ')}]`,
        '  - job_name: dcgm',
        '    static_configs:',
        `      - targets: ["${dcgmTarget}"]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prom.stderr!.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-4000)));
    children.push(prom);
    let ready = false;
    for (let i = 0; i < 120 && !ready && prom.exitCode === null; i++) {
      ready = await httpGet(`${promUrl}/-/ready`).then((r) => r.status === 200, () => false);
      if (!ready) await sleep(250);
    }
    assert.ok(ready, `Prometheus did not come up: ${promLog}`);
    // Every target scraped at least twice before the window opens.
    for (let i = 0; i < 60; i++) {
      const r = JSON.parse((await httpGet(`${promUrl}/api/v1/query?query=${encodeURIComponent('count_over_time(up[30s]) >= 2')}`)).body) as { data: { result: unknown[] } };
      if (r.data.result.length === 4) break;
      await sleep(500);
    }
    // A 10 s window that holds node-b's step at 8 s of its scenario, with scrapes after its end.
    fromS = Date.now() / 1000;
    await sleep(10_000);
    toS = Date.now() / 1000;
    await sleep(2500);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(300);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    fixture?.close();
    if (promDir) fs.rmSync(promDir, { recursive: true, force: true });
  });

  function job(selector: string, extra: string[] = []): JobJson {
    const r = joules(['job', '--prometheus', promUrl, '--selector', selector, '--from', fromS.toFixed(3), '--to', toS.toFixed(3), '--json', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobJson;
  }

  it("reads the three exporters back: each node's energy over the window matches its scenario within the documented error", () => {
    const r = job('{job="train"}', ['--steps', '1000']);
    assert.equal(r.source, 'joules');
    assert.deepEqual(r.nodes.map((n) => n.host), ['node-a', 'node-b', 'node-c']);
    let total = 0;
    for (const [host, gpus] of Object.entries(NODES)) {
      const start = exporterStartS.get(host)!;
      // Scenario time runs from the exporter's first nvmlInit, a few ms before its published start.
      const expected = gpus.reduce((s, g) => s + stepEnergyJ(g.powerW, fromS - start, toS - start), 0);
      total += expected;
      const node = r.nodes.find((n) => n.host === host)!;
      const peakW = gpus.reduce((s, g) => s + Math.max(...g.powerW.map(([, w]) => w)), 0);
      const stepW = gpus.reduce((s, g) => s + (g.powerW.length > 1 ? Math.abs(g.powerW[0]![1] - g.powerW[1]![1]) : 0), 0);
      // README "Clusters": counter GPUs, the interpolation bound at the window's ends plus the
      // counter's 100 ms update period at each end; integrated GPUs, up to the 1 s batch period at
      // each end. Plus the scenario's start against the published start (the step's 0.3 s).
      const counterGpus = gpus.filter((g) => !g.noCounter);
      const tol =
        (node.errorBoundJ ?? 0) +
        2 * 0.1 * counterGpus.reduce((s, g) => s + Math.max(...g.powerW.map(([, w]) => w)), 0) +
        2 * 1.1 * gpus.filter((g) => g.noCounter).reduce((s, g) => s + Math.max(...g.powerW.map(([, w]) => w)), 0) +
        0.3 * stepW;
      if (process.env.JOULES_CLUSTER_DEBUG) console.log(`${host}: ${node.energyJ.toFixed(1)} J, expected ${expected.toFixed(1)} J ± ${tol.toFixed(1)} (bound ${node.errorBoundJ})`);
      assert.ok(Math.abs(node.energyJ - expected) <= tol, `${host}: ${node.energyJ.toFixed(1)} J, expected ${expected.toFixed(1)} J ± ${tol.toFixed(1)} (peak ${peakW} W)`);
      assert.equal(node.energyMethod, gpus.every((g) => g.noCounter) ? 'integrated' : 'counter');
      // At constant power the interpolation is exact: only the counter's 100 ms update period remains.
      if (gpus.every((g) => !g.noCounter && g.powerW.length === 1)) assert.ok(Math.abs(node.energyJ - expected) <= 2 * 0.1 * peakW, `${host}: ${node.energyJ} J vs ${expected} J at constant power`);
    }
    assert.ok(Math.abs(r.energyJ - total) / total < 0.05, `total ${r.energyJ} vs ${total}`);
    assert.equal(r.jPerStep, r.energyJ / 1000);
    for (const g of r.gpus) assert.ok(g.intervalS > 0.8 && g.intervalS < 1.5, `scrape interval ${g.intervalS}`);
    // node-c sat idle while a and b were busy.
    assert.deepEqual(r.findings.map((f) => [f.host, f.code]), [['node-c', 'straggler-node']]);
    assert.ok(r.queries.some((q) => q.startsWith('joules_gpu_energy_joules_total{job="train"}[')), r.queries.join('\n'));
  });

  it('--save keeps the window in the history as a run of kind job: its GPUs across nodes, their power drawn, the report\'s energy', () => {
    const store = tempDir('joules-job-store-');
    const r = job('{job="train"}', ['--save', '--store', store]) as JobJson & { runId?: string };
    assert.ok(r.runId, 'the saved run\'s id');
    const rep = joules(['report', r.runId, '--json', '--store', store]);
    assert.equal(rep.code, 0, rep.stderr);
    const s = JSON.parse(rep.stdout) as { energyJ: number; gpus: Array<{ name: string; energyJ: number }>; durationS: number };
    assert.ok(Math.abs(s.energyJ - r.energyJ) < 1e-3, `${s.energyJ} J stored, ${r.energyJ} J reported`);
    assert.equal(s.gpus.length, r.gpus.length);
    assert.ok(s.gpus.every((g) => /^node-[abc] GPU \d/.test(g.name)), JSON.stringify(s.gpus.map((g) => g.name)));
    assert.ok(Math.abs(s.durationS - (toS - fromS)) < 0.01);
    // The stored run has the scraped power as its samples (what the panel draws).
    const runDir = path.join(store, r.runId);
    const lines = fs.readFileSync(path.join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n');
    assert.ok(lines.length >= 1 && lines.join('').length > 100, 'samples written');
    const meta = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { kind: string; job: { selector: string; findings: Array<{ host: string }> } };
    assert.equal(meta.kind, 'job');
    assert.equal(meta.job.selector, '{job="train"}');
    assert.deepEqual(meta.job.findings.map((f) => f.host), ['node-c']);
    fs.rmSync(store, { recursive: true, force: true });
  });

  it("reads dcgm-exporter's metric names (mJ counter, Hostname/gpu/UUID labels) through the same server", () => {
    const r = job('{job="dcgm"}');
    assert.equal(r.source, 'dcgm');
    assert.deepEqual(r.nodes.map((n) => n.host), ['dgx-1', 'dgx-2']);
    for (const host of ['dgx-1', 'dgx-2']) {
      const watts = DCGM_GPUS.filter((g) => g.host === host).reduce((s, g) => s + g.powerW, 0);
      const expected = watts * (toS - fromS);
      const node = r.nodes.find((n) => n.host === host)!;
      if (process.env.JOULES_CLUSTER_DEBUG) console.log(`${host}: ${node.energyJ.toFixed(1)} J, expected ${expected.toFixed(1)} J ± ${node.errorBoundJ}`);
      // The fixture's counter is exact at each scrape: within the bound at the ends, and at constant
      // power within a joule or two (ms rounding of the counter and of the scrape timestamps).
      assert.ok(Math.abs(node.energyJ - expected) < 0.002 * expected + 2, `${host}: ${node.energyJ} J vs ${expected} J at constant power`);
      assert.ok(Math.abs(node.energyJ - expected) <= (node.errorBoundJ ?? 0) + 1, `${host}: ${node.energyJ} J, expected ${expected} ± ${node.errorBoundJ}`);
      assert.equal(node.energyMethod, 'counter');
    }
    assert.deepEqual(r.findings.map((f) => f.host), ['dgx-2']);
    // The human report names the job's nodes, the finding and the PromQL.
    const human = joules(['job', '--prometheus', promUrl, '--selector', '{job="dcgm"}', '--from', fromS.toFixed(3), '--to', toS.toFixed(3)]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /node dgx-1: [\d,.]+ k?J over 2 GPU\(s\), energy counter/);
    assert.match(human.stdout, /warning: Node dgx-2: its GPUs sat at 3 % utilization/);
    assert.match(human.stdout, /DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION\{job="dcgm"\}\[/);
  });

  it('--live redraws a line per refresh and prints the report at Ctrl-C', async () => {
    const child = startJoules(['job', '--prometheus', promUrl, '--selector', '{job="dcgm"}', '--live', '--refresh-s', '1', '--from', fromS.toFixed(3), '--json']);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor('two live lines', () => (err.match(/total [\d,.]+ k?J {2}dgx-1 /g) ?? []).length >= 2 || child.exitCode !== null, 30_000);
    child.kill('SIGINT');
    assert.equal(await exited(child), 0, err);
    const r = JSON.parse(out) as JobJson & { toS: number };
    assert.equal(r.source, 'dcgm');
    // Up to now: longer than the fixed window, as the job went on.
    assert.ok(r.toS > toS, `live report ends at ${r.toS}, after ${toS}`);
    assert.ok(r.energyJ > 0);
  });

  it('a selector that matches nothing, and a server that is not there, are one-line errors', async () => {
    const none = joules(['job', '--prometheus', promUrl, '--selector', '{job="nope"}', '--from', fromS.toFixed(3), '--to', toS.toFixed(3)]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^joules: no GPU series match in the window: tried joules_gpu_energy_joules_total\{job="nope"\}/);
    const gone = joules(['job', '--prometheus', `http://127.0.0.1:${await freePort()}`, '--selector', '{job="train"}']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(joules(['job', '--prometheus', promUrl, '--selector', 'up']).code, 2);
  });
});
