// Fault injection through the real CLI (bin/joules.js, built) and the fake NVML library: each test
// does to `joules` what an unlucky machine does (a full disk, a closed pipe, a closed terminal, a
// damaged store) and asserts what the user sees: the record, the summary, the exit code and what
// became of the command. Issue 8, "The store and the CLI survive the machine".
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../support/fakeNvml';
import type { Result } from './support';
import { exited, fillDisk, isAlive, joules, nvmlEnv, ROOT, smallDisk, STACK_TRACE, startJoules, tempDir, waitFor } from './support';

interface JsonSummary {
  status: string;
  exitCode: number | null;
  energyJ: number;
  durationS: number;
  errors?: Record<string, number>;
  markers?: Array<{ label: string; tS: number; energyJ: number; energySource?: string }>;
}

function lines(text: string, re: RegExp): string[] {
  return text.split('\n').filter((l) => re.test(l));
}

function history(store: string): Result {
  return joules(['history', '--json', '--store', store]);
}

describe('joules CLI under faults (issue 8)', function () {
  this.timeout(120_000);
  let lib: string;
  let env: NodeJS.ProcessEnv;
  let store: string;

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    lib = await fakeNvml('constant-300w.scn');
    env = nvmlEnv(lib, 'constant-300w.scn');
  });
  beforeEach(() => (store = tempDir()));

  describe('a full disk', () => {
    it('store on a real full disk (64 KiB tmpfs): one warning, the command runs to its end, the summary is printed and the record kept', function () {
      const disk = smallDisk(64);
      if (!disk) this.skip(); // needs `mount` (root): said in the README, not faked
      try {
        // ~1.5 MB of output over ~2 s: output.log fills the 64 KiB disk within the first second.
        const script = 'import sys, time\nfor i in range(40):\n    print("line %d " % i + "x" * 40000, flush=True)\n    time.sleep(0.05)\nprint("child finished", file=sys.stderr)\nsys.exit(3)';
        const r = joules(['run', '--no-analysis', '--store', disk!.dir, '--', 'python3', '-c', script], env);
        assert.equal(r.code, 3, `the command's own exit code: ${r.stderr}`);
        assert.match(r.stderr, /child finished/, 'the command was neither killed nor cut off');
        assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('line ')).length, 40, 'every line of output reached the terminal');
        assert.equal(lines(r.stderr, /cannot write the run record/).length, 1, `warned once: ${r.stderr}`);
        assert.match(r.stderr, /ENOSPC: no space left on device/);
        assert.match(r.stderr, /energy\s+[\d,.]+ k?J/, 'the summary is printed');
        assert.match(r.stderr, /may be incomplete/);
        assert.doesNotMatch(r.stderr, STACK_TRACE);
        // The record survives: output.log gave its room to run.json.
        const runs = JSON.parse(history(disk!.dir).stdout) as JsonSummary[];
        assert.equal(runs.length, 1);
        assert.equal(runs[0]!.status, 'failed');
        assert.equal(runs[0]!.exitCode, 3);
        assert.ok(runs[0]!.energyJ > 0, `energy kept: ${runs[0]!.energyJ}`);
      } finally {
        disk!.unmount();
      }
    });

    it('a silent command while the disk fills up (real tmpfs): it runs to its end under a live monitor, then the summary', async function () {
      const disk = smallDisk(256);
      if (!disk) this.skip();
      try {
        const done = path.join(tempDir(), 'done');
        const script = `import time\ntime.sleep(2.5)\nopen(${JSON.stringify(done)}, "w").write("ok")`;
        const child = startJoules(['run', '--json', '--no-analysis', '--store', disk!.dir, '--', 'python3', '-c', script], env);
        let out = '';
        let err = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        await waitFor('the run folder', () => fs.readdirSync(disk!.dir).some((f) => f.startsWith('2')));
        fillDisk(disk!.dir);
        assert.equal(await exited(child), 0, err);
        assert.ok(fs.existsSync(done), 'the command finished its work');
        assert.equal(lines(err, /cannot write the run record/).length, 1, err);
        const s = JSON.parse(out) as JsonSummary;
        assert.equal(s.status, 'succeeded');
        assert.ok(s.durationS > 2.4 && s.energyJ > 600, `${s.durationS} s, ${s.energyJ} J`);
        assert.match(Object.keys(s.errors ?? {}).join(), /store: ENOSPC/);
        assert.doesNotMatch(err, STACK_TRACE);
      } finally {
        disk!.unmount();
      }
    });

    it('stdout on a full device (/dev/full, real): one line on stderr, the run goes on and is recorded', () => {
      const out = fs.openSync('/dev/full', 'w');
      try {
        const script = 'import sys, time\nfor i in range(20):\n    print("x" * 10000, flush=True)\n    time.sleep(0.05)\nprint("child finished", file=sys.stderr)';
        const r = joules(['run', '--no-analysis', '--store', store, '--', 'python3', '-c', script], env, { stdio: ['ignore', out, 'pipe'] });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(lines(r.stderr, /stdout closed \(ENOSPC\)/).length, 1, r.stderr);
        assert.match(r.stderr, /child finished/);
        assert.match(r.stderr, /energy\s+[\d,.]+ k?J/);
        assert.doesNotMatch(r.stderr, STACK_TRACE);
        const [run] = JSON.parse(history(store).stdout) as JsonSummary[];
        assert.equal(run!.status, 'succeeded');
      } finally {
        fs.closeSync(out);
      }
    });

    it('fix --apply on a real full disk leaves the script byte for byte as it was; with room it applies', async function () {
      const disk = smallDisk(64);
      if (!disk) this.skip();
      try {
        const starvedLib = await fakeNvml(path.join(ROOT, 'test', 'integration', 'fixtures', 'scenarios', 'starved.scn'));
        const script = path.join(disk!.dir, 'findings_train.py');
        fs.copyFileSync(path.join(ROOT, 'test', 'integration', 'fixtures', 'workspace', 'findings_train.py'), script);
        const original = fs.readFileSync(script);
        const run = joules(['run', '--store', store, '--', 'python3', script, '4'], nvmlEnv(starvedLib, path.join(ROOT, 'test', 'integration', 'fixtures', 'scenarios', 'starved.scn')));
        assert.equal(run.code, 0, run.stderr);
        fillDisk(disk!.dir);
        const full = joules(['fix', 'last', '--apply', '--store', store]);
        assert.notEqual(full.code, 0);
        assert.match(full.stderr, /cannot write .*findings_train\.py \(ENOSPC\); the script is unchanged/);
        assert.equal(full.stderr.trim().split('\n').length, 1, full.stderr);
        assert.ok(fs.readFileSync(script).equals(original), 'the script is intact');
        fs.rmSync(path.join(disk!.dir, 'filler'));
        const ok = joules(['fix', 'last', '--apply', '--store', store]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /Applied [1-9]\d* fix/);
        assert.ok(!fs.readFileSync(script).equals(original), 'with room, the fix is written');
        assert.deepEqual(fs.readdirSync(disk!.dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left behind');
      } finally {
        disk!.unmount();
      }
    });
  });

  describe('a store that cannot be used', () => {
    it('an unwritable or invalid --store / JOULES_HOME: one line, exit 4, and the command never starts', () => {
      const marker = path.join(tempDir(), 'started');
      const cmd = ['--', 'python3', '-c', `open(${JSON.stringify(marker)}, "w").write("x")`];
      const aFile = path.join(tempDir(), 'not-a-folder');
      fs.writeFileSync(aFile, '');
      const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
        [['run', '--store', aFile, ...cmd], {}, /cannot use the run history folder .*not-a-folder: it is not a folder/],
        [['run', '--store', '/proc/joules-store', ...cmd], {}, /cannot use the run history folder \/proc\/joules-store: ENOENT/],
        [['run', ...cmd], { JOULES_HOME: aFile }, /ENOTDIR.*\(from JOULES_HOME\)/],
        [['run', ...cmd], { JOULES_HOME: 'relative/home' }, /JOULES_HOME must be an absolute path/],
        [['demo', '--speed', '100'], { JOULES_HOME: aFile }, /ENOTDIR.*\(from JOULES_HOME\)/],
      ];
      for (const [args, extra, re] of cases) {
        const r = joules(args, { ...env, ...extra });
        assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.ok(!fs.existsSync(marker), `${args.join(' ')}: the command must not have started`);
      }
    });
  });

  describe('a damaged store', () => {
    it('a malformed run.json and a torn samples line are skipped with a warning; history lists the rest', () => {
      for (let i = 0; i < 3; i++) assert.equal(joules(['demo', '--speed', '1000', '--quiet', '--no-analysis', '--store', store]).code, 0);
      const [bad, torn] = fs.readdirSync(store).sort();
      fs.writeFileSync(path.join(store, bad!, 'run.json'), '{"schema": 1, "id": "trunc');
      fs.appendFileSync(path.join(store, torn!, 'samples.jsonl'), '{"s":[[1,0,nul\n');
      const r = joules(['history', '--store', store]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, 2, r.stdout);
      assert.ok(!r.stdout.includes(bad!));
      assert.ok(r.stdout.includes(torn!));
      assert.equal(lines(r.stderr, /warning: skipped/).length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`skipped .*${bad}: run.json is not valid JSON`));
      const rep = joules(['report', torn!, '--json', '--store', store]);
      assert.equal(rep.code, 0, rep.stderr);
      assert.ok((JSON.parse(rep.stdout) as JsonSummary).energyJ > 9000);
    });

    it('a run folder copied mid-run never makes recovery overwrite the original record', async () => {
      const child = startJoules(['run', '--quiet', '--no-analysis', '--store', store, '--', 'python3', '-c', 'import time; print("ready", flush=True); time.sleep(1.5)'], env);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor('the run to start', () => out.includes('ready') && fs.readdirSync(store).length === 1);
      const [id] = fs.readdirSync(store);
      // A backup taken while the record still says `running`.
      fs.cpSync(path.join(store, id!), path.join(store, `${id}-backup`), { recursive: true });
      assert.equal(await exited(child), 0);
      const r = joules(['history', '--json', '--store', store]);
      assert.equal(r.code, 0, r.stderr);
      const runs = JSON.parse(r.stdout) as Array<JsonSummary & { id: string }>;
      assert.deepEqual(runs.map((x) => [x.id, x.status]), [[id, 'succeeded']]);
      assert.match(r.stderr, /skipped .*-backup: run.json belongs to run/);
      const original = JSON.parse(fs.readFileSync(path.join(store, id!, 'run.json'), 'utf8')) as JsonSummary;
      assert.equal(original.status, 'succeeded');
      assert.equal(original.exitCode, 0);
    });
  });

  describe('pipes and terminals', () => {
    it('`joules history | head -1`: the first line, no stack trace, exit 0', () => {
      // A history longer than the pipe's 64 KiB buffer, so writing it meets the closed pipe.
      assert.equal(joules(['demo', '--speed', '1000', '--quiet', '--no-analysis', '--store', store]).code, 0);
      const [id] = fs.readdirSync(store);
      const meta = fs.readFileSync(path.join(store, id!, 'run.json'), 'utf8');
      for (let i = 0; i < 1500; i++) {
        const copy = `${id}-${i}`;
        fs.mkdirSync(path.join(store, copy));
        fs.writeFileSync(path.join(store, copy, 'run.json'), meta.replace(`"id": "${id}"`, `"id": "${copy}"`));
      }
      const r = spawnSync('bash', ['-c', `node ${JSON.stringify(path.join(ROOT, 'bin', 'joules.js'))} history --limit 100000 --store ${JSON.stringify(store)} | head -1; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
      assert.match(r.stdout, /^\S+ +succeeded .*\nrc=0\n$/);
      assert.equal(r.stderr, '', 'nothing on stderr');
    });

    it('`joules run ... | head -1`: the run goes on to its end, says so once, and keeps the whole output in the record', () => {
      const script = 'import sys, time\nfor i in range(3000):\n    print("line %d" % i)\n    if i % 300 == 0: sys.stdout.flush(); time.sleep(0.05)\nprint("child finished", file=sys.stderr)\nsys.exit(7)';
      const file = path.join(tempDir(), 'chatty.py');
      fs.writeFileSync(file, script);
      const cmd = `node ${JSON.stringify(path.join(ROOT, 'bin', 'joules.js'))} run --no-analysis --store ${JSON.stringify(store)} -- python3 ${JSON.stringify(file)} | head -1; echo "rc=\${PIPESTATUS[0]}" >&2`;
      const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.stdout, 'line 0\n');
      assert.match(r.stderr, /rc=7/, 'the exit code is the command\'s');
      assert.match(r.stderr, /child finished/, 'the command ran to its end');
      assert.equal(lines(r.stderr, /stdout closed \(EPIPE\)/).length, 1, r.stderr);
      assert.match(r.stderr, /energy\s+[\d,.]+ k?J/);
      assert.doesNotMatch(r.stderr, STACK_TRACE);
      const [id] = fs.readdirSync(store);
      const log = fs.readFileSync(path.join(store, id!, 'output.log'), 'utf8');
      assert.match(log, /line 2999\n/, 'the output after the pipe closed is in the record');
    });

    it('SIGHUP (the terminal closed) stops the command as Ctrl-C does: record stopped, child gone, exit 130', async () => {
      const pidFile = path.join(tempDir(), 'pid');
      const script = `import os, time\nopen(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\nprint("ready", flush=True)\ntime.sleep(60)`;
      const child = startJoules(['run', '--json', '--store', store, '--', 'python3', '-c', script], env);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await waitFor('the command to start', () => err.includes('ready') && fs.existsSync(pidFile));
      const pythonPid = Number(fs.readFileSync(pidFile, 'utf8'));
      child.kill('SIGHUP');
      assert.equal(await exited(child), 130, err);
      const s = JSON.parse(out) as JsonSummary;
      assert.equal(s.status, 'stopped');
      assert.match(err, /stopping the run \(the terminal closed\)/);
      await waitFor('the command to end', () => !isAlive(pythonPid), 5000);
    });

    it('a slow reader holds the command back instead of Joules buffering its output (200 MB at ~30 MB/s)', async () => {
      const dir = tempDir();
      const reader = path.join(dir, 'slowread.py');
      fs.writeFileSync(reader, 'import sys, time\nn = 0\nwhile True:\n    b = sys.stdin.buffer.read1(1 << 16)\n    if not b: break\n    n += len(b)\n    time.sleep(0.002)\nprint(n)\n');
      const slow = spawn('python3', [reader], { stdio: ['pipe', 'pipe', 'inherit'] });
      let count = '';
      slow.stdout.on('data', (d: Buffer) => (count += d.toString()));
      const script = 'import sys\nb = b"y" * (1 << 20)\nfor i in range(200):\n    sys.stdout.buffer.write(b)\nsys.stdout.flush()';
      const cli = startJoules(['run', '--quiet', '--no-analysis', '--store', store, '--', 'python3', '-c', script], env, ['ignore', slow.stdin, 'pipe']);
      slow.stdin.destroy(); // the CLI holds the pipe now; the reader sees its end when the CLI exits
      let peakKb = 0;
      const poll = setInterval(() => {
        try {
          peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${cli.pid}/status`, 'utf8'))![1]));
        } catch {
          // exited between polls
        }
      }, 100);
      const code = await exited(cli);
      clearInterval(poll);
      assert.equal(code, 0);
      await exited(slow);
      assert.equal(count.trim(), String(200 * (1 << 20)), 'every byte reached the reader');
      // Without backpressure the CLI held what the reader had not taken yet: ~720 MB for 300 MB.
      assert.ok(peakKb > 0 && peakKb / 1024 < 250, `peak RSS of joules ${(peakKb / 1024).toFixed(0)} MB`);
    });

    it('output passes through byte for byte: multi-byte UTF-8 split across chunks and invalid bytes alike', () => {
      // 4 MB of mixed 1-4 byte characters and stray invalid bytes, written in odd-sized pieces.
      const pieces: Buffer[] = [];
      const alphabet = ['a', 'é', '€', '𝄞', '日本', '\n'].map((c) => Buffer.from(c));
      for (let i = 0; pieces.length < 600_000; i++) {
        pieces.push(i % 9973 === 0 ? Buffer.from([0xff, 0xc3]) : alphabet[i % alphabet.length]!);
      }
      const expected = Buffer.concat(pieces);
      const file = path.join(tempDir(), 'blob');
      fs.writeFileSync(file, expected);
      const script = `import sys\ndata = open(${JSON.stringify(file)}, "rb").read()\ni = 0\nn = 1\nwhile i < len(data):\n    sys.stdout.buffer.write(data[i:i + n]); sys.stdout.flush()\n    i += n; n = n * 7 % 65521 + 1`;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'joules.js'), 'run', '--quiet', '--no-analysis', '--store', store, '--', 'python3', '-c', script], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        maxBuffer: 64 * 1024 * 1024,
      });
      assert.equal(r.status, 0, r.stderr.toString());
      assert.equal(r.stdout.length, expected.length);
      assert.ok(r.stdout.equals(expected), 'stdout differs from what the command wrote');
    });

    it('arguments reach the command unchanged (spaces, quotes, empty, non-ASCII, shell characters)', () => {
      const args = ['a b', '"q"', "it's", '', 'é€𝄞', '$HOME', '*', '--flag=1', '\\', 'line\nbreak'];
      const r = joules(['run', '--quiet', '--no-analysis', '--store', store, '--', 'python3', '-c', 'import sys, json; print(json.dumps(sys.argv[1:]))', ...args], env);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout.trim()), args);
    });

    it('arguments that are not valid UTF-8 reach the command byte for byte (Linux: from /proc/self/cmdline)', () => {
      // Only a shell can hand joules such bytes: JavaScript strings cannot hold them.
      const probe = 'import sys, os; print(" ".join(os.fsencode(a).hex() for a in sys.argv[1:]))';
      const cmd = `exec "$0" ${JSON.stringify(path.join(ROOT, 'bin', 'joules.js'))} run --quiet --no-analysis --store "$1" -- python3 -c "$2" "$(printf 'a\\377b')" "$(printf 'caf\\351\\n\\n_')" 'é' ''`;
      const r = spawnSync('sh', ['-c', cmd, process.execPath, store, probe], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 0, r.stderr);
      // 0xFF and Latin-1 é (0xE9) arrive as bytes, the trailing newlines and the empty word too.
      assert.equal(r.stdout.replace(/\n$/, ''), ['61ff62', '636166e90a0a5f', 'c3a9', ''].join(' '));
    });
  });

  describe('markers and flags', () => {
    it('a burst of 2,000 marks does not stall sampling (slow counter, 4 ms a read) and energy stays right', () => {
      const scenario = writeScenario(
        'device name="NVIDIA H200 (fake)" uuid=GPU-30030030-0300-4300-8300-300300300300 arch=hopper energy_base=9441685\n' +
          'fault slow_energy gpu=0 ms=4\n' +
          'at 0 power=300000 util=100 mem_util=50 mem_used=20GiB sm_clock=1980 mem_clock=3201 temp=60 reasons=0x0 pstate=0\n',
      );
      const script = 'import time\ntime.sleep(1)\nfor i in range(2000): print("::joules mark m%d" % i)\ntime.sleep(2)';
      const r = joules(['run', '--json', '--no-analysis', '--store', store, '--', 'python3', '-c', script], nvmlEnv(lib, scenario));
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as JsonSummary;
      // 2,000 reads at 4 ms would hold the sampler ~8 s: the run would last ~11 s. It needs ~3 s plus
      // Python's start, which a loaded 2-core machine can stretch by a second or two.
      assert.ok(s.durationS < 7, `duration ${s.durationS} s`);
      const watts = s.energyJ / s.durationS;
      assert.ok(watts > 285 && watts < 315, `${watts.toFixed(1)} W for a constant 300 W GPU`);
      assert.equal(s.markers!.length, 2000, 'every mark is kept');
      assert.ok(s.markers!.some((m) => m.energySource === 'counter'), 'the first mark is a counter read');
      assert.ok(s.markers!.filter((m) => m.energySource === 'interpolated').length > 1900, 'the burst shares reads and says so');
      const ts = s.markers!.map((m) => m.energyJ);
      assert.ok(ts.every((e, i) => i === 0 || e >= ts[i - 1]!), 'mark energies never go backwards');
      // No hole in the samples: the largest gap between stored samples is about one period.
      const [id] = fs.readdirSync(store);
      const tMs = fs.readFileSync(path.join(store, id!, 'samples.jsonl'), 'utf8').trim().split('\n').flatMap((l) => (JSON.parse(l) as { s: number[][] }).s.map((row) => row[0]!));
      const gap = Math.max(...tMs.slice(1).map((t, i) => t - tMs[i]!));
      assert.ok(gap < 300, `largest gap between samples ${gap.toFixed(0)} ms`);
    });

    it('bad numbers in any flag get a one-line usage error and exit 2', () => {
      const cases: Array<[string[], RegExp]> = [
        [['fix', 'last', '--workers', '-5'], /--workers must be a whole number 0-256, got "-5"/],
        [['fix', 'last', '--workers', '2.5'], /--workers must be a whole number/],
        [['check', 'x.py', '--workers', '-5'], /--workers must be a whole number 0-256, got "-5"/],
        [['history', '--limit', '0'], /--limit must be a whole number of at least 1, got "0"/],
        [['history', '--limit', '-3'], /--limit must be a whole number/],
        [['run', '--interval-ms', '99.5', '--', 'true'], /--interval-ms must be a whole number 20-10000/],
        [['run', '--interval-ms', '1e9', '--', 'true'], /--interval-ms must be a whole number 20-10000/],
        [['run', '--watch-after-s', '-1', '--', 'true'], /--watch-after-s must be a number 0-600, got "-1"/],
        [['run', '--watch-after-s', 'Infinity', '--', 'true'], /--watch-after-s needs a number/],
        [['demo', '--speed', '-2'], /--speed must be a number above 0/],
        [['demo', '--speed', 'NaN'], /--speed needs a number/],
        [['run', '--store', '', '--', 'true'], /--store needs a folder/],
      ];
      for (const [args, re] of cases) {
        const r = joules(args, env);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
      }
    });
  });
});
