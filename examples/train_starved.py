"""A training run that starves its GPU, for checking Joules' findings and fixes on a real GPU.

A CNN on synthetic 64x64 images, sized so that an H200 needs ~28 ms a step (`--depth`); every sample goes through a CPU-heavy augmentation written
in NumPy (the kind of per-sample Python work that holds the GIL), and the DataLoader loads batches
in the main process (no workers). The GPU waits for data most of the time (on an H200: ~130 ms of loading per ~28 ms step; with 8
worker processes loading takes ~19 ms a batch and the GPU becomes the bottleneck, as it should;
measured with examples/calibrate.py). `joules fix last
--apply` (or the quick fixes in VS Code) adds worker processes and pinned memory, and logs the loss
every N steps instead of syncing on every step.

    joules run -- python3 examples/train_starved.py --epochs 3
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

# joules_markers.py ships in Joules' media/ folder; a copy beside this script works too.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_here, os.path.join(_here, "..", "media")]
from joules_markers import mark, steps  # noqa: E402


class SyntheticImages(Dataset):
    """Deterministic random images; the augmentation is deliberately CPU-heavy."""

    def __init__(self, n, size=64, classes=10, blur=9):
        self.n, self.size, self.classes, self.blur = n, size, classes, blur

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        img = rng.integers(0, 256, (self.size + 8, self.size + 8, 3), dtype=np.uint8).astype(np.float32)
        y, x = rng.integers(0, 8, 2)
        img = img[y : y + self.size, x : x + self.size]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        # A 5x5 box blur applied a few times, in NumPy: a stand-in for decoding and augmenting.
        for _ in range(self.blur):
            padded = np.pad(img, ((2, 2), (2, 2), (0, 0)), mode="reflect")
            acc = np.zeros_like(img)
            for dy in range(5):
                for dx in range(5):
                    acc += padded[dy : dy + self.size, dx : dx + self.size]
            img = acc / 25.0
        img = (img - img.mean()) / (img.std() + 1e-6)
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), int(rng.integers(0, self.classes))


class SmallCNN(nn.Module):
    """A plain CNN; `depth` extra 256-channel convolutions at 16x16 set how long a step takes."""

    def __init__(self, classes=10, depth=128):
        super().__init__()
        self.c1 = nn.Conv2d(3, 64, 3, padding=1)
        self.c2 = nn.Conv2d(64, 128, 3, padding=1)
        self.c3 = nn.Conv2d(128, 256, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(256, 256, 3, padding=1) for _ in range(depth))
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        for conv in self.body:
            x = F.relu(conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--depth", type=int, default=128)
    ap.add_argument("--blur", type=int, default=9, help="augmentation passes per sample (CPU cost)")
    args = ap.parse_args()
    device = torch.device("cuda")
    ds = SyntheticImages(args.samples, blur=args.blur)
    loader = DataLoader(ds, batch_size=64, shuffle=True)
    model = SmallCNN(depth=args.depth).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for epoch in range(args.epochs):
        mark(f"epoch {epoch + 1} start")
        t0 = time.time()
        for step, (x, y) in enumerate(loader):
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            print(f"epoch {epoch + 1} step {step} loss {loss.item():.4f}")
        steps(len(loader))
        mark(f"epoch {epoch + 1} end")
        print(f"epoch {epoch + 1} took {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
