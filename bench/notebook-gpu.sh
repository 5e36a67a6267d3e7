#!/usr/bin/env bash
# Notebook cell energy on a real GPU: a notebook of PyTorch cells of different lengths (a long
# training-like cell, a short one, one shorter than the 100 ms sample period, an idle one) runs on a
# real Jupyter kernel under `joules notebook --counter`. Each cell's energy from Joules is printed
# beside the counter delta the runner read itself over that cell (NVML through ctypes, not through
# Joules), for the GPUs Joules counted.
# Usage: bench/notebook-gpu.sh OUTDIR
# Needs dist/ built and a python3 with PyTorch + CUDA, nbclient and ipykernel. When nbclient or
# ipykernel is missing, wheels carried in .carry/wheels are installed into a virtualenv that sees
# the system's PyTorch (--system-site-packages), with no index.
set -u
OUT=${1:?output folder}
mkdir -p "$OUT"
ROOT=$(pwd)
W=$(mktemp -d)
PY=python3
if ! python3 -c 'import nbclient, ipykernel' 2>/dev/null; then
  python3 -m venv --system-site-packages "$W/venv"
  "$W/venv/bin/pip" install --no-index --find-links "$ROOT/.carry/wheels" nbclient ipykernel > "$OUT/pip.txt" 2>&1 || { echo "nbclient/ipykernel unavailable: see $OUT/pip.txt"; exit 3; }
  PY="$W/venv/bin/python"
  "$PY" -m ipykernel install --prefix "$W/venv" --name python3 >> "$OUT/pip.txt" 2>&1
fi
"$PY" - "$W/cells.ipynb" <<'PYEOF'
import json, sys
cells = [
    "import torch, time\nx = torch.randn(8192, 8192, device='cuda')\ntorch.cuda.synchronize()",
    "t = time.time()\nwhile time.time() - t < 20:\n    y = x @ x\ntorch.cuda.synchronize()",
    "t = time.time()\nwhile time.time() - t < 1.5:\n    y = x @ x\ntorch.cuda.synchronize()",
    "y = x @ x\ntorch.cuda.synchronize()",
    "time.sleep(5)",
    "t = time.time()\nwhile time.time() - t < 8:\n    y = x @ x\n    torch.cuda.synchronize()\n    time.sleep(0.02)",
]
nb = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None} for c in cells],
      "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
json.dump(nb, open(sys.argv[1], "w"))
PYEOF
export JOULES_HOME="$W/home"
node "$ROOT/bin/joules.js" notebook "$W/cells.ipynb" --python "$PY" --counter --json > "$OUT/notebook.json" 2> "$OUT/notebook-stderr.txt"
echo "exit $?" >> "$OUT/notebook-stderr.txt"
python3 - "$OUT/notebook.json" <<'PYEOF' | tee "$OUT/cells.txt"
import json, sys
s = json.load(open(sys.argv[1]))
check = {c["cell"]: c for c in s.get("counterCheck", [])}
print("cell  seconds   joules J   counter J   diff %   method")
for c in s.get("cells", []):
    k = check.get(c["cellIndex"] + 1)
    diff = "" if not k or not k["counterJ"] else "%+.2f" % (100 * (k["joulesJ"] - k["counterJ"]) / k["counterJ"])
    print("%4d %8.3f %10.1f %11.1f %8s   %s" % (c["cellIndex"] + 1, c["durationS"], c["energyJ"], k["counterJ"] if k else float("nan"), diff, c["method"][:60]))
print("session: %.1f J, attribution %s, cells %d" % (s["energyJ"], s["attribution"], len(s.get("cells", []))))
PYEOF
