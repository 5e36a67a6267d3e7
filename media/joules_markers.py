"""Tell Joules about your run's structure: named points (epochs, phases) and work done (steps, tokens).

For Python, prefer the `joules` package (`import joules`; on PYTHONPATH in runs Joules launches): it
talks to Joules over a socket and also gives samples, windows and framework callbacks. This file is
the print-based form, for copying next to a script (or porting to another language): it has no
dependencies.

    from joules_markers import mark, steps, tokens
    for epoch in range(3):
        mark(f"epoch {epoch} start")
        for batch in loader:
            ...
            steps(1)            # or steps(100) every 100 steps: each call prints a line
        mark(f"epoch {epoch} end")

Joules reads these lines from the run's output and takes them out of it: they do not reach the
terminal or the stored log (outside Joules they are ordinary prints). At each mark Joules reads the
GPUs' energy counters, so the energy between two marks is exact to the counter's 100 ms update
period. J/step and J/token in the summary are the run's energy divided by the steps or tokens
reported.
"""
import sys


def _emit(line):
    # stderr is unbuffered, so the mark lands at the moment it is called.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def mark(label):
    """A named point in the run, e.g. "epoch 1 end"."""
    _emit("::joules mark " + str(label).replace("\n", " "))


def steps(n=1):
    """n more training or inference steps are done."""
    _emit("::joules steps %d" % int(n))


def tokens(n):
    """n more tokens were generated."""
    _emit("::joules tokens %d" % int(n))
