"""Arrays on the tape: values of array type that the reverse sweep reads inside loops.

Each program is checked against central differences, against forward mode (the dot-product
test <grad, v> == jvp(v)), compiled by Numba against plain Python, and a few by hvp against
differences of the gradient. The compiled gradient keeps its tapes between calls: calls with
other values and other shapes must give the right gradient too.
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import copies

from autodiff_compiler import grad, hvp, jvp
from autodiff_compiler.gradcheck import numerical_grad, relative_error


def shift_in_a_loop(x):
    y = np.zeros(x.shape[0])
    for t in range(3):
        y[1:] = np.sin(y[:-1]) + x[1:]
        y[0] = x[0] * y[-1]
    return np.sum(y ** 2)


def square_sum_then_write(x):
    y = x * 1.0
    s = 0.0
    for i in range(3):
        s += np.sum(y * y)
        y[i] = 0.5
    return s


def rnn(W, b, h0):
    h = h0
    for i in range(4):
        z = np.tanh(W @ h + b)
        h = z * 0.5 + h * 0.5
    return np.sum(h * h)


def until_large(x, limit):
    # about 100 iterations: the tapes under the while grow past their first size
    h = x * 1.0
    s = 0.0
    while s < limit:
        h = np.tanh(h * 0.9 + x)
        s += np.sum(h * h) + 1.0
    return s + np.sum(h * x)


def inner_reads_outer(x):
    s = 0.0
    for i in range(3):
        z = np.sin(x * (i + 1.0))
        for j in range(2):
            s += np.sum(z * z * x) * (j + 1.0)
    return s


def made_and_written_in_a_loop(x):
    s = 0.0
    for i in range(3):
        y = np.cos(x)
        y[i] = x[i] * x[0]
        s += np.sum(y * y * x)
    return s


def matrix_rows(A):
    s = 0.0
    B = A * 1.0
    for i in range(3):
        C = np.tanh(B)
        s += np.sum(C @ C)
        B = C * 0.5 + A
    return s


def grows_each_iteration(x):
    # h doubles in length each iteration: a ragged tape (ad.tape)
    h = x * 1.0
    s = 0.0
    for i in range(2):
        h = np.concatenate((h, h * 0.5))
        s += np.sum(h * h)
    return s


_RNG = np.random.default_rng(7)
X5 = _RNG.normal(size=5) * 0.7
W3, B3, H3 = _RNG.normal(size=(3, 3)) * 0.6, _RNG.normal(size=3), _RNG.normal(size=3)
CASES = [
    (shift_in_a_loop, (X5,), (0,)),
    (square_sum_then_write, (X5,), (0,)),
    (rnn, (W3, B3, H3), (0, 1, 2)),
    (until_large, (X5, 150.0), (0,)),
    (inner_reads_outer, (X5,), (0,)),
    (made_and_written_in_a_loop, (X5,), (0,)),
    (matrix_rows, (_RNG.normal(size=(3, 3)),), (0,)),
    (grows_each_iteration, (X5,), (0,)),
]
IDS = [fn.__name__ for fn, _, _ in CASES]


def _error(analytic, numeric):
    return relative_error(analytic, numeric)


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=IDS)
def test_matches_central_differences(fn, args, argnums):
    ours = grad(fn, argnums=argnums, jit=False)(*copies(args))
    numeric = numerical_grad(fn, *copies(args), argnums=argnums)
    assert _error(ours, numeric) < 1e-7


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=IDS)
def test_agrees_with_forward_mode(fn, args, argnums):
    rng = np.random.default_rng(1)
    tangents = [rng.normal(size=np.shape(a)) if k in argnums else 0.0
                for k, a in enumerate(args)]
    ours = grad(fn, argnums=argnums, jit=False)(*copies(args))
    _, directional = jvp(fn, copies(args), tangents, jit=False)
    dot = sum(float(np.sum(g * tangents[k])) for g, k in zip(ours, argnums))
    assert abs(dot - directional) <= 1e-10 * max(1.0, abs(directional))


@pytest.mark.numba
@pytest.mark.parametrize("fn, args, argnums", CASES, ids=IDS)
def test_numba_agrees_with_python(fn, args, argnums):
    python = grad(fn, argnums=argnums, jit=False)(*copies(args))
    compiled = grad(fn, argnums=argnums, jit=True)(*copies(args))
    for a, b in zip(python, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fn, args", [(rnn, (W3, B3, H3)), (square_sum_then_write, (X5,))],
                         ids=["rnn", "square_sum_then_write"])
def test_hvp_matches_differences_of_the_gradient(fn, args):
    rng = np.random.default_rng(2)
    v = [rng.normal(size=np.shape(a)) for a in args]
    argnums = tuple(range(len(args)))
    products = hvp(fn, copies(args), v, jit=False)
    gradient = grad(fn, argnums=argnums, jit=False)
    step = 1e-5
    plus = gradient(*[a + step * d for a, d in zip(args, v)])
    minus = gradient(*[a - step * d for a, d in zip(args, v)])
    numeric = [(p - m) / (2 * step) for p, m in zip(plus, minus)]
    assert _error(products, numeric) < 1e-6


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_tapes_reused_across_calls_and_shapes(jit):
    gradient = grad(shift_in_a_loop, jit=jit)
    loop = grad(until_large, argnums=0, jit=jit)
    rng = np.random.default_rng(3)
    for n in (5, 5, 8, 3):
        x = rng.normal(size=n) * 0.7
        assert _error([gradient(x.copy())], [numerical_grad(shift_in_a_loop, x)]) < 1e-7
        ours = loop(x.copy(), 150.0)
        assert _error([ours], [numerical_grad(until_large, x, 150.0)]) < 1e-7


# --- arrays made inside loops and written there (their adjoint buffers are made per run) -----


def fill_in_loop(x, n):
    s = 0.0
    for i in range(n):
        y = np.zeros(3)
        y[0] = x[i]
        s += y[0] * y[0]
    return s


def _make_row(v):
    row = np.zeros(2)
    row[0] = v
    return row


def helper_array_in_loop(x, n):
    s = 0.0
    for i in range(n):
        r = _make_row(x[i])
        s += r[0] * r[0]
    return s


def multiply_in_loop(x, idx, v):
    y = x.copy()
    for t in range(3):
        y[idx] *= v * x[t]
    return np.sum(y)


MADE_IN_LOOPS = [
    (fill_in_loop, (X5, 4), (0,)),
    (helper_array_in_loop, (X5, 4), (0,)),
    (multiply_in_loop, (X5[:4], np.array([0, 2, 2, 1]), X5[1:]), (0, 2)),
]


@pytest.mark.parametrize("fn, args, argnums", MADE_IN_LOOPS,
                         ids=[f.__name__ for f, _, _ in MADE_IN_LOOPS])
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_arrays_made_in_loops(fn, args, argnums, jit):
    ours = grad(fn, argnums=argnums, jit=jit)(*copies(args))
    numeric = numerical_grad(fn, *copies(args), argnums=argnums)
    assert _error(ours, numeric) < 1e-7


@pytest.mark.parametrize("fn, args, argnums", CASES[:3], ids=IDS[:3])
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_checkpointed_loops_tape_arrays_per_segment(fn, args, argnums, jit):
    ours = grad(fn, argnums=argnums, jit=jit, checkpoint=2)(*copies(args))
    numeric = numerical_grad(fn, *copies(args), argnums=argnums)
    assert _error(ours, numeric) < 1e-7


def rnn_with_index_writes(x, idx, n):
    h = x * 1.0
    s = 0.0
    for t in range(n):
        h = np.tanh(h + x)
        h[idx] = h[idx] * 2.0
        s += np.sum(h * h)
    return s


def updated_after_made_in_a_loop(x, n):
    s = 0.0
    for i in range(n):
        h = np.exp(x * (i + 1.0))
        h += x
        s += np.sum(h * h)
    return s


@pytest.mark.parametrize("fn, args", [(rnn_with_index_writes, (X5 * 0.5, np.array([1, 1]), 4)),
                                      (updated_after_made_in_a_loop, (X5 * 0.3, 3))])
@pytest.mark.parametrize("checkpoint", [None, 2, "sqrt"])
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_loop_made_arrays_written_after_a_result_read(fn, args, checkpoint, jit):
    ours = grad(fn, jit=jit, checkpoint=checkpoint)(*copies(args))
    numeric = numerical_grad(fn, *copies(args))
    assert _error(ours, numeric) < 1e-7


# --- views and index reads of an array rebound each iteration (its adjoint is a value) -------


def rotated_each_iteration(x, n):
    h = x * 1.0
    s = 0.0
    for i in range(n):
        h2 = np.concatenate((h[1:], h[0:1]))
        h = np.tanh(h2 * x)
        s += np.sum(h)
    return s


def view_kept_past_the_rebinding(x, n):
    h = x * 1.0
    s = 0.0
    for i in range(n):
        v = h[0:2]
        h = np.tanh(h * x)
        s += np.sum(v * h[0:2])
    return s


def gathered_each_iteration(x, n, idx):
    h = x * 1.0
    s = 0.0
    for i in range(n):
        h = np.tanh(h[idx] * x + h[::-1])
        s += np.sum(h[1:] * h[:-1])
    return s


CARRIED_VIEWS = [
    (rotated_each_iteration, (X5, 3)),
    (view_kept_past_the_rebinding, (X5, 3)),
    (gathered_each_iteration, (X5, 3, np.array([4, 0, 0, 2, 1]))),
]


@pytest.mark.parametrize("fn, args", CARRIED_VIEWS, ids=[f.__name__ for f, _ in CARRIED_VIEWS])
@pytest.mark.parametrize("checkpoint", [None, 2])
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_views_of_carried_arrays(fn, args, checkpoint, jit):
    ours = grad(fn, jit=jit, checkpoint=checkpoint)(*copies(args))
    numeric = numerical_grad(fn, *copies(args))
    assert _error(ours, numeric) < 1e-7


# --- inner loops reading an array an outer loop rebinds (its adjoint leaves the inner loop) --


def read_in_an_inner_loop(x, n):
    y = x * 1.0
    s = 0.0
    for i in range(n):
        for j in range(2):
            s += np.sum(y * x)
        y = np.tanh(y)
    return s


def added_in_an_inner_loop(x, n):
    y = x * 1.0
    s = 0.0
    for i in range(n):
        z = y * 1.0
        for j in range(2):
            z += np.sin(y) * 0.5
            s += np.sum(z * z)
        y = np.tanh(z)
    return s


def read_in_an_inner_while(x, n):
    y = x * 1.0
    s = 0.0
    for i in range(n):
        k = 0
        while k < 3:
            s += np.sum(np.sin(y) * x)
            k += 1
        y = np.tanh(y * x)
    return s


INNER_READS = [(read_in_an_inner_loop, (X5, 3)), (added_in_an_inner_loop, (X5, 3)),
               (read_in_an_inner_while, (X5, 3))]


@pytest.mark.parametrize("fn, args", INNER_READS, ids=[f.__name__ for f, _ in INNER_READS])
@pytest.mark.parametrize("checkpoint", [None, 2])
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_inner_loops_reading_a_carried_array(fn, args, checkpoint, jit):
    ours = grad(fn, jit=jit, checkpoint=checkpoint)(*copies(args))
    numeric = numerical_grad(fn, *copies(args))
    assert _error(ours, numeric) < 1e-7


def read_whole_then_written_in_a_later_loop(x, n):
    # the first loop reads y as a whole (y is a linear operand: no copy of it is made); a
    # checkpointed run of it again must see y as it was then, not as the second loop leaves it
    y = x * 1.0
    z = x * 2.0
    for i in range(2):
        z = np.tanh(y * x + y)
    for i in range(n):
        y[1:] = z[:-1] * 0.7
        z = np.concatenate((z[1:], y[0:1]))
    return np.sum(y * z)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_checkpointed_loops_save_arrays_read_as_any_operand(jit):
    fn, args = read_whole_then_written_in_a_later_loop, (X5 * 0.5, 3)
    ours = grad(fn, jit=jit, checkpoint=2)(*copies(args))
    numeric = numerical_grad(fn, *copies(args))
    assert _error(ours, numeric) < 1e-7
