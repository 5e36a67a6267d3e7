"""The README's few lines for plain scripts: joules.energy() logged to W&B, offline."""
import os
import subprocess
import sys

import pytest

from conftest import SCRIPTS


def test_energy_logged_to_wandb_offline(joules_run, tmp_path):
    pytest.importorskip("wandb", reason="wandb does not install from this machine's package index")
    s, p = joules_run("wandb_offline.py", tmp_path / "wandb", env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    assert p.returncode == 0, p.stderr[-3000:]
    runs = list((tmp_path / "wandb").rglob("*.wandb"))
    assert runs, "no offline W&B run written"
    summary = list((tmp_path / "wandb").rglob("wandb-summary.json"))
    assert summary and "joules/energy_j" in summary[0].read_text()
