"""np.linalg on matrices and stacks of them: values against NumPy (empty stacks, ranks 3 and
4, 1 x 1 matrices), tangents against central differences of NumPy's own functions along a
random direction, cotangents against tangents (<jvp(v), w> == <v, vjp(w)>), whole outputs
(tuples of arrays) rather than a weighted sum; the refusals and run-time checks; and a few
functions compiled with Numba against CPython.

The per-primitive cases (gradients of scalar functions, more shapes) are in
tests/primitive_specs.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import copies
from error_checks import Markers
from primitive_specs import separated_singular_values, separated_spectrum

from autodiff_compiler import grad, hessian, jvp, value_and_grad, vjp
from autodiff_compiler.errors import UnsupportedOperationError
from autodiff_compiler.gradcheck import check_grad

STEP = 1e-6


def stack_inv(a):
    return np.linalg.inv(a)


def stack_det(a):
    return np.linalg.det(a)


def stack_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


def stack_solve_vector(a, b):
    return np.linalg.solve(a, b)


def stack_solve(a, b):
    return np.linalg.solve(a, b)


def eigh_both(a):
    return np.linalg.eigh(a)


def eigvalsh_upper(a):
    return np.linalg.eigvalsh(a, UPLO="U")


def eigvalsh(a):
    return np.linalg.eigvalsh(a)


def svd_reduced(a):
    return np.linalg.svd(a, full_matrices=False)


def svd_values(a):
    return np.linalg.svd(a, compute_uv=False)


def qr_reduced(a):
    return np.linalg.qr(a)


def lstsq_solution(a, b):
    x, residuals, _, s = np.linalg.lstsq(a, b)
    return x, residuals, s


def norms(a):
    return np.linalg.norm(a, 2), np.linalg.norm(a, "nuc"), np.linalg.norm(a, -2)


def _well_posed(shape):
    def make(rng):
        return rng.uniform(-1, 1, shape) + 4.0 * np.eye(shape[-1])
    return make


def _uniform(shape):
    return lambda rng: rng.uniform(-3, 3, shape)


def _spectrum(shape):
    return lambda rng: separated_spectrum([rng.uniform(-1, 1, shape)])[0]


def _singular(shape):
    return lambda rng: separated_singular_values([rng.uniform(-1, 1, shape)])[0]


# (function, makers of its arguments)
CASES = [
    (stack_inv, [_well_posed((2, 3, 3))]),
    (stack_inv, [_well_posed((2, 1, 3, 3))]),
    (stack_inv, [_well_posed((0, 3, 3))]),
    (stack_inv, [_well_posed((3, 1, 1))]),
    (stack_det, [_well_posed((2, 2, 3, 3))]),
    (stack_det, [_well_posed((0, 2, 2))]),
    (stack_slogdet, [_well_posed((3, 4, 4))]),
    (stack_solve_vector, [_well_posed((2, 2, 3, 3)), _uniform((3,))]),
    (stack_solve, [_well_posed((2, 1, 3, 3)), _uniform((4, 3, 2))]),
    (stack_solve, [_well_posed((3, 3)), _uniform((2, 3, 1))]),
    (stack_solve, [_well_posed((0, 3, 3)), _uniform((3, 2))]),
    (eigh_both, [_spectrum((3, 3))]),
    (eigh_both, [_spectrum((2, 2, 4, 4))]),
    (eigh_both, [_spectrum((0, 3, 3))]),
    (eigh_both, [_spectrum((1, 1))]),
    (eigvalsh_upper, [_spectrum((2, 3, 3))]),
    (eigvalsh, [_spectrum((3, 2, 2))]),
    (svd_reduced, [_singular((4, 3))]),
    (svd_reduced, [_singular((3, 5))]),
    (svd_reduced, [_singular((2, 2, 4, 3))]),
    (svd_reduced, [_singular((0, 3, 2))]),
    (svd_values, [_singular((2, 3, 4))]),
    (svd_values, [_singular((1, 1))]),
    (qr_reduced, [_singular((5, 3))]),
    (qr_reduced, [_singular((2, 2, 4, 4))]),
    (qr_reduced, [_singular((0, 3, 2))]),
    (lstsq_solution, [_singular((6, 3)), _uniform((6,))]),
    (lstsq_solution, [_singular((5, 2)), _uniform((5, 3))]),
    (lstsq_solution, [_singular((3, 3)), _uniform((3, 2))]),
    (norms, [_singular((4, 3))]),
]
IDS = [f"{fn.__name__}-" + "-".join("x".join(map(str, m(np.random.default_rng(0)).shape))
                                    for m in makers) for fn, makers in CASES]


def _inputs(makers, seed):
    rng = np.random.default_rng(seed)
    return [make(rng) for make in makers]


def _flat(value) -> list[np.ndarray]:
    values = value if isinstance(value, tuple) else (value,)
    return [np.asarray(v, dtype=float) for v in values]


def _inner(left, right) -> float:
    return sum(float(np.sum(a * b)) for a, b in zip(_flat(left), _flat(right)))


@pytest.mark.parametrize("fn, makers", CASES, ids=IDS)
def test_values_tangents_and_cotangents(fn, makers):
    args = _inputs(makers, 1)
    expected = _flat(fn(*copies(args)))
    rng = np.random.default_rng(2)
    tangents = [rng.standard_normal(a.shape) for a in args]

    out, out_dot = jvp(fn, copies(args), tangents, jit=False)
    got = _flat(out)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)

    ahead = _flat(fn(*[a + STEP * t for a, t in zip(args, tangents)]))
    behind = _flat(fn(*[a - STEP * t for a, t in zip(args, tangents)]))
    for tangent, up, down in zip(_flat(out_dot), ahead, behind):
        central = (up - down) / (2 * STEP)
        np.testing.assert_allclose(tangent, central, rtol=1e-6, atol=1e-6)

    cotangents = tuple(rng.standard_normal(e.shape) for e in expected)
    _, pullback = vjp(fn, *copies(args), jit=False)
    pulled = pullback(cotangents if isinstance(out, tuple) else cotangents[0])
    left = _inner(out_dot, cotangents)
    right = sum(float(np.sum(p * t)) for p, t in zip(pulled, tangents))
    assert abs(left - right) <= 1e-10 * (1 + abs(left))


def test_eigh_reads_only_the_lower_triangle():
    """The derivative of a function of eigh(a) is zero above the diagonal (NumPy never reads
    those entries) and matches central differences of NumPy's function everywhere."""
    a = separated_spectrum([np.random.default_rng(3).uniform(-1, 1, (4, 4))])[0]
    weights = np.random.default_rng(4).standard_normal((4, 4))

    def f(a):
        w, v = np.linalg.eigh(a)
        return np.sum(w * w) + np.sum(v * v * weights)

    g = grad(f, jit=False)(a)
    assert np.all(np.triu(g, 1) == 0.0) and np.any(np.tril(g, -1) != 0.0)
    assert check_grad(f, a, jit=False) < 1e-7


