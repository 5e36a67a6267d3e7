#!/usr/bin/env bash
# Fixes that never break training, on a real GPU: for each corpus case below, `joules run` the
# script, `joules fix last --apply` (safe fixes only), and run the fixed script again; each line
# says what was applied and the fixed script's exit code. Then the counterfactual the BCE rule
# prevents: the same script with nn.BCELoss under bf16 autocast, which CUDA refuses.
# Usage: bench/safety-check.sh OUTDIR   (needs dist/ built, python3 with PyTorch + CUDA)
set -u
OUT=${1:?output folder}
mkdir -p "$OUT"
ROOT=$(pwd)
W=$(mktemp -d)
export JOULES_HOME="$W/home" JOULES_SMOKE_STEPS=${JOULES_SMOKE_STEPS:-200}
J="node $ROOT/bin/joules.js"
REPORT="$OUT/safety.txt"
: > "$REPORT"
for c in bce_autocast train_eval builds_layers infer_numpy kw_conditional iterable_dataset no_main_guard; do
  mkdir -p "$W/$c" && cp -r "$ROOT/test/fixtures/python/corpus/$c/." "$W/$c/" && cd "$W/$c" || exit 1
  $J run --json --name "$c" -- python3 main.py > run.json 2> run.log
  before=$(python3 -c "import json;print(json.load(open('run.json'))['exitCode'])" 2>/dev/null || echo '?')
  $J fix last --apply > fix.txt 2>&1
  python3 main.py > after.log 2>&1
  after=$?
  {
    echo "== $c: before exit $before, after the safe fixes exit $after"
    sed 's/^/   /' fix.txt
    diff -u "$ROOT/test/fixtures/python/corpus/$c/main.py" main.py | sed 's/^/   /'
    [ "$after" = 0 ] || tail -5 after.log | sed 's/^/   ! /'
  } >> "$REPORT"
  cd "$ROOT"
done
# The counterfactual: the loss under autocast, as a naive fix would put it.
python3 - "$ROOT/test/fixtures/python/corpus/bce_autocast/main.py" "$W/bce_naive.py" <<'PY'
import sys
src = open(sys.argv[1]).read()
src = src.replace("        pred = model(x)\n        loss = criterion(pred, y)\n",
                  "        with torch.autocast(\"cuda\", dtype=torch.bfloat16):\n            pred = model(x)\n            loss = criterion(pred, y)\n")
open(sys.argv[2], "w").write(src)
PY
python3 "$W/bce_naive.py" > "$W/naive.log" 2>&1
echo "== counterfactual: BCELoss under bf16 autocast (what Joules refuses to write): exit $?" >> "$REPORT"
grep -m1 -i "unsafe to autocast\|Error" "$W/naive.log" | sed 's/^/   /' >> "$REPORT"
cat "$REPORT"
