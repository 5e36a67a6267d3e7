// "Joules: Show Prometheus Job" in the real extension host: a `joules exporter` on the fake NVML
// library (twoGpus.scn: 300 W + 60 W, constant) stands in for a node, Debian's prometheus scrapes it
// every second, and the command reads the job back: its report in a tab, and its window kept in the
// history and opened in the energy panel, its GPUs named by node.
import * as assert from 'assert';
import type { ChildProcess } from 'child_process';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { joules, onlyIn, sleep, waitFor } from './support';
import { freePort } from '../../support/net';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}


suite('Show Prometheus Job: a job read back from Prometheus, in the panel', function () {
  onlyIn('gpu');
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  suiteTeardown(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  test('the report in a tab, and the window in the history and the panel, its energy the report\'s', async function () {
    if (spawnSync('sh', ['-c', 'command -v prometheus']).status !== 0) assert.fail("no prometheus binary: scripts/setup-integration.sh installs Debian's package");
    const api = await joules();
    const ext = vscode.extensions.getExtension('joules-dev.joules')!;
    const cli = path.join(ext.extensionPath, 'dist', 'cli.js');
    // The extension host's environment plays twoGpus.scn through the fake library.
    const exporter = spawn(process.execPath, [cli, 'exporter', '--port', '0', '--host', 'node-it', '--interval-ms', '100'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(exporter);
    let err = '';
    exporter.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const url = (await waitFor(`the exporter's URL (${err})`, () => /(http:\/\/[^\s]+\/metrics)/.exec(err)?.[1], 20_000)) as string;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-it-prom-'));
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(config, ['global:', '  scrape_interval: 1s', '  scrape_timeout: 900ms', 'scrape_configs:', '  - job_name: it', '    static_configs:', `      - targets: ["${new URL(url).host}"]`, ''].join('\n'));
    const port = await freePort();
    const prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore' });
    children.push(prom);
    const promUrl = `http://127.0.0.1:${port}`;
    await waitFor('Prometheus ready', async () => (await get(`${promUrl}/-/ready`).catch(() => ({ status: 0 }))).status === 200, 30_000, 250);
    await waitFor('two scrapes', async () => /"result":\[\{/.test((await get(`${promUrl}/api/v1/query?query=${encodeURIComponent('count_over_time(up[30s]) >= 2')}`)).body), 30_000, 500);
    const fromS = Date.now() / 1000;
    await sleep(6000);
    const toS = Date.now() / 1000;
    await sleep(2500);
    const text = await vscode.commands.executeCommand<string | undefined>('joules.showPrometheusJob', { url: promUrl, selector: '{job="it"}', from: fromS.toFixed(3), to: toS.toFixed(3) });
    assert.ok(text?.includes('node node-it'), `the report: ${text}`);
    const run = await waitFor('the job in the history', async () => (await api.runManager.list()).find((r) => r.kind === 'job' && r.job?.selector === '{job="it"}'), 10_000);
    assert.deepEqual(run.gpus.map((g) => g.name), ['node-it GPU 0 (NVIDIA H200 (fake 0))', 'node-it GPU 1 (NVIDIA H200 (fake 1))']);
    // 300 W + 60 W over the window, within the counter's 100 ms steps at each end.
    const expected = 360 * (toS - fromS);
    assert.ok(Math.abs(run.energyJ - expected) <= 2 * 0.1 * 360 + 0.02 * expected, `${run.energyJ} J, expected ${expected} J`);
    await waitFor('the panel showing the job', () => api.panelSelection()?.includes(run.id), 15_000);

    // Followed live: one record, rewritten from the same start to each refresh's now.
    await vscode.commands.executeCommand('joules.showPrometheusJob', { url: promUrl, selector: '{job="it"}', from: fromS.toFixed(3), follow: true, refreshS: 2 });
    const followed = await waitFor('the followed job in the history', async () => (await api.runManager.list()).find((r) => r.kind === 'job' && r.id !== run.id), 10_000);
    const firstS = followed.durationS;
    const grown = await waitFor('the followed job growing', async () => (await api.runManager.list()).find((r) => r.id === followed.id && r.durationS >= firstS + 3), 30_000, 500);
    assert.ok(Math.abs(grown.energyJ - 360 * grown.durationS) <= 2 * 0.1 * 360 + 0.02 * 360 * grown.durationS, `${grown.energyJ} J over ${grown.durationS} s`);
    assert.equal((await api.runManager.list()).filter((r) => r.kind === 'job').length, 2, 'one record per job read, not one per refresh');
    await vscode.commands.executeCommand('joules.stopFollowingPrometheusJob');
    const stoppedAt = (await api.runManager.list()).find((r) => r.id === followed.id)!.durationS;
    await sleep(4500);
    assert.equal((await api.runManager.list()).find((r) => r.id === followed.id)?.durationS, stoppedAt, 'no refresh after Stop');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
