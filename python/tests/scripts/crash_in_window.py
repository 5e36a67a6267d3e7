import os
import sys

import joules

w = joules.window("doomed")
w.__enter__()
for _ in range(5):
    joules.step()
sys.stdout.flush()
os._exit(3)  # no cleanup at all: the window is never closed
