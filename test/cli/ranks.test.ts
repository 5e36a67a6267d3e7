// Per-rank figures of a launcher's run (torchrun-like) through the built CLI and the fake NVML
// library: two rank processes, RANK in their environment, each listed on its GPU by the scenario.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fakeNvml, writeScenario } from '../support/fakeNvml';
import { joules, nvmlEnv, ROOT, tempDir } from './support';

// GPU 0 at 300 W runs rank 1, GPU 1 at 100 W runs rank 0: rank numbers come from the environment,
// not from GPU order.
const SCENARIO = [
  'device name="NVIDIA H100 (fake)"',
  'at 0 power=300W util=95',
  'process match="joules-rank-one" mem=30GiB sm=90',
  'device name="NVIDIA H100 (fake)"',
  'at 0 power=100W util=95',
  'process match="joules-rank-zero" mem=30GiB sm=90',
].join('\n');

// A launcher that starts two ranks with RANK/LOCAL_RANK set, as torchrun does; the markers reach
// each rank's command line only (the launcher's own holds neither word whole).
const LAUNCHER = [
  'import os, subprocess, sys',
  'names = {0: "joules-rank-" + "zero", 1: "joules-rank-" + "one"}',
  'ps = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)", names[r]], env={**os.environ, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2"}) for r in (0, 1)]',
  'sys.exit(max(p.wait() for p in ps))',
].join('\n');

interface RanksJson {
  energyJ: number;
  durationS: number;
  ranks?: Array<{ pid: number; rank?: number; localRank?: number; gpus: number[]; energyJ: number; sharedGpu?: boolean }>;
  gpus: Array<{ index: number; energyJ: number }>;
}

describe('per-rank figures of a run across GPUs', function () {
  this.timeout(120_000);
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const scn = writeScenario(SCENARIO);
    env = nvmlEnv(await fakeNvml(scn), scn);
  });

  it('each rank: its RANK, its GPU (from the processes NVML lists) and that GPU\'s energy', () => {
    const store = tempDir('joules-ranks-');
    const r = joules(['run', '--json', '--no-analysis', '--store', store, '--', 'python3', '-c', LAUNCHER], env);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as RanksJson;
    assert.ok(s.ranks, `no ranks in ${r.stdout}`);
    assert.deepEqual(s.ranks.map((x) => [x.rank, x.localRank, x.gpus]), [[0, 0, [1]], [1, 1, [0]]]);
    const gpuEnergy = new Map(s.gpus.map((g) => [g.index, g.energyJ]));
    assert.ok(Math.abs(s.ranks[0]!.energyJ - gpuEnergy.get(1)!) < 0.01);
    assert.ok(Math.abs(s.ranks[1]!.energyJ - gpuEnergy.get(0)!) < 0.01);
    // 300 W against 100 W over the same time.
    assert.ok(s.ranks[1]!.energyJ > 2.5 * s.ranks[0]!.energyJ, JSON.stringify(s.ranks));
    const human = joules(['report', 'last', '--store', store]);
    assert.match(human.stdout + human.stderr, /rank 0\s+GPU 1: [\d,.]+ J, pid \d+/);
  });
});
