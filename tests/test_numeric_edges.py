"""Values and derivatives at the edges of the arithmetic: `and`/`or` of numbers (Python
returns the operand that decided, not a bool), powers at a zero base or a zero exponent.

Each expected derivative is worked out by hand; the points lie where the program's function is
smooth or constant nearby (0**y for y > 0, x**0), so the derivative is exact there, and every
transform (reverse, forward, Hessian) must give it without raising or returning NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from autodiff_compiler import check_grad, grad, value_and_grad
from autodiff_compiler.jacobians import hessian, jvp


def and_or_values(x, y):
    # (x and y) is y when x is truthy, else x; (x or y) is x when x is truthy, else y.
    return (x and y) * 2.0 + (x or y)


def and_or_chain(x, y, z):
    return (x and y and z) + (0.0 or x or y) * z


def and_or_in_condition(x, y):
    if x and y > 1.0:
        return x * y
    return x - y


def and_of_compare_and_number(x, y):
    # `x > 0 and y` is False (0.0 as a number) or y
    return (x > 0.0 and y) * x


def exponent_of_zero_base(y):
    return 0.0 ** y + 2.0 ** y


def power_of_argument(x, y):
    return x ** y


def int_power(x, n):
    return x ** n


def array_power(x, y):
    return np.sum(x ** y)


@pytest.mark.parametrize("args, value, gradient", [
    ((0.5, 1.5), 3.5, (1.0, 2.0)),
    ((-0.5, 1.5), 2.5, (1.0, 2.0)),
])
def test_and_or_give_the_deciding_operand(args, value, gradient):
    v, g = value_and_grad(and_or_values, argnums=(0, 1), jit=False)(*args)
    assert v == pytest.approx(and_or_values(*args)) == value
    assert g == pytest.approx(gradient)
    assert grad(and_or_values, argnums=(0, 1), jit=False, mode="forward")(*args) == \
        pytest.approx(gradient)


@pytest.mark.parametrize("fn, args, argnums", [
    (and_or_values, (0.5, 1.5), (0, 1)),
    (and_or_chain, (0.5, 1.5, 0.7), (0, 1, 2)),
    (and_or_chain, (0.0, 1.5, 0.7), (1, 2)),
    (and_or_in_condition, (0.5, 1.5), (0, 1)),
    (and_or_in_condition, (0.5, 0.5), (0, 1)),
    (and_of_compare_and_number, (0.5, 1.5), (0, 1)),
    (and_of_compare_and_number, (-0.5, 1.5), (0, 1)),
])
def test_and_or_values_match_python(fn, args, argnums):
    value, _ = value_and_grad(fn, argnums=argnums, jit=False)(*args)
    assert value == pytest.approx(float(fn(*args)), rel=1e-14)
    assert check_grad(fn, *args, argnums=argnums) < 1e-7


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_exponent_derivative_at_a_zero_base(mode):
    # 0**y is 0 for every y > 0: its derivative is 0 there, not 0 * log(0)
    g = grad(exponent_of_zero_base, jit=False, mode=mode)(1.5)
    assert g == pytest.approx(2.0 ** 1.5 * math.log(2.0))
    assert grad(power_of_argument, argnums=(0, 1), jit=False, mode=mode)(0.0, 2.5) == (0.0, 0.0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_base_derivative_of_a_zero_exponent(mode):
    # x**0 is 1 for every x: its derivative is 0 at x = 0 too (not 0 * 0**-1)
    assert grad(int_power, jit=False, mode=mode)(0.0, 0) == 0.0
    assert grad(int_power, jit=False, mode=mode)(0.0, 1) == 1.0
    assert grad(power_of_argument, jit=False, mode=mode)(0.0, 0.0) == 0.0
    assert grad(int_power, jit=False, mode=mode)(-1.3, 3) == pytest.approx(3 * 1.3 ** 2)


def test_power_hessians_at_zero():
    assert hessian(int_power, jit=False)(0.0, 1) == 0.0
    assert hessian(int_power, jit=False)(0.0, 2) == 2.0
    assert hessian(int_power, jit=False)(0.0, 0) == 0.0
    x = np.array([0.0, 1.0])
    g = grad(array_power, argnums=(0, 1), jit=False)(x, np.array([2.0, 0.0]))
    np.testing.assert_array_equal(g[0], [0.0, 0.0])
    np.testing.assert_array_equal(g[1], [0.0, 0.0])
    _, tangent = jvp(array_power, (x, np.array([2.0, 0.0])), (np.ones(2), np.ones(2)),
                     jit=False)
    assert tangent == 0.0


@pytest.mark.numba
def test_numba_powers_at_zero_are_finite():
    assert grad(int_power, jit=True)(0.0, 0) == 0.0
    assert grad(power_of_argument, argnums=(0, 1), jit=True)(0.0, 2.5) == (0.0, 0.0)
    value, g = value_and_grad(and_or_values, argnums=(0, 1), jit=True)(0.5, 1.5)
    assert (value, g) == (3.5, (1.0, 2.0))
