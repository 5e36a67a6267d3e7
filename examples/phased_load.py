"""A phased GPU load for checking Joules on a real GPU (needs PyTorch with CUDA).

Phases (seconds are adjustable with --scale): idle 3 s, full bf16 matmuls 6 s, starved 6 s
(small matmul, synchronize, 20 ms host sleep: the pattern a data-loading bottleneck produces),
full 4 s, idle 3 s. Prints one JSON line per phase with its wall-clock start and end, so energy
per phase can be checked against the run's samples.
"""
import argparse
import json
import time

import torch


def phase(name, seconds, fn):
    start = time.time()
    end = start + seconds
    while time.time() < end:
        fn()
    torch.cuda.synchronize()
    print(json.dumps({"phase": name, "start": start, "end": time.time()}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    dev = torch.device("cuda")
    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    small = torch.randn(256, 256, device=dev)
    torch.cuda.synchronize()

    def full():
        for _ in range(10):
            torch.matmul(a, b)
        torch.cuda.synchronize()

    def starved():
        torch.matmul(small, small)
        torch.cuda.synchronize()
        time.sleep(0.02)

    s = args.scale
    phase("idle", 3 * s, lambda: time.sleep(0.05))
    phase("full", 6 * s, full)
    phase("starved", 6 * s, starved)
    phase("full", 4 * s, full)
    phase("idle", 3 * s, lambda: time.sleep(0.05))


if __name__ == "__main__":
    main()
