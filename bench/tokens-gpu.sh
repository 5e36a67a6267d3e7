#!/usr/bin/env bash
# J/token on a real GPU, checked independently. A small PyTorch generation loop (embedding + GRU +
# linear head, greedy decoding of BATCH sequences of LEN tokens, ROUNDS times) runs under
# `joules run` and reports its tokens through the `joules` Python package (joules.step(tokens=...)),
# inside a `joules.window("generate")`. Independently of Joules:
#   - the script reads the GPU's energy counter itself (NVML through ctypes) at the start and end of
#     its generation loop and counts its own tokens: counter delta / tokens;
#   - nvidia-smi samples power.draw every 100 ms over the whole run; integrated and divided by the
#     tokens, it is compared with the summary's jPerToken (the whole run's energy / tokens).
# Prints both pairs and the steady-state J/token (first and last 10 % of tokens left out).
# Usage: bench/tokens-gpu.sh OUTDIR [ROUNDS]   (needs dist/ built, python3 with PyTorch + CUDA, nvidia-smi)
set -u
OUT=${1:?output folder}
ROUNDS=${2:-40}
mkdir -p "$OUT"
ROOT=$(pwd)
W=$(mktemp -d)
export JOULES_HOME="$W/home"
cat > "$W/gen.py" <<'PY'
import ctypes, json, sys, time
import torch
import joules

rounds, batch, length = int(sys.argv[1]), 64, 256
assert torch.cuda.is_available(), "needs a CUDA GPU"
nv = ctypes.CDLL("libnvidia-ml.so.1")
assert nv.nvmlInit_v2() == 0
dev = ctypes.c_void_p()
idx = torch.cuda.current_device()
assert nv.nvmlDeviceGetHandleByIndex_v2(idx, ctypes.byref(dev)) == 0
def counter_mj():
    v = ctypes.c_ulonglong()
    assert nv.nvmlDeviceGetTotalEnergyConsumption(dev, ctypes.byref(v)) == 0
    return v.value

torch.manual_seed(0)
vocab, hidden = 32000, 1024
emb = torch.nn.Embedding(vocab, hidden).cuda().half()
rnn = torch.nn.GRU(hidden, hidden, num_layers=4, batch_first=True).cuda().half()
head = torch.nn.Linear(hidden, vocab).cuda().half()
tokens = 0
with torch.inference_mode():
    # Warm-up outside the measured loop (kernel selection, allocator).
    x = torch.randint(0, vocab, (batch, 1), device="cuda")
    h = None
    for _ in range(8):
        o, h = rnn(emb(x), h)
        x = head(o[:, -1]).argmax(-1, keepdim=True)
    torch.cuda.synchronize()
    with joules.window("generate"):
        e0, t0 = counter_mj(), time.monotonic()
        for r in range(rounds):
            x = torch.randint(0, vocab, (batch, 1), device="cuda")
            h = None
            for _ in range(length):
                o, h = rnn(emb(x), h)
                x = head(o[:, -1]).argmax(-1, keepdim=True)
                x.cpu()  # the token is "emitted": wait for it, as a server would
                tokens += batch
                joules.step(tokens=batch)
        torch.cuda.synchronize()
        e1, t1 = counter_mj(), time.monotonic()
print(json.dumps({"tokens": tokens, "loopJ": (e1 - e0) / 1000, "loopS": t1 - t0, "gpu": idx}), file=sys.stderr)
PY
nvidia-smi --query-gpu=timestamp,index,power.draw --format=csv,noheader,nounits -lms 100 > "$W/smi.csv" &
SMI=$!
sleep 1
START=$(date +%s.%N)
node "$ROOT/bin/joules.js" run --json --name tokens -- python3 "$W/gen.py" "$ROUNDS" > "$OUT/tokens-run.json" 2> "$W/run.log"
END=$(date +%s.%N)
sleep 0.5
kill $SMI
tail -c 2000 "$W/run.log" > "$OUT/tokens-stderr.txt"
cp "$W/smi.csv" "$OUT/tokens-nvidia-smi.csv"
python3 - "$OUT" "$W/run.log" "$START" "$END" <<'PY' | tee "$OUT/tokens-compare.txt"
import datetime, json, sys
out, log, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
s = json.load(open(f"{out}/tokens-run.json"))
mine = next(json.loads(l) for l in open(log) if l.startswith('{"tokens"'))
print(f"run: exit {s['exitCode']}, {s['durationS']:.1f} s, {s['energyJ']:.1f} J, work from {s.get('workSource')}")
print(f"tokens      Joules {s.get('tokens')}   script {mine['tokens']}")
# 1. The generation window: Joules' counter reads at the window's edges vs the script's own.
edges = [m for m in s.get("markers", []) if m.get("label") == "generate" and m.get("window")]
wj = edges[1]["energyJ"] - edges[0]["energyJ"]
print(f"window J/token   Joules {wj / mine['tokens']:.6f}   script's counter delta / tokens {mine['loopJ'] / mine['tokens']:.6f}   ({100 * (wj - mine['loopJ']) / mine['loopJ']:+.2f} %)")
# 2. The whole run: the summary's jPerToken vs nvidia-smi power integrated over the run's wall time.
pts = []
for line in open(f"{out}/tokens-nvidia-smi.csv"):
    ts, idx, p = [x.strip() for x in line.split(",")]
    if int(idx) != mine["gpu"] or p in ("[N/A]", ""):
        continue
    t = datetime.datetime.strptime(ts, "%Y/%m/%d %H:%M:%S.%f").timestamp()
    if start <= t <= end:
        pts.append((t, float(p)))
smi_j = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(pts, pts[1:]))
print(f"run J/token      Joules {s['jPerToken']:.6f}   nvidia-smi integrated / tokens {smi_j / mine['tokens']:.6f}   (nvidia-smi spans the CLI's start-up too: expect it a little higher)")
st = s.get("steadyState")
if st:
    print(f"steady J/token   {st['jPerToken']:.6f} ({st['tokens']} tokens, {st['startS']:.1f}-{st['endS']:.1f} s)")
PY
