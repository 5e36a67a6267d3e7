// `npm run bench:cli`: what the CLI costs when its output or its markers are heavy, side by side
// with the alternative (the same command without Joules, or without the burst), on the fake NVML
// library. Prints one line per figure and a last line `cli-output-peak-rss-mb N`.
//   1. 300 MB of output through a reader taking ~30 MB/s: Joules' peak RSS and wall time vs the
//      command piped straight into the reader (before backpressure: 722 MB).
//   2. 9 MB of multi-byte UTF-8 in odd-sized writes: bytes that differ after passing through.
//   3. 2,000 `::joules mark` lines against a 4 ms energy counter: run duration and the largest gap
//      between stored samples, vs the same run without the marks.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../test/support/fakeNvml';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'joules.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-bench-cli-'));

function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

const reader = file('slowread.py', 'import sys, time\nn = 0\nwhile True:\n    b = sys.stdin.buffer.read1(1 << 16)\n    if not b: break\n    n += len(b)\n    time.sleep(0.002)\nprint(n)\n');
const big = file('big.py', 'import sys\nb = b"y" * (1 << 20)\nfor i in range(300):\n    sys.stdout.buffer.write(b)\nsys.stdout.flush()\n');

/** Run `argv` with its stdout into the slow reader; peak RSS (from /proc) of the first process. */
async function throughReader(argv: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; peakMb: number; bytes: number }> {
  const slow = spawn('python3', [reader], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  slow.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const t0 = performance.now();
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', slow.stdin, 'ignore'], env: { ...process.env, ...env } });
  slow.stdin.destroy();
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'))![1]));
    } catch {
      // exited
    }
  }, 50);
  await new Promise((r) => p.once('exit', r));
  clearInterval(poll);
  await new Promise((r) => slow.once('exit', r));
  return { seconds: (performance.now() - t0) / 1000, peakMb: peakKb / 1024, bytes: Number(out.trim()) };
}

async function main(): Promise<void> {
  const lib = await fakeNvml('constant-300w.scn');
  const env = { JOULES_NVML_LIBRARY: lib };
  const store = path.join(tmp, 'store');

  const direct = await throughReader(['python3', big], env);
  const viaJoules = await throughReader([process.execPath, BIN, 'run', '--quiet', '--no-analysis', '--store', store, '--', 'python3', big], env);
  console.log(`output 300 MB to a ~30 MB/s reader: joules peak RSS ${viaJoules.peakMb.toFixed(0)} MB (python alone ${direct.peakMb.toFixed(0)} MB), ` +
    `wall ${viaJoules.seconds.toFixed(1)} s vs ${direct.seconds.toFixed(1)} s direct (x${(viaJoules.seconds / direct.seconds).toFixed(2)}), bytes ${viaJoules.bytes === direct.bytes ? 'equal' : `DIFFER ${viaJoules.bytes} vs ${direct.bytes}`}`);

  const alphabet = ['a', 'é', '€', '𝄞', '日本', '\n'].map((c) => Buffer.from(c));
  const blob = Buffer.concat(Array.from({ length: 2_000_000 }, (_, i) => alphabet[i % alphabet.length]!));
  const blobFile = path.join(tmp, 'blob');
  fs.writeFileSync(blobFile, blob);
  const writer = file('odd.py', `import sys\ndata = open(${JSON.stringify(blobFile)}, "rb").read()\ni = 0\nn = 1\nwhile i < len(data):\n    sys.stdout.buffer.write(data[i:i + n]); sys.stdout.flush()\n    i += n; n = n * 7 % 65521 + 1\n`);
  const r = spawnSync(process.execPath, [BIN, 'run', '--quiet', '--no-analysis', '--store', store, '--', 'python3', writer], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  let differing = Math.abs(r.stdout.length - blob.length);
  for (let i = 0; i < Math.min(r.stdout.length, blob.length); i++) if (r.stdout[i] !== blob[i]) differing++;
  console.log(`utf-8 passthrough: ${(blob.length / 1e6).toFixed(1)} MB in odd-sized writes, ${differing} bytes differ (was 240 broken characters in 9 MB)`);

  const slowScenario = writeScenario(
    'device name="NVIDIA H200 (fake)" uuid=GPU-30030030-0300-4300-8300-300300300300 arch=hopper energy_base=9441685\n' +
      'fault slow_energy gpu=0 ms=4\n' +
      'at 0 power=300000 util=100 mem_util=50 mem_used=20GiB sm_clock=1980 mem_clock=3201 temp=60 reasons=0x0 pstate=0\n',
  );
  const marks = async (count: number): Promise<{ durationS: number; watts: number; gapMs: number }> => {
    const s = path.join(tmp, `marks-${count}`);
    const script = `import time\ntime.sleep(1)\nfor i in range(${count}): print("::joules mark m%d" % i)\ntime.sleep(2)`;
    const out = spawnSync(process.execPath, [BIN, 'run', '--json', '--no-analysis', '--store', s, '--', 'python3', '-c', script], {
      env: { ...process.env, JOULES_NVML_LIBRARY: lib, FAKE_NVML_SCENARIO: slowScenario },
      encoding: 'utf8',
    });
    const j = JSON.parse(out.stdout) as { durationS: number; energyJ: number };
    const [id] = fs.readdirSync(s);
    const t = fs.readFileSync(path.join(s, id!, 'samples.jsonl'), 'utf8').trim().split('\n').flatMap((l) => (JSON.parse(l) as { s: number[][] }).s.map((row) => row[0]!));
    let gap = 0;
    for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i]! - t[i - 1]!);
    return { durationS: j.durationS, watts: j.energyJ / j.durationS, gapMs: gap };
  };
  const none = await marks(0);
  const burst = await marks(2000);
  console.log(`2,000 marks, 4 ms counter: duration ${burst.durationS.toFixed(2)} s vs ${none.durationS.toFixed(2)} s without marks (x${(burst.durationS / none.durationS).toFixed(2)}), ` +
    `largest sample gap ${burst.gapMs.toFixed(0)} ms vs ${none.gapMs.toFixed(0)} ms, ${burst.watts.toFixed(1)} W vs ${none.watts.toFixed(1)} W for a constant 300 W GPU`);
  console.log(`cli-output-peak-rss-mb ${viaJoules.peakMb.toFixed(0)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
