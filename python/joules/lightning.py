"""Lightning integration (imports lightning, or pytorch_lightning; `import joules` alone does not).

    from joules.lightning import JoulesCallback
    trainer = L.Trainer(callbacks=[JoulesCallback()])

Each optimizer step (Lightning's `global_step`) is a Joules step; the samples are each batch's size
(first dimension of the batch's first tensor) x world size, the tokens the number of non-padding
entries of `attention_mask` (else the size of `input_ids`) when the batch is a dict holding them.
Only global rank 0 reports. Every `log_every_n_steps` steps it logs `joules/energy_j` and
`joules/power_w` through `pl_module.log`, so the run's logger (TensorBoard, W&B, MLflow, CSV) gets
them.
"""
import time

try:
    import lightning.pytorch as _pl
except ImportError:  # the older package name
    import pytorch_lightning as _pl

import joules


def _first_tensor(batch):
    if hasattr(batch, "shape"):
        return batch
    if isinstance(batch, dict):
        for v in batch.values():
            t = _first_tensor(v)
            if t is not None:
                return t
    if isinstance(batch, (list, tuple)):
        for v in batch:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _tokens(batch):
    if not isinstance(batch, dict):
        return None
    mask = batch.get("attention_mask")
    if mask is not None and hasattr(mask, "sum"):
        return int(mask.sum())
    ids = batch.get("input_ids")
    if ids is not None and hasattr(ids, "numel"):
        return int(ids.numel())
    return None


class JoulesCallback(_pl.Callback):
    def __init__(self, log_energy=True):
        super().__init__()
        self.log_energy = log_energy
        self._last_step = 0
        self._last = None

    def on_train_start(self, trainer, pl_module):
        self._last_step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not trainer.is_global_zero:
            return
        world = max(1, getattr(trainer, "world_size", 1) or 1)
        t = _first_tensor(batch)
        samples = int(t.shape[0]) * world if t is not None and len(t.shape) > 0 else None
        tokens = _tokens(batch)
        if tokens is not None:
            tokens *= world
        steps = trainer.global_step - self._last_step
        self._last_step = trainer.global_step
        # A batch inside a gradient accumulation is 0 steps but still its samples and tokens.
        joules.step(max(0, steps), samples=samples, tokens=tokens)
        every = max(1, getattr(trainer, "log_every_n_steps", 50) or 50)
        if self.log_energy and steps > 0 and trainer.global_step % every == 0 and joules.active():
            per_gpu = joules.energy()
            if per_gpu:
                total = sum(per_gpu.values())
                now = time.monotonic()
                pl_module.log("joules/energy_j", total, on_step=True, on_epoch=False, rank_zero_only=True)
                if self._last is not None and now > self._last[0]:
                    pl_module.log("joules/power_w", (total - self._last[1]) / (now - self._last[0]), on_step=True, on_epoch=False, rank_zero_only=True)
                self._last = (now, total)
