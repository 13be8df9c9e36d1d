"""Array element writes, array creation and calls of other Python functions (inlined).

Every case: the gradient against central differences (relative error < 1e-7), the value
against the plain function, and the caller's arrays left untouched - also when the function
writes into its own array arguments, whose gradient is then w.r.t. the values passed in.
Several cases are shapes other AD tools got wrong, e.g. Taichi #8802 (a loop-carried
dependency through an array element read in the next iteration).

A function that writes into its arguments is run by the numerical check on copies, so each
evaluation sees the values passed in (as the compiled gradient does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from checks import as_tuple, assert_untouched, copies, on_copies

from autodiff_compiler import check_grad, grad, numerical_grad, value_and_grad
from autodiff_compiler.gradcheck import relative_error

TOL = 1e-7


# --- helpers (called from the differentiated functions; inlined) -----------------------------

def sin_times(v):
    return math.sin(v) * v


def inner(a, b):
    return a * math.exp(-0.5 * b)


def middle(a, b):
    return inner(a, b) + 0.5 * inner(b, a)


def outer(a, b):
    return middle(a, b) * middle(b, 0.3) - inner(a, a)


def poly(c, t, m):
    # Horner: c[0] + c[1] t + ... + c[m-1] t^(m-1)
    r = 0.0
    for k in range(m - 1, -1, -1):
        r = r * t + c[k]
    return r


def soft_clip(v, lo=0.0, hi=1.0):
    if v < lo:
        return lo + 0.1 * (v - lo)
    if v > hi:
        return hi + 0.1 * (v - hi)
    return v * v


def first_above(x, n, t):
    # an early return inside a loop of a helper
    for i in range(n):
        if x[i] > t:
            return x[i] * x[i] * t
    return t


def rhs(y, forcing, dy):
    # a damped, driven pendulum written into dy (returns nothing)
    dy[0] = y[1]
    dy[1] = -forcing[0] * math.sin(y[0]) - forcing[1] * y[1] + forcing[2]


def axpy(out, y, a, d):
    # out = y + a * d
    for i in range(len(y)):
        out[i] = y[i] + a * d[i]


def scale_into(dst, src, c):
    for i in range(len(src)):
        dst[i] = c * src[i]
    dst[0] += c


def fill_squares(a, x, n):
    # two levels: a helper that writes, calling a helper that computes
    for i in range(n):
        a[i] = sin_times(x[i]) + x[i] * x[i]


# --- the differentiated functions -------------------------------------------------------------

def overwrite_same_element(x, n):
    # each element of y is written five times per iteration and read in between
    y = np.zeros(n)
    s = 0.0
    for i in range(n):
        y[i] = x[i] * x[i]
        y[i] = y[i] + math.sin(x[i])
        s += y[i] * x[i]
        y[i] = 3.0 * y[i] - x[i]
        y[i] *= x[i]
        y[i] -= 0.5 * s
    t = 0.0
    for i in range(n):
        t += y[i] * y[i]
    return s + t


def overwrite_accumulator_element(x, n):
    # the same two elements are overwritten in every iteration
    acc = np.zeros(2)
    for i in range(n):
        acc[0] = acc[0] * 0.5 + x[i]
        acc[1] += acc[0] * x[i]
        acc[0] = math.sin(acc[0])
        acc[1] = acc[1] * acc[0]
    return acc[0] + acc[1]


def read_after_write(x, n):
    # writes into its own argument and reads the element right after writing it
    s = 0.0
    for i in range(n):
        x[i] = x[i] * x[i] + 1.0
        s += math.log(x[i])
        x[i] = s * x[i]
        s += x[i]
    return s + x[0]


def product_in_place(x, n):
    a = np.ones(n)
    for k in range(3):
        for i in range(n):
            a[i] *= x[i] + 0.5 * k
    p = 1.0
    for i in range(n):
        p *= a[i]
    return p


def product_into_argument(a, x, n):
    # a[i] *= x[i] on the argument a: the gradient w.r.t. a is w.r.t. the values passed in
    for k in range(2):
        for i in range(n):
            a[i] *= x[i]
    s = 0.0
    for i in range(n):
        s += a[i] * a[i]
    return s


def matrix_sub(a, x):
    # 2-D a[i, j] -= ... on the argument, reading a neighbour that may already be updated
    m = a.shape[0]
    n = a.shape[1]
    for i in range(m):
        for j in range(n):
            a[i, j] -= x[j] * a[i, (j + n - 1) % n]
    s = 0.0
    for i in range(m):
        for j in range(n):
            s += a[i, j] * a[i, j] * (i + 1)
    return s


def matrix_local(a, x):
    # a local 2-D array built with +=, -= and *= then reduced
    m = a.shape[0]
    n = a.shape[1]
    b = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            b[i, j] += a[i, j] * x[j]
            b[i, j] -= math.cos(a[i, j])
            b[i, j] *= x[(i + j) % n]
    s = 0.0
    for i in range(m):
        for j in range(n):
            s += b[i, j] * a[i, j]
    return s


def recurrence(x, w, n):
    # Taichi #8802: y[i] depends on y[i-1], written in the previous iteration
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = y[i - 1] * w + x[i]
    return y[n - 1] * y[n - 1]


def recurrence_in_place(x, w, n):
    # the same dependency through the argument itself
    for i in range(1, n):
        x[i] = math.tanh(x[i - 1] * w + x[i])
    return x[n - 1] + 0.5 * x[n - 2]


def recurrence_two_back(x, n):
    y = np.zeros(n)
    y[0] = x[0]
    y[1] = x[1]
    for i in range(2, n):
        y[i] = y[i - 1] * y[i - 2] * 0.5 + x[i]
        y[i - 1] = y[i - 1] + 0.1 * y[i]  # an element read later is overwritten too
    s = 0.0
    for i in range(n):
        s += y[i]
    return s


def fill_then_reduce(x, n):
    sq = np.empty(n)
    cs = np.zeros_like(x)
    for i in range(n):
        sq[i] = x[i] * x[i]
        cs[i] = math.cos(x[i])
    s = 0.0
    for i in range(n):
        s += sq[i] * cs[n - 1 - i]
    return s


def full_active(x, n):
    # the fill value depends on x: also elements never overwritten carry its gradient
    a = np.full(n, x[0] * 2.0)
    for i in range(1, n):
        a[i] += x[i]
    b = np.full((2, n), x[1])
    b[0, 0] = 0.0
    s = 0.0
    for i in range(n):
        s += a[i] * a[i] + b[1, i] * x[i] + b[0, i]
    return s


def full_scalar(c, x):
    a = np.full(3, c)
    a[1] *= x
    return a[0] * a[1] + a[2] * c


def like_creators(x, n):
    a = np.ones_like(x)
    b = np.full_like(x, x[0])
    c = np.empty_like(x)
    for i in range(n):
        a[i] += x[i]
        c[i] = a[i] * b[i]
    s = 0.0
    for i in range(n):
        s += c[i] * a[i]
    return s


def copy_then_modify(x, n):
    y = x.copy()
    z = np.copy(x)
    for i in range(1, n):
        y[i] = y[i] * y[i - 1]
        z[i] += math.sin(y[i])
    s = 0.0
    for i in range(n):
        s += y[i] + z[i] * x[i]
    return s


def write_own_argument(x, n):
    # the caller's x must stay as it was; the gradient is w.r.t. the values passed in
    for i in range(1, n):
        x[i] += x[i - 1] * x[i]
    return x[n - 1]


def write_argument_not_differentiated(buf, x, n):
    # buf (not differentiated) is overwritten with active values
    for i in range(n):
        buf[i] = buf[i] * x + math.sin(x * i)
    s = 0.0
    for i in range(n):
        s += buf[i] * buf[i]
    return s


def helper_many_places(x, n):
    s = sin_times(x[0])
    for i in range(n):
        s += sin_times(x[i]) * sin_times(0.1 * s)
    if s > 0.0:
        s = s + sin_times(x[1])
    return s + sin_times(s)


def helper_levels(x, y):
    return outer(x, y) + middle(y, x)


def helper_loop(c, t):
    return poly(c, t, len(c)) * poly(c, 0.5 * t, 2)


def helper_early_return(x, n):
    s = 0.0
    for i in range(n):
        s += soft_clip(x[i]) + soft_clip(x[i], -0.5) + soft_clip(x[i], -2.0, 0.1)
    return s + first_above(x, n, 0.7)


def helper_fills_output(x, n):
    a = np.zeros(n)
    fill_squares(a, x, n)
    b = np.zeros(n)
    scale_into(b, a, x[0])
    s = 0.0
    for i in range(n):
        s += a[i] * b[i]
    return s


def helper_writes_argument(x, n):
    # the helper writes into the differentiated function's own argument
    scale_into(x, x, 1.5)
    return x[0] * x[n - 1]


def rk4(y0, forcing, h, steps):
    y = y0.copy()
    k1 = np.zeros(2)
    k2 = np.zeros(2)
    k3 = np.zeros(2)
    k4 = np.zeros(2)
    tmp = np.zeros(2)
    for s in range(steps):
        rhs(y, forcing, k1)
        axpy(tmp, y, 0.5 * h, k1)
        rhs(tmp, forcing, k2)
        axpy(tmp, y, 0.5 * h, k2)
        rhs(tmp, forcing, k3)
        axpy(tmp, y, h, k3)
        rhs(tmp, forcing, k4)
        for i in range(2):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
    return y[0] * y[0] + 0.5 * y[1]


def writes_in_branches(x, n):
    y = np.ones(n)
    for i in range(n):
        if x[i] > 0.5:
            y[i] = x[i] * x[i]
        else:
            y[i] *= math.exp(x[i])
        if i > 0 and y[i - 1] > 0.6:
            y[i - 1] -= 0.5 * y[i]
    s = 0.0
    for i in range(n):
        s += y[i] * x[i]
    return s


def writes_in_while_with_break(x, n):
    y = np.zeros(n)
    k = 0
    while k < n:
        y[k] = x[k] * x[k]
        if y[k] > 0.3:
            break
        k += 1
    s = 0.0
    for i in range(n):
        s += y[i]
    return s


def reversed_and_negative_indices(x, n):
    y = x.copy()
    for i in range(n):
        y[n - 1 - i] = y[n - 1 - i] * x[i] * (i + 1)
        y[i] += y[n - 1 - i]
    y[-1] = y[0] * y[-1]
    y[-2] *= y[-1]
    return y[-1] + y[-2] + y[1]


def heat_in_place(u, n, steps):
    # explicit time stepping written into the argument; un holds the previous step
    un = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            un[i] = u[i]
        for i in range(1, n - 1):
            u[i] = un[i] + 0.2 * (un[i - 1] - 2.0 * un[i] + un[i + 1]) + 0.05 * un[i] * un[i]
    s = 0.0
    for i in range(n):
        s += u[i] * u[i] * (i + 1)
    return s


def alias_then_write(x, n):
    y = x
    for i in range(n):
        y[i] = y[i] * y[i]
    return x[0] + y[1] * x[2]


def make_pair(v):
    a = np.zeros(2)
    a[0] = v * 2.0
    a[1] = v * v
    return a


def sum_and_product(a, b):
    return a + b, a * b


WEIGHT = 10.0


def scaled_by_global(v):
    return v * WEIGHT


def rebinds_parameter(s):
    s = s * 2.0
    return s


def helper_scoping(x, y):
    # the helper's parameter and global do not leak into the caller's names, and back
    WEIGHT = 2.0
    s = x + 1.0
    t = rebinds_parameter(s)
    p, q = sum_and_product(s, y)
    a = make_pair(x)
    return s * t + scaled_by_global(x) * WEIGHT + p * q + a[0] * a[1]


def make_closure(c, w):
    def closure(x, n):
        s = 0.0
        for i in range(n):
            s += c * x[i] * w[i] + sin_times(x[i] * c)
        return s

    return closure


CAPTURED_W = np.array([0.5, -1.0, 2.0, 0.25, 3.0])
closure_number_array = make_closure(1.25, CAPTURED_W.copy())

WEIGHTS = np.array([0.5, -1.0, 2.0, 0.25, 3.0])
WEIGHTS_SAVED = WEIGHTS.copy()


def global_constant_array(x, n):
    s = 0.0
    for i in range(n):
        s += WEIGHTS[i] * x[i] * x[i] + WEIGHTS[n - 1 - i] * math.sin(x[i])
    return s


def global_array_via_helper(x, n):
    return poly(WEIGHTS, x[0], n) + poly(x, WEIGHTS[1], n)


# --- cases ------------------------------------------------------------------------------------

def _x(n=5, lo=0.15, hi=0.85):
    return np.linspace(lo, hi, n) + 0.01 * np.sin(np.arange(n))


@dataclass
class Case:
    id: str
    fn: Callable
    make_args: Callable
    argnums: object = 0

    def fresh_args(self):
        return self.make_args()


CASES = [
    Case("overwrite_same_element", overwrite_same_element, lambda: (_x(), 5)),
    Case("overwrite_accumulator_element", overwrite_accumulator_element, lambda: (_x(6), 6)),
    Case("read_after_write", read_after_write, lambda: (_x(), 5)),
    Case("product_in_place", product_in_place, lambda: (_x(4), 4)),
    Case("product_into_argument", product_into_argument, lambda: (_x(4) + 0.5, _x(4), 4),
         (0, 1)),
    Case("matrix_sub", matrix_sub,
         lambda: (np.arange(1.0, 13.0).reshape(3, 4) / 7.0, _x(4)), (0, 1)),
    Case("matrix_local", matrix_local,
         lambda: (np.arange(1.0, 13.0).reshape(4, 3) / 9.0, _x(3)), (0, 1)),
    Case("recurrence", recurrence, lambda: (_x(6), 0.9, 6), (0, 1)),
    Case("recurrence_in_place", recurrence_in_place, lambda: (_x(6), 0.7, 6), (0, 1)),
    Case("recurrence_two_back", recurrence_two_back, lambda: (_x(6) + 0.5, 6)),
    Case("fill_then_reduce", fill_then_reduce, lambda: (_x(), 5)),
    Case("full_active", full_active, lambda: (_x(), 5)),
    Case("full_scalar", full_scalar, lambda: (0.7, 1.3), (0, 1)),
    Case("like_creators", like_creators, lambda: (_x(), 5)),
    Case("copy_then_modify", copy_then_modify, lambda: (_x() + 0.5, 5)),
    Case("write_own_argument", write_own_argument, lambda: (_x(), 5)),
    Case("write_argument_not_differentiated", write_argument_not_differentiated,
         lambda: (_x(4), 0.6, 4), 1),
    Case("write_argument_both", write_argument_not_differentiated,
         lambda: (_x(4), 0.6, 4), (0, 1)),
    Case("helper_many_places", helper_many_places, lambda: (_x(), 5)),
    Case("helper_levels", helper_levels, lambda: (0.7, 1.3), (0, 1)),
    Case("helper_loop", helper_loop, lambda: (_x(4), 0.8), (0, 1)),
    Case("helper_early_return", helper_early_return,
         lambda: (np.array([-0.8, -0.3, 0.2, 0.55, 0.9, 1.4]), 6)),
    Case("helper_fills_output", helper_fills_output, lambda: (_x(), 5)),
    Case("helper_writes_argument", helper_writes_argument, lambda: (_x(), 5)),
    Case("rk4", rk4, lambda: (np.array([0.8, -0.2]), np.array([1.5, 0.3, 0.4]), 0.05, 20),
         (0, 1, 2)),
    Case("writes_in_branches", writes_in_branches,
         lambda: (np.array([0.2, 0.7, 0.35, 0.9, 0.55, 0.1]), 6)),
    Case("writes_in_while_with_break", writes_in_while_with_break, lambda: (_x(), 5)),
    Case("reversed_and_negative_indices", reversed_and_negative_indices, lambda: (_x(), 5)),
    Case("heat_in_place", heat_in_place, lambda: (_x(6), 6, 4)),
    Case("alias_then_write", alias_then_write, lambda: (_x(4), 4)),
    Case("helper_scoping", helper_scoping, lambda: (0.7, 1.3), (0, 1)),
    Case("closure_number_array", closure_number_array, lambda: (_x(), 5)),
    Case("global_constant_array", global_constant_array, lambda: (_x(), 5)),
    Case("global_array_via_helper", global_array_via_helper, lambda: (_x(), 5)),
]

cases = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
BY_ID = {c.id: c for c in CASES}




def test_case_ids_are_unique():
    assert len(BY_ID) == len(CASES)


@cases
def test_gradient_matches_central_differences(case: Case):
    args = case.fresh_args()
    analytic = grad(case.fn, argnums=case.argnums, jit=False)(*args)
    assert_untouched(case.fresh_args(), args)
    numeric = numerical_grad(on_copies(case.fn), *args, argnums=case.argnums)
    error = relative_error(as_tuple(analytic, case.argnums), as_tuple(numeric, case.argnums))
    assert error < TOL, f"{case.id}: relative error {error:.3g}\n{analytic}\n{numeric}"
    for a, n in zip(as_tuple(analytic, case.argnums), as_tuple(numeric, case.argnums)):
        assert type(a) is type(n)
        assert np.shape(a) == np.shape(n)
    assert_untouched(case.fresh_args(), args)


@cases
def test_check_grad_agrees(case: Case):
    """check_grad itself (it evaluates f on fresh copies, so writes into arguments are fine)."""
    args = case.fresh_args()
    saved = copies(args)
    error = check_grad(case.fn, *args, argnums=case.argnums, jit=False)
    assert error < TOL, f"{case.id}: relative error {error:.3g}"
    assert_untouched(saved, args)


@cases
def test_value_matches_plain_function(case: Case):
    args = case.fresh_args()
    expected = case.fn(*copies(args))
    value, _ = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert_untouched(case.fresh_args(), args)


# --- targeted checks with known answers -------------------------------------------------------

def fourth_power_in_place(x):
    x[0] = x[0] * x[0]
    x[0] = x[0] * x[0]
    return x[0] + x[1]


def test_in_place_gradient_is_wrt_input_values():
    x = np.array([1.5, 2.0])
    g = grad(fourth_power_in_place, jit=False)(x)
    np.testing.assert_allclose(g, [4.0 * 1.5 ** 3, 1.0], rtol=1e-14)
    np.testing.assert_array_equal(x, [1.5, 2.0])
    # calling again gives the same answer: nothing was left behind in x
    np.testing.assert_allclose(grad(fourth_power_in_place, jit=False)(x), g, rtol=0)


def test_recurrence_matches_closed_form():
    # y[n-1] = sum_i w^(n-1-i) x[i]; f = y^2
    n, w = 6, 0.9
    x = _x(n)
    y = sum(w ** (n - 1 - i) * x[i] for i in range(n))
    gx, gw = grad(recurrence, argnums=(0, 1), jit=False)(x, w, n)
    np.testing.assert_allclose(gx, [2.0 * y * w ** (n - 1 - i) for i in range(n)], rtol=1e-13)
    dy_dw = sum((n - 1 - i) * w ** (n - 2 - i) * x[i] for i in range(n - 1))
    assert gw == pytest.approx(2.0 * y * dy_dw, rel=1e-13)


def test_full_fill_value_reaches_every_element():
    # a = full(3, c); a[1] *= x; f = a0 * a1 + a2 * c = c^2 x + c^2
    gc, gx = grad(full_scalar, argnums=(0, 1), jit=False)(0.7, 1.3)
    assert gc == pytest.approx(2.0 * 0.7 * 1.3 + 2.0 * 0.7, rel=1e-14)
    assert gx == pytest.approx(0.7 ** 2, rel=1e-14)


def test_helper_writing_into_caller_argument_leaves_it_alone():
    x = _x()
    saved = x.copy()
    value, g = value_and_grad(helper_writes_argument, jit=False)(x, 5)
    np.testing.assert_array_equal(x, saved)
    expected = np.zeros(5)
    # x0' = 1.5 x0 + 1.5, x4' = 1.5 x4: f = (1.5 x0 + 1.5) * 1.5 x4
    expected[0] = 1.5 * 1.5 * x[4]
    expected[4] = (1.5 * x[0] + 1.5) * 1.5
    np.testing.assert_allclose(g, expected, rtol=1e-14)
    assert value == pytest.approx((1.5 * x[0] + 1.5) * 1.5 * x[4], rel=1e-14)


def test_closure_and_global_arrays_are_read_not_written():
    args = (_x(), 5)
    grad(closure_number_array, jit=False)(*args)
    grad(global_constant_array, jit=False)(*args)
    grad(global_array_via_helper, jit=False)(*args)
    np.testing.assert_array_equal(WEIGHTS, WEIGHTS_SAVED)
    np.testing.assert_array_equal(closure_number_array.__closure__[1].cell_contents,
                                  CAPTURED_W)


def test_closure_constants_have_no_gradient_and_match_a_second_closure():
    # two closures of the same code with different captured values give different gradients
    other = make_closure(-0.5, CAPTURED_W[::-1].copy())
    x = _x()
    g1 = grad(closure_number_array, jit=False)(x, 5)
    g2 = grad(other, jit=False)(x, 5)
    assert not np.allclose(g1, g2)
    assert check_grad(other, x, 5, jit=False) < TOL


def test_rk4_matches_a_hand_derivative_of_one_step_for_linear_rhs():
    # with forcing = (0, 0, 0)... y' = (y1, 0): y1 constant, y0 grows linearly
    y0 = np.array([0.3, 0.4])
    forcing = np.array([0.0, 0.0, 0.0])
    h, steps = 0.1, 10
    gy0 = grad(rk4, jit=False)(y0, forcing, h, steps)
    # y0(T) = y0 + T y1, y1(T) = y1: f = y0(T)^2 + 0.5 y1
    t_end = h * steps
    y_end = y0[0] + t_end * y0[1]
    np.testing.assert_allclose(gy0, [2.0 * y_end, 2.0 * y_end * t_end + 0.5], rtol=1e-13)


def _over_float_times(x, h):
    s = 0.0
    for t in np.arange(0.0, 1.0, h):
        s += x[0] * math.sin(t + x[1])
    return s


def test_loop_over_a_float_arange():
    # np.arange(0.0, 1.0, 0.3) has 4 entries; the step is differentiated too
    x, h = np.array([0.7, -0.2]), 0.3
    times = h * np.arange(4)
    expected = [np.sum(np.sin(times + x[1])), x[0] * np.sum(np.cos(times + x[1])),
                x[0] * np.sum(np.arange(4) * np.cos(times + x[1]))]
    got = grad(_over_float_times, argnums=(0, 1), jit=False)(x, h)
    np.testing.assert_allclose(np.concatenate([got[0], [got[1]]]), expected, rtol=1e-13)


# --- Numba agrees with CPython ---------------------------------------------------------------

NUMBA_IDS = ["rk4", "recurrence_in_place", "matrix_sub", "full_active"]


@pytest.mark.numba
@pytest.mark.parametrize("case", [BY_ID[k] for k in NUMBA_IDS], ids=NUMBA_IDS)
def test_numba_matches_python(case: Case):
    args = case.fresh_args()
    value_py, grad_py = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    value_nb, grad_nb = value_and_grad(case.fn, argnums=case.argnums, jit=True)(*args)
    assert value_nb == pytest.approx(value_py, rel=1e-12, abs=1e-300)
    for gp, gn in zip(as_tuple(grad_py, case.argnums), as_tuple(grad_nb, case.argnums)):
        assert type(gn) is type(gp)
        np.testing.assert_allclose(gn, gp, rtol=1e-12, atol=1e-300)
    assert_untouched(case.fresh_args(), args)
