import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeInWorker } from '../../../src/core/analysis/analysisClient';
import { isAlive } from '../../../src/core/runs/processes';
import { CommandNotFoundError } from '../../../src/core/runs/processes';
import type { RunOptions } from '../../../src/core/runs/runSession';
import { RunSession } from '../../../src/core/runs/runSession';
import { samplesOfColumns } from '../../../src/core/runs/minMaxView';
import { RunStore } from '../../../src/core/runs/store';
import { storedRunDrawing } from '../../../src/core/runs/storedRunView';
import { fakeNvml, writeScenario } from '../../support/fakeNvml';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'runs');
const TRACE = path.join(__dirname, '..', '..', '..', 'media', 'traces', 'h200-phased-load.jsonl');

function tempStore(): RunStore {
  return new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'joules-store-')));
}

async function options(scenario: string, store = tempStore()): Promise<RunOptions> {
  const lib = await fakeNvml(scenario);
  return { store, sampler: { backend: { kind: 'nvml', libraryPath: lib }, intervalMs: 50 }, stopGraceS: 1 };
}

/** Starts `script` (which prints "child <pid>" once it has spawned a child) and waits for that line. */
async function startWithChild(script: string, opts: Parameters<typeof RunSession.start>[1]): Promise<{ session: RunSession; childPid: number; parentPid: number }> {
  const session = await RunSession.start({ command: 'python3', args: ['-c', script], cwd: os.tmpdir() }, opts);
  let output = '';
  session.onOutput((t) => (output += t));
  const t0 = Date.now();
  while (!/child \d+/.test(output) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
  return { session, childPid: Number(/child (\d+)/.exec(output)![1]), parentPid: session.pid! };
}

describe('monitored runs (fake NVML)', function () {
  this.timeout(60_000);

  it('measures a run at a constant 300 W: energy = P x duration, output streamed, record stored', async () => {
    const opts = await options('constant-300w.scn');
    const session = await RunSession.start({ command: 'python3', args: ['-c', 'import time; print("hello from the run"); time.sleep(1.5)'], cwd: os.tmpdir() }, opts);
    let output = '';
    session.onOutput((t) => (output += t));
    let batches = 0;
    session.onBatch(() => batches++);
    const s = await session.done;
    assert.equal(s.status, 'succeeded');
    assert.equal(s.exitCode, 0);
    assert.match(output, /hello from the run/);
    // Ring sampling: the sampler wakes and posts about once a second (issue 13).
    assert.ok(batches >= 1 && batches <= Math.ceil(s.durationS) + 1, `${batches} batches in ${s.durationS} s`);
    assert.equal(s.energyMethod, 'counter');
    // The counter moves in 100 ms steps (30 J at 300 W): allow one step at each end.
    assert.ok(Math.abs(s.energyJ - 300 * s.durationS) <= 61, `${s.energyJ} J over ${s.durationS} s`);
    assert.ok(Math.abs(s.avgPowerW - 300) < 25, `avg ${s.avgPowerW} W`);
    assert.equal(s.peakPowerW, 300);
    const stored = opts.store.load(s.id)!;
    assert.equal(stored.summary.status, 'succeeded');
    assert.equal(stored.summary.energyJ, s.energyJ);
    // The utilization ring (1/6 s on the fake) keeps the samples' resolution; the power ring gives 50 Hz.
    assert.ok(stored.samples.length >= 8, `${stored.samples.length} samples stored`);
    assert.ok(stored.powerPoints.length >= 50 * (s.durationS - 0.5), `${stored.powerPoints.length} power points stored`);
    assert.match(stored.outputTail, /hello from the run/);
    // The run's overview was written from the session's view: opening the run reads it, and it
    // draws what a pass over the stored samples draws.
    const opened = await storedRunDrawing(opts.store, s.id);
    assert.equal(opened?.source, 'overview');
    fs.rmSync(path.join(opts.store.root, s.id, 'overview.bin'));
    const rebuilt = await storedRunDrawing(opts.store, s.id);
    assert.equal(rebuilt?.source, 'rebuilt');
    assert.deepEqual(samplesOfColumns(opened.columns), samplesOfColumns(rebuilt.columns));
    assert.ok(samplesOfColumns(opened.columns).length >= 8);
  });

  it('reports the command\'s exit code and marks the run failed', async () => {
    const opts = await options('constant-300w.scn');
    const session = await RunSession.start({ command: 'python3', args: ['-c', 'import sys; sys.exit(3)'], cwd: os.tmpdir() }, opts);
    const s = await session.done;
    assert.equal(s.exitCode, 3);
    assert.equal(s.status, 'failed');
  });

  it('refuses a command that does not exist before starting anything', async () => {
    const opts = await options('constant-300w.scn');
    await assert.rejects(RunSession.start({ command: 'no-such-command-xyz', args: [], cwd: os.tmpdir() }, opts), CommandNotFoundError);
    assert.deepEqual(opts.store.list(), []);
  });

  it('stop ends the whole process tree (no orphans) and marks the run stopped', async () => {
    const opts = await options('constant-300w.scn');
    const script = 'import subprocess, sys, time\np = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])\nprint("child", p.pid, flush=True)\ntime.sleep(60)\n';
    const { session, childPid, parentPid } = await startWithChild(script, opts);
    assert.ok(isAlive(childPid) && isAlive(parentPid));
    const s = await session.stop();
    assert.equal(s.status, 'stopped');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(isAlive(parentPid), false, 'the run\'s process is gone');
    assert.equal(isAlive(childPid), false, 'its child is gone too');
  });

  it('a forced stop kills at once a run that ignores SIGINT and SIGTERM, child included', async () => {
    // A grace period longer than the test's timeout: only the forced SIGKILL can end this run in time.
    const opts = { ...(await options('constant-300w.scn')), stopGraceS: 600 };
    const script = [
      'import signal, subprocess, sys, time',
      'signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)',
      'p = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"])',
      'print("child", p.pid, flush=True)',
      'time.sleep(60)',
    ].join('\n');
    const { session, childPid, parentPid } = await startWithChild(script, opts);
    // The first stop asks politely (ignored here); the second, forced, is what a second Ctrl-C sends.
    void session.stop();
    const s = await session.stop({ force: true });
    assert.equal(s.status, 'stopped');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(isAlive(parentPid), false, 'the run\'s process is gone');
    assert.equal(isAlive(childPid), false, 'its child is gone too');
  });

  it('attributes the run to the GPU its processes use and counts only that GPU', async () => {
    const opts = await options('two-gpus.scn');
    const session = await RunSession.start({ command: 'python3', args: [path.join(FIXTURES, 'fake_train.py'), '2.5'], cwd: FIXTURES }, opts);
    const s = await session.done;
    assert.equal(s.attribution, 'processes');
    const [g0, g1] = s.gpus;
    assert.equal(g0!.attributed, true);
    assert.equal(g1!.attributed, false);
    // GPU 1 keeps being sampled and reported, but the run's energy is GPU 0's alone.
    assert.ok(g1!.energyJ > 0);
    assert.equal(s.energyJ, g0!.energyJ);
  });

  it('keeps sampling the other GPUs when one is lost, and records the gap', async () => {
    const opts = await options('gpu-lost.scn');
    // 3 s: the loss is at 1 s of scenario time, so well over a second of sampling follows it even
    // when a loaded machine starts Python late (2 s left about 0.5 s, and under 6 samples, there).
    const session = await RunSession.start({ command: 'python3', args: ['-c', 'import time; time.sleep(3)'], cwd: os.tmpdir() }, opts);
    const s = await session.done;
    assert.equal(s.status, 'succeeded');
    const rec = opts.store.load(s.id)!;
    const late0 = rec.samples.filter((x) => x.gpu === 0 && x.tMs > 1500);
    const late1 = rec.samples.filter((x) => x.gpu === 1 && x.tMs > 1500);
    assert.ok(late0.length > 5, 'GPU 0 is still sampled after GPU 1 is lost');
    assert.equal(late1.length, 0, 'no samples from the lost GPU');
    assert.equal(rec.gaps.length, 1);
    assert.equal(rec.gaps[0]!.gpu, 1);
    assert.match(rec.gaps[0]!.reason, /GPU_IS_LOST/);
  });

  it('integrates power where there is no energy counter, and labels it', async () => {
    const opts = await options('pascal-no-counter.scn');
    const session = await RunSession.start({ command: 'python3', args: ['-c', 'import time; time.sleep(1.5)'], cwd: os.tmpdir() }, opts);
    const s = await session.done;
    assert.equal(s.energyMethod, 'integrated');
    assert.match(s.gpus[0]!.energyMethodReason ?? '', /not supported/);
    // The scenario's power ramps linearly from 31 W at t=0 to 182 W at t=2 s, then eases to 176 W
    // at 8 s. Its integral over the run's duration (the scenario clock starts a few ms earlier):
    const d = s.durationS;
    const expectJ = d <= 2 ? 31 * d + 37.75 * d * d : 213 + (d - 2) * (182 - (d - 2) / 2);
    assert.ok(Math.abs(s.energyJ - expectJ) / expectJ < 0.15, `${s.energyJ} J over ${d} s, expected ~${expectJ.toFixed(0)} J`);
  });

  it('replays the recorded H200 trace through the same pipeline: 9615.0 J within 0.5 %', async () => {
    const store = tempStore();
    const session = await RunSession.replay(TRACE, Infinity, { store, sampler: { backend: { kind: 'replay', tracePath: TRACE, speed: Infinity }, intervalMs: 100 } });
    const s = await session.done;
    assert.equal(s.replay, true);
    assert.ok(Math.abs(s.energyJ - 9615.0) / 9615.0 < 0.005, `${s.energyJ} J`);
    assert.ok(Math.abs(s.durationS - 30.0) < 0.1);
  });
});

describe('run markers', function () {
  this.timeout(60_000);

  it('reads the energy at each ::joules mark and counts steps and tokens', async () => {
    const lib = await fakeNvml('constant-300w.scn');
    const store = tempStore();
    const markers = path.join(__dirname, '..', '..', '..', 'media');
    const script = [
      'import sys, time',
      `sys.path.insert(0, ${JSON.stringify(markers)})`,
      'from joules_markers import mark, steps, tokens',
      'time.sleep(0.5); mark("epoch 1 start")',
      'time.sleep(1.0); steps(10); tokens(500); mark("epoch 1 end")',
      'time.sleep(0.3)',
    ].join('\n');
    const session = await RunSession.start({ command: 'python3', args: ['-c', script], cwd: os.tmpdir() }, { store, sampler: { backend: { kind: 'nvml', libraryPath: lib }, intervalMs: 50 } });
    const s = await session.done;
    assert.deepEqual(s.markers?.map((m) => m.label), ['epoch 1 start', 'epoch 1 end']);
    const [a, b] = s.markers!;
    // 300 W between the marks, read from the counter (100 ms steps of 30 J).
    const windowJ = b!.energyJ - a!.energyJ;
    const expectJ = 300 * (b!.tS - a!.tS);
    assert.ok(Math.abs(windowJ - expectJ) <= 61, `${windowJ} J between marks, expected ~${expectJ}`);
    assert.equal(s.steps, 10);
    assert.equal(s.tokens, 500);
    assert.ok(Math.abs(s.jPerStep! - s.energyJ / 10) < 1e-9);
    assert.equal(store.readMeta(s.id)!.markers?.length, 2);
  });
});

describe('watching the GPU after the run exits', function () {
  this.timeout(60_000);

  it('finds memory left held on an idle GPU, and keeps the run\'s energy and duration at the exit', async () => {
    const scenario = writeScenario(
      [
        'device name="NVIDIA H200 (fake)" uuid=GPU-leak arch=hopper mem_total=141GiB energy_base=1000',
        'at 0 power=100W util=0 mem_used=1GiB',
        // Scenario time starts at NVML's init in the sampler, a little before the run's t=0.
        'at 0.8 power=400W util=95 mem_used=30GiB',
        // The run's own work ends here, but 30 GiB stay allocated on an idle GPU.
        'at 1.8 power=90W util=0 mem_used=30GiB',
      ].join('\n'),
    );
    const lib = await fakeNvml(scenario);
    const session = await RunSession.start(
      { command: 'python3', args: ['-c', 'import time; time.sleep(2.2)'], cwd: os.tmpdir() },
      {
        store: tempStore(),
        sampler: { backend: { kind: 'nvml', libraryPath: lib }, intervalMs: 50 },
        afterRunMs: 3000,
        // The extension's path: a worker thread that streams the run from the store.
        analyze: async (input) => (await analyzeInWorker(input)).findings,
      },
    );
    const t0 = Date.now();
    const s = await session.done;
    assert.ok(Date.now() - t0 >= 3000, 'the summary waits for the watch window');
    assert.ok(s.durationS < 3.2, `duration ends at the exit: ${s.durationS} s`);
    // Energy up to the exit only: ~0.8 s at 100 W + 1 s at 400 W + ~0.4 s at 90 W, not the 3 s after.
    assert.ok(s.energyJ < 700, `${s.energyJ} J`);
    const leak = s.findings?.find((f) => f.code === 'idle-after-run');
    assert.ok(leak, `no idle-after-run finding in ${JSON.stringify(s.findings?.map((f) => f.code))}`);
    assert.ok(leak.startS >= s.durationS - 0.2);
  });
});
