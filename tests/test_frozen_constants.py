"""Module globals and closure arrays are read as constants, copied when the derivative is
compiled: both modes see the values of that moment (an in-place change afterwards is seen by
neither), and a derivative compiled later sees the new values in both modes (Numba's disk
cache never serves machine code built with the old ones). argnums takes ints only."""

import numpy as np
import pytest

from autodiff_compiler import grad, value_and_grad
from autodiff_compiler.errors import GradientInputError

WEIGHTS = np.array([1.0, 2.0, 3.0])


def weighted(x):
    return np.sum(WEIGHTS * x * x)


def _make_closure():
    table = np.array([1.0, -1.0])

    def f(x):
        return np.sum(table * x) * x[0]
    return f, table


def _check_frozen(jit):
    x = np.array([1.0, 1.0, 1.0])
    WEIGHTS[:] = [1.0, 2.0, 3.0]
    g = grad(weighted, jit=jit)
    np.testing.assert_allclose(g(x), [2.0, 4.0, 6.0])
    try:
        WEIGHTS[:] = [10.0, 20.0, 30.0]  # changed in place after compiling
        np.testing.assert_allclose(g(x), [2.0, 4.0, 6.0])  # frozen, in both modes
        np.testing.assert_allclose(grad(weighted, jit=jit)(x), [20.0, 40.0, 60.0])  # new
    finally:
        WEIGHTS[:] = [1.0, 2.0, 3.0]

    f, table = _make_closure()
    g = value_and_grad(f, jit=jit)
    y = np.array([2.0, 0.5])
    assert g(y)[0] == pytest.approx(3.0)
    table[:] = [5.0, 5.0]
    assert g(y)[0] == pytest.approx(3.0)
    assert value_and_grad(f, jit=jit)(y)[0] == pytest.approx(25.0)


def test_globals_and_closure_arrays_are_frozen_at_compile_time_in_python():
    _check_frozen(jit=False)


@pytest.mark.numba
def test_globals_and_closure_arrays_are_frozen_the_same_way_with_numba():
    _check_frozen(jit=True)


@pytest.mark.parametrize("argnums", [True, False, 1.0, "0", None, (0, True), (0.0,)])
def test_argnums_that_are_not_ints_are_clear_errors(argnums):
    with pytest.raises(GradientInputError, match="argnums must"):
        grad(weighted, argnums=argnums)
