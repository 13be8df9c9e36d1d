"""Assertions and argument helpers shared by the gradient test modules."""

import numpy as np


def as_tuple(gradient, argnums):
    """A gradient as a tuple, one entry per differentiated argument."""
    return (gradient,) if isinstance(argnums, int) else tuple(gradient)


def assert_untouched(saved, args):
    """The caller's arguments are as they were (arrays: same dtype and values)."""
    for before, after in zip(saved, args):
        if isinstance(before, np.ndarray):
            assert after.dtype == before.dtype
            np.testing.assert_array_equal(after, before)
        else:
            assert after == before


def copies(args) -> list:
    """The arguments with every array copied (for functions that write into them)."""
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]


def on_copies(fn):
    """fn run on copies of its arguments (for the numerical check of functions that write)."""
    return lambda *args: fn(*copies(args))
