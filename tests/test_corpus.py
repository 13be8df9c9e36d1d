"""Every corpus function: gradient against central differences, value, and argument safety.

The non-Numba tests run the generated source in CPython (jit=False), which is fast; a small
subset of differently shaped entries is also compiled with Numba and compared with CPython.
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import as_tuple, assert_untouched
from corpus import CORPUS, Case

from autodiff_compiler import check_grad, grad, value_and_grad

TOL = 1e-7

cases = pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])


def test_corpus_is_broad():
    assert len({case.fn for case in CORPUS}) >= 45
    assert len(CORPUS) == len({case.id for case in CORPUS})


@cases
def test_gradient_matches_central_differences(case: Case):
    error = check_grad(case.fn, *case.fresh_args(), argnums=case.argnums, jit=False)
    assert error < TOL, f"{case.id}: relative error {error:.3g}"


@cases
def test_value_is_the_function_value(case: Case):
    value, _ = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*case.fresh_args())
    expected = float(case.fn(*case.fresh_args()))
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


@cases
def test_gradient_structure(case: Case):
    args = case.fresh_args()
    gradient = grad(case.fn, argnums=case.argnums, jit=False)(*args)
    nums = [case.argnums] if isinstance(case.argnums, int) else list(case.argnums)
    if isinstance(case.argnums, tuple):
        assert isinstance(gradient, tuple) and len(gradient) == len(nums)
    for k, g in zip(nums, as_tuple(gradient, case.argnums)):
        if isinstance(args[k], np.ndarray):
            assert isinstance(g, np.ndarray)
            assert g.shape == args[k].shape and g.dtype == np.float64
            assert np.all(np.isfinite(g))
        else:
            assert isinstance(g, float) and np.isfinite(g)


@cases
def test_arguments_are_not_mutated(case: Case):
    args = case.fresh_args()
    saved = case.fresh_args()
    grad(case.fn, argnums=case.argnums, jit=False)(*args)
    value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    assert_untouched(saved, args)


# Different shapes: 1-D and 2-D arrays, several scalars, int arguments, tuple argnums,
# negative-step loops, nested loops, scalar functions.
NUMBA_IDS = [
    "sum_of_squares", "rosenbrock", "horner", "quadratic_form", "logistic_regression",
    "gaussian_nll", "softmax_cross_entropy", "powers", "ternary_in_loop", "odd_terms",
]
NUMBA_CASES = [c for c in CORPUS if c.id in NUMBA_IDS]


def test_numba_subset_is_in_corpus():
    assert len(NUMBA_CASES) == len(NUMBA_IDS)


@pytest.mark.numba
@pytest.mark.parametrize("case", NUMBA_CASES, ids=[c.id for c in NUMBA_CASES])
def test_numba_matches_python(case: Case):
    args = case.fresh_args()
    saved = case.fresh_args()
    value_py, grad_py = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    jitted = value_and_grad(case.fn, argnums=case.argnums, jit=True)
    value_nb, grad_nb = jitted(*args)
    compiled = getattr(jitted.lower(*args).artifact.compiled, "_fn", None)
    if compiled is not None:  # the jit path really ran Numba's dispatcher
        assert type(compiled).__module__.startswith("numba"), type(compiled)
    assert value_nb == pytest.approx(value_py, rel=1e-12, abs=1e-300)
    for gp, gn in zip(as_tuple(grad_py, case.argnums), as_tuple(grad_nb, case.argnums)):
        assert type(gn) is type(gp)
        np.testing.assert_allclose(gn, gp, rtol=1e-12, atol=1e-300)
    for before, after in zip(saved, args):
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(after, before)
