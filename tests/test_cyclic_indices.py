"""Integer remainders by a divisor known only at run time, as cyclic indices use them
(`x[(i + 1) % n]`): the generated code skips the division when the dividend is already in
range (`t if 0 <= t < n else t % n`, primitives.arith). Python's values for every sign of
dividend and divisor, ZeroDivisionError for a zero divisor, in CPython and with Numba."""

from __future__ import annotations

import numpy as np
import pytest

from autodiff_compiler import check_grad, grad, value_and_grad

X = np.linspace(-0.7, 1.3, 7)


def wrapped_sum(x, n, m, shift):
    s = 0.0
    for i in range(-3 * m, 3 * m):
        s += x[(i + shift) % n] * x[i % m] * (i + 0.5)
    return s


# in range, below (negative dividends), above (>= n, >= 2n), a negative divisor
CASES = [(X, 7, 7, 1), (X, 7, 7, -9), (X, 7, 7, 16), (X, -7, 7, 2), (X, 3, 7, 5)]


@pytest.mark.parametrize("args", CASES, ids=[str(c[1:]) for c in CASES])
def test_values_and_gradients_are_pythons(args):
    value, _ = value_and_grad(wrapped_sum, jit=False)(*args)
    assert value == wrapped_sum(*args)
    assert check_grad(wrapped_sum, *args) < 1e-8


def test_the_division_is_skipped_in_range_only():
    source = grad(wrapped_sum, jit=False).lower(*CASES[0]).source
    assert "if 0 <= i + shift < n else (i + shift) % n" in source, source
    assert "if 0 <= i < m else i % m" in source, source


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_zero_divisor_raises_as_python_does(jit):
    with pytest.raises(ZeroDivisionError):
        grad(wrapped_sum, jit=jit)(X, 0, 7, 1)


@pytest.mark.numba
def test_numba_matches_python():
    for args in CASES:
        compiled = value_and_grad(wrapped_sum, jit=True)(*args)
        assert compiled[0] == wrapped_sum(*args)
        np.testing.assert_allclose(compiled[1], grad(wrapped_sum, jit=False)(*args),
                                   rtol=1e-14, atol=1e-15)
