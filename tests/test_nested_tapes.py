"""Nested derivatives through inner gradients of functions with loops (whose adjoint keeps a
tape, one that grows included): the call of the inner gradient is differentiated by
Hessian-vector products of its function (nested.GradientCall). Checked against central
differences of the gradient, forward against reverse (<jvp(v), w> == <v, vjp(w)>), Numba
against CPython."""

import math
import pickle

import numpy as np
import pytest

from autodiff_compiler import (
    UnsupportedOperationError,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
    vmap,
)
from autodiff_compiler.gradcheck import numerical_grad

JIT = [False, pytest.param(True, marks=pytest.mark.numba)]


def pair_potential(q, n):
    """Soft repulsion between every pair of particles: the reverse sweep of the pair loop
    reads a tape (the running energy is carried through a product with the pair's term)."""
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r2 = (q[i] - q[j]) ** 2 + 0.5
            e = e * (0.9 + 0.1 / r2) + 1.0 / r2
    return e


pair_force = grad(pair_potential, jit=False)


def pair_trajectory(q0, n, steps):
    """Symplectic Euler steps driven by the gradient of the pair potential."""
    q = q0.copy()
    v = np.zeros(n)
    for _ in range(steps):
        v = v - 0.05 * pair_force(q, n)
        q = q + 0.05 * v
    return np.sum(q * q) + np.sum(q * v)


Q0 = np.array([0.1, 0.45, 1.2, 2.0])


def test_the_inner_gradient_keeps_a_tape():
    pair_force(Q0, 4)
    assert pair_force.specializations.last.adjoint.tape_kinds


@pytest.mark.parametrize("jit", JIT)
def test_trajectory_whose_force_is_the_gradient_of_a_looping_potential(jit):
    dq0 = grad(pair_trajectory, jit=jit)(Q0, 4, 6)
    np.testing.assert_allclose(dq0, numerical_grad(lambda q: pair_trajectory(q, 4, 6), Q0),
                               rtol=1e-7, atol=1e-9)


def test_trajectory_forward_against_reverse():
    value = pair_trajectory(Q0, 4, 6)
    v, w = np.array([0.3, -1.0, 0.5, 0.2]), 1.7
    out, out_dot = jvp(pair_trajectory, (Q0, 4, 6), (v, 0, 0), jit=False)
    out2, pullback = vjp(pair_trajectory, Q0, 4, 6, jit=False)
    assert out == pytest.approx(value, rel=1e-14) and out2 == pytest.approx(value, rel=1e-14)
    assert out_dot * w == pytest.approx(np.dot(v, pullback(w)[0]), rel=1e-12)


def test_other_transforms_of_a_function_calling_a_looping_gradient():
    g = grad(pair_trajectory, jit=False)
    expected = g(Q0, 4, 3)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(g))(Q0, 4, 3), expected)
    batch = vmap(g, in_axes=(0, None, None))(np.stack([Q0, Q0 + 0.1]), 4, 3)
    np.testing.assert_allclose(batch, [expected, g(Q0 + 0.1, 4, 3)], rtol=1e-14)
    np.testing.assert_allclose(jacrev(pair_trajectory, jit=False)(Q0, 4, 3), expected,
                               rtol=1e-13)


