"""custom_vjp and custom_jvp: the user's rules are used (a deliberately scaled rule gives the
scaled gradient), inside loops, on an njit black box we cannot read, in reverse and forward
mode, against central differences, in CPython and compiled by Numba."""

import math
import pickle

import numba
import numpy as np
import pytest

from autodiff_compiler import (
    UnsupportedOperationError,
    custom_jvp,
    custom_vjp,
    grad,
    jvp,
    value_and_grad,
)
from autodiff_compiler.gradcheck import numerical_grad

JIT = [False, pytest.param(True, marks=pytest.mark.numba)]


@custom_vjp
def scaled_sin(x, y):
    return math.sin(x) * y


def _scaled_fwd(x, y):
    return math.sin(x) * y, (math.cos(x), math.sin(x), y)


def _scaled_bwd(residuals, g):
    cos_x, sin_x, y = residuals
    return 3.0 * cos_x * y * g, sin_x * g  # d/dx deliberately 3 times too large


scaled_sin.defvjp(_scaled_fwd, _scaled_bwd)


def uses_scaled(a, b):
    return 2.0 * scaled_sin(a, b) + a


@pytest.mark.parametrize("jit", JIT)
def test_the_users_rule_is_the_one_used(jit):
    value, (da, db) = value_and_grad(uses_scaled, argnums=(0, 1), jit=jit)(0.5, 2.0)
    assert value == pytest.approx(2.0 * math.sin(0.5) * 2.0 + 0.5, rel=1e-15)
    assert da == pytest.approx(2.0 * 3.0 * math.cos(0.5) * 2.0 + 1.0, rel=1e-15)
    assert db == pytest.approx(2.0 * math.sin(0.5), rel=1e-15)  # the honest entry
    assert scaled_sin(0.5, 2.0) == math.sin(0.5) * 2.0  # called from Python: the primal


@numba.njit
def _cube_sum_blackbox(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] ** 3
    return s


@custom_vjp
def cube_sum(x):
    return _cube_sum_blackbox(x)


def _cube_fwd(x):
    return _cube_sum_blackbox(x), x


def _cube_bwd(x, g):
    return (3.0 * x * x * g,)


cube_sum.defvjp(_cube_fwd, _cube_bwd)


def through_blackbox(w, n):
    total = 0.0
    for k in range(n):  # the operands are taped: the reverse sweep calls bwd per step
        total += cube_sum(w * (k + 1.0)) / (k + 1.0)
    return total + np.sum(w)


@pytest.mark.parametrize("jit", JIT)
def test_custom_vjp_on_an_njit_black_box(jit):
    w = np.array([1.0, -0.5, 2.0])
    g = grad(through_blackbox, jit=jit)(w, 3)
    np.testing.assert_allclose(g, numerical_grad(lambda v: through_blackbox(v, 3), w),
                               rtol=1e-8)
    np.testing.assert_allclose(g, sum(3 * (k + 1.0) ** 2 * w ** 2 for k in range(3)) + 1.0,
                               rtol=1e-14)


@custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return np.log1p(np.exp(x)), t / (1.0 + np.exp(-x))


softplus.defjvp(_softplus_jvp)


@custom_jvp
def half_square(x):
    return 0.5 * x * x


def _half_square_jvp(primals, tangents):
    return 0.5 * primals[0] * primals[0], 10.0 * primals[0] * tangents[0]  # scaled: 10x


half_square.defjvp(_half_square_jvp)


def uses_softplus(x, w):
    return np.sum(softplus(x * w)) + half_square(w)


@pytest.mark.parametrize("jit", JIT)
def test_custom_jvp_in_forward_and_reverse_mode(jit):
    x, w = np.array([0.3, -1.0, 2.0]), 1.5
    sig = 1.0 / (1.0 + np.exp(-x * w))
    dx, dw = grad(uses_softplus, argnums=(0, 1), jit=jit)(x, w)
    np.testing.assert_allclose(dx, sig * w, rtol=1e-14)
    assert dw == pytest.approx(np.sum(sig * x) + 10.0 * w, rel=1e-14)  # the rule's 10x
    tx, tw = np.array([1.0, 0.5, -2.0]), 0.25
    _, tangent = jvp(uses_softplus, (x, w), (tx, tw), jit=jit)
    assert tangent == pytest.approx(np.dot(dx, tx) + dw * tw, rel=1e-13)
    forward = grad(uses_softplus, argnums=(0, 1), jit=jit, mode="forward")(x, w)
    np.testing.assert_allclose(forward[0], dx, rtol=1e-14)


def test_honest_rules_match_central_differences():
    x = np.array([0.3, -1.0, 2.0])
    g = grad(lambda v: np.sum(softplus(v) * v), jit=False)(x)
    np.testing.assert_allclose(g, numerical_grad(lambda v: np.sum(np.log1p(np.exp(v)) * v),
                                                 x), rtol=1e-8)


def test_refusals():
    with pytest.raises(UnsupportedOperationError, match="forward-mode"):
        jvp(uses_scaled, (0.5, 2.0), (1.0, 0.0), jit=False)

    @custom_vjp
    def no_rule(x):
        return x * 2.0

    with pytest.raises(TypeError, match="defvjp"):
        grad(lambda x: no_rule(x), jit=False)(1.0)


def test_gradients_using_rules_pickle():
    g = grad(uses_scaled, jit=False)
    assert pickle.loads(pickle.dumps(g))(0.5, 2.0) == g(0.5, 2.0)
    again = pickle.loads(pickle.dumps(scaled_sin))
    assert again(0.5, 2.0) == scaled_sin(0.5, 2.0) and again.rule is not None
