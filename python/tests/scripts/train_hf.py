"""A tiny model trained by the Hugging Face Trainer with the Joules callback (`--plain`: without it,
no Joules code at all)."""
import json
import sys

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments


out, logs_out, outdir = sys.argv[1], sys.argv[2], sys.argv[3]
plain = "--plain" in sys.argv


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 1)

    def forward(self, x, labels=None):
        pred = self.lin(x).squeeze(-1)
        loss = torch.nn.functional.mse_loss(pred, labels)
        return {"loss": loss, "logits": pred}


class Data(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"x": torch.randn(8, generator=g), "labels": torch.randn((), generator=g)}


class Capture(TrainerCallback):
    """Stands for a logger (W&B, TensorBoard...): records what its on_log receives."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append(dict(logs or {}))


args = TrainingArguments(output_dir=outdir, per_device_train_batch_size=4, gradient_accumulation_steps=2, max_steps=6, logging_steps=2,
                         report_to=[], save_strategy="no", use_cpu=True, remove_unused_columns=False, dataloader_num_workers=0)
capture = Capture()
trainer = Trainer(model=Tiny(), args=args, train_dataset=Data(), callbacks=[capture])
if not plain:
    from joules.hf import attach

    attach(trainer)
trainer.train()
open(out, "w").write(str(trainer.state.global_step))
open(logs_out, "w").write(json.dumps(capture.logs))
