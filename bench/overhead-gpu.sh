#!/usr/bin/env bash
# What monitoring costs on a real GPU: Joules (ring sampling, and ticking at 10 Hz for comparison),
# a Python NVML loop, `nvidia-smi -lms 100` and an nvidia-smi spawn per poll, side by side in one
# call, on all GPUs for 20 s each: whole process tree CPU and peak RSS (bench/monitors.py), then the
# same for the shortest runs to separate start-up from steady state. Last line:
# `overhead-vs-nvidia-smi-loop N` (Joules' CPU over nvidia-smi -lms 100's, same GPUs and period).
#
# On the GPU machine (../shared/device/README.md), carrying .carry (node.xz), dist,
# node_modules/koffi and node_modules/@koromix/koffi-linux-x64:
#   bash bench/overhead-gpu.sh "$OUT"
# About 3 minutes. Writes $OUT/overhead.txt and $OUT/overhead.json (and prints both).
set -u
OUT=${1:-${OUT:-/tmp/joules-overhead}}
SECONDS_EACH=${SECONDS_EACH:-20}
mkdir -p "$OUT"
if ! command -v node >/dev/null 2>&1 && [ -f .carry/node.xz ]; then
  python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.carry/node.xz'), open('/tmp/node','wb'))" && chmod +x /tmp/node
  export PATH=/tmp:$PATH
fi
export JOULES_HOME=$(mktemp -d)
{
  echo "== $(date -u +%FT%TZ) node $(node --version), $(nproc) CPUs"
  nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader 2>&1
  node bin/joules.js devices 2>&1 | grep -E '^(NVML|GPU)'
  echo "== ${SECONDS_EACH} s each, all GPUs"
  python3 bench/monitors.py --seconds "$SECONDS_EACH" --json "$OUT/overhead.json"
  # Start-up (Node, koffi, NVML init and the capability probe) is paid once per run; the steady
  # cost is what grows with a run's length: (CPU of a 20 s run - CPU of a 3 s run) / 17 s.
  echo "== steady state: (CPU over ${SECONDS_EACH} s - CPU over 3 s) / $((SECONDS_EACH - 3)) s"
  python3 bench/monitors.py --seconds 3 --json "$OUT/overhead-3s.json" > /dev/null
  python3 - "$OUT/overhead.json" "$OUT/overhead-3s.json" "$SECONDS_EACH" <<'PY'
import json, sys
long, short, T = json.load(open(sys.argv[1])), {r["mode"]: r for r in json.load(open(sys.argv[2]))}, float(sys.argv[3])
for r in long:
    s = short.get(r["mode"])
    if s:
        print(f"{r['mode']:12} steady CPU {100 * (r['cpuS'] - s['cpuS']) / (r['wallS'] - s['wallS']):7.3f} % of a core")
PY
} 2>&1 | tee "$OUT/overhead.txt.tmp"
# The headline line last, as the issue asks.
grep '^overhead-vs-' "$OUT/overhead.txt.tmp" | tail -1 > "$OUT/last.tmp"
grep -v '^overhead-vs-' "$OUT/overhead.txt.tmp" > "$OUT/overhead.txt"
cat "$OUT/last.tmp" >> "$OUT/overhead.txt"
rm -f "$OUT/overhead.txt.tmp"
cat "$OUT/last.tmp"
rm -f "$OUT/last.tmp"
