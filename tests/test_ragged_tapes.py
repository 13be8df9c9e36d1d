"""Arrays whose shape changes between a loop's iterations, read back by the reverse sweep.

Triangular loops (a hand-written Cholesky factorisation, forward and back substitution),
windows of varying length and `x[c % n:n]` read slices of arrays the loop writes, so each
slice is taped; its shape differs from one iteration to the next, so the tape is ragged (a
flat buffer plus each push's start, end and shape: ad.tape). Each program is checked against
central differences, forward mode (the dot-product test), checkpointing, compiled by Numba
against plain Python, and with tapes reused across calls of other sizes. The analysis that
keeps the rows tape for arrays of one shape (analysis.shapes) is checked on both kinds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from checks import copies

from autodiff_compiler import grad, hvp, jvp
from autodiff_compiler.gradcheck import numerical_grad, relative_error


def cholesky_cubes(A):
    # the textbook triple loop: L[i, j] from the dot product of rows of L left of column j
    n = A.shape[0]
    L = np.zeros((n, n))
    for j in range(n):
        L[j, j] = math.sqrt(A[j, j] - np.dot(L[j, :j], L[j, :j]))
        for i in range(j + 1, n):
            L[i, j] = (A[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return np.sum(L * L * L)


def forward_substitution(L, b):
    n = b.shape[0]
    x = np.zeros(n)
    for i in range(n):
        x[i] = (b[i] - np.dot(L[i, :i], x[:i])) / L[i, i]
    return np.sum(np.sin(x))


def back_substitution(U, b):
    n = b.shape[0]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - np.dot(U[i, i + 1:], x[i + 1:])) / U[i, i]
    return np.sum(x * x)


def running_window(x, width):
    # windows of length 1, 2, ..., width, width, ... over values the loop rewrites
    y = x * 1.0
    s = 0.0
    for i in range(x.shape[0]):
        w = y[max(0, i - width + 1):i + 1]
        s += np.sum(np.tanh(w) * w)
        y[i] = np.sin(np.sum(w * w))
    return s + np.sum(y)


def from_shifted_start(x, c):
    # x[c % n:n]: the start moves around the array
    n = x.shape[0]
    y = x * 1.0
    s = 0.0
    for i in range(n):
        v = y[(c + 2 * i) % n:n]
        s = math.sin(s) + np.sum(v * v) * x[i]
        y[i] = np.tanh(s)
    return s


def shrinking_in_a_while(x, limit):
    y = x * 1.0
    s = 0.0
    k = 0
    while k < x.shape[0] and s < limit:
        w = y[k:]
        s += np.sum(w * w * w)
        y[k] = math.cos(s)
        k += 1
    return s + np.sum(y)


def triangular_nest(x):
    # the tape of the inner loop grows (its trip count depends on the outer index)
    n = x.shape[0]
    y = x * 1.0
    s = 0.0
    for i in range(n):
        for j in range(i):
            v = y[j:i]
            s += np.sum(v * v) * 0.5
            y[j] = np.tanh(y[j] + s * 0.1)
    return s


def doubling(x):
    h = x * 1.0
    s = 0.0
    for i in range(3):
        h = np.concatenate((h, np.sin(h)))
        s += np.sum(h * h)
    return s


# fuzzer reproducers (python -m benchmarks.fuzz --seed 1: programs 100 and 228, minimised)
def fuzz_seed1_program100(a, b, x, n):
    s1 = math.tanh(x[n // 2])
    s2 = s1 - b
    y3 = np.copy(x)
    y4 = np.copy(x)
    for i5 in range(n):
        for i10 in range(2):
            if i10 > i5:
                y3[n - 1] += max(a, -0.05) / (2.0 + math.sin(abs(a)))
            for i11 in range(i5 % 3):
                if i5 % 2 == 0:
                    t12 = -s1 / (1.0 + math.sqrt(1.0 + x[i5 % n] * x[i5 % n]))
                else:
                    t12 = (0.3 * float(i5) if i5 != 1 or a > 0.0 else 0.1 * i10) * \
                        math.tanh(a)
                s2, t12, s1 = (s1, s2, s2 + t12 + np.sum(y3[i5 % n:] * y3[:n - i5 % n]))
                s2 += (np.sum(y4[i5 % n:] * y4[:n - i5 % n]) if i5 % 2 == 0 else b) + \
                    (x[i5 % n] - y4[n - 1])
    return s1 + b + y4[n - 1] + math.sin(x[n // 2])


def fuzz_seed1_program228(a, b, x, n):
    s1 = a + b
    s2 = math.tanh(np.sum(x * x))
    y3 = np.zeros(n)
    y4 = np.zeros(n)
    for i5 in range(n - 1, -1, -1):
        for i6 in range(n):
            a, s1, s2 = (s2, a, b + np.sum(y3[i5 % n:] * y4[:n - i5 % n]))
        y4[i5 * 2 % n], y4[i5 * 2 % n] = (y4[i5 * 2 % n], y4[i5 * 2 % n] * b)
    return s1 + y3[n - 1] + abs(x[0])


_RNG = np.random.default_rng(17)
_M = _RNG.normal(size=(5, 5))
SPD = _M @ _M.T + 5.0 * np.eye(5)
LOWER = np.tril(_RNG.normal(size=(5, 5)) * 0.5) + 3.0 * np.eye(5)
B5 = _RNG.normal(size=5)
X6 = _RNG.normal(size=6) * 0.6
X4 = np.array([0.413, 1.413, 0.813, 0.313])
CASES = [
    (cholesky_cubes, (SPD,), (0,)),
    (forward_substitution, (LOWER, B5), (0, 1)),
    (back_substitution, (LOWER.T.copy(), B5), (0, 1)),
    (running_window, (X6, 3), (0,)),
    (from_shifted_start, (X6, 4), (0,)),
    (shrinking_in_a_while, (X6, 2.5), (0,)),
    (triangular_nest, (X6,), (0,)),
    (doubling, (X4,), (0,)),
    (fuzz_seed1_program100, (-0.587, 0.913, X4, 4), (0, 1, 2)),
    (fuzz_seed1_program228, (0.313, -1.387, np.array([-0.687, 0.913, 0.113, -0.787]), 4),
     (0, 1, 2)),
]
IDS = [fn.__name__ for fn, _, _ in CASES]


def _gradient(fn, args, argnums, **options):
    return grad(fn, argnums=argnums, jit=options.pop("jit", False), **options)(*copies(args))


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=IDS)
def test_tapes_are_ragged_and_match_central_differences(fn, args, argnums):
    source = grad(fn, argnums=argnums, jit=False).lower(*copies(args)).source
    assert "rt.push_ragged(" in source
    numeric = numerical_grad(fn, *copies(args), argnums=argnums)
    assert relative_error(_gradient(fn, args, argnums), numeric) < 1e-7


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=IDS)
def test_agrees_with_forward_mode(fn, args, argnums):
    rng = np.random.default_rng(1)
    tangents = [rng.normal(size=np.shape(a)) if k in argnums else 0 * a
                for k, a in enumerate(args)]
    ours = _gradient(fn, args, argnums)
    _, directional = jvp(fn, copies(args), tangents, jit=False)
    dot = sum(float(np.sum(g * tangents[k])) for g, k in zip(ours, argnums))
    assert abs(dot - directional) <= 1e-10 * max(1.0, abs(directional))


@pytest.mark.parametrize("policy", [2, "sqrt"])
@pytest.mark.parametrize("fn, args, argnums", CASES, ids=IDS)
def test_checkpointed_agrees_with_the_full_tape(fn, args, argnums, policy):
    full = _gradient(fn, args, argnums)
    checkpointed = _gradient(fn, args, argnums, checkpoint=policy)
    for a, b in zip(full, checkpointed):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# compiled by Numba: one of each kind (the others differ only in what CPython already checks),
# to keep the suite's compile time in seconds
NUMBA_CASES = [case for case in CASES if case[0] in (
    cholesky_cubes, forward_substitution, running_window, from_shifted_start,
    shrinking_in_a_while, fuzz_seed1_program228)]


@pytest.mark.numba
@pytest.mark.parametrize("fn, args, argnums", NUMBA_CASES,
                         ids=[fn.__name__ for fn, _, _ in NUMBA_CASES])
def test_numba_agrees_with_python(fn, args, argnums):
    python = _gradient(fn, args, argnums)
    compiled = _gradient(fn, args, argnums, jit=True)
    for a, b in zip(python, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.numba
def test_ragged_checkpoints_compile_with_numba():
    """A checkpointed loop carrying an array that grows saves it ragged, per segment."""
    source = grad(doubling, jit=False, checkpoint=2).lower(X4).source
    assert "checkpoint_h = rt.push_ragged(checkpoint_h, checkpoint_h_rows, " in source
    python = _gradient(doubling, (X4,), 0, checkpoint=2)
    compiled = _gradient(doubling, (X4,), 0, checkpoint=2, jit=True)
    np.testing.assert_allclose(python, compiled, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(compiled, numerical_grad(doubling, X4), rtol=1e-7)


def test_hvp_through_ragged_tapes_matches_differences_of_the_gradient():
    """Forward mode over the reverse sweep: the tangents get ragged tapes of their own."""
    rng = np.random.default_rng(2)
    v = rng.normal(size=LOWER.shape), rng.normal(size=5)
    products = hvp(forward_substitution, copies((LOWER, B5)), list(v), jit=False)
    gradient = grad(forward_substitution, argnums=(0, 1), jit=False)
    step = 1e-5
    plus = gradient(LOWER + step * v[0], B5 + step * v[1])
    minus = gradient(LOWER - step * v[0], B5 - step * v[1])
    numeric = [(p - m) / (2 * step) for p, m in zip(plus, minus)]
    assert relative_error(products, numeric) < 1e-6


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_tapes_reused_across_calls_of_other_sizes(jit):
    """The flat buffer and table of the last call come back to the next one: longer, shorter
    and equal problems must all read their own pushes."""
    gradient = grad(forward_substitution, argnums=(0, 1), jit=jit)
    rng = np.random.default_rng(3)
    for n in (5, 9, 3, 9, 0):
        L = np.tril(rng.normal(size=(n, n)) * 0.5) + 3.0 * np.eye(n)
        b = rng.normal(size=n)
        ours = gradient(L.copy(), b.copy())
        numeric = numerical_grad(forward_substitution, L, b, argnums=(0, 1))
        assert relative_error(ours, numeric) < 1e-7


def test_tape_table_lists_the_buffer_and_its_table():
    report = grad(forward_substitution, argnums=(0, 1), jit=False).lower(LOWER, B5).tape()
    rows = {row.name: row for row in report.rows}
    buffer, table = rows["tape_x_part"], rows["tape_x_part_rows"]
    assert (buffer.dtype, table.dtype, table.kept) == ("float64", "int64", "per iteration")
    assert "np.dot(L[i, :i], x[:i])" in table.text and table.line == buffer.line
    # five pushes of 0 + 1 + 2 + 3 + 4 floats; a table of (start, end, length) per push
    assert table.shape == (5, 3)
    assert rows["tape_x_part"].nbytes >= 8 * 10


# --- which arrays keep the rows tape -------------------------------------------------------
def carried_state(x, n):
    h = x * 1.0
    v = np.zeros_like(x)
    s = 0.0
    for i in range(n):
        v = v * 0.5 + np.sin(h)
        h = np.tanh(h * 0.9 + v)
        s += np.sum(h * h)
    return s


def fixed_windows(x, n):
    # bounds that are constants, or computed before the loop: one shape
    y = x * 1.0
    m = n // 2
    s = 0.0
    for i in range(n):
        w = y[1:4]
        u = y[m - 1:m + 1]
        s += np.sum(w * w * w) + np.sum(u * u)
        y[i] = math.sin(s)
    return s


@pytest.mark.parametrize("fn, args", [(carried_state, (X6, 4)), (fixed_windows, (X6, 5))],
                         ids=["carried_state", "fixed_windows"])
def test_arrays_of_one_shape_keep_the_rows_tape(fn, args):
    source = grad(fn, jit=False).lower(*copies(args)).source
    assert "tape_" in source and "push_ragged" not in source
    numeric = numerical_grad(fn, *copies(args))
    assert relative_error([grad(fn, jit=False)(*copies(args))], [numeric]) < 1e-7


def test_ragged_tapes_are_charged_against_the_tape_budget():
    # the ragged table is charged with the loop's other tapes, the flat buffer as it grows:
    # a small budget refuses the loop's line before the buffer outgrows it, a large one runs
    from autodiff_compiler import TapeMemoryError

    L = np.tril(np.random.default_rng(3).uniform(0.5, 1.5, (40, 40))) + 40 * np.eye(40)
    b = np.linspace(0.1, 1.0, 40)
    with pytest.raises(TapeMemoryError) as info:
        grad(forward_substitution, argnums=(0, 1), jit=False, max_tape_bytes=4000)(L, b)
    assert info.value.loc.line == forward_substitution.__code__.co_firstlineno + 3
    assert grad(forward_substitution, jit=False, max_tape_bytes=1000)(L, np.ones(3)).shape == (40, 40)
    full = grad(forward_substitution, argnums=(0, 1), jit=False)(L, b)
    roomy = grad(forward_substitution, argnums=(0, 1), jit=False, max_tape_bytes=10 ** 6)(L, b)
    assert np.array_equal(full[0], roomy[0]) and np.array_equal(full[1], roomy[1])
