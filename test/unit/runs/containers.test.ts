import * as assert from 'node:assert/strict';
import { RunAttribution } from '../../../src/core/runs/attribution';
import type { CgroupReader } from '../../../src/core/runs/containers';
import { containerIdOf, containerProcesses, inContainer } from '../../../src/core/runs/containers';
import type { GpuInfo } from '../../../src/core/sampler/types';

const A = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const B = 'b'.repeat(64);

describe('containers from /proc/<pid>/cgroup', () => {
  it('finds the container id of each runtime, and none outside a container', () => {
    assert.equal(containerIdOf(`12:memory:/docker/${A}\n11:cpu:/docker/${A}\n`), A); // Docker, cgroup v1
    assert.equal(containerIdOf(`0::/system.slice/docker-${A}.scope\n`), A); // Docker, cgroup v2
    assert.equal(containerIdOf(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-${A}.scope\n`), A);
    assert.equal(containerIdOf(`0::/kubepods.slice/x/crio-${A}.scope\n`), A);
    assert.equal(containerIdOf(`0::/machine.slice/libpod-${A}.scope/container\n`), A);
    assert.equal(containerIdOf(`5:cpuset:/kubepods/burstable/pod0f0e/${A}\n`), A);
    assert.equal(containerIdOf('0::/user.slice/user-1000.slice/session-3.scope\n'), undefined);
    assert.equal(containerIdOf('0::/init.scope\n'), undefined);
  });

  const reader = (procs: Record<number, { ppid: number; cgroup?: string }>): CgroupReader => ({
    pids: () => Object.keys(procs).map(Number),
    cgroup: (pid) => procs[pid]?.cgroup,
    ppid: (pid) => procs[pid]?.ppid,
  });
  const inA = `0::/system.slice/docker-${A}.scope\n`;
  // 100: the runtime's shim (outside); 101: the container's init; 102: its child; 150: a
  // `docker exec` process, whose parent is the shim; 200: a process of another container; 300: the host's.
  const host = reader({
    100: { ppid: 1, cgroup: '0::/system.slice/containerd.service\n' },
    101: { ppid: 100, cgroup: inA },
    102: { ppid: 101, cgroup: inA },
    150: { ppid: 100, cgroup: inA },
    200: { ppid: 100, cgroup: `0::/system.slice/docker-${B}.scope\n` },
    300: { ppid: 1, cgroup: '0::/user.slice\n' },
  });

  it('lists a container by its short id: its processes, `docker exec` ones too, and its init', () => {
    const found = containerProcesses(A.slice(0, 12), host);
    assert.deepEqual(found, { pids: [101, 102, 150], init: 101, fullId: A });
    assert.deepEqual(containerProcesses('c'.repeat(12), host), { pids: [], init: undefined, fullId: undefined });
    assert.throws(() => containerProcesses('abc', host), /not a container id/);
  });

  it("a container's run counts the GPUs of its processes by cgroup, not by descent from the init", () => {
    const gpus = [0, 1, 2].map((index): GpuInfo => ({ index, name: 'H100', uuid: `GPU-${index}`, powerSource: 'instant', energyMethod: 'counter', supported: {} }));
    const att = new RunAttribution({ gpus, replay: false, env: undefined });
    att.addRoot(101);
    att.setMembership(inContainer(A, host));
    // 150 (docker exec) on GPU 1 does not descend from the init 101; 200 (another container) on GPU 2.
    att.observe([{ gpu: 1, pid: 150 }, { gpu: 2, pid: 200 }, { gpu: 0, pid: 300 }], 101);
    assert.deepEqual(att.runGpus(), { gpus: [1], attribution: 'processes' });
  });
});
