// Helpers of the exporter and cluster tests: an HTTP GET, and a CLI process serving metrics.
import type { ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { startJoules, waitFor } from './support';

/** GET `url` with `accept`; resolves with status, content type and body. */
export function httpGet(url: string, accept?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: accept ? { Accept: accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
  });
}

/** Start `joules <args>` and wait for the line that names its metrics URL; returns the child and the URL. */
export async function startServing(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = startJoules(args, env);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  await waitFor(`metrics URL from "joules ${args.join(' ')}" (stderr so far: ${err})`, () => /http:\/\/[^\s]+\/metrics/.test(err) || child.exitCode !== null);
  const m = /(http:\/\/[^\s]+\/metrics)/.exec(err);
  if (!m) throw new Error(`joules ${args[0]} exited (${child.exitCode}) without serving: ${err}`);
  return { child, url: m[1]!, stderr: () => err };
}

