"""Nested derivatives: grad(grad(f)), jacfwd/jacrev of a gradient, gradients called inside
differentiated functions (a trajectory whose force is a gradient, an inner gradient-descent
loop, grad(lambda w: grad(e)(w, x))), against closed forms and central differences; the
composed derivative is one generated module, compiled by Numba too."""

import math
import pickle

import numpy as np
import pytest

from autodiff_compiler import (
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
)
from autodiff_compiler.gradcheck import numerical_grad

JIT = [False, pytest.param(True, marks=pytest.mark.numba)]


def sin_square(x):
    return math.sin(x * x)


def cubes(x):
    return np.sum(x ** 3 * np.exp(-x))


@pytest.mark.parametrize("jit", JIT)
def test_grad_of_grad(jit):
    second = grad(grad(sin_square, jit=jit), jit=jit)
    assert second(1.0) == pytest.approx(2 * math.cos(1.0) - 4 * math.sin(1.0), rel=1e-14)
    third = grad(grad(grad(sin_square, jit=False), jit=False), jit=False)
    h = 1e-4
    expected = (second(1.0 + h) - second(1.0 - h)) / (2 * h)
    assert third(1.0) == pytest.approx(expected, rel=1e-6)
    assert pickle.loads(pickle.dumps(second))(0.5) == second(0.5)


def test_jacobians_of_a_gradient_are_hessians():
    x = np.array([0.5, 1.0, 2.0])
    g = grad(cubes, jit=False)
    expected = hessian(cubes, jit=False)(x)
    np.testing.assert_allclose(jacfwd(g, jit=False)(x), expected, rtol=1e-13)
    np.testing.assert_allclose(jacrev(g, jit=False)(x), expected, rtol=1e-13)
    _, tangent = jvp(g, (x,), (np.ones(3),), jit=False)
    np.testing.assert_allclose(tangent, expected @ np.ones(3), rtol=1e-13)


def potential(q, k):
    return 0.5 * k * np.sum(q * q) + np.sum(q ** 4)


force = grad(potential, jit=False)  # a gradient read as a global


def trajectory(q0, k, n):
    """Symplectic Euler steps; the force is the gradient of the potential."""
    q = q0
    v = np.zeros_like(q0)
    for _ in range(n):
        v = v - 0.01 * force(q, k)
        q = q + 0.01 * v
    return np.sum(q * q)


@pytest.mark.parametrize("jit", [False])  # compiled: the same code as below, long to jit
def test_trajectory_driven_by_a_gradient_differentiated_in_its_start(jit):
    q0 = np.array([0.5, -0.3, 0.1])
    dq0, dk = grad(trajectory, argnums=(0, 1), jit=jit)(q0, 2.0, 30)
    np.testing.assert_allclose(dq0, numerical_grad(lambda q: trajectory(q, 2.0, 30), q0),
                               rtol=1e-7)
    assert dk == pytest.approx(numerical_grad(lambda k: trajectory(q0, k, 30), 2.0), rel=1e-7)


def inner_objective(x, y):
    return (x - y) ** 2 + 0.5 * x ** 4 - x * y ** 3


def after_descent(y, n):
    """min over x by gradient descent, then the objective there: a min-max's outer value."""
    x = 0.0
    for _ in range(n):
        x = x - 0.05 * grad(inner_objective, argnums=0)(x, y)
    return inner_objective(x, y)


@pytest.mark.parametrize("jit", JIT)
def test_differentiating_through_an_inner_descent_loop(jit):
    value, dy = value_and_grad(after_descent, jit=jit)(0.7, 40)
    step = grad(inner_objective, argnums=0, jit=False)

    def reference(y):  # after_descent, with its gradient made once
        x = 0.0
        for _ in range(40):
            x = x - 0.05 * step(x, y)
        return inner_objective(x, y)

    assert value == pytest.approx(reference(0.7), rel=1e-14)
    assert dy == pytest.approx(numerical_grad(reference, 0.7), rel=1e-7)


def test_a_gradient_made_inside_a_lambda():
    x = np.array([1.0, -2.0, 0.5])

    def e(w, data):
        return np.sum(np.sin(w * data) ** 2)

    outer = grad(lambda w: np.sum(grad(e, argnums=0)(w, x) ** 2), jit=False)
    w = np.array([0.3, 0.1, -0.4])
    reference = numerical_grad(lambda v: np.sum(grad(e, jit=False)(v, x) ** 2), w)
    np.testing.assert_allclose(outer(w), reference, rtol=1e-7)


def eigen_energy(a):
    return np.sum(np.linalg.eigvalsh(a) ** 2)


def eigen_force_norm(a):
    force = grad(eigen_energy)(a)  # its derivative code calls our runtime's eigh and products
    return np.sum(force * force)


def test_a_gradient_whose_derivative_code_cannot_be_differentiated_is_refused_at_its_call():
    from autodiff_compiler.errors import UnsupportedOperationError

    a = np.array([[2.0, 0.5], [0.5, 1.0]])
    with pytest.raises(UnsupportedOperationError) as info:
        grad(eigen_force_norm, jit=False)(a)
    message = str(info.value)
    assert "cannot differentiate the gradient of eigen_energy again" in message
    assert f"{__file__}:" in message and "grad(eigen_energy)(a)" in message
