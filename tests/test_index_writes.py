"""Writes through an array of integer indices: `y[idx] = v`, `y[idx] += v` (-=, *=), and rows
of a 2-D array (`z[idx] = rows`, `z[idx, :] = row`).

NumPy semantics, repeated indices included: the last of repeated writes is kept, and
`y[idx] += v` is `y[idx] = y[idx] + v` (buffered), so it adds once per distinct entry; -1
names the last entry. Every case:
- the reverse gradient against central differences of the plain NumPy function (so the
  semantics are NumPy's own, not restated here), the value against the plain function, and
  the caller's arrays untouched;
- forward against reverse (jvp along a random tangent == <grad, tangent>), and forward over
  reverse (hvp) against central differences of the gradient.
Besides: hand-derived gradients that pin the repeated-index rule down, Jacobians of array
outputs (jacfwd == jacrev), the constructs that are refused (with file, line and caret), and
Numba against CPython (marked numba).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from checks import as_tuple, assert_untouched, copies, on_copies

from autodiff_compiler import (
    UnsupportedOperationError,
    grad,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    numerical_grad,
    value_and_grad,
)
from autodiff_compiler.gradcheck import relative_error

TOL = 1e-7          # against central differences
AGREE_RTOL = 1e-10  # two exact derivative modes against each other


# --- the differentiated functions -------------------------------------------------------------

def weighted_sum(y):
    s = 0.0
    for i in range(len(y)):
        s += y[i] * y[i] * (i + 1)
    return s


def overwrite(x, idx, v):
    y = x.copy()
    y[idx] = v
    return weighted_sum(y)


def overwrite_scalar(x, idx, c):
    y = x.copy()
    y[idx] = c * x[0]
    return weighted_sum(y) + c


def add_repeated(x, idx, v):
    y = x.copy()
    y[idx] += v
    y[idx] -= 0.5 * v * v
    return weighted_sum(y)


def multiply_through_index(x, idx, v):
    y = x.copy()
    y[idx] *= v
    y[idx] += y[0]
    return np.sum(y * y * x)


def write_own_argument(x, idx, v):
    x[idx] = v * x[1]
    x[idx] += 2.0 * v
    return weighted_sum(x)


def index_writes_in_loop(x, idx, v, steps):
    # the index array changes with t; the written array is read between writes
    y = np.zeros(len(x))
    n = len(x)
    for t in range(steps):
        y[(idx + t) % n] += v * x[t % n]
        y[idx] = v * y[t % n] + x[t % n]
        y[t % n] *= 0.9
    return weighted_sum(y)


def index_writes_in_while(x, idx, v):
    y = x.copy()
    k = 0
    while k < 5:
        y[idx] += v * x[k]
        if y[0] > 3.0:
            break
        k += 1
    return weighted_sum(y)


def index_writes_in_branches(x, idx, v, c):
    y = x.copy()
    if c > 0.0:
        y[idx] = v * c
    else:
        y[idx] += v
    return weighted_sum(y)


FIXED = np.array([3, 0, 3])


def constant_index_in_a_branch(x, v, c):
    # the index array is made in the branch: the reverse sweep reads it from there
    y = x.copy()
    if c > 0.0:
        y[FIXED] += v * c
    return weighted_sum(y)


def rows(x, idx, r, w):
    z = np.zeros((4, 3))
    z[idx] = r               # one row per index
    z[idx, :] += w           # one row for every index
    z[idx] *= x[0]           # a number for every entry
    return np.sum(z * z) + np.sum(z[1] * w)


def fill(out, idx, v):
    out[idx] = v


def written_by_helper(x, idx, v):
    y = np.zeros(len(x))
    fill(y, idx, v * x[idx])
    return weighted_sum(y) + weighted_sum(x)


# --- cases ------------------------------------------------------------------------------------

def _x(n=5):
    return np.linspace(0.3, 1.1, n) + 0.05 * np.sin(np.arange(n))


# repeated entries (1 twice, and 4 named as 4 and as -1) and a negative one
REPEATED = np.array([1, 3, 1, -1, 4])


@dataclass
class Case:
    id: str
    fn: Callable
    make_args: Callable
    argnums: object


CASES = [
    Case("overwrite", overwrite, lambda: (_x(), REPEATED.copy(), _x(5)[::-1] + 0.2), (0, 2)),
    Case("overwrite_distinct", overwrite, lambda: (_x(), np.array([4, 0, 2]), _x(3)), (0, 2)),
    Case("overwrite_scalar", overwrite_scalar, lambda: (_x(), REPEATED.copy(), 0.8), (0, 2)),
    Case("add_repeated", add_repeated, lambda: (_x(), REPEATED.copy(), _x(5) - 0.4), (0, 2)),
    Case("multiply_through_index", multiply_through_index,
         lambda: (_x(), REPEATED.copy(), _x(5) + 0.3), (0, 2)),
    Case("write_own_argument", write_own_argument,
         lambda: (_x(), np.array([2, -2, 0, 2]), _x(4)), (0, 2)),
    Case("index_writes_in_loop", index_writes_in_loop,
         lambda: (_x(), np.array([0, 2, -1, 2]), _x(4), 7), (0, 2)),
    Case("index_writes_in_while", index_writes_in_while,
         lambda: (_x(), np.array([0, 3, 0]), _x(3)), (0, 2)),
    Case("index_writes_in_branches", index_writes_in_branches,
         lambda: (_x(), REPEATED.copy(), _x(5), 0.6), (0, 2, 3)),
    Case("index_writes_in_other_branch", index_writes_in_branches,
         lambda: (_x(), REPEATED.copy(), _x(5), -0.6), (0, 2, 3)),
    Case("constant_index_in_a_branch", constant_index_in_a_branch,
         lambda: (_x(), _x(3), 0.6), (0, 1, 2)),
    Case("rows", rows, lambda: (_x(), np.array([2, 0, -2, 3]), np.arange(12.0).reshape(4, 3)
                                / 7.0, _x(3)), (0, 2, 3)),
    Case("written_by_helper", written_by_helper, lambda: (_x(), REPEATED.copy(), _x(5)),
         (0, 2)),
]

cases = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
BY_ID = {c.id: c for c in CASES}




def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _tangents(case: Case, args, rng):
    nums = as_tuple(case.argnums, case.argnums)
    return [rng.uniform(-1.0, 1.0, np.shape(a)) if k in nums and isinstance(a, np.ndarray)
            else float(rng.uniform(-1.0, 1.0)) if k in nums
            else np.zeros_like(a, dtype=np.float64) if isinstance(a, np.ndarray)
            and a.dtype.kind == "f" else 0.0 if isinstance(a, float) else 0
            for k, a in enumerate(args)]


# --- every case ---------------------------------------------------------------------------------

@cases
def test_gradient_matches_central_differences(case: Case):
    args = case.make_args()
    analytic = grad(case.fn, argnums=case.argnums, jit=False)(*args)
    assert_untouched(case.make_args(), args)
    numeric = numerical_grad(on_copies(case.fn), *args, argnums=case.argnums)
    error = relative_error(as_tuple(analytic, case.argnums), as_tuple(numeric, case.argnums))
    assert error < TOL, f"{case.id}: relative error {error:.3g}\n{analytic}\n{numeric}"
    assert_untouched(case.make_args(), args)


@cases
def test_value_matches_plain_function(case: Case):
    args = case.make_args()
    expected = case.fn(*copies(args))
    value, _ = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert_untouched(case.make_args(), args)


@cases
def test_forward_agrees_with_reverse(case: Case):
    args = case.make_args()
    tangents = _tangents(case, args, _rng(case.id))
    out, out_dot = jvp(case.fn, args, tangents, jit=False)
    gradient = as_tuple(grad(case.fn, argnums=case.argnums, jit=False)(*case.make_args()),
                        case.argnums)
    terms = [np.asarray(g) * np.asarray(tangents[k])
             for g, k in zip(gradient, as_tuple(case.argnums, case.argnums))]
    reference = sum(float(np.sum(t)) for t in terms)
    scale = sum(float(np.sum(np.abs(t))) for t in terms)
    assert abs(out_dot - reference) <= AGREE_RTOL * scale, f"{case.id}: {out_dot} {reference}"
    assert out == pytest.approx(case.fn(*case.make_args()), rel=1e-12)
    assert_untouched(case.make_args(), args)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hvp_matches_differences_of_the_gradient(case: Case):
    """Forward over reverse: the tangents of the adjoint code's writes and scatter-adds."""
    args = case.make_args()
    nums = as_tuple(case.argnums, case.argnums)
    floats = [k for k, a in enumerate(args) if isinstance(a, float)
              or isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    tangents = _tangents(case, args, _rng(case.id + "/hvp"))
    products = hvp(case.fn, args, tangents, jit=False)
    ours = np.concatenate([np.ravel(products[k]) for k in nums])
    full = grad(case.fn, argnums=tuple(floats), jit=False)
    position = [floats.index(k) for k in nums]

    def gradient_at(step):
        moved = [a + step * t if k in floats else a
                 for k, (a, t) in enumerate(zip(case.make_args(), tangents))]
        parts = full(*moved)
        return np.concatenate([np.ravel(parts[p]) for p in position])

    h = 1e-4
    numeric = (8.0 * (gradient_at(h) - gradient_at(-h))
               - (gradient_at(2 * h) - gradient_at(-2 * h))) / (12.0 * h)
    assert np.allclose(ours, numeric, rtol=1e-6, atol=1e-8 * max(1.0, np.max(np.abs(ours)))), \
        f"{case.id}: hvp {ours}\ndifferences {numeric}"


def read_through_index(x):
    t = x[np.arange(3)]
    return np.sum(t * t * x[1:4])


def test_hvp_through_an_index_read():
    """The adjoint of x[idx] is a scatter-add into x's buffer; forward over reverse must carry
    the tangent of what it adds (the Hessian of sum(x[i]^2 x[i+1]), i < 3, by hand)."""
    x = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    v = np.array([1.0, 0.3, -0.2, 0.7, 0.1])
    hessian = np.zeros((5, 5))
    for i in range(3):
        hessian[i, i] += 2.0 * x[i + 1]
        hessian[i, i + 1] += 2.0 * x[i]
        hessian[i + 1, i] += 2.0 * x[i]
    (product,) = hvp(read_through_index, (x,), (v,), jit=False)
    np.testing.assert_allclose(product, hessian @ v, rtol=1e-14)


# --- the repeated-index rule, by hand ---------------------------------------------------------

W = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def weighted_overwrite(x, idx, v):
    y = x.copy()
    y[idx] = v
    return np.sum(W * y)


def weighted_add(x, idx, v):
    y = x.copy()
    y[idx] += v
    return np.sum(W * y)


def test_only_the_last_repeated_write_gets_a_gradient():
    gx, gv = grad(weighted_overwrite, argnums=(0, 2), jit=False)(_x(), REPEATED.copy(),
                                                                 np.ones(5))
    # idx = [1, 3, 1, -1, 4]: entry 1 is written at positions 0 and 2 (2 is kept), entry 4 at
    # positions 3 and 4 (4 is kept); every written entry of x is overwritten
    np.testing.assert_array_equal(gv, [0.0, W[3], W[1], 0.0, W[4]])
    np.testing.assert_array_equal(gx, [W[0], 0.0, W[2], 0.0, 0.0])


def test_augmented_write_adds_once_and_passes_the_old_values_through():
    gx, gv = grad(weighted_add, argnums=(0, 2), jit=False)(_x(), REPEATED.copy(), np.ones(5))
    np.testing.assert_array_equal(gv, [0.0, W[3], W[1], 0.0, W[4]])
    np.testing.assert_array_equal(gx, W)
    y = _x()
    y[REPEATED] += np.ones(5)   # NumPy itself: once per distinct entry
    np.testing.assert_allclose(y - _x(), [0.0, 1.0, 0.0, 1.0, 1.0])


def test_negative_and_positive_names_of_one_entry_alias():
    # -5 and 0 name the same entry of a length-5 array: only the later write counts
    gv = grad(weighted_overwrite, argnums=2, jit=False)(_x(), np.array([-5, 0, 2, -3]),
                                                         np.ones(4))
    np.testing.assert_array_equal(gv, [0.0, W[0], 0.0, W[2]])


def test_empty_index_array_writes_nothing():
    gx, gv = grad(weighted_overwrite, argnums=(0, 2), jit=False)(
        _x(), np.zeros(0, dtype=np.int64), np.zeros(0))
    np.testing.assert_array_equal(gx, W)
    assert gv.shape == (0,)


# --- array outputs: Jacobians, forward gradients ---------------------------------------------

def scatter_copy(x, idx, v):
    y = x.copy()
    y[idx] = v
    y[0] = 1.5 * y[0]
    return y


def scatter_in_place(x, idx, v):
    y = x.copy()
    y[idx] = v
    s = 0.0
    for i in range(len(y)):
        s += y[i] * x[i]
    return s


def test_jacfwd_equals_jacrev_for_an_overwriting_write():
    args = (_x(), REPEATED.copy(), _x(5) + 1.0)
    forward = jacfwd(scatter_copy, argnums=(0, 2), jit=False)(*args)
    reverse = jacrev(scatter_copy, argnums=(0, 2), jit=False)(*args)
    expected_v = np.zeros((5, 5))
    for k, entry in [(2, 1), (1, 3), (4, 4)]:   # the kept writes
        expected_v[entry, k] = 1.0
    np.testing.assert_array_equal(reverse[1], expected_v)
    np.testing.assert_array_equal(forward[1], expected_v)
    for jacobian in (forward, reverse):
        np.testing.assert_array_equal(jacobian[0], np.diag([1.5, 0.0, 1.0, 0.0, 0.0]))


def rows_of_a_number(x, idx, c):
    z = np.zeros((4, 2))
    z[idx] = c
    z[idx, :] = x[1] * c
    return z


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_jacobians_of_rows_written_with_a_number(jit):
    args = (np.array([0.5, 1.5]), np.array([1, -1, 1]), 0.7)
    forward = jacfwd(rows_of_a_number, argnums=(0, 2), jit=jit)(*args)
    reverse = jacrev(rows_of_a_number, argnums=(0, 2), jit=jit)(*args)
    expected_c = np.zeros((4, 2))
    expected_c[[1, 3]] = args[0][1]     # rows 1 and 3 (named as -1) hold x[1] * c
    expected_x = np.zeros((4, 2, 2))
    expected_x[[1, 3], :, 1] = args[2]
    for jacobian in (forward, reverse):
        np.testing.assert_array_equal(jacobian[1], expected_c)
        np.testing.assert_array_equal(jacobian[0], expected_x)


def test_checkpointed_loop_gives_the_same_gradient():
    case = BY_ID["index_writes_in_loop"]
    full = grad(case.fn, argnums=case.argnums, jit=False)(*case.make_args())
    for every in (2, 3, "sqrt"):
        checkpointed = grad(case.fn, argnums=case.argnums, jit=False,
                            checkpoint=every)(*case.make_args())
        for a, b in zip(full, checkpointed):
            np.testing.assert_allclose(b, a, rtol=1e-14)


@pytest.mark.parametrize("fn", [scatter_in_place, add_repeated],
                         ids=["scatter_in_place", "add_repeated"])
def test_forward_gradient_equals_reverse_gradient(fn):
    args = (_x(), REPEATED.copy(), _x(5) + 1.0)
    forward = grad(fn, argnums=(0, 2), mode="forward", jit=False)(*args)
    reverse = grad(fn, argnums=(0, 2), jit=False)(*args)
    for f_part, r_part in zip(forward, reverse):
        np.testing.assert_allclose(f_part, r_part, rtol=AGREE_RTOL)


# --- refused ------------------------------------------------------------------------------------

THIS_FILE = Path(__file__).resolve()
_LINES = THIS_FILE.read_text().splitlines()


def _marker_line(name: str) -> int:
    hits = [k + 1 for k, text in enumerate(_LINES) if text.rstrip().endswith(f"# E:{name}")]
    assert len(hits) == 1, name
    return hits[0]


def into_3d(x, idx, v):
    y = np.zeros((3, 2, 2))
    y[idx] = v  # E:into_3d
    return np.sum(y) + x[0]


def through_a_mask(x, idx, v):
    y = x.copy()
    y[x > 0.5] = v  # E:through_a_mask
    return np.sum(y)


def index_then_integer(x, idx, v):
    y = np.zeros((5, 2))
    y[idx, 1] = v  # E:index_then_integer
    return np.sum(y) + x[0]


def two_dimensional_index(x, idx, v):
    y = x.copy()
    y[np.reshape(idx, (2, 2))] = v  # E:two_dimensional_index
    return np.sum(y)


def value_with_more_axes(x, idx, v):
    y = x.copy()
    y[idx] = np.outer(v, v)  # E:value_with_more_axes
    return np.sum(y)


REFUSED = [
    (into_3d, "into a 1-D or 2-D array"),
    (through_a_mask, "a 1-D array of integers"),
    (index_then_integer, r"takes the form y\[idx\] = v or y\[idx, :\] = v"),
    (two_dimensional_index, "a 1-D array of integers"),
    (value_with_more_axes, "more axes than the array"),
]


@pytest.mark.parametrize(("fn", "message"), REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_refused_with_the_line(fn, message):
    args = (_x(4), np.array([0, 2, 2, 1]), _x(4))
    with pytest.raises(UnsupportedOperationError, match=message) as info:
        grad(fn, argnums=(0, 2), jit=False)(*args)
    assert info.value.loc is not None and info.value.loc.line == _marker_line(fn.__name__)
    assert str(info.value).splitlines()[-1].strip() == "^"


# --- Numba agrees with CPython ------------------------------------------------------------------

NUMBA_IDS = ["overwrite", "add_repeated", "index_writes_in_loop", "rows", "write_own_argument"]


@pytest.mark.numba
@pytest.mark.parametrize("case", [BY_ID[k] for k in NUMBA_IDS], ids=NUMBA_IDS)
def test_numba_matches_python(case: Case):
    args = case.make_args()
    value_py, grad_py = value_and_grad(case.fn, argnums=case.argnums, jit=False)(*args)
    value_nb, grad_nb = value_and_grad(case.fn, argnums=case.argnums, jit=True)(*args)
    assert value_nb == pytest.approx(value_py, rel=1e-12)
    for gp, gn in zip(as_tuple(grad_py, case.argnums), as_tuple(grad_nb, case.argnums)):
        np.testing.assert_allclose(gn, gp, rtol=1e-12, atol=1e-300)
    tangents = _tangents(case, args, _rng(case.id))
    out_py, dot_py = jvp(case.fn, case.make_args(), tangents, jit=False)
    out_nb, dot_nb = jvp(case.fn, case.make_args(), tangents, jit=True)
    assert out_nb == pytest.approx(out_py, rel=1e-12)
    assert dot_nb == pytest.approx(dot_py, rel=1e-11)
    assert_untouched(case.make_args(), args)
