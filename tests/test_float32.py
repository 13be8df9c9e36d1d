"""float32 inputs: the primal and every derivative computed and returned in float32, as NumPy
2 computes (NEP 50: Python numbers do not widen float32) and JAX returns.

NumPy is the specification: the function itself, run by NumPy on the float32 arguments,
gives the value to match, and its dtype (float64 where float32 meets a float64 or int64
array). Derivatives are checked against central differences of the float64 function with
float32 tolerances, forward against reverse, Numba against CPython, and Numba's own typing
of the generated code (no float64 array, float32 results). Cancellation shows computation
in float32: 1e8 + 1 - 1e8 is 0 in float32, 1 in float64.
"""

from __future__ import annotations

import math
import zlib

import numba
import numpy as np
import pytest
from checks import copies
from primitive_specs import COMPOSITES, SPECS
from test_custom import uses_scaled, uses_softplus
from test_linalg import CASES as LINALG_CASES
from test_linalg import _inputs as _linalg_inputs
from test_primitives import SEED, _case_id, _instance, _load, _module_source
from test_textbook import (
    difference_of_squares,
    sin_of_square,
    square,
    square_of_sum,
    sum_of_squares,
)

from autodiff_compiler import (
    custom_jvp,
    custom_vjp,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
    vmap,
)

JIT = [pytest.param(False, id="python"), pytest.param(True, id="numba", marks=pytest.mark.numba)]
RTOL = 1e-5  # float32 rounding, accumulated over a few dozen operations


def objective(x, w):
    h = np.tanh(x * w + 0.5)
    return np.sum(h * h) / 3.0 + 2.0 * np.dot(x, w) - np.mean(x ** 2) + np.max(np.exp(-x))


def rnn(x, a, n):  # a while loop with a tape, a branch and a counted loop
    s = 0.0
    k = 0
    while k < n:
        s = math.cos(s) * a + np.sin(x[k]) * x[k] ** 2
        k += 1
    for i in range(n):
        if x[i] > 0:
            s += x[i] * 2
        else:
            s -= 1.5 * x[i] * s
    return s


def cancelling_sum(x):
    return 0.5 * np.sum(x) ** 2


def cancelling_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return 0.5 * s * s


def vector(x):
    return np.sin(x) * 2.0 + x[::-1] * x


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, n).astype(np.float32), rng.uniform(-1, 1, n).astype(np.float32))


def _central(f, args, k, eps=1e-6):
    """Central differences of f in float64 w.r.t. argument k."""
    args = [np.asarray(a, dtype=np.float64) if isinstance(a, (np.ndarray, np.floating))
            else a for a in args]
    x = args[k]
    out = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        out[i] = (f(*args[:k], up, *args[k + 1:]) - f(*args[:k], down, *args[k + 1:])) / (2 * eps)
    return out


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("jit", JIT)
def test_value_and_gradient_as_numpy_computes_them_in_float32(jit):
    x, w = _data()
    value, (dx, dw) = value_and_grad(objective, argnums=(0, 1), jit=jit)(x, w)
    expected = objective(x, w)  # NumPy on float32 arrays
    assert type(value) is np.float32 and type(expected) is np.float32
    assert _close(value, expected)
    assert dx.dtype == dw.dtype == np.float32
    assert _close(dx, _central(objective, [x, w], 0), 1e-3)
    assert _close(dw, _central(objective, [x, w], 1), 1e-3)


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("f", [cancelling_sum, cancelling_loop])
def test_sums_are_computed_in_float32(f, jit):
    x = np.array([1e8, 1.0, -1e8], dtype=np.float32)
    value, dx = value_and_grad(f, jit=jit)(x)
    assert f(x) == 0.0 and f(x.astype(np.float64)) == 0.5  # float32 loses the 1
    assert value == 0.0 and type(value) is np.float32
    np.testing.assert_array_equal(dx, np.zeros(3, np.float32))  # float64 gives ones
    assert dx.dtype == np.float32


@pytest.mark.parametrize("jit", JIT)
def test_loops_with_tapes_in_float32(jit):
    x, _ = _data(12, seed=1)
    a = np.float32(0.7)
    value, (dx, da) = value_and_grad(rnn, argnums=(0, 1), jit=jit)(x, a, 12)
    assert type(value) is np.float32 and _close(value, rnn(x, a, 12))
    assert dx.dtype == np.float32 and type(da) is np.float32
    assert _close(dx, _central(rnn, [x, a, 12], 0), 1e-3)
    eps = 1e-6
    numeric = (rnn(x.astype(float), 0.7 + eps, 12) - rnn(x.astype(float), 0.7 - eps, 12)) / (2 * eps)
    assert _close(da, numeric, 1e-3)


