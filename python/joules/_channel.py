"""The client side of a Joules run's channel (src/core/runs/channel.ts holds the other side).

`JOULES_CHANNEL` is `unix:<socket path>#<token>` (POSIX) or `tcp:127.0.0.1:<port>#<token>`
(Windows). Messages are JSON objects, one a line. The connection is made on first use, once per
process: a forked child (a DataLoader worker) drops the parent's socket and makes its own, so the
lines of two processes never mix on one socket. Any failure turns the client off for good: user code
never sees an exception from here.
"""
import itertools
import json
import math
import os
import socket
import threading

ENV = "JOULES_CHANNEL"
_ENERGY_TIMEOUT_S = 2.0


def _count(x):
    """A non-negative finite number as JSON-safe int/float, or None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        try:
            v = float(x.item())  # a 0-d tensor or numpy scalar
        except Exception:
            return None
    if not math.isfinite(v) or v < 0:
        return None
    return int(v) if v.is_integer() else v


class Channel:
    def __init__(self, kind, address, token):
        self._kind = kind
        self._address = address
        self._token = token
        self._lock = threading.Lock()
        self._sock = None
        self._dead = False
        self._buf = b""
        self._ids = itertools.count(1)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self):
        # The parent's socket belongs to the parent: the child connects on its own first message.
        self._sock = None
        self._buf = b""
        self._lock = threading.Lock()

    def _connect(self):
        if self._kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(_ENERGY_TIMEOUT_S)
            s.connect(self._address)
        else:
            host, _, port = self._address.rpartition(":")
            s = socket.create_connection((host, int(port)), timeout=_ENERGY_TIMEOUT_S)
        s.settimeout(None)
        hello = {"t": "hello", "token": self._token, "pid": os.getpid()}
        s.sendall(json.dumps(hello).encode() + b"\n")
        return s

    def _fail(self):
        self._dead = True
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None

    def send(self, line):
        """Send one encoded line; False when the channel is (now) off."""
        if self._dead:
            return False
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = self._connect()
                self._sock.sendall(line)
                return True
            except (OSError, ValueError):
                self._fail()
                return False

    @property
    def alive(self):
        return not self._dead

    def step(self, n, samples, tokens):
        if samples is None and tokens is None and type(n) is int and n >= 0:
            # The common case, without json: a few hundred nanoseconds less per step.
            self.send(b'{"t":"step","n":%d}\n' % n)
            return
        msg = {"t": "step", "n": _count(n)}
        if msg["n"] is None:
            return
        if samples is not None:
            s = _count(samples)
            if s is not None:
                msg["samples"] = s
        if tokens is not None:
            t = _count(tokens)
            if t is not None:
                msg["tokens"] = t
        self.send(json.dumps(msg).encode() + b"\n")

    def begin(self, label):
        wid = next(self._ids)
        self.send(json.dumps({"t": "begin", "w": wid, "label": str(label)}).encode() + b"\n")
        return wid

    def end(self, wid):
        self.send(b'{"t":"end","w":%d}\n' % wid)

    def mark(self, label):
        self.send(json.dumps({"t": "mark", "label": str(label)}).encode() + b"\n")

    def energy(self):
        """{gpu index: J since the run's start} of the run's GPUs; {} when Joules does not answer."""
        if self._dead:
            return {}
        q = next(self._ids)
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = self._connect()
                self._sock.sendall(b'{"t":"energy","q":%d}\n' % q)
                self._sock.settimeout(_ENERGY_TIMEOUT_S)
                try:
                    while True:
                        nl = self._buf.find(b"\n")
                        while nl == -1:
                            chunk = self._sock.recv(65536)
                            if not chunk:
                                raise OSError("channel closed")
                            self._buf += chunk
                            nl = self._buf.find(b"\n")
                        line, self._buf = self._buf[:nl], self._buf[nl + 1:]
                        reply = json.loads(line)
                        # An answer to an earlier request that timed out is skipped.
                        if reply.get("q") == q:
                            break
                finally:
                    if self._sock is not None:
                        self._sock.settimeout(None)
            except socket.timeout:
                return {}
            except (OSError, ValueError):
                self._fail()
                return {}
        if reply.get("t") != "energy":
            return {}
        return {int(k): float(v) for k, v in reply.get("energyJ", {}).items()}


def from_env(value):
    """The channel named by `value` (the env var's), or None outside a Joules run or when malformed."""
    if not value:
        return None
    where, sep, token = value.rpartition("#")
    if not sep or not token:
        return None
    kind, _, address = where.partition(":")
    if kind == "unix" and address and hasattr(socket, "AF_UNIX"):
        return Channel("unix", address, token)
    if kind == "tcp" and ":" in address:
        return Channel("tcp", address, token)
    return None
