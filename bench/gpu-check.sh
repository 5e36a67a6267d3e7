#!/usr/bin/env bash
# Checks Joules on a real NVIDIA GPU: devices, sampler cost, and a phased PyTorch load measured by
# `joules run`, compared with independent readings (NVML energy counter through Python ctypes
# before/after, and nvidia-smi's power.draw logged every 100 ms and integrated over the run).
# Usage: bench/gpu-check.sh OUTDIR    (needs node 20+, dist/ built, python3 with torch+CUDA)
set -u
OUT=${1:?output folder}
mkdir -p "$OUT"
J="node bin/joules.js"
{
  echo "== node $(node --version)"; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv
  echo "== joules devices"; $J devices
} > "$OUT/devices.txt" 2>&1
BENCH_SECONDS=${BENCH_SECONDS:-10} node dist/bench/sampler.js > "$OUT/bench-sampler.txt" 2>&1
W=$(mktemp -d)
export JOULES_HOME="$W/home"
python3 examples/nvml_reference.py > "$W/ref-before.json"
nvidia-smi --query-gpu=timestamp,index,power.draw,utilization.gpu --format=csv,noheader,nounits -lms 100 > "$OUT/smi-power.csv" 2>/dev/null &
SMI=$!
sleep 1
$J run --json --name phased-load -- python3 examples/phased_load.py ${LOAD_ARGS:-} > "$OUT/run.json" 2> "$OUT/run-stderr.txt"
echo "joules exit: $?" >> "$OUT/run-stderr.txt"
sleep 1
kill $SMI
python3 examples/nvml_reference.py > "$W/ref-after.json"
cp "$W"/home/runs/*/samples.jsonl "$OUT/samples.jsonl" 2>/dev/null
python3 - "$OUT" "$W" <<'PY'
import csv, datetime, json, sys
out, work = sys.argv[1], sys.argv[2]
run = json.load(open(f"{out}/run.json"))
before, after = json.load(open(f"{work}/ref-before.json")), json.load(open(f"{work}/ref-after.json"))
start = datetime.datetime.fromisoformat(run["startedAt"].replace("Z", "+00:00")).timestamp()
end = start + run["durationS"]
rows = []
for r in csv.reader(open(f"{out}/smi-power.csv")):
    try:
        t = datetime.datetime.strptime(r[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
        rows.append((t, int(r[1]), float(r[2]), None))
    except (ValueError, IndexError):
        pass
report = {"joules_energyJ": run["energyJ"], "joules_method": run["energyMethod"], "durationS": run["durationS"], "gpus": []}
for g in run["gpus"]:
    i = g["index"]
    ref = (after["gpus"][i]["energy_mJ"] - before["gpus"][i]["energy_mJ"]) / 1000 if after["gpus"][i]["energy_mJ"] is not None else None
    pts = [(t, p) for (t, idx, p, _) in rows if idx == i and start <= t <= end]
    smi = sum((pts[k + 1][0] - pts[k][0]) * (pts[k][1] + pts[k + 1][1]) / 2 for k in range(len(pts) - 1)) if len(pts) > 1 else None
    span = (pts[-1][0] - pts[0][0]) if len(pts) > 1 else None
    report["gpus"].append({"index": i, "joules_energyJ": g["energyJ"], "ctypes_counter_delta_around_run_J": ref,
                           "ctypes_window_s": after["time"] - before["time"],
                           "nvidia_smi_power_draw_integrated_J": smi, "nvidia_smi_points": len(pts), "nvidia_smi_span_s": span,
                           "joules_avg_power_W": g["avgPowerW"],
                           "smi_avg_power_W": smi / span if smi and span else None})
json.dump(report, open(f"{out}/compare.json", "w"), indent=1)
print(json.dumps(report, indent=1))
PY
