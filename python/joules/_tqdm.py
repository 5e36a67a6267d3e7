"""`joules.tqdm`: a tqdm bar that reports its iterations as steps (imports tqdm when first used)."""
from tqdm.auto import tqdm as _tqdm

import joules


class joules_tqdm(_tqdm):
    """tqdm whose iterations, or `update(n)` calls, are Joules steps. An iteration counts once its
    body is done (when the loop asks for the next item), so a `break` does not count a step."""

    def __iter__(self):
        # tqdm's own __iter__ calls update() now and then for display: not counted again.
        self._joules_iterating = True
        try:
            for obj in super().__iter__():
                yield obj
                joules.step(1)
        finally:
            self._joules_iterating = False

    def update(self, n=1):
        r = super().update(n)
        if not getattr(self, "_joules_iterating", False) and n:
            joules.step(n)
        return r