@pytest.mark.parametrize("jit", JIT)
def test_forward_matches_reverse_in_float32(jit):
    x, _ = _data(8, seed=2)
    v, u = _data(8, seed=3)
    out, tangent = jvp(vector, (x,), (v,), jit=jit)
    out_r, pullback = vjp(vector, x, jit=jit)
    (cotangent,) = pullback(u)
    assert out.dtype == tangent.dtype == out_r.dtype == cotangent.dtype == np.float32
    assert _close(out, vector(x)) and _close(out_r, vector(x))
    assert math.isclose(np.dot(tangent, u), np.dot(v, cotangent), rel_tol=RTOL, abs_tol=RTOL)


def test_forward_mode_gradient_is_float32():
    x, w = _data()
    forward = grad(objective, mode="forward", jit=False)(x, w)
    reverse = grad(objective, jit=False)(x, w)
    assert forward.dtype == reverse.dtype == np.float32 and _close(forward, reverse)


def _float64_in_numba(g) -> dict:
    """Numba's float64 variables (literals aside) and results of g's last compiled code,
    typed again here (Numba's cache keeps no typemap)."""
    compiled = g.specializations.last.compiled
    (signature,) = compiled.dispatcher().nopython_signatures
    fresh = numba.njit(compiled.python_fn)
    fresh.compile(signature.args)
    (overload,) = fresh.overloads.values()
    found = {name: str(t) for name, t in overload.type_annotation.typemap.items()
             if "float64" in str(t) and not name.startswith("$const")}
    if "float64" in str(overload.signature.return_type):
        found["return"] = str(overload.signature.return_type)
    return found


def mixture(c, x):  # whole-array code: fused loops in the function and its adjoint
    d = x[:, None, :] - c[None, :, :]
    e = np.exp(-0.5 * np.sum(d * d, axis=2))
    return -np.sum(np.log(np.sum(e, axis=1) + 1e-3))


@pytest.mark.numba
def test_numba_agrees_with_cpython_and_keeps_float32():
    x, _ = _data(12, seed=4)
    cpython = value_and_grad(rnn, argnums=(0, 1), jit=False)(x, np.float32(0.3), 12)
    g = value_and_grad(rnn, argnums=(0, 1))
    compiled = g(x, np.float32(0.3), 12)
    assert _close(compiled[0], cpython[0])
    for a, b in zip(compiled[1], cpython[1]):
        assert np.asarray(a).dtype == np.asarray(b).dtype == np.float32 and _close(a, b)
    found = _float64_in_numba(g)  # math.cos computes in double, as in NumPy: no arrays
    assert "return" not in found and not any("array" in t for t in found.values())
    c, points = _data(12, seed=5)[0].reshape(3, 4), _data(40, seed=6)[0].reshape(10, 4)
    g = value_and_grad(mixture)
    value, dc = g(c, points)
    assert _close(value, mixture(c, points)) and dc.dtype == np.float32
    assert _close(dc, value_and_grad(mixture, jit=False)(c, points)[1])
    assert not _float64_in_numba(g)
    assert "np.float32(" in g.source


def test_mixed_precision_follows_numpys_promotion(jit=False):
    x, _ = _data(5)
    y = np.linspace(0.5, 1.5, 5)  # float64
    k = np.arange(5)  # int64

    def mixed(x, y):
        return np.sum(x * y) + np.sum(2.0 * x * x)

    def with_ints(x, k):
        return np.sum(x * k) + np.sum(x * 3)

    def element(x, y):
        return np.sum(x * y[0]) + np.sum(x) * 2.5  # y[0] is a float64 number (strong)

    for f, other, kind in ((mixed, y, np.float64), (with_ints, k, np.float64),
                           (element, y, np.float64)):
        value, dx = value_and_grad(f, jit=jit)(x, other)
        expected = f(x, other)
        assert np.asarray(expected).dtype == kind
        assert type(value) is float and _close(value, expected)
        assert dx.dtype == np.float32
        assert _close(dx, _central(f, [x, other], 0), 1e-4)
    dx, dy = grad(mixed, argnums=(0, 1), jit=jit)(x, y)
    assert dx.dtype == np.float32 and dy.dtype == np.float64
    value = value_and_grad(mixed, jit=jit)(x, 1.5)[0]  # a Python float: float32
    assert type(value) is np.float32 and _close(value, mixed(x, 1.5))


