"""Hugging Face Trainer integration (imports transformers; `import joules` alone does not).

    from joules.hf import attach
    trainer = Trainer(...)
    attach(trainer)          # or Trainer(..., callbacks=[JoulesCallback()])
    trainer.train()

Each optimizer step is a Joules step, with its samples (per-device batch size x gradient
accumulation x world size: the nominal figure; a short last batch counts as full) and, when the
Trainer counts them (`include_num_input_tokens_seen=True`), its tokens. Only the main process
reports, so torchrun ranks are not counted several times.

At each log the callback adds `joules/energy_j` (the run's energy so far, all its GPUs),
`joules/power_w` (average power since the previous log) and `joules/j_per_step` (energy per step
since the previous log) to the logs dict, so they reach the loggers the Trainer reports to (W&B,
TensorBoard, MLflow...). Callbacks see the logs in order and the Trainer puts its reporting
callbacks first: `attach(trainer)` puts this one before them so they receive the figures;
`callbacks=[JoulesCallback()]` still counts steps but the loggers then miss the figures.
"""
import time

from transformers import TrainerCallback

import joules


class JoulesCallback(TrainerCallback):
    def __init__(self, log_energy=True):
        self.log_energy = log_energy
        self._samples_per_step = None
        self._tokens_seen = 0
        self._last = None  # (time, energy J, global step) at the previous log

    def on_train_begin(self, args, state, control, **kwargs):
        try:
            self._samples_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
        except Exception:
            self._samples_per_step = None
        self._tokens_seen = getattr(state, "num_input_tokens_seen", 0) or 0

    def on_step_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        tokens = None
        seen = getattr(state, "num_input_tokens_seen", 0) or 0
        if seen > self._tokens_seen:
            tokens = seen - self._tokens_seen
            self._tokens_seen = seen
        joules.step(1, samples=self._samples_per_step, tokens=tokens)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self.log_energy or logs is None or not state.is_world_process_zero or not joules.active():
            return
        per_gpu = joules.energy()
        if not per_gpu:
            return
        now = time.monotonic()
        total = sum(per_gpu.values())
        logs["joules/energy_j"] = round(total, 3)
        if self._last is not None:
            t0, e0, s0 = self._last
            if now > t0:
                logs["joules/power_w"] = round((total - e0) / (now - t0), 2)
            if state.global_step > s0:
                logs["joules/j_per_step"] = round((total - e0) / (state.global_step - s0), 4)
        self._last = (now, total, state.global_step)


def attach(trainer, **kwargs):
    """Add a JoulesCallback to `trainer` ahead of its reporting callbacks; returns the callback."""
    cb = JoulesCallback(**kwargs)
    trainer.callback_handler.callbacks.insert(0, cb)
    return cb
