"""Inference served one request at a time, for checking Joules' inference findings on a real GPU.

A stack of wide linear layers (a stand-in for a model's MLP blocks) answers N requests, each a
feature vector; the loop calls the model once per request with a batch of one (`unsqueeze(0)`), in
fp32 with autograd on. Joules finds: no inference mode, no bf16, and the batch of one (advice only:
batching changes how requests are collected). `joules fix last --apply` adds inference mode and bf16
autocast; `--batch 32` shows what the batching advice is worth.

    joules run -- python3 examples/infer_batch1.py --requests 20000
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

# joules_markers.py ships in Joules' media/ folder; a copy beside this script works too.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_here, os.path.join(_here, "..", "media")]
from joules_markers import mark, steps  # noqa: E402


def build_model(width, depth, classes=100):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.GELU()]
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--batch", type=int, default=1, help="requests per model call (1: one at a time)")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = build_model(args.width, args.depth).to(device)
    model.eval()
    requests = [torch.randn(args.width) for _ in range(args.requests)]
    answers = []
    mark("serve start")
    t0 = time.time()
    if args.batch == 1:
        for features in requests:
            x = features.unsqueeze(0).to(device)
            logits = model(x)
            answers.append(logits.argmax(1).item())
    else:
        for i in range(0, len(requests), args.batch):
            x = torch.stack(requests[i : i + args.batch]).to(device)
            logits = model(x)
            answers.extend(logits.argmax(1).tolist())
    mark("serve end")
    steps(len(answers))
    print(f"served {len(answers)} requests in {time.time() - t0:.2f} s (batch {args.batch})", flush=True)


if __name__ == "__main__":
    main()