def test_zero_d_arrays_and_numpy_float32_numbers():
    def cube(s):
        return s * s * s + 1.0

    d0 = grad(cube, jit=False)(np.array(2.0, dtype=np.float32))
    assert d0.shape == () and d0.dtype == np.float32 and d0 == 12.0
    value, d = value_and_grad(cube, jit=False)(np.float32(2.0))
    assert type(value) is np.float32 and value == 9.0
    assert type(d) is np.float32 and d == 12.0
    out, tangent = jvp(cube, (np.float32(2.0),), (np.float32(1.0),), jit=False)
    assert type(out) is np.float32 and type(tangent) is np.float32 and tangent == 12.0


def test_vmap_of_a_float32_gradient():
    X = np.stack(_data(6, seed=5) + _data(6, seed=6))
    w = _data(6, seed=7)[0]
    per_sample = vmap(grad(objective, argnums=1, jit=False), in_axes=(0, None))(X, w)
    assert per_sample.dtype == np.float32 and per_sample.shape == (4, 6)
    for row, x in zip(per_sample, X):
        assert _close(row, grad(objective, argnums=1, jit=False)(x, w))


def test_jacobians_and_hessians_are_float32():
    x = _data(4, seed=8)[0]
    for jacobian in (jacfwd(vector, jit=False)(x), jacrev(vector, jit=False)(x)):
        assert jacobian.dtype == np.float32 and jacobian.shape == (4, 4)
        assert _close(jacobian, jacfwd(vector, jit=False)(x.astype(np.float64)))
    w = _data(4, seed=9)[0]
    h = hessian(objective, jit=False)(x, w)
    assert h.dtype == np.float32
    assert _close(h, hessian(objective, jit=False)(x.astype(float), w.astype(float)), 1e-4)
    (product,) = hvp(lambda x: objective(x, w), (x,), (w,), jit=False)
    assert product.dtype == np.float32 and _close(product, h @ w, 1e-4)


@pytest.mark.parametrize("jit", JIT)
def test_textbook_examples_in_float32(jit):
    g = grad(difference_of_squares, argnums=(0, 1), jit=jit)(np.float32(3.0), np.float32(2.0))
    assert g == (6.0, -4.0) and all(type(v) is np.float32 for v in g)
    d = grad(sin_of_square, jit=jit)(np.float32(1.0))  # math.sin: a Python float, as NumPy
    assert type(d) is np.float32 and d == pytest.approx(2.0 * math.cos(1.0), rel=1e-6)
    both = grad(square_of_sum, argnums=(0, 1), jit=jit)(np.float32(1.5), np.float32(-0.25))
    assert both == (2.5, 2.5) and all(type(v) is np.float32 for v in both)
    d = grad(square, jit=jit)(np.float32(2.0))
    assert type(d) is np.float32 and d == 4.0
    x = np.arange(1.0, 6.0, dtype=np.float32)
    value, dx = value_and_grad(sum_of_squares, jit=jit)(x)
    assert type(value) is np.float32 and value == 55.0
    assert dx.dtype == np.float32 and np.array_equal(dx, 2 * x)


def test_each_dtype_gets_its_own_code():
    g = value_and_grad(objective, jit=False)
    x, w = _data()
    v64, d64 = g(x.astype(np.float64), w.astype(np.float64))
    v32, d32 = g(x, w)
    again64, _ = g(x.astype(np.float64), w.astype(np.float64))
    assert type(v64) is float and d64.dtype == np.float64 and again64 == v64
    assert type(v32) is np.float32 and d32.dtype == np.float32
    assert _close(v32, v64) and _close(d32, d64, 1e-4)
    assert len(g.specializations.artifacts) == 2


def test_casts_to_float32_in_the_function():
    def f(x):
        y = x.astype(np.float32)
        return np.sum(y * y) * 0.5 + np.float32(x[1]) * 2.0

    x = np.linspace(-1, 1, 5)
    value, dx = value_and_grad(f, jit=False)(x)
    assert type(value) is np.float32 and type(f(x)) is np.float32 and _close(value, f(x))
    assert dx.dtype == np.float64 and _close(dx, x.astype(np.float32) + [0, 2.0, 0, 0, 0])
    assert type(value_and_grad(lambda x: np.float32(0.5) * x[0], jit=False)(x)[0]) is float


