"""A tiny model trains for a few steps under `joules run` (fake NVML at 300 W); the summary's J/step
must equal the run's energy over the steps the script counted itself."""
import csv
import json
from pathlib import Path

from conftest import assert_j_per_step


def test_package_step(joules_run, tmp_path):
    count = tmp_path / "count"
    s, p = joules_run("train_step.py", count)
    assert p.returncode == 0, p.stderr
    steps = int(count.read_text())
    assert_j_per_step(s, steps)
    assert s["workSource"] == "package"
    assert s["samples"] == 8 * steps and s["tokens"] == 24 * steps
    assert abs(s["jPerSample"] - s["energyJ"] / s["samples"]) < 1e-4
    # The window's two edges are counter-read markers; the ::joules line became a marker too,
    # and is not in the run's output.
    edges = [m for m in s["markers"] if m.get("window")]
    assert [m["window"] for m in edges] == ["begin", "end"] and all(m["label"] == "train" for m in edges)
    assert edges[1]["energyJ"] > edges[0]["energyJ"]
    assert any(m["label"] == "after training" for m in s["markers"])
    assert "::joules" not in p.stdout and "::joules" not in p.stderr
    # joules.energy() answered with the GPU's energy so far.
    # (with --json the run's own stdout goes to the CLI's stderr, keeping stdout for the summary)
    line = next(l for l in (p.stdout + p.stderr).splitlines() if l.startswith("energy so far"))
    assert line.startswith("energy so far {0: ") and float(line.split(": ")[1].rstrip("}")) > 0


def test_hf_trainer_callback(joules_run, tmp_path):
    count, logs = tmp_path / "count", tmp_path / "logs.json"
    s, p = joules_run("train_hf.py", count, logs, tmp_path / "out")
    assert p.returncode == 0, p.stderr[-3000:]
    steps = int(count.read_text())
    assert steps == 6
    assert_j_per_step(s, steps)
    assert s["workSource"] == "package"
    # per-device batch 4 x gradient accumulation 2 x world size 1 per optimizer step
    assert s["samples"] == 8 * steps
    # The figures reached a logger that runs after the Joules callback.
    logged = [l for l in json.loads(logs.read_text()) if "joules/energy_j" in l]
    assert len(logged) >= 2, logged
    assert all(l["joules/energy_j"] > 0 for l in logged)
    assert any("joules/j_per_step" in l and "joules/power_w" in l for l in logged)


def test_lightning_callback(joules_run, tmp_path):
    count = tmp_path / "count"
    s, p = joules_run("train_lightning.py", count, tmp_path / "logs")
    assert p.returncode == 0, p.stderr[-3000:]
    steps = int(count.read_text())
    assert steps == 10
    assert_j_per_step(s, steps)
    assert s["workSource"] == "package"
    assert s["samples"] == 4 * steps
    # pl_module.log put the figures into the run's own logger (CSV here).
    metrics = list(Path(tmp_path / "logs").rglob("metrics.csv"))
    assert metrics, "no CSV metrics written"
    rows = list(csv.DictReader(metrics[0].open()))
    assert any(r.get("joules/energy_j") for r in rows), rows[:3]


def test_no_code_change_tqdm_inferred(joules_run, tmp_path):
    count = tmp_path / "count"
    s, p = joules_run("train_tqdm.py", count)
    assert p.returncode == 0, p.stderr[-3000:]
    steps = int(count.read_text())
    assert steps == 30
    assert_j_per_step(s, steps)
    assert s["workSource"] == "log"
    assert s["workDetail"] == 'tqdm bar "batches" (15 per bar)'
    # The bars themselves still reach the terminal untouched.
    assert "batches: 100%" in p.stderr


def test_window_left_open_by_a_crash(joules_run, tmp_path):
    s, p = joules_run("crash_in_window.py")
    assert p.returncode == 3
    edges = [m for m in s["markers"] if m.get("window")]
    assert [m["window"] for m in edges] == ["begin", "end"]
    assert edges[1].get("closedAtRunEnd") is True
    assert s["steps"] == 5


def test_joules_tqdm_and_forked_workers(joules_run, tmp_path):
    s, p = joules_run("forked.py")
    assert p.returncode == 0, p.stderr[-3000:]
    # 12 iterations of joules.tqdm in the parent + 3 forked children x 10 steps each
    assert s["steps"] == 12 + 30
    assert s["workSource"] == "package"
    assert "errors" not in s or not any(k.startswith("channel") for k in s["errors"]), s.get("errors")


def test_hf_trainer_no_code_change_inferred(joules_run, tmp_path):
    count, logs = tmp_path / "count", tmp_path / "logs.json"
    s, p = joules_run("train_hf.py", count, logs, tmp_path / "out", "--plain")
    assert p.returncode == 0, p.stderr[-3000:]
    steps = int(count.read_text())
    assert_j_per_step(s, steps)
    assert s["workSource"] == "log"
    # samples: the Trainer's closing train_samples_per_second x train_runtime (both rounded by it)
    assert abs(s["samples"] - 8 * steps) <= 1, s.get("samples")


def test_lightning_no_code_change_inferred(joules_run, tmp_path):
    count = tmp_path / "count"
    s, p = joules_run("train_lightning.py", count, tmp_path / "logs", "--plain")
    assert p.returncode == 0, p.stderr[-3000:]
    steps = int(count.read_text())
    assert_j_per_step(s, steps)
    assert s["workSource"] == "log"
    # Lightning's progress bar: tqdm's, or rich's where rich is installed (its default then)
    assert s["workDetail"].startswith(('tqdm bar "Epoch #', 'rich bar "Epoch #')), s["workDetail"]


def test_pythonpath_prepended_never_replaced(joules_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "usermod.py").write_text("VALUE = 42\n")
    s, p = joules_run("pythonpath.py", env={"PYTHONPATH": str(mine)})
    assert p.returncode == 0, p.stderr[-3000:]
    out = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith("PATHS ")][0].split(" ", 1)[1].split("|")
    assert out[0].endswith("python") and out[1] == str(mine), out
