import * as assert from 'node:assert/strict';
import type { ProcReader } from '../../../src/core/runs/attachTargets';
import { describeGpuProcesses, parsePasswd, startTimeMs } from '../../../src/core/runs/attachTargets';

describe('GPU process rows', () => {
  const reader: ProcReader = {
    status: (pid) => (pid === 10 ? 'Name:\tpython3\nUid:\t1000\t1000\t1000\t1000\n' : pid === 11 ? 'Uid:\t4242\t4242\t4242\t4242\n' : undefined),
    cmdline: (pid) => (pid === 10 ? 'python3\0train.py\0--lr\0\0' : pid === 11 ? 'a.out\0' : undefined),
    passwd: () => 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken line\n',
  };

  it('user from the uid, command line joined, NVML figures kept; sorted by GPU then pid', () => {
    const rows = describeGpuProcesses(
      [
        { gpu: 1, pid: 11, usedGpuMemoryBytes: 5 },
        { gpu: 0, pid: 12 },
        { gpu: 0, pid: 10, usedGpuMemoryBytes: 7, smUtilPct: 60 },
      ],
      reader,
    );
    assert.deepEqual(rows, [
      { gpu: 0, pid: 10, user: 'alice', command: 'python3 train.py --lr ', usedGpuMemoryBytes: 7, smUtilPct: 60 },
      // Not in this PID namespace: no user, no command (the listing says so).
      { gpu: 0, pid: 12 },
      // A uid without a passwd entry is shown as the number.
      { gpu: 1, pid: 11, user: '4242', command: 'a.out', usedGpuMemoryBytes: 5 },
    ]);
  });

  it("a process in a container carries the container's id (from its cgroup)", () => {
    const id = 'c'.repeat(64);
    const rows = describeGpuProcesses([{ gpu: 0, pid: 10 }, { gpu: 0, pid: 11 }], { ...reader, cgroup: (pid) => (pid === 10 ? `0::/system.slice/docker-${id}.scope\n` : '0::/user.slice\n') });
    assert.equal(rows[0]!.container, id);
    assert.equal(rows[1]!.container, undefined);
  });

  it('a process\'s start time from /proc/<pid>/stat (ticks since boot) and the boot time', () => {
    // Field 22 (starttime) is the 20th after the command's closing parenthesis; a command with spaces and parentheses.
    const stat = '4242 (python (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 5 3 0 0 20 0 1 0 123456 1000 10 18446744073709551615';
    assert.equal(startTimeMs(stat, 1_700_000_000), 1_700_000_000_000 + 1_234_560);
    assert.equal(startTimeMs(undefined, 1), undefined);
    assert.equal(startTimeMs(stat, undefined), undefined);
  });

  it('parses /etc/passwd, skipping lines that are not entries', () => {
    assert.deepEqual([...parsePasswd('root:x:0:0::/:/bin/sh\n\n# c\nbob:x:1001:1001::/:/bin/sh')], [['0', 'root'], ['1001', 'bob']]);
  });
});
