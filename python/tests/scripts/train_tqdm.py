"""No Joules code at all: a plain loop under a tqdm bar (Joules infers the steps from the log)."""
import sys
import time

import torch
from tqdm import tqdm

out = sys.argv[1]
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
done = 0
for epoch in tqdm(range(2), desc="epochs"):
    for i in tqdm(range(15), desc="batches", mininterval=0):
        loss = model(torch.randn(4, 8)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
        time.sleep(0.01)
    for i in tqdm(range(5), desc="validation"):
        pass
open(out, "w").write(str(done))
