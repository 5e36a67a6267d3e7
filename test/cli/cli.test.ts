import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeNvml } from '../support/fakeNvml';
import { BIN, joules, ROOT } from './support';


describe('joules CLI', function () {
  this.timeout(120_000);
  let store: string;
  let lib: string;
  const noGpu = { JOULES_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1' };

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    lib = await fakeNvml('constant-300w.scn');
  });
  beforeEach(() => (store = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-cli-'))));

  it('demo replays the recorded H200 trace, says so plainly, and reports the counter\'s 9615.0 J', () => {
    const r = joules(['demo', '--speed', '200', '--json', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /REPLAY of a recorded trace, not a measurement of this machine/);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(s.replay, true);
    assert.ok(Math.abs((s.energyJ as number) - 9615.0) / 9615.0 < 0.005, `energyJ ${s.energyJ}`);
    assert.equal(s.energyMethod, 'counter');
  });

  it('demo gives the same energy at any replay speed', () => {
    const fast = JSON.parse(joules(['demo', '--speed', '1000', '--json', '--store', store]).stdout) as { energyJ: number };
    const slow = JSON.parse(joules(['demo', '--speed', '15', '--json', '--store', store]).stdout) as { energyJ: number };
    assert.ok(Math.abs(fast.energyJ - slow.energyJ) < 1, `${fast.energyJ} vs ${slow.energyJ}`);
  });

  it('demo prints a human summary with energy in J and Wh', () => {
    const r = joules(['demo', '--speed', '200', '--store', store]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /energy\s+9,6\d\d J \(2\.67 Wh\), hardware energy counter/);
    assert.match(r.stderr, /REPLAY/);
  });

  it('run --json prints one JSON summary on stdout with the documented fields and the command\'s exit code', () => {
    const r = joules(['run', '--json', '--store', store, '--', 'python3', '-c', 'import sys, time; print("to stdout"); time.sleep(1); sys.exit(5)'], { JOULES_NVML_LIBRARY: lib });
    assert.equal(r.code, 5);
    // The command's stdout moves to stderr so stdout stays machine-readable.
    assert.match(r.stderr, /to stdout/);
    const s = JSON.parse(r.stdout) as Record<string, unknown> & { gpus: Array<Record<string, unknown>> };
    for (const k of ['durationS', 'energyJ', 'energyMethod', 'avgPowerW', 'peakPowerW', 'exitCode', 'gpus']) assert.ok(k in s, `missing ${k}`);
    assert.equal(s.exitCode, 5);
    assert.equal(s.energyMethod, 'counter');
    const g = s.gpus[0]!;
    for (const k of ['index', 'name', 'uuid', 'energyJ', 'avgPowerW', 'avgUtilPct']) assert.ok(k in g, `missing gpus[].${k}`);
    assert.equal(g.name, 'NVIDIA H200 (fake)');
    assert.equal(g.avgUtilPct, 100);
  });

  it('`::joules steps` lines give J/step and the time each step was reached (what Compare aligns by step)', () => {
    const script = 'import time\nfor i in range(6):\n    time.sleep(0.25)\n    print("::joules steps 10", flush=True)\n';
    const r = joules(['run', '--json', '--store', store, '--', 'python3', '-c', script], { JOULES_NVML_LIBRARY: lib });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { steps?: number; jPerStep?: number; energyJ: number; durationS: number; stepPoints?: Array<{ tS: number; step: number }> };
    assert.equal(s.steps, 60);
    assert.ok(Math.abs((s.jPerStep ?? 0) - s.energyJ / 60) < 1e-9);
    const pts = s.stepPoints ?? [];
    assert.deepEqual(pts.map((p) => p.step), [10, 20, 30, 40, 50, 60]);
    for (let i = 1; i < pts.length; i++) assert.ok(pts[i]!.tS > pts[i - 1]!.tS, `step times in order: ${JSON.stringify(pts)}`);
    assert.ok(pts[5]!.tS <= s.durationS + 0.01 && pts[5]!.tS - pts[0]!.tS > 0.8, `spread over the run: ${JSON.stringify(pts)}`);
  });

  it('run streams the command\'s output and prints a summary', () => {
    const r = joules(['run', '--store', store, '--', 'python3', '-c', 'print("epoch 1 done")'], { JOULES_NVML_LIBRARY: lib });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /epoch 1 done/);
    assert.match(r.stderr, /duration/);
    assert.match(r.stderr, /energy\s+[\d,.]+ k?J/);
  });

  it('without a GPU, run refuses to pretend and points at the demo (one message, no stack trace)', () => {
    const r = joules(['run', '--', 'python3', '-c', '1'], noGpu);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no NVIDIA GPU to measure/);
    assert.match(r.stderr, /joules demo/);
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
  });

  it('bad input gets a one-line error and a non-zero exit', () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['run', '--frobnicate', '--', 'x'], 2, /unknown option --frobnicate/],
      [['run'], 2, /no command to run/],
      [['run', '--interval-ms', '5', '--', 'x'], 2, /--interval-ms must be a whole number 20-10000, got "5"/],
      [['run', '--interval-ms', 'fast', '--', 'x'], 2, /needs a number/],
      [['demo', '--speed', '0'], 2, /--speed must be a number above 0/],
      [['nonsense'], 2, /unknown command "nonsense"/],
      [['report', 'no-such-run', '--store', '/tmp'], 2, /no run "no-such-run"/],
    ];
    for (const [args, code, re] of cases) {
      const r = joules(args, { JOULES_NVML_LIBRARY: lib });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('a command that does not exist: one line, exit 127, nothing stored', () => {
    const r = joules(['run', '--store', store, '--', 'definitely-not-a-command'], { JOULES_NVML_LIBRARY: lib });
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found: definitely-not-a-command/);
    assert.deepEqual(fs.readdirSync(store), []);
  });

  it('devices lists GPUs with what can be measured on them', () => {
    const r = joules(['devices'], { JOULES_NVML_LIBRARY: lib });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /GPU 0: NVIDIA H200 \(fake\)/);
    assert.match(r.stdout, /energy: hardware counter/);
    const j = JSON.parse(joules(['devices', '--json'], { JOULES_NVML_LIBRARY: lib }).stdout) as { gpus: Array<{ energyMethod: string }> };
    assert.equal(j.gpus[0]!.energyMethod, 'counter');
  });

  it('history and report read back stored runs', () => {
    joules(['demo', '--speed', '500', '--store', store]);
    const h = joules(['history', '--store', store]);
    assert.match(h.stdout, /succeeded .*9,6\d\d J .*demo: recorded H200 phased load \(replay\)/);
    const rep = JSON.parse(joules(['report', 'last', '--json', '--store', store]).stdout) as { replay: boolean; energyJ: number };
    assert.equal(rep.replay, true);
    assert.ok(rep.energyJ > 9500);
  });

  /** `joules run --json` of a Python script, its output collected; `until(text)` waits for it on stderr. */
  function runWatched(script: string): { child: ReturnType<typeof spawn>; out: () => string; err: () => string; until: (text: string) => Promise<void>; closed: Promise<number | null> } {
    const child = spawn(process.execPath, [BIN, 'run', '--json', '--store', store, '--', 'python3', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, JOULES_NVML_LIBRARY: lib },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    const t0 = Date.now();
    const until = async (text: string): Promise<void> => {
      while (!err.includes(text) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
    };
    return { child, out: () => out, err: () => err, until, closed };
  }

  it('Ctrl-C stops the whole run, records it as stopped, and exits 130', async () => {
    const run = runWatched('import time; print("ready", flush=True); time.sleep(60)');
    await run.until('ready');
    run.child.kill('SIGINT');
    const code = await run.closed;
    const err = run.err();
    assert.equal(code, 130, err);
    const s = JSON.parse(run.out()) as { status: string; signal: string };
    assert.equal(s.status, 'stopped');
    assert.match(err, /stopping the run/);
  });

  it('a second Ctrl-C kills a run that ignores the first, and the record still ends as stopped', async () => {
    // The CLI's default grace is 5 s per signal; the command ignores SIGINT and SIGTERM, so only the
    // second Ctrl-C's SIGKILL ends it before its 60 s sleep.
    const script = 'import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN); print("ready", flush=True); time.sleep(60)';
    const run = runWatched(script);
    await run.until('ready');
    run.child.kill('SIGINT');
    await run.until('stopping the run');
    run.child.kill('SIGINT');
    const code = await run.closed;
    const err = run.err();
    assert.match(err, /killing the run/);
    const s = JSON.parse(run.out()) as { status: string; signal: string };
    assert.equal(s.status, 'stopped');
    assert.equal(s.signal, 'SIGKILL');
    assert.equal(code, 137, err);
  });
});
