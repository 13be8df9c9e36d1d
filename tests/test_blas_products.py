"""The runtime's products (rt.dot11, dot21, dot12, dot22, batch_dot) against NumPy on both
of their paths: their own loops below the BLAS thresholds and Numba's np.dot (BLAS) from them on, for
contiguous, transposed (Fortran-ordered), sliced (strided) and integer operands, tiny and
empty ones; and no NumbaPerformanceWarning reaches the caller for a non-contiguous operand."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
from numba.core.errors import NumbaPerformanceWarning

from autodiff_compiler import runtime as rt

pytestmark = pytest.mark.numba

RNG = np.random.default_rng(7)


def as_laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values as `a` in another memory layout (int arrays stay int)."""
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T if a.ndim == 2 else a
    if layout == "sliced":  # every other column (entry) of a twice-as-wide array
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return a


def operands(shape_a, shape_b, layout: str, dtype):
    a = RNG.standard_normal(shape_a)
    b = RNG.standard_normal(shape_b)
    if dtype is int:
        a, b = np.round(8 * a).astype(np.int64), np.round(8 * b).astype(np.int64)
    return as_laid_out(a, layout), as_laid_out(b, layout)


# (helper, shape of a, shape of b, multiply-adds, the threshold of that helper)
CASES = [
    (rt.dot22, (3, 4), (4, 5), 60, rt.BLAS_MIN_MATRIX),
    (rt.dot22, (17, 16), (16, 20), 17 * 16 * 20, rt.BLAS_MIN_MATRIX),
    (rt.dot22, (1, 1), (1, 1), 1, rt.BLAS_MIN_MATRIX),
    (rt.dot22, (0, 5), (5, 3), 0, rt.BLAS_MIN_MATRIX),
    (rt.dot22, (4, 0), (0, 3), 0, rt.BLAS_MIN_MATRIX),
    (rt.dot21, (5, 6), (6,), 30, rt.BLAS_MIN_VECTOR),
    (rt.dot21, (40, 33), (33,), 40 * 33, rt.BLAS_MIN_VECTOR),
    (rt.dot21, (3, 0), (0,), 0, rt.BLAS_MIN_VECTOR),
    (rt.dot12, (6,), (6, 5), 30, rt.BLAS_MIN_VECTOR),
    (rt.dot12, (33,), (33, 40), 33 * 40, rt.BLAS_MIN_VECTOR),
    (rt.dot12, (0,), (0, 4), 0, rt.BLAS_MIN_VECTOR),
    (rt.dot11, (7,), (7,), 7, rt.BLAS_MIN_INNER),
    (rt.dot11, (300,), (300,), 300, rt.BLAS_MIN_INNER),
    (rt.dot11, (0,), (0,), 0, rt.BLAS_MIN_INNER),
]


@pytest.mark.parametrize("dtype", [float, int])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_products_match_numpy_on_both_paths(layout, dtype):
    paths = set()
    for helper, shape_a, shape_b, work, threshold in CASES:
        a, b = operands(shape_a, shape_b, layout, dtype)
        expected = np.dot(a.astype(np.float64), b.astype(np.float64))
        with warnings.catch_warnings():
            warnings.simplefilter("error", NumbaPerformanceWarning)
            got = helper(a, b)
        assert np.shape(got) == np.shape(expected)
        scale = float(np.max(np.abs(expected), initial=1.0))
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13 * scale)
        paths.add("blas" if work >= threshold else "loops")
    assert paths == {"blas", "loops"}
    # user arrays are never written
    a, b = operands((17, 16), (16, 20), layout, dtype)
    before = a.copy(), b.copy()
    rt.dot22(a, b)
    assert np.array_equal(a, before[0]) and np.array_equal(b, before[1])


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_batched_products_match_numpy(layout):
    """rt.batch_dot: per batch entry dot22 (below and over the BLAS threshold), for a
    contiguous stack and for one whose matrices are transposed views; an empty batch; and
    a mismatch of the summed axes raises instead of reading past the end."""
    for batch, m, s, n in ((3, 2, 4, 5), (2, 20, 16, 18), (0, 3, 4, 2)):
        a = RNG.standard_normal((batch, m, s))
        b = RNG.standard_normal((batch, s, n))
        if layout == "transposed":
            a = np.ascontiguousarray(np.swapaxes(a, 1, 2)).swapaxes(1, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error", NumbaPerformanceWarning)
            got = rt.batch_dot(a, b)
        np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-13, atol=1e-12)
    with pytest.raises(ValueError, match="differ in length"):
        rt.batch_dot(np.ones((2, 3, 4)), np.ones((2, 5, 2)))
    with pytest.raises(ValueError, match="not aligned"):
        rt.dot22(np.ones((3, 4)), np.ones((5, 2)))


