import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { MetricFamily } from '../../../src/core/metrics/exposition';
import type { MetricsServer } from '../../../src/core/metrics/metricsServer';
import { serveMetrics } from '../../../src/core/metrics/metricsServer';

function request(port: number, method: string, path: string, accept?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: accept ? { Accept: accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics server', () => {
  let server: MetricsServer | undefined;
  let families: () => MetricFamily[] | Promise<MetricFamily[]> = () => [];
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves /metrics as negotiated, HEAD without a body, 404 elsewhere, 405 for other methods', async () => {
    families = () => Promise.resolve([{ name: 'g', type: 'gauge', help: 'h', samples: [{ labels: {}, value: 1 }] }]);
    server = await serveMetrics({ listen: '127.0.0.1', port: 0, families: () => families() });
    assert.equal(server.host, '127.0.0.1');
    const om = await request(server.port, 'GET', '/metrics', 'application/openmetrics-text; version=1.0.0');
    assert.equal(om.status, 200);
    assert.equal(om.body, '# HELP g h\n# TYPE g gauge\ng 1\n# EOF\n');
    const head = await request(server.port, 'HEAD', '/metrics?x=1');
    assert.equal(head.status, 200);
    assert.match(head.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(head.body, '');
    assert.equal((await request(server.port, 'GET', '/other')).status, 404);
    assert.equal((await request(server.port, 'POST', '/metrics')).status, 405);
  });

  it('a family that cannot be written is a 500 with the reason, and the server goes on', async () => {
    families = () => [{ name: 'bad name', type: 'gauge', help: 'h', samples: [] }];
    server = await serveMetrics({ listen: '127.0.0.1', port: 0, families: () => families() });
    const r = await request(server.port, 'GET', '/metrics');
    assert.equal(r.status, 500);
    assert.match(r.body, /invalid metric name "bad name"/);
    families = () => [];
    assert.equal((await request(server.port, 'GET', '/metrics')).status, 200);
  });

  it('a port in use is one line naming the address', async () => {
    server = await serveMetrics({ listen: '127.0.0.1', port: 0, families: () => [] });
    await assert.rejects(serveMetrics({ listen: '127.0.0.1', port: server.port, families: () => [] }), new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${server.port}: the port is in use`));
  });
});
