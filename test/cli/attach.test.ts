// `joules attach <pid>` through the built CLI and the fake NVML library: a process tree started
// outside Joules, whose GPU process the scenario lists on GPU 1 (`process match=`), is attached,
// measured, detached with Ctrl-C and still running afterwards; one that exits ends the run.
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../support/fakeNvml';
import { exited, isAlive, joules, nvmlEnv, ROOT, startJoules, tempDir, waitFor } from './support';
import { processTree } from '../../src/core/runs/processes';

interface AttachJson {
  status: string;
  exitCode: number | null;
  energyJ: number;
  durationS: number;
  attribution: string;
  attached?: { pid: number; end: string };
  command: string[];
  gpus: Array<{ index: number; energyJ: number }>;
}

// GPU 0 at 300 W runs someone else's work; GPU 1 at 200 W runs the attached tree's process.
const SCENARIO = [
  'device name="NVIDIA H100 (fake)"',
  'at 0 power=300W util=90',
  'device name="NVIDIA H100 (fake)"',
  'at 0 power=200W util=80',
  'process gpu=1 match="joules-attach-target" mem=4GiB sm=80',
].join('\n');

/**
 * A shell whose child runs `python3 ... joules-attach-target`: the marker is passed through the
 * environment so only the Python process' command line carries it (the shell's does not).
 */
function startOutside(seconds: number): ChildProcess {
  return spawn('sh', ['-c', `python3 -c "import time; time.sleep(${seconds})" "$JOULES_TARGET"; echo done`], {
    env: { ...process.env, JOULES_TARGET: 'joules-attach-target' },
    stdio: 'ignore',
    detached: true,
  });
}

describe('joules attach', function () {
  this.timeout(120_000);
  let env: NodeJS.ProcessEnv;
  const outside: ChildProcess[] = [];

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const scn = writeScenario(SCENARIO);
    env = nvmlEnv(await fakeNvml(scn), scn);
  });

  after(() => {
    for (const c of outside) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('measures a process tree it did not launch (its GPU only), detaches on Ctrl-C and leaves it running', async () => {
    const target = startOutside(60);
    outside.push(target);
    await waitFor('the Python child', () => processTree(target.pid!).length >= 2);
    // `joules processes` shows the GPU process (the Python child) with its user and command line.
    const child = processTree(target.pid!).find((p) => p !== target.pid)!;
    const listed = joules(['processes', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const gpus = (JSON.parse(listed.stdout) as { gpus: Array<{ index: number; processes?: Array<{ pid: number; user?: string; command?: string; usedGpuMemoryBytes?: number }> }> }).gpus;
    assert.deepEqual(gpus[0]!.processes, []);
    const row = gpus[1]!.processes!.find((p) => p.pid === child);
    assert.ok(row, `pid ${child} on GPU 1: ${listed.stdout}`);
    assert.equal(row.usedGpuMemoryBytes, 4 * 2 ** 30);
    assert.match(row.command ?? '', /python3 -c import time; time\.sleep\(60\) joules-attach-target/);
    assert.equal(row.user, os.userInfo().username);
    const human = joules(['processes'], env);
    assert.match(human.stdout, new RegExp(`^  ${child}\\s+\\S+\\s+4\\.0 GiB\\s+--\\s+\\S*python3 -c`, 'm'));
    assert.match(human.stdout, /^GPU 0 NVIDIA H100 \(fake\): 300 W, util 90 %/m);
    const store = tempDir('joules-attach-');
    const j = startJoules(['attach', String(target.pid), '--json', '--store', store, '--name', 'outside-job'], env);
    let out = '';
    let err = '';
    j.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    j.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor('attached', () => /attached to process/.test(err) || j.exitCode !== null);
    // Long enough for the process list (every second) to attribute GPU 1.
    await new Promise((r) => setTimeout(r, 3000));
    j.kill('SIGINT');
    assert.equal(await exited(j), 0, err);
    assert.match(err, new RegExp(`detaching from process ${target.pid} \\(it keeps running\\)`));
    const s = JSON.parse(out) as AttachJson;
    assert.equal(s.status, 'stopped');
    assert.deepEqual(s.attached, { pid: target.pid, end: 'detached' });
    assert.equal(s.exitCode, null);
    assert.equal(s.attribution, 'processes');
    assert.deepEqual(s.command.slice(0, 2), ['sh', '-c']);
    // Only GPU 1 (200 W) is the run's: GPU 0's 300 W belong to someone else.
    assert.ok(Math.abs(s.energyJ - 200 * s.durationS) < 200 * 0.3, `energy ${s.energyJ} J over ${s.durationS} s`);
    // Still running, child included, after the detach.
    assert.ok(isAlive(target.pid!), 'the attached process still runs');
    assert.ok(processTree(target.pid!).length >= 2, 'its child still runs');
    const hist = joules(['history', '--json', '--store', store]);
    assert.match(hist.stdout, /outside-job/);
  });

  it('ends the run when the attached process exits, and says its exit code is not visible', async () => {
    const target = startOutside(2.5);
    outside.push(target);
    const store = tempDir('joules-attach-');
    const r = joules(['attach', String(target.pid), '--store', store, '--no-analysis'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`process ${target.pid} exited \\(its exit code is not visible to Joules, which did not launch it\\)`));
    assert.match(r.stderr, /energy\s+[\d,.]+ k?J/);
  });

  it('a pid that is not a running process is a usage error', () => {
    const r = joules(['attach', '999999999'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /joules: no process 999999999/);
    assert.equal(joules(['attach', 'abc'], env).code, 2);
  });

  it('a container id with no process on this host, or a bad one, is a usage error that says why', () => {
    const none = joules(['attach', '--container', '0123456789abcdef'], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /joules: no process of container 0123456789abcdef runs on this host/);
    const bad = joules(['attach', '--container', 'xyz'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a container id: "xyz"/);
    assert.equal(joules(['attach', '--container', '0123456789abcdef', '42'], env).code, 2, 'a pid and a container at once');
  });
});
