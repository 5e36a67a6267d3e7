"""joules.tqdm in the parent, and children forked after the parent connected (like DataLoader
workers): each child must open its own connection, never write on the parent's."""
import os

import joules

for _ in joules.tqdm(range(12), desc="gen"):
    pass
pids = []
for c in range(3):
    pid = os.fork()
    if pid == 0:
        for _ in range(10):
            joules.step()
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
