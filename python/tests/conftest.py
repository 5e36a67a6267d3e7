"""Shared helpers: run a script under the built `joules run` CLI with the fake NVML library.

scripts/testPython.mjs sets JOULES_TEST_NODE, JOULES_TEST_BIN, JOULES_NVML_LIBRARY and
FAKE_NVML_SCENARIO (one GPU at exactly 300 W); the run tests are skipped, and say why, without them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
PACKAGE_DIR = HERE.parent


def _cli():
    node = os.environ.get("JOULES_TEST_NODE")
    bin_ = os.environ.get("JOULES_TEST_BIN")
    if not node or not bin_ or not os.environ.get("JOULES_NVML_LIBRARY"):
        pytest.skip("needs the built CLI and the fake NVML library (run through scripts/testPython.mjs)")
    return node, bin_


def clean_env(**extra):
    """The test's environment without a channel of its own, and without `joules` importable from here."""
    env = {k: v for k, v in os.environ.items() if k not in ("JOULES_CHANNEL", "PYTHONPATH")}
    env.update(extra)
    return env


@pytest.fixture
def joules_run(tmp_path):
    """joules_run(script, *args) -> (summary dict from --json, CompletedProcess)."""

    def run(script, *args, env=None):
        node, bin_ = _cli()
        cmd = [node, bin_, "run", "--json", "--no-analysis", "--store", str(tmp_path / "store"), "--", sys.executable, str(SCRIPTS / script), *map(str, args)]
        p = subprocess.run(cmd, cwd=str(tmp_path), env=clean_env(**(env or {})), capture_output=True, text=True, timeout=240)
        # --json prints the summary as the last line of stdout; the run's own output comes before it.
        last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        try:
            summary = json.loads(last)
        except ValueError:
            raise AssertionError("no JSON summary; exit %s\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
        return summary, p

    return run


def assert_j_per_step(summary, steps):
    """The summary's J/step is the run's energy over the steps the script counted itself."""
    assert summary.get("steps") == steps, (summary.get("steps"), steps, summary.get("workSource"))
    assert summary["energyJ"] > 0
    expected = summary["energyJ"] / steps
    # --json rounds energyJ to 3 decimals and jPerStep to 4.
    assert abs(summary["jPerStep"] - expected) <= 1e-4 + 1e-3 / steps, (summary["jPerStep"], expected)