# --------------------------------------------------------------------------------------------
# np.linalg and custom rules: computed in float64 (LAPACK, the user's rules as Numba types
# them), values and derivatives cast to float32, as np.linalg returns for float32 input
# --------------------------------------------------------------------------------------------

# one case of each function of tests/test_linalg.py (stacks, tuples of results, the norms)
LINALG = {fn.__name__: (fn, makers) for fn, makers in reversed(LINALG_CASES)}


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linear_algebra_in_float32(name):
    """NumPy's float32 values (np.linalg computes them in double and rounds, as here);
    tangents and cotangents float32, close to the float64 ones and to each other."""
    fn, makers = LINALG[name]
    args = [a.astype(np.float32) for a in _linalg_inputs(makers, 1)]
    rng = np.random.default_rng(2)
    tangents = [rng.standard_normal(a.shape).astype(np.float32) for a in args]
    out, out_dot = jvp(fn, copies(args), tangents, jit=False)
    wide = [a.astype(np.float64) for a in args]
    _, out_dot64 = jvp(fn, wide, [t.astype(np.float64) for t in tangents], jit=False)
    for got, want in zip(_as_tuple(out), _as_tuple(fn(*copies(args)))):
        assert np.asarray(got).dtype == np.asarray(want).dtype == np.float32
        assert _close(got, want)
    for got, want in zip(_as_tuple(out_dot), _as_tuple(out_dot64)):
        assert np.asarray(got).dtype == np.float32 and _close(got, want, 1e-4)
    cotangents = tuple(rng.standard_normal(np.shape(o)).astype(np.float32)
                       for o in _as_tuple(out))
    seed = cotangents if isinstance(out, tuple) else cotangents[0]
    pulled = vjp(fn, *copies(args), jit=False)[1](seed)
    pulled64 = vjp(fn, *wide, jit=False)[1](seed)
    for got, want in zip(pulled, pulled64):
        assert got.dtype == np.float32 and _close(got, want, 1e-4)
    left = sum(float(np.sum(np.multiply(d, c, dtype=float))) for d, c in
               zip(_as_tuple(out_dot), cotangents))
    right = sum(float(np.sum(np.multiply(p, t, dtype=float))) for p, t in zip(pulled, tangents))
    assert math.isclose(left, right, rel_tol=1e-4, abs_tol=1e-4)


def solved(a, b):  # float32 elementwise code around a solve, a determinant and a norm
    x = np.linalg.solve(a, 2.0 * b + 1.0)
    return np.sum(np.tanh(x) ** 2) / 3.0 + np.linalg.det(a) * 0.5 + np.linalg.norm(a * x, 2)


def factored(a, b):  # the factorisations, the inverse and least squares in one function
    spd = a @ a.T + np.eye(4).astype(np.float32)
    w, v = np.linalg.eigh(spd)
    sign, logdet = np.linalg.slogdet(np.linalg.inv(a) + spd)
    q, r = np.linalg.qr(a)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    x = np.linalg.lstsq(a[:, :3], b, rcond=None)[0]
    return (np.sum(w * b) + np.sum(v * v * a) + sign * logdet + np.sum(q * r) + np.sum(s)
            + np.sum(u * vt) + np.sum(x * x) + np.sum(np.linalg.cholesky(spd)))


def looped(a, b):  # a float64 twin of a float32 value serves only code that comes after it
    s = 0.0
    for i in range(b.shape[0]):
        s += np.sum(np.linalg.inv(a) * b[i])
    return s + np.linalg.det(a) + np.sum(np.linalg.inv(a) ** 2)


def _linalg_data(seed):
    rng = np.random.default_rng(seed)
    a = (rng.uniform(-1, 1, (4, 4)) + 3.0 * np.eye(4)).astype(np.float32)
    return a, rng.uniform(-1, 1, 4).astype(np.float32)


def decomposed(a, b):  # what Numba types besides LAPACK's calls: float32 identities
    spd = a @ a.T + np.eye(4).astype(np.float32)
    w, v = np.linalg.eigh(spd)
    return np.sum(w * b) + np.sum(v * v * a) + np.sum(np.linalg.cholesky(spd))