def test_equal_eigenvalues():
    """Eigenvalues keep finite derivatives; the vectors' derivatives are not finite."""
    a = np.diag([1.0, 1.0, 2.0])
    values = grad(lambda a: np.sum(np.linalg.eigvalsh(a) ** 2), jit=False)(a)
    np.testing.assert_allclose(values, np.diag([2.0, 2.0, 4.0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        vectors = grad(lambda a: np.sum(np.linalg.eigh(a)[1] * np.arange(9.0).reshape(3, 3)),
                       jit=False)(a + np.tril(np.full((3, 3), 1e-300)))
    assert not np.all(np.isfinite(vectors))


def test_hessian_of_stacked_logdet_and_eigenvalues():
    a = _well_posed((2, 3, 3))(np.random.default_rng(5))

    def f(a):
        return np.sum(np.linalg.slogdet(a)[1]) + np.sum(np.linalg.eigvalsh(a) ** 3)

    h = hessian(f, jit=False)(a).reshape(18, 18)
    g = grad(f, jit=False)
    numeric = np.empty((18, 18))
    for k in range(18):
        step = np.zeros(18)
        step[k] = 1e-5
        step = step.reshape(a.shape)
        numeric[:, k] = ((g(a + step) - g(a - step)) / 2e-5).ravel()
    np.testing.assert_allclose(h, numeric, rtol=1e-5, atol=1e-6)


def test_wide_qr_and_rank_deficient_lstsq_refuse_their_derivative_when_run():
    wide = np.random.default_rng(6).uniform(-1, 1, (2, 4))
    factors = vjp(qr_reduced, wide, jit=False)[0]  # the values of wide matrices are NumPy's
    for got, expected in zip(factors, np.linalg.qr(wide)):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="m >= n"):
        grad(lambda a: np.sum(np.linalg.qr(a)[0]), jit=False)(wide)
    with pytest.raises(ValueError, match="m >= n"):
        jvp(lambda a: np.linalg.qr(a)[1], (wide,), (wide,), jit=False)
    low_rank = np.outer(np.arange(1.0, 5.0), [1.0, 2.0, 3.0])
    rhs = np.arange(4.0)
    value, _ = value_and_grad(lambda a: np.sum(np.linalg.lstsq(a, rhs)[2] * 1.0),
                              jit=False)(low_rank)
    assert value == 1.0  # the rank itself: no derivative needed
    with pytest.raises(ValueError, match="full column rank"):
        grad(lambda a: np.sum(np.linalg.lstsq(a, rhs)[0]), jit=False)(low_rank)


def svd_full(a):
    return np.linalg.svd(a)[1]  # E:svd_full


def svd_hermitian(a):
    return np.linalg.svd(a, hermitian=True)  # E:svd_hermitian


def qr_complete(a):
    return np.linalg.qr(a, mode="complete")[0]  # E:qr_complete


def lstsq_rcond(a):
    return np.linalg.lstsq(a, a[:, 0], rcond=-1)[0]  # E:lstsq_rcond


def lstsq_stack(a):
    return np.linalg.lstsq(a, a[:, :, 0])[0]  # E:lstsq_stack


def eigh_upper(a):
    return np.linalg.eigh(a, "U")[1]  # E:eigh_upper


def eigh_vector(a):
    return np.linalg.eigh(a[0])[0]  # E:eigh_vector


def norm_nuc_vector(a):
    return np.linalg.norm(a[0], "nuc")  # E:norm_nuc_vector


@pytest.mark.parametrize("fn, words, ndim", [
    (svd_full, "full_matrices=False", 2), (svd_hermitian, "eigh", 2),
    (qr_complete, "mode", 2), (lstsq_rcond, "rcond=None", 2),
    (lstsq_stack, "a matrix", 3), (eigh_vector, "at least 2-D", 2),
    (norm_nuc_vector, "ord", 2), (eigh_upper, "transposed", 2)])
def test_refused_at_the_users_line(fn, words, ndim):
    a = np.ones((3,) * ndim)
    with pytest.raises(UnsupportedOperationError) as info:
        grad(lambda a: np.sum(fn(a)), jit=False)(a)
    Markers(__file__).assert_points_at(info.value, fn.__name__)
    assert words in info.value.message


# --- Numba (each compile costs seconds: a few functions cover the runtime's helpers) --------
def compiled_linalg(a, b):
    """The generated code is the same Python in both modes: Numba must type it (the rules'
    batched building blocks: matmul, transposes, triangles, broadcasting), and the runtime's
    helpers differ (tested one by one below)."""
    sign, logdet = np.linalg.slogdet(a)
    w, v = np.linalg.eigh(a)
    return np.sum(np.linalg.solve(a, b) ** 2) + np.sum(sign * logdet) + \
        np.sum(w * b[:, :, 0]) + np.sum(v * v * a)


@pytest.mark.numba
def test_numba_matches_cpython():
    rng = np.random.default_rng(7)
    a = separated_spectrum([rng.uniform(-1, 1, (2, 3, 3))])[0] + 2.0 * np.eye(3)
    b = rng.uniform(-1, 1, (2, 3, 2))
    value, grads = value_and_grad(compiled_linalg, argnums=(0, 1), jit=False)(a, b)
    jit_value, jit_grads = value_and_grad(compiled_linalg, argnums=(0, 1), jit=True)(a, b)
    np.testing.assert_allclose(jit_value, value, rtol=1e-10)
    for jg, g in zip(jit_grads, grads):
        np.testing.assert_allclose(jg, g, rtol=1e-8, atol=1e-10)
    tangents = (rng.standard_normal(a.shape), rng.standard_normal(b.shape))
    _, dot = jvp(compiled_linalg, (a, b), tangents, jit=False)
    _, jit_dot = jvp(compiled_linalg, (a, b), tangents, jit=True)
    np.testing.assert_allclose(jit_dot, dot, rtol=1e-8)


@pytest.mark.numba
def test_numba_factorisations_match_numpy():
    """The runtime's Numba versions of the factorisations (LAPACK per matrix of a stack)
    give NumPy's values, signs of the vectors included, for strided stacks too."""
    import numba

    from autodiff_compiler import runtime as rt

    @numba.njit
    def factorise(a, b):
        square = a[:, :, :3, :3]
        return rt.svd(a), rt.svdvals(a), rt.qr(a), rt.lstsq(a[0, 0], b), rt.eigh(square), \
            rt.eigvalsh(square), rt.tril_stack(a, -1), rt.triu_stack(a, 1), \
            rt.matmul(a, a[0, :, :3, :]), rt.det_stack(square), rt.inv_stack(square)

    rng = np.random.default_rng(8)
    a = np.transpose(rng.uniform(-1, 1, (2, 3, 3, 4)), (0, 1, 3, 2))  # (2, 3, 4, 3), strided
    b = rng.uniform(-1, 1, 4)
    square = a[:, :, :3, :3]
    expected = (np.linalg.svd(a, full_matrices=False), np.linalg.svd(a, compute_uv=False),
                np.linalg.qr(a), np.linalg.lstsq(a[0, 0], b, rcond=None), np.linalg.eigh(square),
                np.linalg.eigvalsh(square), np.tril(a, -1), np.triu(a, 1), a @ a[0, :, :3, :],
                np.linalg.det(square), np.linalg.inv(square))
    for got, want in zip(factorise(a, b), expected):
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_without_scipy_numba_refuses_at_the_users_line(monkeypatch):
    from autodiff_compiler import pipeline

    monkeypatch.setattr(pipeline, "_scipy_installed", lambda: False)
    with pytest.raises(UnsupportedOperationError) as info:
        grad(svd_values_summed, jit=True)(np.eye(3))
    assert "SciPy" in info.value.message and "jit=False" in info.value.message
    Markers(__file__).assert_points_at(info.value, "without_scipy")
    assert grad(svd_values_summed, jit=False)(np.eye(3)).shape == (3, 3)


def svd_values_summed(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))  # E:without_scipy
