"""The package outside a Joules run, and its client against a stand-in server."""
import json
import os
import socket
import subprocess
import sys
import threading

from conftest import PACKAGE_DIR, clean_env


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], env=clean_env(PYTHONPATH=str(PACKAGE_DIR), **env), capture_output=True, text=True, timeout=60)


def test_outside_a_run_every_call_is_a_no_op_and_nothing_heavy_is_imported():
    p = _python(
        "import sys, joules\n"
        "assert not joules.active()\n"
        "assert joules.step() is None and joules.step(3, samples=4, tokens=5) is None\n"
        "assert joules.energy() == {}\n"
        "with joules.window('x') as w: pass\n"
        "f = lambda: 7\n"
        "assert joules.window('y')(f) is f\n"
        "heavy = [m for m in ('torch', 'transformers', 'lightning', 'pytorch_lightning', 'tqdm', 'numpy') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_a_malformed_or_dead_channel_never_raises():
    code = "import joules\njoules.step()\nwith joules.window('w'):\n  joules.step(2, samples=1)\nprint(joules.energy(), joules.active())\n"
    for value in ("garbage", "unix:/nonexistent/sock#abc", "tcp:127.0.0.1:1#abc"):
        p = _python(code, JOULES_CHANNEL=value)
        assert p.returncode == 0, (value, p.stderr)
        assert p.stdout.strip().startswith("{}"), (value, p.stdout)


def test_client_messages_against_a_stand_in_server(tmp_path):
    path = str(tmp_path / "s")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    got = []

    def serve():
        conn, _ = srv.accept()
        buf = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
                got.append(m)
                if m["t"] == "energy":
                    conn.sendall(json.dumps({"t": "energy", "q": m["q"], "tS": 1.0, "energyJ": {"0": 5.5, "1": 2.0}, "totalJ": 7.5}).encode() + b"\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    p = _python(
        "import joules\n"
        "joules.step()\n"
        "joules.step(2, samples=16, tokens=float('nan'))\n"
        "@joules.window('decorated')\n"
        "def f():\n  joules.mark('inside')\n"
        "f()\n"
        "print(joules.energy())\n",
        JOULES_CHANNEL="unix:%s#tok" % path,
    )
    t.join(10)
    srv.close()
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "{0: 5.5, 1: 2.0}"
    kinds = [m["t"] for m in got]
    assert kinds == ["hello", "step", "step", "begin", "mark", "end", "energy"], got
    assert got[0]["token"] == "tok"
    assert got[2] == {"t": "step", "n": 2, "samples": 16}  # a NaN count is dropped, not sent
    assert got[3]["label"] == "decorated" and got[5]["w"] == got[3]["w"]
