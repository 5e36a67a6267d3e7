import * as assert from 'node:assert/strict';
import { RankTracker } from '../../../src/core/runs/ranks';

const GiB = 2 ** 30;

describe('RankTracker', () => {
  const env: Record<number, Record<string, string>> = {
    101: { RANK: '1', LOCAL_RANK: '1' },
    100: { RANK: '0', LOCAL_RANK: '0' },
    102: {},
  };
  const mine = (pid: number): boolean => pid >= 100 && pid < 200;

  it('one rank per run process on a GPU, rank numbers from the environment, energy of its GPU', () => {
    const t = new RankTracker((pid) => env[pid] ?? {});
    t.observe(
      [
        { gpu: 0, pid: 101, usedGpuMemoryBytes: 30 * GiB },
        { gpu: 1, pid: 100, usedGpuMemoryBytes: 30 * GiB },
        // Someone else's process on GPU 1: not a rank of the run.
        { gpu: 1, pid: 900, usedGpuMemoryBytes: 2 * GiB },
      ],
      mine,
    );
    const r = t.figures(new Map([[0, 3000], [1, 1000]]));
    assert.deepEqual(r, [
      { pid: 100, rank: 0, localRank: 0, gpus: [1], energyJ: 1000 },
      { pid: 101, rank: 1, localRank: 1, gpus: [0], energyJ: 3000 },
    ]);
  });

  it('a rank is where it holds most memory (rank 0 touching every GPU is common); a shared GPU is split', () => {
    const t = new RankTracker((pid) => env[pid] ?? {});
    t.observe(
      [
        { gpu: 0, pid: 100, usedGpuMemoryBytes: 30 * GiB },
        { gpu: 1, pid: 100, usedGpuMemoryBytes: 0.5 * GiB },
        { gpu: 1, pid: 101, usedGpuMemoryBytes: 30 * GiB },
        { gpu: 1, pid: 102, usedGpuMemoryBytes: 30 * GiB },
      ],
      mine,
    );
    const r = t.figures(new Map([[0, 3000], [1, 1000]]))!;
    assert.deepEqual(r.map((x) => [x.pid, x.gpus, x.energyJ, x.sharedGpu]), [
      [100, [0], 3000, undefined],
      [101, [1], 500, true],
      // No RANK in its environment: listed after the ranked ones, by GPU.
      [102, [1], 500, true],
    ]);
  });

  it('nothing for a run on one GPU', () => {
    const t = new RankTracker(() => ({}));
    t.observe([{ gpu: 0, pid: 100 }, { gpu: 0, pid: 101 }], mine);
    assert.equal(t.figures(new Map([[0, 10]])), undefined);
  });
});
