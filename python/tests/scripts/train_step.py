"""A tiny model trained for a few steps, reporting each step (and a window) through the package."""
import sys
import time

import torch

import joules

out = sys.argv[1]
torch.manual_seed(0)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(64, 8), torch.randn(64, 1)
done = 0
with joules.window("train"):
    for i in range(20):
        xb, yb = x[i % 8 * 8:(i % 8 + 1) * 8], y[i % 8 * 8:(i % 8 + 1) * 8]
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
        joules.step(samples=len(xb), tokens=3 * len(xb))
        time.sleep(0.02)
print("energy so far", joules.energy())
print("::joules mark after training")
open(out, "w").write(str(done))
