"""Views read after writes into their array compute what NumPy computes, in every mode.

A slice, a row, a transpose, a new axis or np.diag of a matrix shares its array's memory;
reading it after a write shows the new values (transforms/views.py makes such a view again
where it is read). Each program below is checked: value against NumPy running the function
itself, the reverse gradient against central differences, forward mode (jvp) against the
reverse gradient, and Numba against CPython. Reshapes and ravels, which NumPy copies for
non-contiguous arrays, stay refused after a write (tests/test_aliasing.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import assert_untouched, copies

from autodiff_compiler import check_grad, jvp, value_and_grad

A = np.random.default_rng(3).uniform(-1, 1, (3, 3)) + 2.0 * np.eye(3)
X = np.random.default_rng(4).uniform(-1, 1, (3, 4))
W3 = np.random.default_rng(5).uniform(-1, 1, (3, 3))


def diag_after_write(a):  # NumPy gives 10.0, gradient 0
    d = np.diag(a)
    a[0, 0] = 5.0
    return 2.0 * d[0]


def diag_before_and_after(a):
    d = np.diag(a)
    s = d[0] * d[1]
    a[0, 0] = 5.0
    return s + 2.0 * d[1] * d[0] + np.sum(d * d)


def diag_of_a_vector_is_a_copy(a):
    v = a[0] * 1.0
    m = np.diag(v)
    v[1] = 7.0
    return np.sum(m * W3) + np.sum(v)


def view_read_after_write(x):
    y = x * 1.0
    t = y.T
    y[0, 0] = 5.0
    return np.sum(t * t)


def view_read_in_a_loop_that_writes(x):
    y = x * 1.0
    head = y[0]
    s = 0.0
    for i in range(3):
        s += np.sum(head * head)
        y[0, i] = 1.0
    return s


def view_read_after_an_update_in_place(x):
    y = x * 1.0
    t = y.T
    y += 1.0
    return np.sum(t * t)


def slice_then_write(x):
    y = x.copy()
    v = y[1:]
    y[0] = 2.0
    y[1, 0] = 3.0
    return v[0, 0] * v[1, 1]


def view_of_a_view(x):
    y = x * 1.0
    t = y.T
    u = t[1:, :]
    w = u[:, 0]
    y[0, 2] = 3.0 * y[1, 1]
    return np.sum(u * u) + t[0, 2] + np.sum(w * w)


def transposed_view_in_a_loop(x):
    y = x * 1.0
    t = y.T
    s = 0.0
    for i in range(3):
        y[i, i] = y[i, i] * 2.0
        s += np.sum(t[i] * t[i]) + t[i, i]
    return s


X3 = np.random.default_rng(6).uniform(-1, 1, (3, 4, 2))
W3D = np.random.default_rng(8).uniform(-1, 1, (4, 2, 3))


def moved_axes_after_write(x):
    y = x * 1.0
    t = np.moveaxis(y, 0, -1)
    y[0, 1, 0] = 5.0 * y[1, 1, 1]
    return np.sum(t * W3D) + np.sum(np.transpose(y, (1, 2, 0)) * t)


IDX = np.array([1, 3, 1])


def slice_after_an_index_write(x, v):
    y = x * 1.0
    head = y[:2]
    y[IDX] = v * y[0]
    return np.sum(head * head)


def row_written_in_a_branch(x, c):
    y = x * 1.0
    r = y[1]
    if c > 0.0:
        y[1, 2] = c * y[0, 0]
    return np.sum(r * r)


CASES = [
    (diag_after_write, (A,)),
    (diag_before_and_after, (A,)),
    (diag_of_a_vector_is_a_copy, (A,)),
    (view_read_after_write, (X,)),
    (view_read_in_a_loop_that_writes, (X,)),
    (view_read_after_an_update_in_place, (X,)),
    (slice_then_write, (X,)),
    (view_of_a_view, (X,)),
    (transposed_view_in_a_loop, (A,)),
    (slice_after_an_index_write, (X[0].copy(), 0.9)),
    (moved_axes_after_write, (X3,)),
    (row_written_in_a_branch, (X, 0.7)),
    (row_written_in_a_branch, (X, -0.7)),
]
IDS = [f"{f.__name__}{'' if len(a) == 1 else a[1]}" for f, a in CASES]


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_value_and_gradient_as_numpy(f, args):
    given = copies(args)
    value, _ = value_and_grad(f, jit=False)(*given)
    assert_untouched(given, args)
    assert value == pytest.approx(f(*copies(args)), rel=1e-13)
    assert check_grad(f, *copies(args)) < 1e-7


def test_a_diagonal_read_after_a_write_sees_it():
    value, gradient = value_and_grad(diag_after_write, jit=False)(A.copy())
    assert value == 10.0
    assert np.array_equal(gradient, np.zeros((3, 3)))


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_forward_agrees_with_reverse(f, args):
    tangent = np.random.default_rng(11).uniform(-1, 1, args[0].shape)
    _, gradient = value_and_grad(f, jit=False)(*copies(args))
    value, derivative = jvp(f, copies(args), (tangent,) + tuple(0.0 for _ in args[1:]),
                            jit=False)
    assert value == pytest.approx(f(*copies(args)), rel=1e-13)
    assert derivative == pytest.approx(np.sum(gradient * tangent), rel=1e-10, abs=1e-12)


@pytest.mark.numba
@pytest.mark.parametrize("f, args", CASES[:4] + CASES[7:9], ids=IDS[:4] + IDS[7:9])
def test_numba_agrees_with_cpython(f, args):
    value, gradient = value_and_grad(f)(*copies(args))
    expected_value, expected = value_and_grad(f, jit=False)(*copies(args))
    assert value == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-14)
