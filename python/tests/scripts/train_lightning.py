"""A tiny LightningModule trained with the Joules callback, logging to a CSV logger (`--plain`:
without it, no Joules code at all)."""
import sys

import torch

try:
    import lightning.pytorch as L
    from lightning.pytorch.loggers import CSVLogger
except ImportError:
    import pytorch_lightning as L
    from pytorch_lightning.loggers import CSVLogger

out, logdir = sys.argv[1], sys.argv[2]
plain = "--plain" in sys.argv
callbacks = []
if not plain:
    from joules.lightning import JoulesCallback

    callbacks.append(JoulesCallback())


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.lin(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


g = torch.Generator().manual_seed(0)
data = torch.utils.data.TensorDataset(torch.randn(48, 8, generator=g), torch.randn(48, 1, generator=g))
loader = torch.utils.data.DataLoader(data, batch_size=4)
trainer = L.Trainer(max_steps=10, accelerator="cpu", devices=1, logger=CSVLogger(logdir, name="t"), enable_checkpointing=False,
                    log_every_n_steps=2, callbacks=callbacks, enable_model_summary=False)
trainer.fit(Tiny(), loader)
open(out, "w").write(str(trainer.global_step))
