"""In-place updates of one element, `a[i] += e` and `a[i] -= e` (ad.positions.increments):
their reverse leaves a_bar[i] as it is and passes it to e, instead of clearing a_bar[i] and
adding it back through the read of a[i]. The writes that only look like one keep the
general reverse: another write between the read and the write, a sum used elsewhere too,
another element read, a row.

Every case: the gradient against central differences, the value against the plain
function, forward against reverse (the dot-product test) and, marked numba, Numba against
CPython; the in-place ones also show no clearing of the element's adjoint in the source.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from checks import as_tuple

from autodiff_compiler import check_grad, grad, jvp, value_and_grad

TOL = 1e-7
X = np.linspace(-0.8, 1.2, 7)


def euler_steps(y0, c, n):
    y = y0.copy()
    k = np.empty(y0.shape[0])
    for step in range(n):
        for i in range(y.shape[0]):
            k[i] = math.sin(y[i - 1]) * c - y[i]
        for i in range(y.shape[0]):
            y[i] += 0.1 * k[i]
    return np.sum(y * y)


def subtracted_and_reversed(x, n):
    a = x * 1.5
    for i in range(n):
        a[i] -= math.cos(x[i]) * a[i]
        a[i] = x[i] * x[i] + a[i]
    return np.sum(a * a)


def constant_element(x, n):
    acc = np.zeros(2)
    for i in range(n):
        acc[0] += x[i] * x[i]
        acc[1] -= acc[0] * x[i]
    return acc[0] * acc[1]


def matrix_updates(A, n):
    B = A.copy()
    for step in range(n):
        for i in range(B.shape[0]):
            for j in range(B.shape[1]):
                B[i, j] += 0.2 * math.tanh(B[i, j - 1])
    return np.sum(B * B)


def write_between(x, n):  # a[i] is overwritten between the read and the update
    a = x * 1.0
    for i in range(n):
        old = a[i]
        a[i] = old * 2.0
        a[i] = old + x[i] * 3.0
    return np.sum(a * a)


def sum_used_twice(x, n):
    a = x * 1.0
    s = 0.0
    for i in range(n):
        t = a[i] + x[i] * x[i]
        a[i] = t
        s += t * x[i]
    return s + np.sum(a * a)


def neighbour_read(x, n):
    a = x * 1.0
    for i in range(1, n):
        a[i] = a[i - 1] + math.sin(x[i])
    return np.sum(a * a)


def row_updates(A, n):
    B = A * 1.0
    for step in range(n):
        for i in range(B.shape[0]):
            B[i] = B[i] + np.sin(B[i]) * 0.3
    return np.sum(B * B)


M = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
# (function, arguments, argnums, the adjoint array whose element updates pass it through)
IN_PLACE = [(euler_steps, (X, 0.7, 3), (0, 1), "y0_bar_1"),
            (subtracted_and_reversed, (X, 7), 0, "a_bar"),
            (constant_element, (X, 7), 0, "acc_bar"),
            (matrix_updates, (M, 2), 0, "A_bar_1")]
GENERAL = [(write_between, (X, 7), 0), (sum_used_twice, (X, 7), 0), (neighbour_read, (X, 7), 0),
           (row_updates, (M, 2), 0)]
ALL = [case[:3] for case in IN_PLACE] + GENERAL


@pytest.mark.parametrize("fn, args, argnums, buffer", IN_PLACE,
                         ids=[c[0].__name__ for c in IN_PLACE])
def test_in_place_updates_leave_the_adjoint_element_as_it_is(fn, args, argnums, buffer):
    source = grad(fn, argnums=argnums, jit=False).lower(*args).source
    reverse = source[source.index("# reverse sweep"):]
    assert f"{buffer}[" in reverse, reverse
    assert re.search(rf"\b{buffer}\[[^\]]*\] = 0\.0", reverse) is None, reverse


def test_updates_that_only_look_in_place_clear_the_element():
    for fn, args, argnums in GENERAL[:3]:
        source = grad(fn, argnums=argnums, jit=False).lower(*args).source
        assert "a_bar[i_1] = 0.0" in source, source


@pytest.mark.parametrize("fn, args, argnums", ALL, ids=[c[0].__name__ for c in ALL])
def test_values_gradients_and_forward_mode(fn, args, argnums):
    value, gradient = value_and_grad(fn, argnums=argnums, jit=False)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-13)
    assert check_grad(fn, *args, argnums=argnums) < TOL
    nums = np.atleast_1d(argnums)
    gradient = as_tuple(gradient, argnums)
    rng = np.random.default_rng(5)
    tangents = [rng.normal(size=np.shape(a)) if k in nums else 0.0 for k, a in enumerate(args)]
    _, directional = jvp(fn, args, tangents, jit=False)
    dot = sum(float(np.sum(g * tangents[k])) for g, k in zip(gradient, nums))
    assert abs(dot - directional) <= 1e-10 * max(1.0, abs(directional))


@pytest.mark.numba
def test_numba_matches_python():
    for fn, args, argnums in [ALL[0], ALL[3]]:
        compiled = grad(fn, argnums=argnums, jit=True)(*args)
        interpreted = grad(fn, argnums=argnums, jit=False)(*args)
        for a, b in zip(as_tuple(compiled, argnums), as_tuple(interpreted, argnums)):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
