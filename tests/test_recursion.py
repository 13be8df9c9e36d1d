"""Recursion unrolled while compiling (frontend/unrolling.py): where constants fix its
depth (a literal argument counted down to a base case), the recursive helper is inlined
level by level; a determinant by cofactor expansion of a matrix whose size is passed as a
literal is then straight-line code. Other recursion is refused at the recursive call."""

from __future__ import annotations

import numpy as np
import pytest
from error_checks import Markers

from autodiff_compiler import UnsupportedOperationError, grad, jvp, value_and_grad
from autodiff_compiler.frontend.unrolling import MAX_CALLS, MAX_DEPTH

MARKERS = Markers(__file__)
A = np.random.default_rng(3).normal(size=(4, 4)) + 2.0 * np.eye(4)


def power(x, n):
    return x if n == 0 else power(x * x, n - 1)


def repeated_squaring(x):
    return power(x, 3) + power(x, 0)


def det(a, n):
    if n == 1:
        return a[0, 0]
    total = 0.0
    for j in range(n):
        minor = np.concatenate((a[1:, :j], a[1:, j + 1:]), axis=1)
        total = total + (-1.0) ** j * a[0, j] * det(minor, n - 1)  # E:det
    return total


def det4(a):
    return det(a, 4)


def det_of_shape(a):
    return det(a, a.shape[0])  # the size is known only at run time


def det7(a):
    return det(a, 7)  # one loop per level: seven levels of code, not 7! products


def fib(x, n):
    if n < 2:
        return x
    return fib(x, n - 1) * fib(x, n - 2)  # E:fib


def fib_product(a):
    return fib(a[0, 0], 15)  # about 2000 calls: past the budget


def nested_recursion(x):
    def halve(v, n):
        if n <= 0:
            return v
        return halve(np.sin(v) * 0.5, n - 1)
    return np.sum(halve(x, 3))


def _central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (f(up) - f(down)) / (2 * h)
    return g


def test_a_helper_counted_down_by_a_literal_is_unrolled():
    value, gradient = value_and_grad(repeated_squaring, jit=False)(1.1)
    assert value == pytest.approx(1.1 ** 8 + 1.1, rel=1e-14)
    assert gradient == pytest.approx(8 * 1.1 ** 7 + 1.0, rel=1e-13)
    _, tangent = jvp(repeated_squaring, (1.1,), (1.0,), jit=False)
    assert tangent == pytest.approx(gradient, rel=1e-13)


def test_cofactor_determinant_matches_numpy_and_its_derivative():
    value, gradient = value_and_grad(det4, jit=False)(A.copy())
    assert value == pytest.approx(np.linalg.det(A), rel=1e-12)
    np.testing.assert_allclose(gradient, np.linalg.det(A) * np.linalg.inv(A).T, rtol=1e-10)
    np.testing.assert_allclose(gradient, _central(det4, A), rtol=1e-6, atol=1e-8)
    direction = np.random.default_rng(4).normal(size=A.shape)
    _, tangent = jvp(det4, (A.copy(),), (direction,), jit=False)
    assert tangent == pytest.approx(float(np.sum(gradient * direction)), rel=1e-11)


def test_nested_def_recursion_is_unrolled():
    x = np.array([0.3, -1.2, 2.0])
    gradient = grad(nested_recursion, jit=False)(x)
    np.testing.assert_allclose(gradient, _central(nested_recursion, x), rtol=1e-6, atol=1e-9)


def test_constant_conditions_lower_only_the_branch_taken():
    g = grad(repeated_squaring, jit=False)
    g(1.1)
    code = [line for line in g.source.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in code if " if " in line]  # `x if n == 0 else ...` decided


def test_a_constant_size_unrolls_one_loop_per_level():
    a = np.random.default_rng(5).normal(size=(7, 7)) + 3.0 * np.eye(7)
    value, gradient = value_and_grad(det7, jit=False)(a)
    assert value == pytest.approx(np.linalg.det(a), rel=1e-11)
    np.testing.assert_allclose(gradient, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-9)


@pytest.mark.parametrize(("f", "limit", "marker", "token"), [
    (det_of_shape, f"{MAX_DEPTH} levels", "det", "det(minor"),
    (fib_product, f"{MAX_CALLS} calls", "fib", "fib(x, n - 1)")])
def test_recursion_not_fixed_by_constants_is_refused_at_the_call(f, limit, marker, token):
    with pytest.raises(UnsupportedOperationError, match=limit) as info:
        grad(f, jit=False)(np.ones((7, 7)))
    MARKERS.assert_points_at(info.value, marker, token)


@pytest.mark.numba
def test_numba_matches_cpython():
    assert grad(repeated_squaring)(1.1) == pytest.approx(
        grad(repeated_squaring, jit=False)(1.1), rel=1e-14)
