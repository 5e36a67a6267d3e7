"""Times one training step of train_starved.py's model per depth, and one batch of its data loading
with 0 and 8 workers, so the example can be sized for a GPU (starved without workers, GPU-bound with)."""
import time
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("t", os.path.join(os.path.dirname(__file__), "train_starved.py"))
t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
dev = torch.device("cuda")
x = torch.randn(64, 3, 64, 64, device=dev); y = torch.randint(0, 10, (64,), device=dev)
for depth in (4, 8, 16, 32):
    m = t.SmallCNN(depth=depth).to(dev); opt = torch.optim.SGD(m.parameters(), lr=0.01)
    for i in range(25):
        if i == 5: torch.cuda.synchronize(); t0 = time.time()
        loss = F.cross_entropy(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
    torch.cuda.synchronize(); print(f"depth {depth}: {(time.time()-t0)/20*1000:.1f} ms/step", flush=True)
for blur in (6, 9):
    for w in (0, 8):
        ds = t.SyntheticImages(64 * 21, blur=blur)
        dl = DataLoader(ds, batch_size=64, num_workers=w)
        it = iter(dl); next(it); t0 = time.time()
        for _ in range(20): next(it)
        print(f"blur {blur}, workers {w}: {(time.time()-t0)/20*1000:.1f} ms/batch", flush=True)
