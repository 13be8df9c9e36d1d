"""Variables shared by a loop's carried value and the values written into it must never be
overwritten while their old value is still read (the emitter's name coalescing)."""

import math

import numpy as np
import pytest

from autodiff_compiler import check_grad, value_and_grad


def branch_value_read_later(x, n):
    s = 0.5
    for i in range(n):
        if x[i] > 0.0:
            v = math.sin(s) * x[i]
            q = v + s  # reads the old s after v is computed
            s = v
            s = s + 0.1 * q
        else:
            s = s * x[i]
    return s


def swap_in_branch(a, b, n):
    for i in range(n):
        if i % 2 == 0:
            a, b = b, a + 0.5 * b
        else:
            t = math.tanh(a)
            a, b = b * t, a
    return a + 2.0 * b


def two_results_read_old(x, n):
    s = 1.0
    t = 0.5
    for i in range(n):
        if x[i] > 0.0:
            s2 = s * x[i] + t
            t2 = t * s
        else:
            s2 = s - x[i]
            t2 = t + s
        u = s * t  # the old s and t, after the branch
        s = s2 + 0.01 * u
        t = t2
    return s + t


X = np.array([0.3, -0.2, 0.8, 0.5, -0.7])
CASES = [(branch_value_read_later, (X, 5), 0), (swap_in_branch, (0.3, 0.7, 6), (0, 1)),
         (two_results_read_old, (X, 5), 0)]


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_gradients(fn, args, argnums):
    value, _ = value_and_grad(fn, argnums=argnums, jit=False)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-14)
    assert check_grad(fn, *args, argnums=argnums) < 1e-7
