#!/usr/bin/env bash
# The inference-hint check on a real GPU: run examples/infer_batch1.py (one request at a time, fp32,
# autograd on) under Joules, apply the quick fixes Joules offers (`joules fix last --apply`: inference
# mode and bf16 autocast), run it again, then run the fixed script with --batch 32 (the batch-of-one
# finding's advice). Prints the energy per request of the serving window (between the script's
# "serve start" and "serve end" markers, counter reads) side by side.
# Usage: bench/infer-check.sh OUTDIR [REQUESTS]   (needs dist/ built, python3 with PyTorch + CUDA)
set -u
OUT=${1:?output folder}
N=${2:-20000}
mkdir -p "$OUT"
ROOT=$(pwd)
W=$(mktemp -d)
cp examples/infer_batch1.py "$W/infer.py"
cp media/joules_markers.py "$W/"
export JOULES_HOME="$W/home"
J="node $ROOT/bin/joules.js"
cd "$W"
$J run --json --name before -- python3 infer.py --requests "$N" > "$OUT/infer-before.json" 2> "$W/before.log"
$J fix last --apply > "$OUT/infer-fix.txt" 2>&1
diff -u "$ROOT/examples/infer_batch1.py" infer.py >> "$OUT/infer-fix.txt"
$J run --json --name after -- python3 infer.py --requests "$N" > "$OUT/infer-after.json" 2> "$W/after.log"
$J run --json --name batched -- python3 infer.py --requests "$N" --batch 32 > "$OUT/infer-batched.json" 2> "$W/batched.log"
tail -c 1500 "$W/before.log" "$W/after.log" "$W/batched.log" > "$OUT/infer-stderr.txt"
python3 - "$OUT" "$N" <<'PY' | tee "$OUT/infer-compare.txt"
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
rows = []
for name in ("before", "after", "batched"):
    s = json.load(open(f"{out}/infer-{name}.json"))
    m = {x["label"]: x for x in s.get("markers", [])}
    a, b = m.get("serve start"), m.get("serve end")
    if not a or not b:
        print(f"{name}: no serve markers (exit {s.get('exitCode')})"); continue
    j, t = b["energyJ"] - a["energyJ"], b["tS"] - a["tS"]
    rows.append((name, j / n, t, j))
    print(f"{name:8s} serve {t:7.2f} s {j:9.1f} J  {1000 * j / n:8.2f} mJ/request  run {s['energyJ']:9.1f} J  exit {s['exitCode']}")
base = rows[0][1] if rows else None
for name, jpr, t, j in rows[1:]:
    print(f"{name} vs before: energy/request {100 * (jpr - base) / base:+.1f} %, serve time {t / rows[0][2]:.2f}x")
for name in ("before", "after"):
    s = json.load(open(f"{out}/infer-{name}.json"))
    for f in s.get("findings", []):
        if f.get("line"):
            print(f"findings {name}: [{f['severity']}] {f['code']} (line {f['line']}): {f['message'][:220]}")
PY
