"""while loops, break, continue, return inside loops and loops over arrays.

Every case in regressions.CASES: the gradient against central differences (and against the
analytic gradient where one is known), the value against the plain function, and the
arguments left untouched. A few generated sources are checked for readability, and a small
subset is compiled with Numba and compared with CPython.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from checks import as_tuple, assert_untouched
from regressions import (
    CASES,
    Case,
    for_values,
    for_zip,
    heron_sqrt,
    logsumexp,
    newton_cbrt,
    product,
    while_counted,
    while_doubling,
    while_true_break,
)

from autodiff_compiler import check_grad, grad, numerical_grad, value_and_grad

TOL = 1e-7

cases = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
BY_ID = {c.id: c for c in CASES}


def test_case_ids_are_unique():
    assert len(BY_ID) == len(CASES)


@cases
def test_gradient_matches_central_differences(case: Case):
    args = case.fresh_args()
    error = check_grad(case.fn, *args, argnums=case.argnums, jit=False)
    assert error < TOL, f"{case.id}: relative error {error:.3g}"
    assert_untouched(case.fresh_args(), args)


@cases
def test_value_is_the_function_value(case: Case):
    args = case.fresh_args()
    value, gradient = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    expected = float(case.fn(*case.fresh_args()))
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert_untouched(case.fresh_args(), args)
    nums = [case.argnums] if isinstance(case.argnums, int) else list(case.argnums)
    for k, g in zip(nums, as_tuple(gradient, case.argnums)):
        if isinstance(args[k], np.ndarray):
            assert isinstance(g, np.ndarray) and g.shape == args[k].shape
            assert g.dtype == np.float64
        else:
            assert isinstance(g, float)
        assert np.all(np.isfinite(g))


@cases
def test_grad_agrees_with_value_and_grad(case: Case):
    args = case.fresh_args()
    g1 = grad(case.fn, argnums=case.argnums, jit=False)(*args)
    _, g2 = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    for a, b in zip(as_tuple(g1, case.argnums), as_tuple(g2, case.argnums)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0.0)
    assert_untouched(case.fresh_args(), args)


ANALYTIC = [c for c in CASES if c.expected is not None]


@pytest.mark.parametrize("case", ANALYTIC, ids=[c.id for c in ANALYTIC])
def test_gradient_matches_the_analytic_gradient(case: Case):
    args = case.fresh_args()
    gradient = grad(case.fn, argnums=case.argnums, jit=False)(*args)
    expected = case.expected(*case.fresh_args())
    np.testing.assert_allclose(gradient, expected, rtol=1e-10, atol=1e-14)


# --- specific checks -----------------------------------------------------------------------


def test_newton_cbrt_value_and_derivative():
    for a in (0.3, 2.0, 27.0, 1000.0):
        value, d = value_and_grad(newton_cbrt, jit=False)(a)
        assert value == pytest.approx(a ** (1 / 3), rel=1e-14)
        assert d == pytest.approx(1.0 / (3.0 * a ** (2 / 3)), rel=1e-10)


def test_heron_returns_from_inside_the_loop():
    # With n too small to converge, the function falls through to the final return:
    # still a correct gradient of what was computed.
    for n in (1, 2, 3, 50):
        assert check_grad(heron_sqrt, 2.0, n) < TOL, n
    value, d = value_and_grad(heron_sqrt, jit=False)(2.0, 50)
    assert value == pytest.approx(math.sqrt(2.0), rel=1e-15)
    assert d == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-10)


def test_while_true_fixed_point_derivative():
    a = 0.5
    value, d = value_and_grad(while_true_break, jit=False)(a)
    assert value == pytest.approx(a * math.cos(value), abs=1e-13)
    # y = a cos(y)  =>  dy/da = cos(y) / (1 + a sin(y))
    assert d == pytest.approx(math.cos(value) / (1.0 + a * math.sin(value)), rel=1e-10)


def test_while_doubling_trip_count_is_piecewise_constant():
    # Within one trip-count interval the gradient is the derivative of a fixed composition;
    # check several points on each side of switches, none near a switch.
    for x in (0.3, 0.9, 2.5, 4.5, 7.5, 12.0):
        assert check_grad(while_doubling, x) < TOL, x
    assert grad(while_doubling, jit=False)(12.0) == 1.0  # no trip: identity


def test_product_with_zeros_is_exact():
    x = np.array([1.5, -0.5, 0.0, 2.0, 0.75])
    g = grad(product, jit=False)(x)
    np.testing.assert_allclose(g, [0.0, 0.0, 1.5 * -0.5 * 2.0 * 0.75, 0.0, 0.0], atol=0.0)
    np.testing.assert_allclose(g, numerical_grad(product, x), rtol=1e-9, atol=1e-12)
    g2 = grad(product, jit=False)(np.array([1.5, 0.0, 3.0, 0.0]))
    assert np.all(g2 == 0.0) and np.all(np.isfinite(g2))
    assert np.all(np.isfinite(grad(product, jit=False)(np.zeros(3))))


def test_logsumexp_is_softmax_with_any_max_position():
    for x in (np.array([0.1, 3.0, -2.0, 1.0]), np.array([-5.0, -4.0, -3.0]),
              np.array([700.0, 699.0, 698.5])):  # large: the max subtraction keeps it finite
        g = grad(logsumexp, jit=False)(x)
        e = np.exp(x - x.max())
        np.testing.assert_allclose(g, e / e.sum(), rtol=1e-12)


def test_zip_gradients_with_respect_to_both():
    x = np.array([0.3, -1.2, 0.8])
    y = np.array([0.5, 0.1, -0.7])
    gx, gy = grad(for_zip, argnums=(0, 1), jit=False)(x, y)
    nx, ny = numerical_grad(for_zip, x, y, argnums=(0, 1))
    np.testing.assert_allclose(gx, nx, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gy, ny, rtol=1e-8, atol=1e-10)
    assert np.all(gy != 0.0)


# --- generated source ----------------------------------------------------------------------


def _source(fn, *args, argnums=0):
    return grad(fn, argnums=argnums, jit=False).lower(*args).source


def test_while_source_keeps_a_while_loop():
    src = _source(while_doubling, 0.3)
    assert "while" in src, src
    compile(src, "<generated>", "exec")
    # the adjoint replays the recorded iterations backwards with a counted loop
    assert "for " in src and "range(" in src, src


def test_counted_while_adjoint_has_a_reverse_for_loop():
    src = _source(while_counted, np.linspace(0.1, 0.5, 5), 5)
    assert "while" in src, src
    forward, reverse = src.split("# reverse sweep")
    assert "while i < n:" in forward, src
    # the recorded iterations are replayed backwards by a counted for loop
    assert any(line.lstrip().startswith("for ") for line in reverse.splitlines()), src


def test_array_iteration_source_is_plain_indexing():
    src = _source(for_values, np.linspace(0.1, 0.5, 5))
    compile(src, "<generated>", "exec")
    assert "enumerate" not in src
    assert len(src.splitlines()) < 120, src


# --- Numba -----------------------------------------------------------------------------------

NUMBA_IDS = ["newton_cbrt_2", "heron_sqrt_2", "break_and_continue", "while_and_by_limit",
             "for_zip", "product_one_zero"]
NUMBA_CASES = [BY_ID[i] for i in NUMBA_IDS]


@pytest.mark.numba
@pytest.mark.parametrize("case", NUMBA_CASES, ids=NUMBA_IDS)
def test_numba_matches_python(case: Case):
    args = case.fresh_args()
    value_py, grad_py = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    value_nb, grad_nb = value_and_grad(case.fn, argnums=case.argnums, jit=True)(*args)
    assert value_nb == pytest.approx(value_py, rel=1e-12, abs=1e-300)
    for gp, gn in zip(as_tuple(grad_py, case.argnums), as_tuple(grad_nb, case.argnums)):
        assert type(gn) is type(gp)
        np.testing.assert_allclose(gn, gp, rtol=1e-12, atol=1e-300)
    assert_untouched(case.fresh_args(), args)
