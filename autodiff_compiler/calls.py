"""Fast calls of a gradient from Python, once a call with the same argument types has gone
the checked way (argument binding, conversion, type checks: a few microseconds).

Positional arguments that the compiled code takes as they are (Python floats, ints and
bools, float64/int64/bool arrays of rank >= 1) are keyed by their types alone. For such a
key either
- the Numba dispatcher g.njit is called directly, when nothing is left to the Python side
  (no check of arrays sharing memory; tapes, if any, small enough for each call to make
  its own), or
- a Plan calls the artifact (tapes kept, the memory check made) and arranges its results,
  skipping the binding and conversion.
"""

from __future__ import annotations

import numpy as np

from .budget import resolve as resolve_budget

_PLAIN = {np.dtype(np.float64).char, np.dtype(np.int64).char, np.dtype(np.bool_).char}
_SCALARS = (float, int, bool, np.float64, np.int64, np.bool_)  # as Numba types them


def quick_key(args) -> tuple | None:
    """The types of positional arguments taken as they are, or None (some need converting)."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            char = a.dtype.char
            if a.ndim == 0 or char not in _PLAIN:
                return None
            key.append((char, a.ndim))
        elif t in _SCALARS:
            key.append(t)
        else:
            return None
    return tuple(key)


def eligible(gradfn, args, kwargs) -> bool:
    """Calls like this one may skip the checked path."""
    return (not kwargs and gradfn.mode == "reverse" and not gradfn.specializations.offset
            and len(args) == len(gradfn.param_names))


# bytes of tape up to which g lets each call of its dispatcher make its own tapes (as g.njit
# does) rather than handing the last call's back from Python, which costs microseconds a
# call; a tape that size freed and made again is served by the allocator without new pages
# (glibc raises its mmap threshold to a freed chunk's size). Larger tapes, whose calls take
# milliseconds, are reused so that no call faults in fresh memory.
SMALL_TAPES = 1 << 20


def direct(gradfn, artifact) -> bool:
    """Whether the dispatcher itself may be called: nothing for the Python side to do (no
    check of arrays sharing memory; tapes, those of the call just made, of at most
    SMALL_TAPES bytes; no choice of code by the tape budget, as checkpoint="auto" makes)."""
    tapes = artifact.tapes or ()
    return (gradfn.jit and not artifact.primal.copied_params
            and not (gradfn.checkpoint == "auto" and artifact.adjoint.budgeted)
            and sum(t.nbytes for t in tapes) <= SMALL_TAPES)


class Plan:
    """Calls one artifact with arguments of one quick key and arranges g's results."""

    def __init__(self, artifact, with_value: bool, single: bool, budget: int | None = None):
        self.artifact = artifact
        self.budget = budget  # max_tape_bytes (None: the default)
        self.limit = (resolve_budget(budget),) if artifact.adjoint.budgeted else ()
        self.with_value = with_value
        self.single = single
        layout = artifact.layout
        self.first, self.end = layout.outputs, layout.outputs + layout.gradients
        self.ntapes = len(artifact.adjoint.tape_kinds)
        self.checks = bool(artifact.primal.copied_params)
        self.function = artifact.compiled.dispatcher()  # the Numba (or Python) function

    def __call__(self, args):
        artifact = self.artifact
        tapes = artifact.tapes
        if self.ntapes and tapes is not None and not self.checks:  # the common case, inline
            artifact.tapes = None
            results = self.function(*args, *tapes, *self.limit)
            artifact.tapes = list(results[-self.ntapes:])
        else:
            results = artifact.run(*args, budget=self.budget)
        grads = [g if isinstance(g, np.ndarray) else float(g)
                 for g in results[self.first:self.end]]
        result = grads[0] if self.single else tuple(grads)
        if self.with_value:
            value = results[0]
            return (value if isinstance(value, np.ndarray) else float(value)), result
        return result
