// Network helpers shared by the CLI and integration suites.
import * as http from 'http';
import type { AddressInfo } from 'net';

/** A loopback port free right now (bound, read, released). */
export async function freePort(): Promise<number> {
  const s = http.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
