#!/usr/bin/env python3
"""Four GPU monitors side by side, each watching the same GPUs for the same time at 10 Hz:
whole process tree CPU (user + sys of the monitor and every descendant it waited for) and peak RSS
(the largest single process of the tree), measured by the kernel (getrusage RUSAGE_CHILDREN) in a
fresh wrapper process per monitor.

  joules        node bin/joules.js run --quiet --no-analysis -- sleep T   (ring sampling: the default)
  joules-tick   the same with --power-ring off --interval-ms 100            (one wake-up per 100 ms)
  nvml-loop     Python reading the same metrics through NVML every 100 ms (pynvml when installed,
                else ctypes, which is what pynvml is)
  smi-loop      nvidia-smi --query-gpu=... -lms 100
  smi-spawn     one nvidia-smi --query-gpu=... spawned every 100 ms (what most editor GPU monitors do)

Usage: python3 bench/monitors.py [--seconds 20] [--only joules,smi-loop] [--json FILE]
NVML comes from JOULES_NVML_LIBRARY when set (the fake library), else libnvidia-ml.so.1. The
nvidia-smi monitors are skipped where there is no nvidia-smi. The last line is
`overhead-vs-nvidia-smi-loop N` (Joules' CPU / nvidia-smi -lms 100's), or `overhead-vs-nvml-loop N`
without nvidia-smi.
"""
import argparse
import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERY = "power.draw,utilization.gpu,utilization.memory,memory.used,clocks.sm,clocks.mem,temperature.gpu,clocks_event_reasons.active,power.limit,pstate"
PERIOD_S = 0.1


def nvml_loop(seconds):
    """Read what nvidia-smi's query reads, for every GPU, every 100 ms (drift-free)."""
    try:
        import pynvml  # noqa: F401  (the real thing when installed)
        lib = None
    except ImportError:
        pynvml = None
        lib = ctypes.CDLL(os.environ.get("JOULES_NVML_LIBRARY") or "libnvidia-ml.so.1")
    if pynvml:
        pynvml.nvmlInit()
        hs = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

        def read(h):
            for f in (pynvml.nvmlDeviceGetPowerUsage, pynvml.nvmlDeviceGetUtilizationRates, pynvml.nvmlDeviceGetMemoryInfo,
                      pynvml.nvmlDeviceGetTemperature and (lambda x: pynvml.nvmlDeviceGetTemperature(x, 0)),
                      lambda x: pynvml.nvmlDeviceGetClockInfo(x, 1), lambda x: pynvml.nvmlDeviceGetClockInfo(x, 2),
                      pynvml.nvmlDeviceGetCurrentClocksThrottleReasons, pynvml.nvmlDeviceGetEnforcedPowerLimit,
                      pynvml.nvmlDeviceGetPerformanceState):
                try:
                    f(h)
                except pynvml.NVMLError:
                    pass
    else:
        assert lib.nvmlInit_v2() == 0
        n = ctypes.c_uint()
        lib.nvmlDeviceGetCount_v2(ctypes.byref(n))
        hs = []
        for i in range(n.value):
            h = ctypes.c_void_p()
            if lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)) == 0:
                hs.append(h)
        u = ctypes.c_uint()
        ull = ctypes.c_ulonglong()
        util = (ctypes.c_uint * 2)()
        mem = (ctypes.c_ulonglong * 3)()
        pstate = ctypes.c_int()

        def read(h):
            lib.nvmlDeviceGetPowerUsage(h, ctypes.byref(u))
            lib.nvmlDeviceGetUtilizationRates(h, util)
            lib.nvmlDeviceGetMemoryInfo(h, mem)
            lib.nvmlDeviceGetTemperature(h, 0, ctypes.byref(u))
            lib.nvmlDeviceGetClockInfo(h, 1, ctypes.byref(u))
            lib.nvmlDeviceGetClockInfo(h, 2, ctypes.byref(u))
            lib.nvmlDeviceGetCurrentClocksThrottleReasons(h, ctypes.byref(ull))
            lib.nvmlDeviceGetEnforcedPowerLimit(h, ctypes.byref(u))
            lib.nvmlDeviceGetPerformanceState(h, ctypes.byref(pstate))
    t0 = time.monotonic()
    k = 0
    while True:
        for h in hs:
            read(h)
        k += 1
        nxt = t0 + k * PERIOD_S
        if nxt - t0 >= seconds:
            break
        time.sleep(max(0.0, nxt - time.monotonic()))


