#!/usr/bin/env bash
# On a machine with several GPUs: the sampler cost for all of them, and attribution of a run that
# uses one GPU (chosen with CUDA_VISIBLE_DEVICES by UUID) while the others idle.
# Usage: bench/multi-gpu-check.sh OUTDIR   (needs dist/ built, python3 with PyTorch + CUDA)
set -u
OUT=${1:?output folder}
mkdir -p "$OUT"
J="node bin/joules.js"
$J devices > "$OUT/devices.txt" 2>&1
BENCH_SECONDS=${BENCH_SECONDS:-8} node dist/bench/sampler.js > "$OUT/bench-sampler.txt" 2>&1
export JOULES_HOME=$(mktemp -d)
LAST=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | tail -1)
CUDA_VISIBLE_DEVICES=$LAST $J run --json --name one-of-many -- python3 examples/phased_load.py --scale 0.5 > "$OUT/run.json" 2> "$OUT/run-stderr.txt"
python3 - "$OUT" "$LAST" <<'PY'
import json, sys
out, uuid = sys.argv[1], sys.argv[2]
r = json.load(open(f"{out}/run.json"))
print("attribution:", r["attribution"], "| run energy", r["energyJ"], "J")
for g in r["gpus"]:
    print(f"GPU {g['index']} {g['uuid'][:12]} attributed={g['attributed']} energy={g['energyJ']} J avgUtil={g.get('avgUtilPct')} {'<- CUDA_VISIBLE_DEVICES' if g['uuid']==uuid else ''}")
PY