def test_blas_path_compiles_without_performance_warnings():
    """A fresh compilation (the dispatchers above may come from the disk cache, which would
    hide a warning) of dot22 for strided and Fortran-ordered operands warns about nothing."""
    fresh = numba.njit(rt.dot22.py_func)
    a, b = operands((20, 16), (16, 18), "sliced", float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumbaPerformanceWarning)
        for x, y in ((a, b), (as_laid_out(np.ascontiguousarray(a), "transposed"), b)):
            np.testing.assert_allclose(fresh(x, y), np.dot(x, y), rtol=1e-13, atol=1e-12)


def products(a, b, x, y):
    """a @ b.T and its adjoints are matrix products over the BLAS threshold; m @ x and
    x @ m-like adjoints matrix-vector ones over theirs; np.dot(x2, y) an inner product of
    300 entries; the small product m[:3, :3] @ m[:3, :3] stays on the loops."""
    m = a @ b.T                          # (20, 16) @ (16, 60) -> (20, 60)
    v = m.T @ x                          # (60, 20) @ (20,)
    corner = m[:3, :3] @ m[:3, :3]
    x2 = np.concatenate((v, v, v, v, v))
    return np.sum(np.sin(m)) + np.dot(x2, y[:300]) + np.sum(corner * corner)


def product_args(rng, sliced: bool):
    a = rng.standard_normal((20, 32 if sliced else 16))
    a = a[:, ::2] if sliced else a
    return a, rng.standard_normal((60, 16)), rng.standard_normal(20), rng.standard_normal(320)


def test_gradients_through_blas_products_match_differences_and_forward_mode():
    """In CPython (the runtime's products still run compiled, BLAS included): the gradient
    against central differences, and <jvp(t), w> == <t, vjp(w)> for the four operands."""
    from autodiff_compiler import check_grad, jvp, vjp

    rng = np.random.default_rng(3)
    args = product_args(rng, sliced=True)
    assert check_grad(products, *args, argnums=(0, 1, 2, 3)) < 1e-7
    tangents = tuple(rng.standard_normal(np.shape(a)) for a in args)
    _, value_dot = jvp(products, args, tangents, jit=False)
    _, pullback = vjp(products, *args, jit=False)
    cotangents = pullback(1.0)
    pairing = sum(float(np.sum(t * c)) for t, c in zip(tangents, cotangents))
    assert value_dot == pytest.approx(pairing, rel=1e-11)


def test_numba_gradient_through_blas_products_equals_cpython_for_a_sliced_operand():
    from autodiff_compiler import value_and_grad

    args = product_args(np.random.default_rng(4), sliced=True)
    before = [np.copy(a) for a in args]
    value, grads = value_and_grad(products, argnums=(0, 1, 2, 3), jit=True)(*args)
    expected_value, expected = value_and_grad(products, argnums=(0, 1, 2, 3), jit=False)(*args)
    assert value == pytest.approx(products(*args), rel=1e-13)
    assert value == pytest.approx(expected_value, rel=1e-13)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for a, saved in zip(args, before):
        np.testing.assert_array_equal(a, saved)