@pytest.mark.parametrize("f, jit", [(solved, False), (factored, False), (looped, False)] + [
    pytest.param(f, True, id=f"numba-{f.__name__}", marks=pytest.mark.numba)
    for f in (solved, decomposed, looped)])  # each Numba compile costs seconds
def test_linear_algebra_among_float32_code(jit, f):
    """Value and gradient float32: NumPy's value, the gradient against central differences
    of the float64 function and the float64 gradient; forward mode against reverse mode;
    Numba against CPython and the sources, which read the casts."""
    a, b = _linalg_data(10)
    g = value_and_grad(f, argnums=(0, 1), jit=jit)
    value, (da, db) = g(a, b)
    expected = f(a, b)
    assert type(value) is np.float32 and type(expected) is np.float32
    assert _close(value, expected)
    assert da.dtype == db.dtype == np.float32
    _, (da64, db64) = value_and_grad(f, argnums=(0, 1), jit=False)(a.astype(float), b.astype(float))
    assert _close(da, da64, 1e-4) and _close(db, db64, 1e-4)
    assert _close(da, _central(f, [a, b], 0), 1e-3) and _close(db, _central(f, [a, b], 1), 1e-3)
    assert "np.float64" in g.source  # the casts around LAPACK (in fused loops with Numba)
    if jit:
        cpython = value_and_grad(f, argnums=(0, 1), jit=False)(a, b)
        assert _close(value, cpython[0]) and _close(da, cpython[1][0]) and _close(db, cpython[1][1])
    tangents = _linalg_data(11)
    out, tangent = jvp(f, (a, b), tangents, jit=jit)
    assert type(out) is np.float32 and type(tangent) is np.float32 and _close(out, expected)
    reverse = float(np.sum(da * tangents[0]) + np.sum(db * tangents[1]))
    assert math.isclose(tangent, reverse, rel_tol=1e-4)


@pytest.mark.numba
def test_numba_types_float32_results_around_linear_algebra():
    g = value_and_grad(solved, argnums=(0, 1))
    g(*_linalg_data(12))
    found = _float64_in_numba(g)
    assert "return" not in found and any("array(float64" in t for t in found.values())


@custom_vjp
def cube_sum(x):  # computes in float32 (NumPy, and Numba for float32 operands)
    return np.sum(x * x * x)


cube_sum.defvjp(lambda x: (np.sum(x * x * x), x), lambda x, g: (3 * x * x * g,))


@custom_vjp
def scaled_cubes(x):  # returns float64 whatever its operands
    return np.sum(x.astype(np.float64) ** 3) * 0.5


scaled_cubes.defvjp(lambda x: (np.sum(x.astype(np.float64) ** 3) * 0.5, x),
                    lambda x, g: (1.5 * x.astype(np.float64) ** 2 * g,))


@custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


softplus.defjvp(lambda p, t: (np.log1p(np.exp(p[0])), t[0] / (1.0 + np.exp(-p[0]))))


def with_rules(x):
    return cube_sum(x) * 2.0 + scaled_cubes(np.sin(x)) + np.sum(softplus(x) * x)


@pytest.mark.parametrize("jit", JIT)
def test_custom_rules_with_float32_operands(jit):
    """The rules run on the operands as they are (float32); whatever precision they return,
    the value, cotangents and tangents are float32."""
    x, v = _data(6, seed=13)
    value, dx = value_and_grad(with_rules, jit=jit)(x)
    assert type(value) is np.float32 and _close(value, np.float32(with_rules(x)))
    exact = 6 * x.astype(float) ** 2 + 1.5 * np.sin(x.astype(float)) ** 2 * np.cos(x.astype(float))
    assert dx.dtype == np.float32 and _close(dx, exact + _central(
        lambda x: np.sum(np.log1p(np.exp(x)) * x), [x], 0), 1e-4)
    out, tangent = jvp(lambda x: np.sum(softplus(x) * x) * 2.0, (x,), (v,), jit=jit)
    assert type(out) is np.float32 and type(tangent) is np.float32
    cotangent = grad(lambda x: np.sum(softplus(x) * x) * 2.0, jit=jit)(x)
    assert cotangent.dtype == np.float32
    assert math.isclose(tangent, float(np.dot(cotangent, v)), rel_tol=1e-5, abs_tol=1e-5)


# --------------------------------------------------------------------------------------------
# every primitive of the spec table, in float32 (CPython; the runtime's loops are compiled)
# --------------------------------------------------------------------------------------------

