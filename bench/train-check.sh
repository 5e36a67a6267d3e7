#!/usr/bin/env bash
# The efficiency-hint check on a real GPU: run examples/train_starved.py under Joules, apply the
# quick fixes Joules offers (`joules fix last --apply`), run it again, and compare per epoch.
# Usage: bench/train-check.sh OUTDIR [EPOCHS]   (needs dist/ built, python3 with PyTorch + CUDA)
set -u
OUT=${1:?output folder}
EPOCHS=${2:-3}
mkdir -p "$OUT"
ROOT=$(pwd)
W=$(mktemp -d)
cp examples/train_starved.py "$W/train.py"
cp media/joules_markers.py "$W/"
export JOULES_HOME="$W/home"
J="node $ROOT/bin/joules.js"
cd "$W"
$J run --json --name before -- python3 train.py --epochs "$EPOCHS" > "$OUT/before.json" 2> "$W/before.log"
tail -c 4000 "$W/before.log" > "$OUT/before-stderr.txt"
$J fix last --apply > "$OUT/fix.txt" 2>&1
diff -u "$ROOT/examples/train_starved.py" train.py >> "$OUT/fix.txt"
$J run --json --name after -- python3 train.py --epochs "$EPOCHS" > "$OUT/after.json" 2> "$W/after.log"
tail -c 4000 "$W/after.log" > "$OUT/after-stderr.txt"
B=$(python3 -c "import json;print(json.load(open('$OUT/before.json'))['id'])")
A=$(python3 -c "import json;print(json.load(open('$OUT/after.json'))['id'])")
node "$ROOT/dist/bench/trainCompare.js" "$JOULES_HOME/runs" "$B" "$A" > "$OUT/compare.txt" 2>&1
cat "$OUT/compare.txt"
