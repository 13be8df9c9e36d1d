"""grad(..., boundscheck=True): an index out of range raises IndexError with Numba as it does
in CPython; the corpus compiled with bounds checks agrees with CPython."""

import numpy as np
import pytest
from checks import as_tuple
from corpus import CORPUS

from autodiff_compiler import grad, value_and_grad


def past_the_end(x, n):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def negative_index(x, k):
    return x[k] * 2.0


def write_past_the_end(x, n):
    y = np.zeros(3)
    for i in range(n):
        y[i] = x[0] * i
    return np.sum(y)


CASES = [(past_the_end, (np.ones(3), 5)), (negative_index, (np.ones(3), -5)),
         (write_past_the_end, (np.ones(3), 4))]


@pytest.mark.parametrize("fn, args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_an_index_out_of_range_is_an_index_error_without_numba(fn, args):
    with pytest.raises(IndexError):
        grad(fn, jit=False, boundscheck=True)(*args)


@pytest.mark.numba
def test_an_index_out_of_range_is_an_index_error_with_numba_boundscheck():
    for fn, args in CASES:
        with pytest.raises(IndexError):
            grad(fn, jit=True, boundscheck=True)(*args)
        with pytest.raises(IndexError):
            value_and_grad(fn, jit=True, boundscheck=True)(*args)
    x = np.linspace(0.5, 1.0, 3)
    np.testing.assert_allclose(grad(past_the_end, jit=True, boundscheck=True)(x, 3), 2.0 * x)


@pytest.mark.numba
def test_the_corpus_with_bounds_checks_agrees_with_cpython():
    """The whole corpus compiled once with boundscheck=True: no index of any program is out
    of range, and the values and gradients are CPython's."""
    for case in CORPUS:
        checked = value_and_grad(case.fn, argnums=case.argnums, jit=True, boundscheck=True)
        plain = value_and_grad(case.fn, argnums=case.argnums, jit=False)
        (value, gradient), (expected, expected_gradient) = (
            checked(*case.fresh_args()), plain(*case.fresh_args()))
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-300), case.id
        for got, want in zip(as_tuple(gradient, case.argnums),
                             as_tuple(expected_gradient, case.argnums)):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=case.id)
