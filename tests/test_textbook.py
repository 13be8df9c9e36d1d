"""Worked examples from the textbook, whose gradients are known exactly.

Each example runs in CPython (jit=False) and, marked `numba`, compiled with Numba.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from autodiff_compiler import grad, value_and_grad

JIT = [pytest.param(False, id="python"), pytest.param(True, id="numba", marks=pytest.mark.numba)]


def difference_of_squares(x1, x2):
    return (x1 + x2) * (x1 - x2)


def sin_of_square(x):
    return math.sin(x * x)


def square_of_sum(x, y):
    return (x + y) ** 2


def square(x):
    return x ** 2


def sum_of_squares(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] ** 2
    return s


@pytest.mark.parametrize("jit", JIT)
def test_difference_of_squares(jit):
    g = grad(difference_of_squares, argnums=(0, 1), jit=jit)(3.0, 2.0)
    assert g == (6.0, -4.0)
    assert all(type(v) is float for v in g)


@pytest.mark.parametrize("jit", JIT)
def test_sin_of_square(jit):
    d = grad(sin_of_square, jit=jit)(1.0)
    assert d == pytest.approx(2.0 * math.cos(1.0), rel=1e-15, abs=1e-15)
    assert d == pytest.approx(1.0806046117362795, rel=1e-15)


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("x, y", [(1.0, 2.0), (-0.75, 0.25), (3.5, -5.0)])
def test_square_of_sum(jit, x, y):
    dx, dy = grad(square_of_sum, argnums=(0, 1), jit=jit)(x, y)
    assert dx == 2.0 * (x + y)
    assert dy == 2.0 * (x + y)


@pytest.mark.parametrize("jit", JIT)
def test_square(jit):
    assert grad(square, jit=jit)(2.0) == 4.0
    value, d = value_and_grad(square, jit=jit)(2.0)
    assert (value, d) == (4.0, 4.0)


@pytest.mark.parametrize("jit", JIT)
def test_sum_of_squares_loop(jit):
    x = np.array([2.0, 3.0])
    g = grad(sum_of_squares, jit=jit)(x)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == (2,)
    assert g.tolist() == [4.0, 6.0]
    assert x.tolist() == [2.0, 3.0]
    value, g2 = value_and_grad(sum_of_squares, jit=jit)(x)
    assert value == 13.0
    assert g2.tolist() == [4.0, 6.0]


# --- grad as a decorator ------------------------------------------------------------


def test_decorator_forms_python():
    @grad(jit=False)
    def f(x):
        return x * x * x

    @grad(argnums=(0, 1), jit=False)
    def h(x, y):
        return (x + y) * (x - y)

    assert f(2.0) == 12.0
    assert h(3.0, 2.0) == (6.0, -4.0)


@pytest.mark.numba
def test_bare_decorator_numba():
    @grad
    def f(x):
        return x * x * x

    @grad(argnums=(0, 1))
    def h(x, y):
        return (x + y) * (x - y)

    assert f.jit and h.jit
    assert f(2.0) == 12.0
    assert h(3.0, 2.0) == (6.0, -4.0)


def test_decorator_keeps_name():
    @grad
    def kinetic_energy(m, v):
        return 0.5 * m * v * v

    assert kinetic_energy.__name__ == "kinetic_energy"
    assert kinetic_energy.__qualname__.endswith("kinetic_energy")


def test_decorator_keeps_docstring():
    # A docstring is the first thing a scientist writes in a function; decorating one must
    # keep it, and must not make the function undifferentiable.
    @grad
    def kinetic_energy(m, v):
        """Kinetic energy 1/2 m v^2."""
        return 0.5 * m * v * v

    @grad(argnums=(0, 1), jit=False)
    def momentum(m, v):
        """Momentum m v."""
        return m * v

    assert kinetic_energy.__name__ == "kinetic_energy"
    assert kinetic_energy.__doc__ == "Kinetic energy 1/2 m v^2."
    assert momentum.__name__ == "momentum"
    assert momentum.__doc__ == "Momentum m v."
    assert momentum(2.0, 3.0) == (3.0, 2.0)


def test_grad_of_function_with_docstring():
    def kinetic_energy(m, v):
        """Kinetic energy 1/2 m v^2."""
        return 0.5 * m * v * v

    g = grad(kinetic_energy, argnums=1, jit=False)
    assert g.__name__ == "kinetic_energy"
    assert g.__doc__ == kinetic_energy.__doc__
    assert g(2.0, 3.0) == 6.0
