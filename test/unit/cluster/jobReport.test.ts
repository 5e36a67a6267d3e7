import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import type { JobSeries } from '../../../src/core/cluster/jobReport';
import { jobReport } from '../../../src/core/cluster/jobReport';
import { DCGM_SOURCE, JOULES_SOURCE, withSelector } from '../../../src/core/cluster/metricSources';
import type { PromSeries } from '../../../src/core/cluster/promClient';
import { parseResponse, promClient, PrometheusError } from '../../../src/core/cluster/promClient';

const T0 = 1_700_000_000;

/** Points every `stepS` over [T0, T0 + durS] of `f(t since T0)`. */
function series(metric: string, labels: Record<string, string>, durS: number, stepS: number, f: (t: number) => number): PromSeries {
  const points: Array<[number, number]> = [];
  for (let t = 0; t <= durS + 1e-9; t += stepS) points.push([T0 + t, f(t)]);
  return { metric, labels, points };
}

/** Three nodes of two GPUs, dcgm-exporter's names: node c idles between 20 and 50 s while a and b run at 95 %. */
function dcgmJob(): JobSeries {
  const energy: PromSeries[] = [];
  const power: PromSeries[] = [];
  const util: PromSeries[] = [];
  const watts = { a: 400, b: 380, c: 150 } as const;
  for (const host of ['a', 'b', 'c'] as const) {
    for (const gpu of ['0', '1']) {
      const labels = { Hostname: host, gpu, UUID: `GPU-${host}${gpu}`, modelName: 'NVIDIA H100 80GB HBM3', job: 'train' };
      const p = (t: number): number => (host === 'c' && t >= 20 && t < 50 ? 90 : watts[host]);
      // mJ counter since boot: integral of the step power, from an arbitrary base.
      const mj = (t: number): number => {
        let j = 0;
        for (let s = 0; s < t; s += 0.5) j += p(s) * Math.min(0.5, t - s);
        return 5e9 + j * 1000;
      };
      energy.push(series(DCGM_SOURCE.energy, labels, 100, 5, mj));
      power.push(series(DCGM_SOURCE.power, labels, 100, 5, p));
      util.push(series(DCGM_SOURCE.util, labels, 100, 5, (t) => (host === 'c' && t >= 20 && t < 50 ? 0 : 95)));
    }
  }
  return { source: DCGM_SOURCE, fromS: T0, toS: T0 + 100, energy, power, util, utilStepS: 5 };
}

describe('jobReport', () => {
  it('energy per GPU and node from the mJ counter (dcgm-exporter), total, J/step over all ranks', () => {
    const r = jobReport(dcgmJob(), { steps: 1000 });
    assert.equal(r.source, 'dcgm');
    assert.deepEqual(r.nodes.map((n) => n.host), ['a', 'b', 'c']);
    const a = r.nodes.find((n) => n.host === 'a')!;
    assert.ok(Math.abs(a.energyJ - 2 * 400 * 100) < 1e-6, String(a.energyJ));
    const c = r.nodes.find((n) => n.host === 'c')!;
    assert.ok(Math.abs(c.energyJ - 2 * (150 * 70 + 90 * 30)) < 1e-6, String(c.energyJ));
    assert.equal(a.energyMethod, 'counter');
    assert.equal(r.gpus.length, 6);
    assert.equal(r.gpus[0]!.uuid, 'GPU-a0');
    assert.equal(r.gpus[0]!.name, 'NVIDIA H100 80GB HBM3');
    assert.ok(Math.abs(r.energyJ - r.nodes.reduce((s, n) => s + n.energyJ, 0)) < 1e-9);
    assert.equal(r.jPerStep, r.energyJ / 1000);
    // The window's ends are scrapes: nothing interpolated.
    assert.equal(r.errorBoundJ, 0);
  });

  it('finds the node that sat idle while the others were busy, with the energy it drew meanwhile', () => {
    const r = jobReport(dcgmJob());
    assert.equal(r.findings.length, 1, JSON.stringify(r.findings));
    const f = r.findings[0]!;
    assert.equal(f.host, 'c');
    assert.equal(f.code, 'straggler-node');
    assert.equal(f.lowS, 30);
    assert.ok(Math.abs(f.lowShare - 30 / 105) < 1e-9, String(f.lowShare));
    assert.equal(f.nodeUtilPct, 0);
    assert.equal(f.othersUtilPct, 95);
    // Two GPUs at 90 W over the six grid steps ending at 20..45 s; the first straddles the 150 -> 90 W step.
    assert.ok(f.energyJ! > 2 * 90 * 30 && f.energyJ! < 2 * 150 * 30, String(f.energyJ));
    assert.match(f.message, /Node c: its GPUs sat at 0 % utilization for 30 s/);
  });

  it('no finding when every node is busy together, or with one node', () => {
    const d = dcgmJob();
    d.util = d.util.map((s) => ({ ...s, points: s.points.map(([t]) => [t, 95] as [number, number]) }));
    assert.equal(jobReport(d).findings.length, 0);
    const one = dcgmJob();
    one.util = one.util.filter((s) => s.labels.Hostname === 'c');
    assert.equal(jobReport(one).findings.length, 0);
  });

  it('integrates power where a GPU has no counter series, and labels it integrated', () => {
    const d = dcgmJob();
    d.energy = d.energy.filter((s) => s.labels.Hostname !== 'b');
    const r = jobReport(d);
    const b = r.nodes.find((n) => n.host === 'b')!;
    assert.equal(b.energyMethod, 'integrated');
    assert.ok(Math.abs(b.energyJ - 2 * 380 * 100) < 1e-6);
    assert.equal(r.energyMethod, 'counter+integrated');
  });

  it('Joules\' own counter: J, host label, method label kept, bound from the window\'s ends between scrapes', () => {
    const labels = (gpu: string, method: string): Record<string, string> => ({ host: 'n1', gpu, uuid: `GPU-${gpu}`, name: 'NVIDIA H200', method, job: 'train' });
    const d: JobSeries = {
      source: JOULES_SOURCE,
      fromS: T0 + 12,
      toS: T0 + 52,
      energy: [series(JOULES_SOURCE.energy, labels('0', 'counter'), 60, 5, (t) => 300 * t), series(JOULES_SOURCE.energy, labels('1', 'integrated'), 60, 5, (t) => 50 * t)],
      power: [],
      util: [],
      utilStepS: 5,
    };
    const r = jobReport(d);
    assert.equal(r.gpus[0]!.energyMethod, 'counter');
    assert.equal(r.gpus[1]!.energyMethod, 'integrated');
    assert.ok(Math.abs(r.gpus[0]!.energyJ - 300 * 40) < 1e-6);
    // Ends at 12 s (2/5 into a 1500 J scrape interval) and 52 s (2/5 too): 0.6 x 1500 each.
    assert.ok(Math.abs(r.gpus[0]!.errorBoundJ! - 2 * 0.6 * 1500) < 1e-6, String(r.gpus[0]!.errorBoundJ));
    assert.equal(r.gpus[1]!.errorBoundJ, undefined);
    assert.equal(r.nodes[0]!.energyMethod, 'counter+integrated');
  });

  it('a GPU with utilization but no energy or power samples is noted, not counted as 0 J', () => {
    const d = dcgmJob();
    d.util.push(series(DCGM_SOURCE.util, { Hostname: 'a', gpu: '7', UUID: 'GPU-a7' }, 100, 5, () => 50));
    d.power.push({ metric: DCGM_SOURCE.power, labels: { Hostname: 'a', gpu: '8', UUID: 'GPU-a8' }, points: [[T0 + 3, 100]] });
    const r = jobReport(d);
    assert.equal(r.gpus.length, 6);
    assert.equal(r.nodes.find((n) => n.host === 'a')!.gpus, 2);
    assert.ok(r.notes.includes('a GPU 7: fewer than two energy or power samples in the window; no energy figure'), r.notes.join('\n'));
    assert.ok(r.notes.includes('a GPU 8: fewer than two energy or power samples in the window; no energy figure'), r.notes.join('\n'));
  });

  it('notes a GPU whose series cover only part of the window', () => {
    const d = dcgmJob();
    d.toS = T0 + 200;
    const r = jobReport(d);
    assert.ok(r.notes.some((n) => /a GPU 0: series cover 100 s of the 200 s window/.test(n)), r.notes.join('\n'));
  });
});

