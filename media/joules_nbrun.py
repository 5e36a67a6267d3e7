"""Executes a notebook for `joules notebook`, which measures its cells' GPU energy.

Runs the notebook top to bottom with nbclient on a real Jupyter kernel (the kernel is a child of
this process, so Joules finds it among the GPU's processes) and reports, one JSON object per line on
the file descriptor given by --events-fd (never on stdout, which stays the cells' own output):

    {"event": "kernel", "pid": 12345}
    {"event": "cell", "index": 3, "execution_count": 2, "start_ms": ..., "end_ms": ..., "success": true}
    {"event": "done", "ok": true, "error": null}

Times are wall-clock milliseconds (time.time()), taken just before the cell is sent to the kernel and
just after its reply. With --counter, each cell event also carries the GPUs' energy counters
(nvmlDeviceGetTotalEnergyConsumption, mJ) read through ctypes at the same two moments: a check of
Joules' figures that does not go through Joules.

Needs nbclient and ipykernel in the Python that runs it (pip install nbclient ipykernel).
"""
import argparse
import ctypes
import json
import os
import re
import sys
import time
import warnings


def nvml_counters():
    """A function returning every GPU's energy counter (mJ), or None when NVML cannot be read."""
    try:
        lib = ctypes.CDLL(os.environ.get("JOULES_NVML_LIBRARY") or "libnvidia-ml.so.1")
        if lib.nvmlInit_v2() != 0:
            return None
        count = ctypes.c_uint()
        lib.nvmlDeviceGetCount_v2(ctypes.byref(count))
        handles = []
        for i in range(count.value):
            h = ctypes.c_void_p()
            lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h))
            handles.append(h)

        def read():
            out = []
            for h in handles:
                mj = ctypes.c_ulonglong()
                out.append(mj.value if lib.nvmlDeviceGetTotalEnergyConsumption(h, ctypes.byref(mj)) == 0 else None)
            return out

        return read
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook")
    ap.add_argument("--events-fd", type=int, required=True)
    ap.add_argument("--output", help="write the executed notebook here")
    ap.add_argument("--kernel", help="kernel name (default: the notebook's own kernelspec)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per cell (default: none)")
    ap.add_argument("--counter", action="store_true", help="read the GPUs' energy counters at each cell's edges")
    args = ap.parse_args()
    events = os.fdopen(args.events_fd, "w", buffering=1)

    def emit(**kw):
        events.write(json.dumps(kw) + "\n")

    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as e:
        emit(event="done", ok=False, error="this Python has no nbclient (pip install nbclient ipykernel): %s" % e)
        return 3

    counters = nvml_counters() if args.counter else None
    # Notebooks saved by older tools have cells without ids: nbformat adds them in memory and warns
    # about it, which is not the user's concern here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = nbformat.read(args.notebook, as_version=4)
    starts = {}

    def on_start(notebook=None, **_):
        pid = None
        try:
            pid = client.km.provisioner.process.pid
        except AttributeError:
            pass
        emit(event="kernel", pid=pid)

    def on_execute(cell=None, cell_index=None, **_):
        starts[cell_index] = (time.time() * 1000, counters() if counters else None)

    def on_executed(cell=None, cell_index=None, execute_reply=None, **_):
        # After the kernel's reply (on_cell_complete runs right after the request is sent).
        end_ms = time.time() * 1000
        end_counter = counters() if counters else None
        start_ms, start_counter = starts.pop(cell_index, (None, None))
        if start_ms is None:
            return
        status = ((execute_reply or {}).get("content") or {}).get("status")
        ev = dict(event="cell", index=cell_index, execution_count=cell.get("execution_count"), start_ms=start_ms, end_ms=end_ms, success=status == "ok")
        if counters:
            ev.update(counter_start_mj=start_counter, counter_end_mj=end_counter)
        emit(**ev)

    kw = dict(
        timeout=args.timeout,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
        on_notebook_start=on_start,
        on_cell_execute=on_execute,
        on_cell_executed=on_executed,
    )
    if args.kernel:
        kw["kernel_name"] = args.kernel
    client = NotebookClient(nb, **kw)
    ok, error = True, None
    try:
        client.execute()
    except CellExecutionError as e:
        # The kernel's last traceback line ("ValueError: bad batch"), without its terminal colours.
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
        ok, error = False, text.splitlines()[-1] if text else "a cell failed"
    except KeyboardInterrupt:
        ok, error = False, "interrupted"
    except Exception as e:  # the kernel died, a timeout: say it, never a traceback of ours
        ok, error = False, "%s: %s" % (type(e).__name__, e)
    if args.output:
        nbformat.write(nb, args.output)
    emit(event="done", ok=ok, error=error)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
