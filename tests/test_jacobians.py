"""Jacobians of functions R^n -> R^m: jacfwd == jacrev == central differences.

* jacfwd == jacrev == the central-difference Jacobian on functions R^n -> R^m (n, m from 1
  to 50; array outputs written in loops, 2-D outputs, tuple outputs, several argnums, whole
  array operations);
* the dot-product test <jvp(x; v), w> == <v, vjp(x; w)> on their array and tuple outputs;
* the shapes of the results (as jax's), and jvp linear in the tangent (jacfwd @ v == jvp).

Everything runs the generated source in CPython (jit=False) except the tests marked numba,
which compile with Numba and compare with CPython.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from checks import copies
from forward_fixtures import (
    DOT_RTOL,
    FD_RTOL,
    _assert_agree,
    _fd_jacobian,
    _inner,
    _is_float,
    _leaves,
    _nums,
    _random_like,
    _rel_error,
    _rng,
    _x,
    energy,
)

from autodiff_compiler import jacfwd, jacrev, jvp, vjp

# --------------------------------------------------------------------------------------------
# 1. Functions R^n -> R^m: jacfwd == jacrev == central differences
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
# 2. Numba-compiled against CPython
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
