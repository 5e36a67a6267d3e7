"""Cost of the joules package's calls, in ns per call (bench/pyapi.mjs runs it outside and inside a run).

Prints one JSON object: the figures of this process (outside a run when JOULES_CHANNEL is unset).
"""
import json
import os
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import contextlib  # noqa: E402

import joules  # noqa: E402
from joules import step  # noqa: E402


def bare(n=1, samples=None, tokens=None):
    pass


class _Mod:
    """A bare function reached as a module attribute, like `joules.step`."""

    bare = staticmethod(bare)


mod = _Mod()


def ns_per_call(stmt, number):
    # Best of 5 repeats: the least disturbed by other work on the machine.
    return min(timeit.repeat(stmt, globals=globals(), number=number, repeat=5)) / number * 1e9


N = int(os.environ.get("PYAPI_N", "1000000"))
out = {"inRun": joules.active(), "python": sys.version.split()[0]}
if joules.active():
    n = max(1000, N // 50)  # a socket write per call: far fewer calls suffice
    out["step"] = ns_per_call("joules.step()", n)
    out["stepSamples"] = ns_per_call("joules.step(1, samples=32)", n)
    # Each window is two markers, and a run keeps at most 5,000: 5 x 200 windows stay under it.
    out["window"] = ns_per_call("with joules.window('w'): pass", 200)
    out["energy"] = ns_per_call("joules.energy()", 200)
    out["calls"] = n
    out["stepsSent"] = 2 * 5 * n
else:
    out["bare"] = ns_per_call("bare()", N)
    out["bareAttr"] = ns_per_call("mod.bare()", N)
    out["bareArgs"] = ns_per_call("bare(1, samples=32)", N)
    out["stepName"] = ns_per_call("step()", N)
    out["step"] = ns_per_call("joules.step()", N)
    out["stepSamples"] = ns_per_call("step(1, samples=32)", N)
    out["window"] = ns_per_call("with joules.window('w'): pass", N)
    out["nullcontext"] = ns_per_call("with contextlib.nullcontext(): pass", N)
    out["calls"] = N
print(json.dumps(out))
