#!/usr/bin/env bash
# Checks issue 12's pieces on a real NVIDIA GPU, against independent NVML readings (Python ctypes,
# examples/nvml_reference.py):
#  1. `joules exporter`: its energy counter scraped before and after a phased PyTorch load, against
#     the hardware counter read through ctypes around the same scrapes;
#  2. with Prometheus installed (`apt-get install prometheus`): a server on a loopback port scraping
#     the exporter every second, and `joules job` over the load's window, against the same delta;
#  3. `joules attach`: a load started outside Joules, attached, measured until it exits.
# Usage: bench/cluster-check.sh OUTDIR   (needs node 20+, dist/ built, python3 with torch+CUDA)
# LOAD='cmd' replaces the phased PyTorch load (default: python3 examples/phased_load.py $LOAD_ARGS).
set -u
OUT=${1:?output folder}
mkdir -p "$OUT"
J="node bin/joules.js"
W=$(mktemp -d)
export JOULES_HOME="$W/home"
LOAD=${LOAD:-python3 examples/phased_load.py ${LOAD_ARGS:-}}
cleanup() { for p in ${PIDS:-}; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# 1. The exporter.
$J exporter --port 0 --host gpu-check > /dev/null 2> "$OUT/exporter-stderr.txt" &
PIDS="$!"
for _ in $(seq 50); do grep -q '/metrics' "$OUT/exporter-stderr.txt" && break; sleep 0.2; done
URL=$(grep -o 'http://[^ ]*/metrics' "$OUT/exporter-stderr.txt" | head -1)
[ -n "$URL" ] || { echo "exporter did not start"; cat "$OUT/exporter-stderr.txt"; exit 1; }
sleep 2
python3 examples/nvml_reference.py > "$OUT/ref-before.json"
curl -s "$URL" > "$OUT/scrape-before.txt"
FROM=$(date +%s.%N)
bash -c "$LOAD" > "$OUT/load.txt" 2>&1
TO=$(date +%s.%N)
curl -s "$URL" > "$OUT/scrape-after.txt"
python3 examples/nvml_reference.py > "$OUT/ref-after.json"

# 2. Prometheus and joules job over the same window.
if command -v prometheus > /dev/null; then
  PORT=$((20000 + RANDOM % 20000))
  # host:port of the exporter (/metrics is Prometheus' default path).
  TARGET=${URL#http://}
  TARGET=${TARGET%/metrics}
  cat > "$W/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: gpucheck
    static_configs:
      - targets: ["$TARGET"]
YML
  prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" --web.listen-address=127.0.0.1:$PORT --log.level=warn 2> "$OUT/prometheus.log" &
  PIDS="$PIDS $!"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/-/ready" > /dev/null && break; sleep 0.2; done
  # Scraping starts a few seconds after the server is ready: wait for three scrapes.
  for _ in $(seq 60); do
    curl -s "http://127.0.0.1:$PORT/api/v1/query" --data-urlencode 'query=count_over_time(up{job="gpucheck"}[1m]) >= 3' | grep -q '"value"' && break
    sleep 0.5
  done
  python3 examples/nvml_reference.py > "$OUT/ref-prom-before.json"
  PFROM=$(date +%s.%N)
  bash -c "$LOAD" > "$OUT/load-prom.txt" 2>&1
  PTO=$(date +%s.%N)
  python3 examples/nvml_reference.py > "$OUT/ref-prom-after.json"
  sleep 3
  $J job --prometheus "http://127.0.0.1:$PORT" --selector '{job="gpucheck"}' --from "$PFROM" --to "$PTO" --json > "$OUT/job.json" 2> "$OUT/job-stderr.txt"
  $J job --prometheus "http://127.0.0.1:$PORT" --selector '{job="gpucheck"}' --from "$PFROM" --to "$PTO" > "$OUT/job.txt" 2>&1
fi

# 3. Attach to a load started outside Joules.
bash -c "$LOAD" > "$OUT/load-attach.txt" 2>&1 &
LP=$!
sleep 1
python3 examples/nvml_reference.py > "$OUT/ref-attach-before.json"
$J attach "$LP" --json > "$OUT/attach.json" 2> "$OUT/attach-stderr.txt"
python3 examples/nvml_reference.py > "$OUT/ref-attach-after.json"

python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
def ref(a, b):
    a, b = json.load(open(f"{out}/{a}")), json.load(open(f"{out}/{b}"))
    return {g["index"]: (b["gpus"][g["index"]]["energy_mJ"] - g["energy_mJ"]) / 1000 for g in a["gpus"] if g["energy_mJ"] is not None}, b["time"] - a["time"]
def scraped(name):
    v = {}
    for line in open(f"{out}/{name}"):
        m = re.match(r'joules_gpu_energy_joules_total\{.*gpu="(\d+)".*\} (\S+)', line)
        if m: v[int(m.group(1))] = float(m.group(2))
    return v
report = {}
d, span = ref("ref-before.json", "ref-after.json")
b, a = scraped("scrape-before.txt"), scraped("scrape-after.txt")
report["exporter"] = {"ctypes_window_s": span, "gpus": [{"gpu": i, "exporter_increase_J": a.get(i, 0) - b.get(i, 0), "ctypes_counter_delta_J": d[i]} for i in sorted(d)]}
try:
    job = json.load(open(f"{out}/job.json"))
    d, span = ref("ref-prom-before.json", "ref-prom-after.json")
    report["job"] = {"ctypes_window_s": span, "job_window_s": job["toS"] - job["fromS"], "errorBoundJ": job["errorBoundJ"],
                     "gpus": [{"gpu": g["gpu"], "job_energyJ": g["energyJ"], "method": g["energyMethod"], "ctypes_counter_delta_J": d.get(int(g["gpu"]))} for g in job["gpus"]]}
except (OSError, ValueError, KeyError) as e:
    report["job"] = f"not run: {e}"
att = json.load(open(f"{out}/attach.json"))
d, span = ref("ref-attach-before.json", "ref-attach-after.json")
report["attach"] = {"status": att["status"], "attached": att.get("attached"), "durationS": att["durationS"], "ctypes_window_s": span,
                    "joules_energyJ": att["energyJ"], "ctypes_counter_delta_attributed_gpus_J": sum(d[g["index"]] for g in att["gpus"] if g.get("attributed"))}
json.dump(report, open(f"{out}/compare.json", "w"), indent=1)
print(json.dumps(report, indent=1))
PY