# np.array of a comprehension over range(n): a float64 array filled in a loop (NumPy's has
# the elements' dtype); the gradient is float32 all the same
_FLOAT64_RESULTS = {("list_comprehension", 4), ("list_comprehension", 5)}
# lstsq's rank is an np.int32 scalar in NumPy, which widens float32 (x * rank is float64);
# here it counts as a Python int, as an entry of an int array does
_FLOAT32_RESULTS = {("lstsq", 1)}


def _float32_case(name: str, k: int, case, directory):
    """(the float64 test function, its float32 twin, float64 args, float32 args, argnums):
    the twin's weights W are float32, so NumPy's result has the primitive's own dtype."""
    shapes = case.shapes[0]
    f, args, argnums = _instance(name, case, shapes, directory)
    out_shape = np.shape(_load(_module_source(case), directory)(*copies(args)))
    seed = SEED ^ zlib.crc32(_case_id(name, case, shapes).encode())
    rng = np.random.default_rng(seed + 1)
    weights = rng.uniform(0.5, 1.5, out_shape) * rng.choice([-1.0, 1.0], out_shape)
    source = _module_source(case, out_shape, weights)
    if out_shape != ():
        source = source.replace(f"W = np.array({weights.tolist()!r})",
                                f"W = np.array({weights.tolist()!r}, dtype=np.float32)")
    f32 = _load(source, directory)
    args32 = [np.float32(a) if isinstance(a, float) else
              a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]
    return f, f32, args, args32, argnums


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("float32_cases")


@pytest.mark.parametrize("name", sorted(SPECS) + sorted(COMPOSITES))
def test_every_primitive_in_float32(name, module_dir):
    """NumPy's value and dtype, gradients float32 and close to the float64 ones (np.linalg's
    primitives compute in float64 and round, as NumPy's do)."""
    for k, case in enumerate(SPECS.get(name) or COMPOSITES[name]):
        f, f32, args, args32, argnums = _float32_case(name, k, case, module_dir)
        expected = f32(*copies(args32))
        value, grads = value_and_grad(f32, argnums=argnums, jit=False)(*copies(args32))
        context = f"{name}: {case.template!r}"
        kind = np.float64 if (name, k) in _FLOAT64_RESULTS else \
            np.float32 if (name, k) in _FLOAT32_RESULTS else np.asarray(expected).dtype
        assert np.asarray(value).dtype == kind, context
        assert _close(value, expected, 1e-4), context
        _, grads64 = value_and_grad(f, argnums=argnums, jit=False)(*copies(args))
        for g, g64, j in zip(grads, grads64, argnums):
            assert np.asarray(g).dtype == np.float32, f"{context}: argument {j}"
            assert _close(g, g64, 2e-3), f"{context}: argument {j}"


@pytest.mark.parametrize("jit", JIT)
def test_scaled_rules_are_used_in_float32(jit):
    """The deliberately scaled rules of tests/test_custom.py (math.sin's Python floats: a
    double result; np.exp of float32 arrays: float32) give their scaled float32 gradients."""
    a, b = np.float32(0.5), np.float32(2.0)
    value, (da, db) = value_and_grad(uses_scaled, argnums=(0, 1), jit=jit)(a, b)
    assert type(value) is type(da) is type(db) is np.float32
    assert value == pytest.approx(2.0 * math.sin(0.5) * 2.0 + 0.5, rel=1e-6)
    assert da == pytest.approx(2.0 * 3.0 * math.cos(0.5) * 2.0 + 1.0, rel=1e-6)  # the rule's 3x
    assert db == pytest.approx(2.0 * math.sin(0.5), rel=1e-6)
    x, w = np.array([0.3, -1.0, 2.0], dtype=np.float32), np.float32(1.5)
    dx, dw = grad(uses_softplus, argnums=(0, 1), jit=jit)(x, w)
    sig = 1.0 / (1.0 + np.exp(-x.astype(float) * 1.5))
    assert dx.dtype == np.float32 and _close(dx, sig * 1.5)
    assert type(dw) is np.float32 and dw == pytest.approx(np.sum(sig * x) + 15.0, rel=1e-5)
    _, tangent = jvp(uses_softplus, (x, w), (np.ones(3, np.float32), np.float32(0.5)), jit=jit)
    assert type(tangent) is np.float32
    assert tangent == pytest.approx(np.sum(dx) + 0.5 * dw, rel=1e-5)