def smi_spawn(seconds, smi):
    t0 = time.monotonic()
    k = 0
    while True:
        subprocess.run([smi, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"], stdout=subprocess.DEVNULL, check=False)
        k += 1
        nxt = t0 + k * PERIOD_S
        if nxt - t0 >= seconds:
            break
        time.sleep(max(0.0, nxt - time.monotonic()))


def one(mode, seconds):
    """Run one monitor as our child (this process does nothing else) and report its tree's usage."""
    node = os.environ.get("NODE", shutil.which("node") or "node")
    extra = {}
    t0 = time.monotonic()
    if mode in ("joules", "joules-tick"):
        store = tempfile.mkdtemp(prefix="joules-monitors-")
        cmd = [node, os.path.join(ROOT, "bin", "joules.js"), "run", "--quiet", "--no-analysis", "--json", "--store", store]
        if mode == "joules-tick":
            cmd += ["--power-ring", "off", "--interval-ms", "100"]
        r = subprocess.run(cmd + ["--", "sleep", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
        if r.returncode != 0:
            raise SystemExit(f"{mode}: joules exited {r.returncode}: {r.stderr.strip()[-500:]}")
        run = json.loads(r.stdout)
        points = samples = 0
        with open(os.path.join(store, run["id"], "samples.jsonl")) as f:
            for line in f:
                o = json.loads(line)
                points += len(o.get("p", []))
                samples += len(o.get("s", []))
        gpus = max(1, len(run["gpus"]))
        extra = {"energyMethod": run["energyMethod"], "energyJ": run["energyJ"], "durationS": run["durationS"],
                 "powerPointsPerGpuPerS": round(points / gpus / run["durationS"], 1), "samplesPerGpuPerS": round(samples / gpus / run["durationS"], 1)}
        shutil.rmtree(store, ignore_errors=True)
    elif mode == "nvml-loop":
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--nvml-loop-child", str(seconds)])
        p.wait()
    elif mode == "smi-loop":
        p = subprocess.Popen([shutil.which("nvidia-smi"), f"--query-gpu={QUERY}", "--format=csv,noheader,nounits", "-lms", "100"], stdout=subprocess.DEVNULL)
        time.sleep(seconds)
        p.send_signal(signal.SIGTERM)
        p.wait()
    elif mode == "smi-spawn":
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--smi-spawn-child", str(seconds)])
        p.wait()
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime
    return {"mode": mode, "wallS": round(wall, 2), "cpuS": round(cpu, 3), "cpuPctOfCore": round(100 * cpu / wall, 3), "peakRssMiB": round(ru.ru_maxrss / 1024, 1), **extra}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--one", default="")
    ap.add_argument("--nvml-loop-child", type=float)
    ap.add_argument("--smi-spawn-child", type=float)
    a = ap.parse_args()
    if a.nvml_loop_child:
        nvml_loop(a.nvml_loop_child)
        return
    if a.smi_spawn_child:
        smi_spawn(a.smi_spawn_child, shutil.which("nvidia-smi"))
        return
    if a.one:
        print(json.dumps(one(a.one, a.seconds)))
        return
    smi = shutil.which("nvidia-smi")
    modes = [m for m in ["joules", "joules-tick", "nvml-loop", "smi-loop", "smi-spawn"] if smi or not m.startswith("smi")]
    if a.only:
        modes = [m for m in modes if m in a.only.split(",")]
    lib = os.environ.get("JOULES_NVML_LIBRARY")
    print(f"monitors, {a.seconds:g} s each at 10 Hz, NVML: {lib or 'libnvidia-ml.so.1'}{' (FAKE library: its call costs are not a driver’s)' if lib else ''}")
    if not smi:
        print("no nvidia-smi here: the nvidia-smi monitors are skipped")
    rows = []
    for m in modes:
        # A fresh wrapper per monitor, so RUSAGE_CHILDREN (and its max RSS) covers that monitor alone.
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", m, "--seconds", str(a.seconds)], stdout=subprocess.PIPE, text=True, check=False)
        if r.returncode != 0:
            print(f"{m:12} failed (exit {r.returncode})")
            continue
        row = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append(row)
        more = "".join(f"  {k} {row[k]}" for k in ("energyMethod", "powerPointsPerGpuPerS", "samplesPerGpuPerS") if k in row)
        print(f"{m:12} CPU {row['cpuPctOfCore']:7.3f} % of a core ({row['cpuS']:.3f} s in {row['wallS']:.1f} s)  peak RSS {row['peakRssMiB']:7.1f} MiB{more}")
    by = {r["mode"]: r for r in rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    j = by.get("joules")
    if j:
        for other in ("joules-tick", "nvml-loop", "smi-loop", "smi-spawn"):
            if other in by and by[other]["cpuPctOfCore"] > 0:
                print(f"ratio joules / {other}: {j['cpuPctOfCore'] / by[other]['cpuPctOfCore']:.2f}")
        ref = "smi-loop" if "smi-loop" in by else "nvml-loop" if "nvml-loop" in by else None
        if ref:
            name = "nvidia-smi-loop" if ref == "smi-loop" else "nvml-loop"
            print(f"overhead-vs-{name} {j['cpuPctOfCore'] / by[ref]['cpuPctOfCore']:.2f}")


if __name__ == "__main__":
    main()
