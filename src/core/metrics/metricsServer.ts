/**
 * The HTTP side of the exporter: `GET /metrics` answers with the current families in the format the
 * scraper asked for (exposition.ts). Anything else is a 404; only GET and HEAD are served.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricFamily } from './exposition';
import { CONTENT_TYPES, formatExposition, negotiateFormat } from './exposition';

export interface MetricsServer {
  /** The address actually bound (port 0 picks a free one). */
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listen on `listen:port`. Rejects with a one-line reason when the address cannot be bound (port
 * in use, no permission), so the CLI can say so before it samples anything.
 */
export function serveMetrics(o: { listen: string; port: number; families: () => MetricFamily[] | Promise<MetricFamily[]> }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<html><body><a href="/metrics">/metrics</a></body></html>\n');
      return;
    }
    if (url !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    const format = negotiateFormat(req.headers.accept);
    void (async () => {
      let body: string;
      try {
        body = formatExposition(await o.families(), format);
      } catch (e) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`joules exporter: ${e instanceof Error ? e.message : String(e)}\n`);
        return;
      }
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[format], 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    })();
  });
  // Scrapers keep connections alive; close() must not wait for them.
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
      reject(new Error(`cannot serve metrics on ${o.listen}:${o.port}: ${why}`));
    });
    server.listen(o.port, o.listen, () => {
      const a = server.address() as AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
