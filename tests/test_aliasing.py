"""Views and writes: arrays that share memory, and arrays overwritten after they are read.

Every supported program is checked against central differences and its plain NumPy value, in
reverse and forward mode, compiled by Numba too; every refused one must raise at the marked
line before anything runs. Several of these gave silently wrong gradients before the
aliasing analysis existed (the reverse sweep read arrays in their final state).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from checks import assert_untouched, copies

from autodiff_compiler import grad, jvp, value_and_grad
from autodiff_compiler.errors import GradientInputError, UnsupportedOperationError
from autodiff_compiler.gradcheck import check_grad

# --- supported: views and operands read before the writes that change their arrays -----------


def transpose_then_write(x):
    y = x * 1.0
    t = y.T
    s = np.sum(t * t)
    y[0, 0] = 5.0
    return s + np.sum(y)


def reshape_then_write(x):
    y = x * 1.0
    t = y.reshape((6,))
    s = np.sum(np.sin(t))
    y[0, 0] = 5.0
    return s + y[0, 1] * y[1, 2]


def row_then_write(x):
    y = x * 1.0
    row = y[0]
    s = np.sum(row * row)
    y[0, 0] = 5.0
    return s * y[0, 0]


def square_sum_before_and_after_a_write(x):
    y = x * 1.0
    s = np.sum(y * y)
    y[1, 0] = 0.5
    return s + np.sum(y * y)


def product_before_a_slice_write(x):
    y = x * 1.0
    s = np.dot(y[0], y[1]) + np.max(y)
    y[:, 1] = 2.0
    return s * np.sum(y ** 3)


def shifted_update(x):
    y = x * 1.0
    y[:, 1:] = y[:, :-1] * 0.5 + x[:, 1:] ** 2
    return np.sum(y ** 2)


def overlapping_add(x):
    y = x.copy()
    y[0, 1:] += y[0, :-1]
    return np.sum(y * y)


def read_in_loops_then_written(x):
    # one copy of y before the loops serves every iteration: nothing in them writes y
    y = x * 2.0
    s = 0.0
    for i in range(3):
        for j in range(2):
            s += np.sum(y * x) * (i + j)
    y[0, 1] = 1.0
    return s + np.sum(y * y)


def branch_made_arrays(x, c):
    if c > 0.0:
        y = np.zeros(x.shape[1])
    else:
        y = np.ones(x.shape[1])
    y[0] = x[0, 0] * 2.0
    return np.sum(y * x[1])


def added_in_place_under_another_name(x):
    y = x * 1.0
    z = y
    y += x
    return np.sum(z * z)


def _scale_in_place(a, b):
    a *= b
    return 0.0


def helper_scales_the_callers_array(x):
    y = x * 1.0
    s = np.sum(y * y)
    _scale_in_place(y, x)
    return s + np.sum(y * y)


def argument_updated_in_place(x):
    w = x
    x -= 0.5
    return np.sum(w * x)


def overwritten_in_the_same_loop(x):
    y = x * 1.0
    s = 0.0
    for i in range(3):
        s += np.sum(y * y)
        y[0, i] = 0.5
    return s


def accumulated_in_place_in_a_loop(x):
    acc = np.ones(x.shape[1])
    for i in range(x.shape[0]):
        acc += x[i] * x[i]
    return np.sum(acc * acc)


def read_after_its_update_in_a_loop(x):
    # the next iteration's update overwrites the y that y * y read
    y = x * 1.0
    s = 0.0
    for i in range(3):
        y += x
        s += np.sum(y * y)
    return s


def read_after_an_element_write_in_a_loop(x):
    y = x * 1.0
    s = 0.0
    for i in range(3):
        y[0, i] = s + 0.5
        s += np.sum(np.sin(y))
    return s


def tanh_then_element_write(x):
    # tanh's derivative reads its result, which the write changes
    h = np.tanh(x)
    h[0, 0] = h[0, 0] * 2.0
    return np.sum(h * h)


def exp_then_scaled_in_place(x):
    h = np.exp(x)
    h *= 2.0
    return np.sum(h * h)


def same_expression_then_one_updated(x):
    # two equal computations are two arrays: the update changes only the second
    w = x * 2.0
    y = x * 2.0
    y *= x
    return np.sum(w * x) + np.sum(y * y)


def same_expression_then_one_written(x):
    w = np.sin(x)
    y = np.sin(x)
    y[0, 1] = 5.0
    return np.sum(w * x) + np.sum(y * y)


ROWS = np.array([1, 0, 1])


def exp_then_index_write(x):
    h = np.exp(x[0])
    h[ROWS] = x[0, 0] * h[ROWS]
    return np.sum(h * x[1])


def branch_results_then_written(x, c):
    if c > 0.0:
        h = np.tanh(x)
    else:
        h = np.exp(x)
    h[0, 1] = h[0, 1] * 3.0
    return np.sum(h * x)


def copy_of_a_result_written(x):
    y = np.tanh(x)
    z = y.copy()
    z[0, 0] = 1.0
    return np.sum(z * y)


X = np.array([[0.3, -0.8, 0.5], [1.1, 0.2, -0.4]])
SUPPORTED = [
    (transpose_then_write, (X,)),
    (reshape_then_write, (X,)),
    (row_then_write, (X,)),
    (square_sum_before_and_after_a_write, (X,)),
    (product_before_a_slice_write, (X,)),
    (shifted_update, (X,)),
    (overlapping_add, (X,)),
    (read_in_loops_then_written, (X,)),
    (overwritten_in_the_same_loop, (X,)),
    (branch_made_arrays, (X, 1.0)),
    (branch_made_arrays, (X, -1.0)),
    (added_in_place_under_another_name, (X,)),
    (helper_scales_the_callers_array, (X,)),
    (argument_updated_in_place, (X,)),
    (accumulated_in_place_in_a_loop, (X,)),
    (read_after_its_update_in_a_loop, (X,)),
    (read_after_an_element_write_in_a_loop, (X,)),
    (tanh_then_element_write, (X,)),
    (exp_then_scaled_in_place, (X,)),
    (exp_then_index_write, (X,)),
    (branch_results_then_written, (X, 1.0)),
    (branch_results_then_written, (X, -1.0)),
    (copy_of_a_result_written, (X,)),
    (same_expression_then_one_updated, (X,)),
    (same_expression_then_one_written, (X,)),
]
supported = pytest.mark.parametrize("fn, args", SUPPORTED,
                                    ids=[f"{f.__name__}-{k}" for k, (f, _) in
                                         enumerate(SUPPORTED)])



@supported
def test_gradient_and_value_match_numpy(fn, args):
    error = check_grad(fn, *copies(args))
    assert error < 1e-7, f"{fn.__name__}: relative error {error:.3g}"
    given = copies(args)
    value, _ = value_and_grad(fn, jit=False)(*given)
    assert value == pytest.approx(fn(*copies(args)), rel=1e-14)
    assert_untouched(given, args)


@supported
def test_forward_mode_agrees_with_reverse(fn, args):
    gradient = grad(fn, jit=False)(*copies(args))
    direction = np.cos(np.arange(X.size)).reshape(X.shape)
    tangents = (direction.copy(),) + tuple(0.0 for _ in args[1:])
    value, derivative = jvp(fn, copies(args), tangents, jit=False)
    assert derivative == pytest.approx(float(np.sum(gradient * direction)), rel=1e-12)
    assert value == pytest.approx(fn(*copies(args)), rel=1e-14)
    assert_untouched((direction,), tangents)  # the caller's tangent is not written


@pytest.mark.numba
@supported
def test_numba_compiled_gradient_matches_python(fn, args):
    python = grad(fn, jit=False)(*copies(args))
    compiled = grad(fn, jit=True)(*copies(args))
    np.testing.assert_allclose(compiled, python, rtol=1e-13, atol=1e-15)


# --- refused: what the compiler cannot follow ------------------------------------------------

def ravel_read_after_write(x):
    y = x * 1.0
    t = y.ravel()
    y[0, 0] = 5.0
    return np.sum(t)  # E:ravel_read_after_write


def write_into_a_view(x):
    y = x * 1.0
    row = y[0]
    row[1] = 3.0  # E:write_into_a_view
    return np.sum(y)


def write_into_a_picked_array(x, c):
    y = x * 1.0
    z = x * 2.0
    if c > 0.0:
        w = y
    else:
        w = z
    w[0, 0] = 7.0  # E:write_into_a_picked_array
    return np.sum(y * y)


def write_into_a_carried_array(x):
    y = x * 1.0
    u = y
    for i in range(2):
        u[0, i] = 1.0  # E:write_into_a_carried_array
        u = u * 2.0
    return np.sum(y * u)


def update_in_place_of_a_view(x):
    y = x * 1.0
    row = y[0]
    row += 1.0  # E:update_in_place_of_a_view
    return np.sum(y * y)


_LINES = Path(__file__).read_text().splitlines()
REFUSED = [
    (ravel_read_after_write, (X,), "a view made at line"),
    (write_into_a_view, (X,), "writing into it would change that array too"),
    (write_into_a_picked_array, (X, 1.0), "may be one of several arrays"),
    (write_into_a_carried_array, (X,), "may be one of several arrays"),
    (update_in_place_of_a_view, (X,), "writing into it would change that array too"),
]


@pytest.mark.parametrize("fn, args, message", REFUSED, ids=[f.__name__ for f, _, _ in REFUSED])
def test_refused_at_the_line_before_running(fn, args, message):
    line = next(k + 1 for k, text in enumerate(_LINES) if text.endswith(f"# E:{fn.__name__}"))
    given = copies(args)
    with pytest.raises(UnsupportedOperationError, match=message) as info:
        grad(fn, jit=False)(*given)
    assert f"{__file__}:{line}:" in str(info.value)
    assert_untouched(given, args)


def write_into_the_first(a, b):
    a[0] = b[1] * 2.0
    return np.sum(a * b)


def test_arguments_sharing_memory_with_a_written_one_are_refused():
    x = np.array([0.3, -0.8, 0.5, 1.2])
    with pytest.raises(GradientInputError, match="arguments 0 and 1 share memory"):
        value_and_grad(write_into_the_first, jit=False)(x, x)
    with pytest.raises(GradientInputError, match="share memory"):
        jvp(write_into_the_first, (x, x[::-1]), (x, x), jit=False)
    rows = np.arange(8.0).reshape(2, 4)  # distinct rows of one array: no shared memory
    value, gradient = value_and_grad(write_into_the_first, jit=False)(rows[0], rows[1])
    assert value == write_into_the_first(rows[0].copy(), rows[1].copy())
    np.testing.assert_array_equal(gradient, [0.0, 5.0, 6.0, 7.0])


def copied_then_written_beside_a_loop_run_forwards(x):
    # the loop's reverse runs inside it (its adjoint code is simplified): y = x * 1.0 stays
    # an array of its own
    y = x * 1.0
    w = np.tanh(x)
    for i in range(3):
        y[1:] = w[:-1] * 0.7
    y = np.tanh(w * x + w)
    w[0] = x[1] * x[0]
    return np.sum(y * x) + np.sum(w * x)


def test_a_copy_is_not_folded_into_its_source_when_either_is_written():
    fn = copied_then_written_beside_a_loop_run_forwards
    x = np.array([0.3, -0.8, 0.5, 1.1, 0.2])
    value, _ = value_and_grad(fn, jit=False)(x.copy())
    assert value == pytest.approx(fn(x.copy()))
    assert check_grad(fn, x.copy()) < 1e-7