describe('metric sources and the Prometheus client', () => {
  it('adds the selector to a metric name and refuses anything but label matchers', () => {
    assert.equal(withSelector('m', '{job="train"}'), 'm{job="train"}');
    assert.equal(withSelector('m', ''), 'm');
    assert.throws(() => withSelector('m', 'up{job="x"}'), /label matchers in braces/);
    assert.throws(() => withSelector('m', '{a="1"} or {b="2"}'), /label matchers/);
  });

  it('parses matrix answers and turns API errors into one line', () => {
    const ok = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'm', gpu: '0' }, values: [[1, '2.5'], [2, 'NaN'], [3, '4']] }] } });
    assert.deepEqual(parseResponse(ok, 200, 'x'), [{ metric: 'm', labels: { gpu: '0' }, points: [[1, 2.5], [3, 4]] }]);
    assert.throws(() => parseResponse(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }), 400, 'http://p/api/v1/query'), /http:\/\/p\/api\/v1\/query: bad_data: parse error/);
    assert.throws(() => parseResponse('<html>', 502, 'x'), /HTTP 502, not a Prometheus API answer/);
    assert.throws(() => parseResponse(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }), 200, 'x'), /expected a matrix/);
  });

  it('fetches raw samples in chunks of an hour and joins them per series', async () => {
    const asked: string[] = [];
    const client = promClient('http://prom:9090', {
      fetch: (url) => {
        const u = new URL(url);
        asked.push(`${u.pathname} ${u.searchParams.get('query')} @${u.searchParams.get('time')}`);
        const end = Number(u.searchParams.get('time'));
        const values = [[end - 1800, '1'], [end, '2']];
        return Promise.resolve({ ok: true, status: 200, text: () => Promise.resolve(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'm', host: 'a' }, values }] } })) });
      },
    });
    const s = await client.rawSamples('m{job="x"}', 0, 7200);
    assert.deepEqual(asked, ['/api/v1/query m{job="x"}[3600s] @3600', '/api/v1/query m{job="x"}[3600s] @7200']);
    assert.equal(s.length, 1);
    assert.deepEqual(s[0]!.points.map((p) => p[0]), [1800, 3600, 5400, 7200]);
  });

  it('an unreachable server or a bad URL is a PrometheusError naming it', async () => {
    assert.throws(() => promClient('not a url'), PrometheusError);
    assert.throws(() => promClient('ftp://x'), /must be http/);
    // A port that was free a moment ago: nothing listens there.
    const srv = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const client = promClient(`http://127.0.0.1:${port}`, { timeoutMs: 2000 });
    await assert.rejects(client.queryRange('m', 0, 10, 1), new RegExp(`cannot reach Prometheus at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });
});
