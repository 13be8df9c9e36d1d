"""Forward mode and Jacobians: jvp, vjp, jacfwd, jacrev, hessian, hvp, grad(mode="forward").

On every function of tests/corpus.py, tests/regressions.py and the array-writing cases of
tests/test_arrays_and_calls.py:
* the dot-product test (the adjoint identity): for random v (a tangent of every float
  argument) and w (a cotangent of the output), <jvp(x; v), w> == <v, vjp(x; w)> to 1e-10
  relative: forward mode against reverse mode, with no finite-difference error;
* jvp against a fourth-order central difference of f along v (differentiated args only);
* grad(mode="forward") == grad() (reverse);
* hvp against central differences of the reverse gradient along v, and hessian @ v == hvp
  with a symmetric hessian (all float arguments).
Besides:
* jacfwd == jacrev == the central-difference Jacobian on functions R^n -> R^m (n, m from 1
  to 50; array outputs written in loops, 2-D outputs, tuple outputs, several argnums);
* hessian (forward over reverse) against the central-difference Jacobian of the reverse-mode
  gradient, and symmetric, on Rosenbrock (n = 100), a Gaussian-mixture log-sum-exp objective
  and an RK4 integrator loss; hvp == hessian @ v there;
* the smallest shapes of patterns that once went wrong in forward mode.

Operations a mode rejects with UnsupportedOperationError by design are strict xfails (see
UNSUPPORTED). Everything runs the generated source in CPython (jit=False) except the tests
marked numba, which compile with Numba and compare with CPython.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from checks import copies
from corpus import CORPUS
from regressions import CASES as REGRESSIONS
from test_arrays_and_calls import CASES as ARRAY_CASES

from autodiff_compiler import (
    UnsupportedOperationError,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    vjp,
)

DOT_RTOL = 1e-10      # adjoint identity: forward against reverse, rounding only
FD_RTOL = 1e-7        # against fourth-order central differences
AGREE_RTOL = 1e-10    # two exact derivative modes against each other
STENCIL = ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0))


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _is_float(a) -> bool:
    return isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _random_like(a, rng, scaled=False):
    """Random entries of a's shape; `scaled`: each entry scaled by max(1, |a|) (a step
    relative to the argument, as gradcheck uses)."""
    if isinstance(a, np.ndarray):
        v = rng.uniform(-1.0, 1.0, size=a.shape)
        return v * np.maximum(1.0, np.abs(a)) if scaled else v
    v = float(rng.uniform(-1.0, 1.0))
    return v * max(1.0, abs(a)) if scaled else v


def _zero_like(a):
    return np.zeros_like(a, dtype=np.float64) if isinstance(a, np.ndarray) else 0.0



def _nums(argnums) -> list[int]:
    return [argnums] if isinstance(argnums, int) else list(argnums)


def _leaves(value) -> list[np.ndarray]:
    """The outputs of a function (a float, an array or a tuple of those) as float arrays."""
    if isinstance(value, tuple):
        return [np.asarray(v, dtype=np.float64) for v in value]
    return [np.asarray(value, dtype=np.float64)]


def _inner(a, b) -> tuple[float, float]:
    """(sum of a * b over all leaves, sum of |a * b|: the scale of the sum)."""
    total, scale = 0.0, 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        products = np.ravel(x * y)
        total += float(np.sum(products))
        scale += float(np.sum(np.abs(products)))
    return total, scale


def _directional_fd(f, args, v, h=1e-4):
    """Fourth-order central difference of f along v (one entry per argument; v[k] is 0 for
    arguments that stay fixed). Returns a list with one array per output."""
    total = None
    for offset, weight in STENCIL:
        shifted = [a + offset * h * d if _is_float(a) else a for a, d in zip(copies(args), v)]
        out = [weight * leaf for leaf in _leaves(f(*shifted))]
        total = out if total is None else [t + o for t, o in zip(total, out)]
    return [t / (12.0 * h) for t in total]


def _fd_jacobian(f, args, k, h=1e-4):
    """Central-difference Jacobian of every output of f w.r.t. argument k: a list of arrays
    shaped out.shape + in.shape."""
    x = np.asarray(args[k], dtype=np.float64)
    columns = []
    for index in np.ndindex(x.shape):
        step = h * max(1.0, abs(float(x[index])))
        v = [_zero_like(a) if _is_float(a) else 0 for a in args]
        if isinstance(args[k], np.ndarray):
            v[k] = np.zeros_like(x)
            v[k][index] = 1.0
        else:
            v[k] = 1.0
        columns.append(_directional_fd(f, args, v, h=step))
    outs = []
    for o in range(len(columns[0])):
        stacked = np.stack([c[o] for c in columns], axis=-1)
        outs.append(stacked.reshape(stacked.shape[:-1] + x.shape))
    return outs


def _rel_error(a, b) -> float:
    a = np.concatenate([np.ravel(x) for x in _leaves(a)]) if isinstance(a, tuple) else a
    b = np.concatenate([np.ravel(x) for x in _leaves(b)]) if isinstance(b, tuple) else b
    a, b = np.ravel(np.asarray(a, dtype=np.float64)), np.ravel(np.asarray(b, dtype=np.float64))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _assert_agree(a, b, rtol=AGREE_RTOL, what=""):
    """Two results of the same structure agree: shapes equal, max|a - b| <= rtol max|b|."""
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb), what
    for x, y in zip(la, lb):
        assert x.shape == y.shape, f"{what}: shape {x.shape} != {y.shape}"
        scale = max(float(np.max(np.abs(y), initial=0.0)), 1e-300)
        diff = float(np.max(np.abs(x - y), initial=0.0))
        assert diff <= rtol * scale, f"{what}: max|diff| {diff:.3g}, max|ref| {scale:.3g}"


# --------------------------------------------------------------------------------------------
# 1. Every corpus and regression function: the dot-product test and jvp against differences
# --------------------------------------------------------------------------------------------

ALL_CASES = ([("corpus-" + c.id, c) for c in CORPUS]
             + [("regression-" + c.id, c) for c in REGRESSIONS]
             + [("arrays-" + c.id, c) for c in ARRAY_CASES])

# Operations that raise UnsupportedOperationError in one mode, by design for now: the test
# expects the error (strict xfail), so supporting them later turns the test into a failure
# that asks for the entry to be removed.
UNSUPPORTED: dict[str, set[str]] = {}


def _cases_for(kind: str | None = None):
    expected = UNSUPPORTED.get(kind, set())
    marks = pytest.mark.xfail(raises=UnsupportedOperationError, strict=True,
                              reason="not supported in this mode yet")
    return pytest.mark.parametrize("name, case", [
        pytest.param(n, c, id=n, marks=marks if n in expected else ()) for n, c in ALL_CASES])


every_case = _cases_for()


def _fd_direction(name, case, args, rng):
    """A random direction on the differentiated arguments (zero elsewhere)."""
    nums = _nums(case.argnums)
    v = [_random_like(a, rng, scaled=True) if k in nums else _zero_like(a) if _is_float(a)
         else 0 for k, a in enumerate(args)]
    return _off_discontinuities(case, args, v)


def _off_discontinuities(case, args, v):
    if case.fn.__name__ == "warp_1552_argmax":
        # The function skips the entries with c[p, q] == 0.0 exactly: moving them moves it
        # across that discontinuity, so central differences along v keep them fixed.
        v[0] = np.where(args[0] == 0.0, 0.0, v[0])
    return v


@every_case
def test_dot_product_identity(name, case):
    rng = _rng(name)
    args = case.fresh_args()
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    out, out_dot = jvp(case.fn, args, v, jit=False)
    value, pullback = vjp(case.fn, *case.fresh_args(), jit=False)
    w = _random_like(out, rng) if isinstance(out, np.ndarray) else float(rng.normal())
    bars = pullback(w)
    assert len(bars) == len(args)
    for a, bar in zip(args, bars):
        assert (bar is None) == (not _is_float(a))
    lhs, lhs_scale = _inner(out_dot, w)
    rhs, rhs_scale = _inner(tuple(b for b in bars if b is not None),
                            tuple(d for d, a in zip(v, args) if _is_float(a)))
    scale = max(lhs_scale, rhs_scale, 1e-300)
    assert abs(lhs - rhs) <= DOT_RTOL * scale, (
        f"{name}: <jvp, w> = {lhs!r}, <v, vjp> = {rhs!r}, rel {abs(lhs - rhs) / scale:.3g}")
    expected = case.fn(*case.fresh_args())
    assert out == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


@every_case
def test_jvp_matches_central_differences(name, case):
    rng = _rng(name + "/fd")
    args = case.fresh_args()
    v = _fd_direction(name, case, args, rng)
    out, out_dot = jvp(case.fn, args, v, jit=False)
    numeric = _directional_fd(case.fn, case.fresh_args(), v)[0]
    error = abs(out_dot - float(numeric))
    # rounding floor of the difference quotient: ~eps |f| / h
    floor = 1e-10 * max(1.0, abs(out))
    assert error <= FD_RTOL * (abs(out_dot) + abs(float(numeric))) + floor, (
        f"{name}: jvp {out_dot!r}, central differences {float(numeric)!r}")
    for before, after in zip(case.fresh_args(), args):   # arguments untouched
        np.testing.assert_array_equal(after, before)


@_cases_for("forward_grad")
def test_forward_grad_equals_reverse_grad(name, case):
    args = case.fresh_args()
    forward = grad(case.fn, argnums=case.argnums, mode="forward", jit=False)(*args)
    reverse = grad(case.fn, argnums=case.argnums, jit=False)(*case.fresh_args())
    if isinstance(case.argnums, tuple):
        assert isinstance(forward, tuple) and len(forward) == len(case.argnums)
    for f_part, r_part in zip(_leaves(forward), _leaves(reverse)):
        np.testing.assert_allclose(f_part, r_part, rtol=AGREE_RTOL, atol=1e-13,
                                   err_msg=name)
    for part, k in zip(forward if isinstance(forward, tuple) else (forward,),
                       _nums(case.argnums)):
        if isinstance(args[k], np.ndarray):
            assert isinstance(part, np.ndarray) and part.shape == args[k].shape
        else:
            assert isinstance(part, float)


def _flat_gradient(fn, nums):
    """x -> the reverse-mode gradient w.r.t. nums, flattened into one vector."""
    g = grad(fn, argnums=tuple(nums), jit=False)

    def flat(*args):
        return np.concatenate([np.ravel(np.asarray(p)) for p in g(*copies(args))])

    return flat


@_cases_for("hvp")
def test_hvp_matches_differences_of_the_gradient_everywhere(name, case):
    # forward over reverse, one direction, against central differences of the gradient
    rng = _rng(name + "/hvp")
    args = case.fresh_args()
    floats = [k for k, a in enumerate(args) if _is_float(a)]
    v = _off_discontinuities(case, args, [_random_like(a, rng) if _is_float(a) else 0
                                          for a in args])
    products = hvp(case.fn, args, v, jit=False)
    for k, p in enumerate(products):
        assert (p is None) == (k not in floats)
        if k in floats:
            assert np.shape(p) == np.shape(args[k])
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    numeric = _directional_fd(_flat_gradient(case.fn, floats), case.fresh_args(), v)[0]
    error = np.abs(ours - numeric)
    bound = 1e-6 * (np.abs(ours) + np.abs(numeric)) + 1e-8 * max(1.0, np.max(np.abs(ours)))
    assert np.all(error <= bound), f"{name}: hvp {ours}, differences {numeric}"
    for before, after in zip(case.fresh_args(), args):   # arguments untouched
        np.testing.assert_array_equal(after, before)


@_cases_for("hessian")
def test_hessian_times_v_is_hvp_everywhere(name, case):
    # forward over reverse along unit directions against a random direction; symmetry
    rng = _rng(name + "/hessian")
    args = case.fresh_args()
    floats = [k for k, a in enumerate(args) if _is_float(a)]
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    h = hessian(case.fn, argnums=tuple(floats), jit=False)(*args)
    full = _full_matrix(h, args, floats, single=False)
    products = hvp(case.fn, case.fresh_args(), v, jit=False)
    vec = np.concatenate([np.ravel(v[k]) for k in floats])
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    _assert_agree(full @ vec, ours, rtol=1e-10, what=name)
    scale = max(float(np.max(np.abs(full))), 1e-300)
    assert float(np.max(np.abs(full - full.T))) <= 1e-10 * scale, f"{name}: not symmetric"


# --------------------------------------------------------------------------------------------
# 2. Functions R^n -> R^m: jacfwd == jacrev == central differences
# --------------------------------------------------------------------------------------------


def ring(x):
    # R^n -> R^n, each output couples a neighbour (index wraps around)
    n = len(x)
    y = np.zeros(n)
    for i in range(n):
        y[i] = math.sin(x[i]) * x[(i + 1) % n] + x[i] ** 2
    return y


def outer_exp(x, y):
    # a 2-D output written element by element
    z = np.zeros((len(x), len(y)))
    for i in range(len(x)):
        for j in range(len(y)):
            z[i, j] = x[i] * math.exp(0.5 * y[j]) + math.sin(x[i] * y[j])
    return z


def polar(x, y):
    # R^2 -> two scalars (a tuple output)
    return math.hypot(x, y), math.atan2(y, x)


def scaled_and_norm(x, s):
    # a tuple of an array and a scalar
    y = np.empty(len(x))
    t = 0.0
    for i in range(len(x)):
        y[i] = s * x[i] * x[i]
        t += x[i] * x[i]
    return y, math.sqrt(t) * s


def decay_trajectory(k, y0, n):
    # R^1 (or R^2) -> R^n: explicit Euler steps of y' = -k y + sin(y), every step stored
    out = np.empty(n)
    y = y0
    for i in range(n):
        y = y + 0.05 * (-k * y + math.sin(y))
        out[i] = y
    return out


def softmax(x):
    m = x[0]
    for i in range(1, len(x)):
        m = max(m, x[i])
    e = np.empty(len(x))
    s = 0.0
    for i in range(len(x)):
        e[i] = math.exp(x[i] - m)
        s += e[i]
    for i in range(len(x)):
        e[i] = e[i] / s
    return e


def energy(x):
    # R^50 -> R (a scalar output: the Jacobian is the gradient)
    e = 0.0
    for i in range(len(x) - 1):
        d = x[i + 1] - x[i]
        e += d * d + 0.1 * math.cos(x[i])
    return e


def single(x):
    # R^1 -> R^1 as arrays of length 1
    y = np.zeros(1)
    y[0] = math.exp(x[0]) * x[0]
    return y


def banded(x, w):
    # R^n -> R^n with an int bandwidth w (an int argument among floats)
    n = len(x)
    y = np.zeros(n)
    for i in range(n):
        for j in range(max(0, i - w), min(n, i + w + 1)):
            y[i] += math.tanh(x[j]) * (1.0 + 0.1 * (i - j)) * x[i]
    return y


def lv_rhs(u, p, du):
    # Lotka-Volterra right-hand side, written into du (inlined helper)
    du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
    du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]


def lotka_volterra(p, u0, h, n):
    # R^4 (parameters) -> R^n: prey population at n time points, one RK4 step apart
    u = u0.copy()
    k1 = np.zeros(2)
    k2 = np.zeros(2)
    k3 = np.zeros(2)
    k4 = np.zeros(2)
    tmp = np.zeros(2)
    out = np.zeros(n)
    for t in range(n):
        lv_rhs(u, p, k1)
        for i in range(2):
            tmp[i] = u[i] + 0.5 * h * k1[i]
        lv_rhs(tmp, p, k2)
        for i in range(2):
            tmp[i] = u[i] + 0.5 * h * k2[i]
        lv_rhs(tmp, p, k3)
        for i in range(2):
            tmp[i] = u[i] + h * k3[i]
        lv_rhs(tmp, p, k4)
        for i in range(2):
            u[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        out[t] = u[0]
    return out


def layer_map(x, a):
    # whole-array operations: a product, broadcasting, reductions along axes, joins
    h = np.tanh(a @ x)
    scores = np.outer(h, x) - np.max(a, axis=1, keepdims=True)
    return np.concatenate([h * np.sum(scores, axis=0)[:h.shape[0]], np.cumsum(x) * x])


def whole_array_energy(x, a):
    y = np.tanh(a @ x)
    m = np.max(y)
    return np.log(np.sum(np.exp(y - m))) + m + 0.5 * np.linalg.norm(x) ** 2 \
        + np.prod(np.cos(x) + 2.0) + np.sum(np.linalg.solve(a @ a.T + 3.0 * np.eye(3), y) * y)


def products(x):
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 3), axis=1) ** 2)


def _x(n, lo=-1.0, hi=1.0):
    return np.linspace(lo, hi, n) + 0.05 * np.sin(np.arange(n))


LV_P = np.array([1.1, 0.4, 0.9, 0.3])
LV_U0 = np.array([2.0, 1.5])

# (id, function, args, argnums)
JACOBIAN_CASES = [
    ("ring_7", ring, (_x(7),), 0),
    ("ring_1", ring, (_x(1),), 0),
    ("outer_exp_5x3", outer_exp, (_x(5), _x(3, 0.2, 0.9)), (0, 1)),
    ("polar", polar, (1.2, -0.7), (0, 1)),
    ("polar_y_only", polar, (1.2, -0.7), 1),
    ("scaled_and_norm", scaled_and_norm, (_x(6), 1.7), (0, 1)),
    ("scaled_and_norm_s", scaled_and_norm, (_x(6), 1.7), 1),
    ("decay_trajectory_k", decay_trajectory, (0.8, 1.3, 50), 0),
    ("decay_trajectory_k_y0", decay_trajectory, (0.8, 1.3, 50), (0, 1)),
    ("softmax_10", softmax, (_x(10, -2.0, 2.0),), 0),
    ("energy_50", energy, (_x(50, -2.0, 2.0),), 0),
    ("single", single, (np.array([0.3]),), 0),
    ("banded_12", banded, (_x(12), 2), 0),
    ("lotka_volterra_4_to_30", lotka_volterra, (LV_P, LV_U0, 0.05, 30), 0),
    ("lotka_volterra_all", lotka_volterra, (LV_P, LV_U0, 0.05, 30), (0, 1, 2)),
    ("ring_50", ring, (_x(50),), 0),
    ("layer_map_x", layer_map, (_x(4), np.cos(np.arange(12.0)).reshape(3, 4)), 0),
    ("layer_map_x_a", layer_map, (_x(4), np.cos(np.arange(12.0)).reshape(3, 4)), (0, 1)),
]
jacobian_cases = pytest.mark.parametrize("name, fn, args, argnums", JACOBIAN_CASES,
                                         ids=[c[0] for c in JACOBIAN_CASES])


def _per_output(jac, n_out: int, single_arg: bool) -> list[list[np.ndarray]]:
    """A Jacobian result as [output][argument] arrays."""
    rows = list(jac) if n_out > 1 else [jac]
    return [[np.asarray(r)] if single_arg else [np.asarray(b) for b in r] for r in rows]


@jacobian_cases
def test_jacfwd_equals_jacrev_equals_differences(name, fn, args, argnums):
    outputs = _leaves(fn(*copies(args)))
    n_out = len(outputs)
    single_arg = isinstance(argnums, int)
    jf = jacfwd(fn, argnums=argnums, jit=False)(*copies(args))
    jr = jacrev(fn, argnums=argnums, jit=False)(*copies(args))
    fwd = _per_output(jf, n_out, single_arg)
    rev = _per_output(jr, n_out, single_arg)
    numeric = [_fd_jacobian(fn, copies(args), k) for k in _nums(argnums)]
    assert len(fwd) == len(rev) == n_out
    for o, out in enumerate(outputs):
        assert len(fwd[o]) == len(rev[o]) == len(_nums(argnums))
        for a, k in enumerate(_nums(argnums)):
            shape = out.shape + np.shape(args[k])
            assert fwd[o][a].shape == shape, f"{name} jacfwd out {o} arg {k}"
            assert rev[o][a].shape == shape, f"{name} jacrev out {o} arg {k}"
            _assert_agree(fwd[o][a], rev[o][a], what=f"{name} jacfwd vs jacrev {o},{k}")
            error = _rel_error(fwd[o][a], numeric[a][o])
            assert error < FD_RTOL, f"{name} out {o} arg {k}: rel error {error:.3g}"


@jacobian_cases
def test_dot_product_identity_array_and_tuple_outputs(name, fn, args, argnums):
    rng = _rng(name + "/dot")
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    out, out_dot = jvp(fn, copies(args), v, jit=False)
    _, pullback = vjp(fn, *copies(args), jit=False)
    expected = fn(*copies(args))
    assert isinstance(out, tuple) == isinstance(expected, tuple)
    assert isinstance(out, np.ndarray) == isinstance(expected, np.ndarray)
    _assert_agree(out, expected, rtol=1e-14, what=name)
    w = (tuple(_random_like(np.asarray(o), rng) for o in out) if isinstance(out, tuple)
         else _random_like(out, rng))
    bars = pullback(w)
    lhs, lhs_scale = _inner(out_dot, w)
    rhs, rhs_scale = _inner(tuple(b for b in bars if b is not None),
                            tuple(d for d, a in zip(v, args) if _is_float(a)))
    assert abs(lhs - rhs) <= DOT_RTOL * max(lhs_scale, rhs_scale), (name, lhs, rhs)


def test_jacobian_shapes_follow_jax():
    x = _x(4)
    assert jacfwd(ring, jit=False)(x).shape == (4, 4)
    assert jacfwd(decay_trajectory, jit=False)(0.8, 1.3, 5).shape == (5,)
    j = jacrev(outer_exp, argnums=(0, 1), jit=False)(x, _x(3))
    assert isinstance(j, tuple) and [b.shape for b in j] == [(4, 3, 4), (4, 3, 3)]
    j = jacfwd(polar, argnums=(0, 1), jit=False)(1.0, 2.0)
    assert isinstance(j, tuple) and len(j) == 2 and all(len(r) == 2 for r in j)
    assert all(isinstance(e, float) for r in j for e in r)
    j = jacfwd(scaled_and_norm, jit=False)(x, 2.0)
    assert isinstance(j, tuple) and j[0].shape == (4, 4) and j[1].shape == (4,)


def test_jvp_is_linear_in_the_tangent():
    p = LV_P.copy()
    rng = _rng("linear")
    v1, v2 = rng.normal(size=4), rng.normal(size=4)
    args = (p, LV_U0, 0.05, 20)
    zero = (np.zeros(2), 0.0, 0)
    _, d1 = jvp(lotka_volterra, args, (v1, *zero), jit=False)
    _, d2 = jvp(lotka_volterra, args, (v2, *zero), jit=False)
    _, d12 = jvp(lotka_volterra, args, (2.0 * v1 - 3.0 * v2, *zero), jit=False)
    np.testing.assert_allclose(d12, 2.0 * d1 - 3.0 * d2, rtol=1e-12, atol=1e-12)
    jac = jacfwd(lotka_volterra, jit=False)(*args)
    np.testing.assert_allclose(jac @ v1, d1, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------
# 3. Hessians: forward over reverse
# --------------------------------------------------------------------------------------------


def rosenbrock(x):
    total = 0.0
    for i in range(len(x) - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        total += 100.0 * a * a + b * b
    return total


def gmm_nll(mu, log_w, data):
    # negative log-likelihood of a 1-D Gaussian mixture (unit variances), log-sum-exp in loops
    k_count = len(mu)
    m = log_w[0]
    for k in range(1, k_count):
        m = max(m, log_w[k])
    z = 0.0
    for k in range(k_count):
        z += math.exp(log_w[k] - m)
    log_z = m + math.log(z)
    total = 0.0
    for i in range(len(data)):
        best = -1e300
        for k in range(k_count):
            d = data[i] - mu[k]
            best = max(best, log_w[k] - 0.5 * d * d)
        s = 0.0
        for k in range(k_count):
            d = data[i] - mu[k]
            s += math.exp(log_w[k] - 0.5 * d * d - best)
        total += best + math.log(s) - log_z
    return -total


def oscillator_rhs(y, p, t, dy):
    # damped, driven oscillator x'' = -p0 x - p1 x' + p2 cos(t), written into dy
    dy[0] = y[1]
    dy[1] = -p[0] * y[0] - p[1] * y[1] + p[2] * math.cos(t)


def rk4_loss(p, y0, h, steps):
    # RK4 integration with every stage written into an array; loss against sin(t)
    y = y0.copy()
    k1 = np.zeros(2)
    k2 = np.zeros(2)
    k3 = np.zeros(2)
    k4 = np.zeros(2)
    tmp = np.zeros(2)
    loss = 0.0
    t = 0.0
    for s in range(steps):
        oscillator_rhs(y, p, t, k1)
        for i in range(2):
            tmp[i] = y[i] + 0.5 * h * k1[i]
        oscillator_rhs(tmp, p, t + 0.5 * h, k2)
        for i in range(2):
            tmp[i] = y[i] + 0.5 * h * k2[i]
        oscillator_rhs(tmp, p, t + 0.5 * h, k3)
        for i in range(2):
            tmp[i] = y[i] + h * k3[i]
        oscillator_rhs(tmp, p, t + h, k4)
        for i in range(2):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        t += h
        r = y[0] - math.sin(t)
        loss += h * r * r
    return loss


GMM_MU = np.array([-1.0, 0.5, 2.0])
GMM_LOG_W = np.array([0.2, -0.3, 0.5])
GMM_DATA = np.linspace(-2.0, 3.0, 9) + 0.1 * np.cos(np.arange(9))
RK4_P = np.array([1.5, 0.3, 0.8])
RK4_Y0 = np.array([0.4, -0.2])

# (id, function, args, argnums for the Hessian)
HESSIAN_CASES = [
    ("rosenbrock_100", rosenbrock, (_x(100, -1.2, 1.3),), 0),
    ("gmm_mu", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA), 0),
    ("gmm_mu_log_w", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA), (0, 1)),
    ("rk4_p", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40), 0),
    ("rk4_p_y0_h", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40), (0, 1, 2)),
    ("products_with_a_zero", products, (np.array([0.5, 0.0, -1.2, 0.8, 1.5, -0.7]),), 0),
    ("products", products, (_x(6, 0.3, 1.4),), 0),
    ("whole_array_x", whole_array_energy, (_x(4), np.sin(np.arange(12.0)).reshape(3, 4)), 0),
    ("whole_array_x_a", whole_array_energy, (_x(4), np.sin(np.arange(12.0)).reshape(3, 4)),
     (0, 1)),
]
hessian_cases = pytest.mark.parametrize("name, fn, args, argnums", HESSIAN_CASES,
                                        ids=[c[0] for c in HESSIAN_CASES])


def _full_matrix(blocks, args, nums, single: bool) -> np.ndarray:
    """A Hessian (nested tuples of blocks for several argnums) as one square matrix."""
    sizes = [int(np.size(args[k])) for k in nums]
    if single:
        return np.asarray(blocks).reshape(sizes[0], sizes[0])
    return np.block([[np.asarray(blocks[i][j]).reshape(sizes[i], sizes[j])
                      for j in range(len(nums))] for i in range(len(nums))])


def _fd_hessian(fn, args, nums) -> np.ndarray:
    """Central-difference Jacobian of the reverse-mode gradient (one row per input entry)."""
    flat_grad = _flat_gradient(fn, nums)
    columns = [_fd_jacobian(flat_grad, args, k)[0] for k in nums]
    return np.concatenate([c.reshape(c.shape[0], -1) for c in columns], axis=1)


@hessian_cases
def test_hessian_matches_differences_of_the_gradient(name, fn, args, argnums):
    nums = _nums(argnums)
    single = isinstance(argnums, int)
    h = hessian(fn, argnums=argnums, jit=False)(*copies(args))
    if single:
        assert np.shape(h) == np.shape(args[nums[0]]) * 2
    else:
        assert isinstance(h, tuple) and len(h) == len(nums)
        for i, row in enumerate(h):
            assert isinstance(row, tuple) and len(row) == len(nums)
            for j, block in enumerate(row):
                assert np.shape(block) == np.shape(args[nums[i]]) + np.shape(args[nums[j]])
    full = _full_matrix(h, args, nums, single)
    numeric = _fd_hessian(fn, copies(args), nums)
    error = _rel_error(full, numeric)
    assert error < 1e-6, f"{name}: relative error {error:.3g}"
    asym = float(np.max(np.abs(full - full.T)))
    assert asym <= 1e-10 * float(np.max(np.abs(full))), f"{name}: asymmetry {asym:.3g}"


# (id, function, args): hvp w.r.t. every float argument
HVP_CASES = [
    ("rosenbrock_100", rosenbrock, (_x(100, -1.2, 1.3),)),
    ("gmm", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA)),
    ("rk4", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40)),
]
hvp_cases = pytest.mark.parametrize("name, fn, args", HVP_CASES, ids=[c[0] for c in HVP_CASES])


def _hvp_setup(name, args):
    rng = _rng(name + "/hvp")
    floats = [k for k, a in enumerate(args) if _is_float(a)]
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    return floats, v


@hvp_cases
def test_hvp_matches_differences_of_the_gradient(name, fn, args):
    floats, v = _hvp_setup(name, args)
    products = hvp(fn, copies(args), v, jit=False)
    assert len(products) == len(args)
    numeric = _directional_fd(_flat_gradient(fn, floats), copies(args), v)[0]
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    for k, p in enumerate(products):
        assert (p is None) == (k not in floats)
        if k in floats:
            assert np.shape(p) == np.shape(args[k])
    error = _rel_error(ours, numeric)
    assert error < 1e-6, f"{name}: relative error {error:.3g}"


@hvp_cases
def test_hvp_equals_hessian_times_v(name, fn, args):
    floats, v = _hvp_setup(name, args)
    products = hvp(fn, copies(args), v, jit=False)
    single = len(floats) == 1
    h = hessian(fn, argnums=floats[0] if single else tuple(floats), jit=False)(*copies(args))
    full = _full_matrix(h, args, floats, single)
    vec = np.concatenate([np.ravel(v[k]) for k in floats])
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    _assert_agree(ours, full @ vec, rtol=1e-10, what=name)


def test_rosenbrock_hessian_is_tridiagonal_and_exact():
    # the analytic Hessian of the loop-written Rosenbrock function
    x = _x(100, -1.2, 1.3)
    h = hessian(rosenbrock, jit=False)(x)
    exact = np.zeros((100, 100))
    for i in range(99):
        exact[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        exact[i, i + 1] += -400.0 * x[i]
        exact[i + 1, i] += -400.0 * x[i]
        exact[i + 1, i + 1] += 200.0
    np.testing.assert_allclose(h, exact, rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------------------------
# 4. grad(mode="forward") on functions beyond the corpus
# --------------------------------------------------------------------------------------------

FORWARD_GRAD_CASES = [
    ("rosenbrock_100", rosenbrock, (_x(100, -1.2, 1.3),), 0),
    ("energy_50", energy, (_x(50, -2.0, 2.0),), 0),
    ("gmm", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA), (0, 1, 2)),
    ("rk4", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40), (0, 1, 2)),
]


@pytest.mark.parametrize("name, fn, args, argnums", FORWARD_GRAD_CASES,
                         ids=[c[0] for c in FORWARD_GRAD_CASES])
def test_forward_grad_on_larger_functions(name, fn, args, argnums):
    forward = grad(fn, argnums=argnums, mode="forward", jit=False)(*copies(args))
    reverse = grad(fn, argnums=argnums, jit=False)(*copies(args))
    _assert_agree(forward, reverse, what=name)


# --------------------------------------------------------------------------------------------
# 5. Small shapes that isolate one mechanism each (the smallest failing form of a pattern)
# --------------------------------------------------------------------------------------------


def swap_first_two(x):
    # an array element read into a name, then that element overwritten while the name lives
    y = x.copy()
    t = y[0]
    y[0] = y[1]
    y[1] = t
    return y[0] * 2.0 + y[1]


def read_then_overwrite(x):
    a = x[0]
    x[0] = 3.0 * a
    return a * x[0]


def copy_then_write(x, y0):
    # y is a copy of an argument that is not differentiated, made active by element writes
    y = y0.copy()
    for i in range(len(y)):
        y[i] = y[i] * x
    return y[0] + y[1]


def sin_chain(x):
    # a loop-carried float that reverse mode tapes
    s = 0.0
    for i in range(len(x)):
        s = math.sin(s + x[i])
    return s


@pytest.mark.parametrize("fn, expected", [(swap_first_two, [1.0, 2.0]),
                                          (read_then_overwrite, [12.0, 0.0])],
                         ids=["swap_first_two", "read_then_overwrite"])
def test_tangent_of_an_element_read_survives_a_later_write(fn, expected):
    x = np.array([2.0, 5.0])
    np.testing.assert_allclose(grad(fn, jit=False)(x.copy()), expected, rtol=1e-15)
    np.testing.assert_allclose(jvp(fn, (x.copy(),), (np.eye(2)[0],), jit=False)[1],
                               expected[0], rtol=1e-15)
    np.testing.assert_allclose(jacfwd(fn, jit=False)(x.copy()), expected, rtol=1e-15)
    np.testing.assert_allclose(grad(fn, mode="forward", jit=False)(x.copy()), expected,
                               rtol=1e-15)


def test_forward_mode_through_a_copy_of_an_undifferentiated_argument():
    y0 = np.array([2.0, 3.0])
    assert grad(copy_then_write, jit=False)(1.5, y0) == 5.0
    assert jacrev(copy_then_write, jit=False)(1.5, y0) == 5.0
    assert jacfwd(copy_then_write, jit=False)(1.5, y0) == 5.0
    assert grad(copy_then_write, mode="forward", jit=False)(1.5, y0) == 5.0


def test_hessian_through_a_taped_loop_carried_value():
    x = np.array([0.3, -0.2, 0.5])
    h = hessian(sin_chain, jit=False)(x)
    columns = [hvp(sin_chain, (x,), (e,), jit=False)[0] for e in np.eye(3)]
    np.testing.assert_allclose(h, np.array(columns).T, rtol=1e-12, atol=1e-14)


def test_vjp_of_a_function_that_writes_its_argument():
    # the pullback differentiates at the values passed in, and leaves them untouched
    x = np.array([2.0, 5.0])
    value, pullback = vjp(read_then_overwrite, x, jit=False)
    assert value == 12.0
    np.testing.assert_array_equal(x, [2.0, 5.0])
    np.testing.assert_allclose(pullback(1.0)[0], [12.0, 0.0], rtol=1e-15)


# --------------------------------------------------------------------------------------------
# 6. Numba-compiled against CPython
# --------------------------------------------------------------------------------------------


@pytest.mark.numba
def test_numba_jacfwd_and_jacrev_match_python():
    args = (LV_P, LV_U0, 0.05, 30)
    argnums = (0, 1, 2)
    nb = jacfwd(lotka_volterra, argnums=argnums, jit=True)(*copies(args))
    py = jacfwd(lotka_volterra, argnums=argnums, jit=False)(*copies(args))
    rev_nb = jacrev(lotka_volterra, argnums=argnums, jit=True)(*copies(args))
    rev_py = jacrev(lotka_volterra, argnums=argnums, jit=False)(*copies(args))
    assert [b.shape for b in nb] == [b.shape for b in py] == [(30, 4), (30, 2), (30,)]
    _assert_agree(nb, py, rtol=1e-12, what="jacfwd")
    _assert_agree(rev_nb, rev_py, rtol=1e-12, what="jacrev")
    _assert_agree(rev_nb, nb, rtol=1e-10, what="jacrev vs jacfwd")


@pytest.mark.numba
def test_numba_jvp_matches_python():
    x = _x(10, -2.0, 2.0)
    v = _rng("numba-jvp").normal(size=10)
    out_py, dot_py = jvp(softmax, (x,), (v,), jit=False)
    out_nb, dot_nb = jvp(softmax, (x.copy(),), (v,), jit=True)
    _assert_agree(out_nb, out_py, rtol=1e-14, what="softmax value")
    _assert_agree(dot_nb, dot_py, rtol=1e-12, what="softmax jvp")
    res_py = jvp(polar, (1.2, -0.7), (0.3, 0.9), jit=False)
    res_nb = jvp(polar, (1.2, -0.7), (0.3, 0.9), jit=True)
    _assert_agree(res_nb, res_py, rtol=1e-14, what="polar")


@pytest.mark.numba
@pytest.mark.parametrize("name, fn, args, argnums", [HESSIAN_CASES[0], HESSIAN_CASES[3]],
                         ids=[HESSIAN_CASES[0][0], HESSIAN_CASES[3][0]])
def test_numba_hessian_and_hvp_match_python(name, fn, args, argnums):
    nb = hessian(fn, argnums=argnums, jit=True)(*copies(args))
    py = hessian(fn, argnums=argnums, jit=False)(*copies(args))
    _assert_agree(nb, py, rtol=1e-12, what=name)
    floats, v = _hvp_setup(name, args)
    hv_py = hvp(fn, copies(args), v, jit=False)
    hv_nb = hvp(fn, copies(args), v, jit=True)
    _assert_agree(tuple(hv_nb[k] for k in floats), tuple(hv_py[k] for k in floats),
                  rtol=1e-12, what=name)