def inner_objective(y, x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.5 + (y[i] - x * (i + 1)) ** 2 + 0.1 * y[i] ** 4
    return s


def saddle_value(x, n):
    """min over y by gradient descent (the inner objective loops), then x against it."""
    y = np.zeros(n)
    for _ in range(25):
        y = y - 0.1 * grad(inner_objective)(y, x, n)
    value, _ = value_and_grad(inner_objective)(y, x, n)  # the inner objective at y
    return x * np.sum(y) - value


@pytest.mark.parametrize("jit", [False])  # compiled: see the tests above
def test_saddle_point_through_an_inner_descent_loop_whose_objective_loops(jit):
    d = grad(saddle_value, jit=jit)(0.7, 3)
    assert d == pytest.approx(numerical_grad(lambda x: saddle_value(x, 3), 0.7), rel=1e-7)
    _, d_forward = jvp(saddle_value, (0.7, 3), (1.0, 0), jit=jit)
    assert d_forward == pytest.approx(d, rel=1e-12)


def stepped(x, n):
    s = x
    for _ in range(n):
        s = math.sin(s) * x
    return s


@pytest.mark.parametrize("jit", JIT)
def test_grad_of_grad_of_a_loop_with_a_tape(jit):
    first = grad(stepped, jit=jit)
    second = grad(first, jit=jit)
    h = 1e-5
    expected = (first(0.6 + h, 5) - first(0.6 - h, 5)) / (2 * h)
    assert second(0.6, 5) == pytest.approx(expected, rel=1e-7)

    def uses(x):  # called inside a differentiated function
        return grad(stepped)(x, 5) * x

    assert grad(uses, jit=jit)(0.6) == pytest.approx(
        second(0.6, 5) * 0.6 + first(0.6, 5), rel=1e-13)


def running_product(x, n):
    s = 1.0
    for i in range(n):
        s = s * np.cos(x[i]) + x[i] ** 3
    return s


@pytest.mark.parametrize("jit", [False])  # compiled: see the tests above
def test_jacobians_and_hessian_of_a_gradient_with_a_tape(jit):
    x = np.array([0.3, 0.8, 1.1])
    g = grad(running_product, jit=jit)
    h = 1e-6
    expected = np.array([(g(x + h * e, 3) - g(x - h * e, 3)) / (2 * h)
                         for e in np.eye(3)]).T
    forward = jacfwd(g, jit=jit)(x, 3)
    np.testing.assert_allclose(forward, expected, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(jacrev(g, jit=jit)(x, 3), forward, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(hessian(running_product, jit=jit)(x, 3), forward, rtol=1e-13,
                               atol=1e-14)


def grows(x):
    s = 0.0
    while s < 10.0:
        s = s + x * s + 1.0
    return s


@pytest.mark.parametrize("jit", [False])  # compiled: see the tests above
def test_inner_gradient_whose_tape_grows_in_a_while_loop(jit):
    first = grad(grows, jit=False)

    def uses(x):
        return grad(grows)(x) * x

    h = 1e-6
    second = (first(0.3 + h) - first(0.3 - h)) / (2 * h)
    assert grad(uses, jit=jit)(0.3) == pytest.approx(second * 0.3 + first(0.3), rel=1e-7)
    _, tangent = jvp(uses, (0.3,), (1.0,), jit=jit)
    assert tangent == pytest.approx(grad(uses, jit=jit)(0.3), rel=1e-12)


def test_third_derivatives_through_a_loop_are_refused_with_the_reason():
    second = grad(grad(stepped, jit=False), jit=False)
    with pytest.raises(UnsupportedOperationError, match="third derivative through a loop"):
        grad(second, jit=False)(0.6, 5)
    with pytest.raises(UnsupportedOperationError,
                       match="third derivative through a function with loops") as info:
        hessian(pair_trajectory, jit=False)(Q0, 4, 2)
    assert "pair_force(q, n)" in str(info.value)  # the line of the inner gradient's call


def chained(a, b, c):
    s = 0.0
    for i in range(a.shape[0]):
        s = s * np.tanh(b[i]) + a[i] * b[i] * c
    return s


def uses_several_argnums(a, b, c):
    da, dc = grad(chained, argnums=(0, 2))(a, b, c)
    value, db = value_and_grad(chained, argnums=1)(a, b, c)
    return np.sum(da * db) + dc * value


def test_inner_gradients_of_several_arguments_and_with_their_value():
    args = (np.array([0.3, -0.2, 0.5]), np.array([0.7, 0.1, -0.4]), 1.3)
    grads = grad(uses_several_argnums, argnums=(0, 1, 2), jit=False)(*args)
    for k, gradient in enumerate(grads):
        def moved(z, k=k):
            return uses_several_argnums(*args[:k], z, *args[k + 1:])

        np.testing.assert_allclose(gradient, numerical_grad(moved, args[k]), rtol=1e-7,
                                   atol=1e-9)
    v = (np.array([1.0, -0.5, 0.2]), np.array([0.3, 0.0, 1.0]), 0.5)
    _, tangent = jvp(uses_several_argnums, args, v, jit=False)
    assert tangent == pytest.approx(sum(np.sum(g * t) for g, t in zip(grads, v)), rel=1e-12)
