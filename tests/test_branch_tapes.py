"""Tapes and counters made in branches: a helper that writes its array argument, called in
the `else` of an `if` nested in another if/else, inside a `for` (with a break), a `while`,
and outside loops with a loop of its own (its tapes, one ragged, made in that branch) and an
early return. The reverse sweep reads those tapes in the same branch of its own `if`s; Numba must compile
what CPython runs, and both must give the gradient central differences give."""

from __future__ import annotations

import math

import numpy as np
import pytest
from checks import copies

from autodiff_compiler import grad
from autodiff_compiler.gradcheck import numerical_grad, relative_error


def bump(v, i, c):
    v[i] += c * v[i] + c


def smooth(v, c):
    for k in range(v.shape[0]):
        v[k] = math.sin(v[k]) * c + v[k] + 0.1 * np.sum(v[:k] * v[:k])  # a ragged tape


def helper_in_nested_else(a, b, x, n):
    y = x * 1.0
    s = a
    for i in range(n):
        if y[i] > 0.0:
            s = s + y[i] * b
        else:
            if s > 0.0:
                s = s * math.sin(b)
            else:
                bump(y, i, s)
                if y[i] > 2.0:
                    break
    k = 0
    while k < n:
        if s > 1.0:
            s = s * 0.5
        else:
            if b > 0.0:
                s = s + y[k]
            else:
                bump(y, k, s)
        k += 1
    if a > 0.0:
        s = s * 1.5
    else:
        if b > 0.0:
            s = s + b
        else:
            smooth(y, b)
            if s < -3.0:
                return s * y[0]
    return s + np.sum(y * y)


X = np.array([0.3, -0.4, 0.8, -0.2, -3.0])
# (a, b): every branch taken somewhere, each point well away from where a branch switches
# (the break at (-3.5, 0.7) and (-1.2, -1.3); the break and the early return at (-2.5, -1.3))
POINTS = [(0.5, 0.7), (-0.5, 0.7), (-0.5, -0.7), (0.5, -0.7), (-3.5, 0.7), (-1.2, -1.3),
          (-2.5, -1.3)]


def _at(a, b):
    return (a, b, X, 5)


@pytest.mark.parametrize("a, b", POINTS)
def test_gradient_matches_central_differences(a, b):
    ours = grad(helper_in_nested_else, argnums=(0, 1, 2), jit=False)(*copies(_at(a, b)))
    numeric = numerical_grad(helper_in_nested_else, *copies(_at(a, b)), argnums=(0, 1, 2))
    assert relative_error(ours, numeric) < 1e-7


@pytest.mark.numba
def test_numba_agrees_with_python():
    python = grad(helper_in_nested_else, argnums=(0, 1, 2), jit=False)
    compiled = grad(helper_in_nested_else, argnums=(0, 1, 2), jit=True)
    for a, b in POINTS:
        for p, c in zip(python(*copies(_at(a, b))), compiled(*copies(_at(a, b)))):
            np.testing.assert_allclose(p, c, rtol=1e-12, atol=1e-14)
