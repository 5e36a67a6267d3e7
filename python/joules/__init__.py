"""Tell Joules what your ML run is doing: steps, samples and tokens done, and named windows.

    import joules

    for epoch in range(3):
        with joules.window(f"epoch {epoch}"):          # also a decorator: @joules.window("eval")
            for batch in loader:
                ...
                joules.step(samples=len(batch))            # or step(n, samples=..., tokens=...)
    print(joules.energy())                                 # {0: 1234.5}: J per GPU so far

Joules then shows J/step, J/sample and J/token, and the energy of each window (read from the GPUs'
energy counters at its edges). The calls travel over a socket Joules opens for the run (its address
is in the JOULES_CHANNEL environment variable), never through stdout, and work from any process of
the run (DataLoader workers, torchrun ranks).

Outside a run that Joules launched every call does nothing: `step` is then a plain function with an
empty body (see bench/pyapi.py for its cost), `window` returns an object whose `with` and decorator
do nothing, and `energy()` returns {}. The environment is read once, when the module is imported.

Integrations, each imported only when you import it (never by `import joules`):
    joules.hf.JoulesCallback / joules.hf.attach(trainer)   Hugging Face Trainer
    joules.lightning.JoulesCallback                          Lightning
    joules.tqdm(iterable, ...)                               a tqdm bar whose iterations are steps
"""
import functools as _functools
import os as _os

from . import _channel

__version__ = "0.1.0"
__all__ = ["step", "window", "mark", "energy", "active"]  # joules.tqdm stays out: `import *` must not shadow tqdm

_ch = _channel.from_env(_os.environ.get(_channel.ENV))


def active():
    """True inside a run that Joules launched (and while its channel works)."""
    return _ch is not None and _ch.alive


if _ch is None:

    def step(n=1, samples=None, tokens=None):
        """n more steps done; `samples` and `tokens`: how many they processed (optional)."""

    def mark(label):
        """A named point in the run (its energy is read there)."""

    def energy():
        """The run's energy so far in J, per GPU: {nvml_index: joules}; {} outside a Joules run."""
        return {}

    class window(object):
        """A named stretch of the run, as `with joules.window("epoch 1"):` or `@joules.window("eval")`."""

        __slots__ = ("label",)

        def __init__(self, label):
            self.label = label

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __call__(self, fn):
            return fn

else:

    def step(n=1, samples=None, tokens=None):
        """n more steps done; `samples` and `tokens`: how many they processed (optional)."""
        _ch.step(n, samples, tokens)

    def mark(label):
        """A named point in the run (its energy is read there)."""
        _ch.mark(label)

    def energy():
        """The run's energy so far in J, per GPU: {nvml_index: joules} of the GPUs the run counts."""
        return _ch.energy()

    class window(object):
        """A named stretch of the run, as `with joules.window("epoch 1"):` or `@joules.window("eval")`.

        Joules reads the energy counters when it opens and when it closes. A window left open (the
        program crashed) is closed at the run's end and labelled so. One object may be entered again
        while open (nested or recursive use); use one object per thread.
        """

        __slots__ = ("label", "_open")

        def __init__(self, label):
            self.label = str(label)
            self._open = []

        def __enter__(self):
            self._open.append(_ch.begin(self.label))
            return self

        def __exit__(self, *exc):
            if self._open:
                _ch.end(self._open.pop())
            return False

        def __call__(self, fn):
            label = self.label

            @_functools.wraps(fn)
            def wrapper(*args, **kwargs):
                with window(label):
                    return fn(*args, **kwargs)

            return wrapper


def tqdm(*args, **kwargs):
    """`tqdm.auto.tqdm(*args, **kwargs)` whose iterations (and `update(n)` calls) are Joules steps."""
    from ._tqdm import joules_tqdm

    return joules_tqdm(*args, **kwargs)


def __getattr__(name):
    # `joules.hf` and `joules.lightning` load their framework only when first used.
    if name in ("hf", "lightning"):
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError("module 'joules' has no attribute %r" % name)
