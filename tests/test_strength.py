"""Strength reduction of index arithmetic (transforms/strength.py, ir/polynomials.py).

Code that Numba compiles updates indices of degree 2 or 3 in a loop's index (packed
triangles) by finite differences. The reduced source is run here in CPython (compiled as for
jit=True, loaded with jit=False) and must give what the unreduced jit=False code gives,
exactly (integer arithmetic), and gradients that match central differences; which values
are reduced, and which are left alone (inexact divisions), is read off the source.
"""

from __future__ import annotations

import numpy as np
import pytest

from autodiff_compiler import pipeline, value_and_grad
from autodiff_compiler.ir.polynomials import Polynomial
from autodiff_compiler.ir.types import F64, I64, Type
from autodiff_compiler.pipeline import parse

ARRAY = Type("float", 1)


def packed_rows(w, x, n):
    """Row-major packed lower triangle: row r starts at r (r + 1) // 2, an index of degree 1
    in the inner loop's c (LLVM hoists the rest): left as it is."""
    s = 0.0
    for r in range(n):
        v = 0.0
        for c in range(r + 1):
            v += w[r * (r + 1) // 2 + c] * x[c]
        s += v * v
    return s


def packed_columns(w, x, n):
    """Column-major strictly lower part, as ADBench's GMM stores it (index quadratic in c)."""
    s = 0.0
    for r in range(n):
        v = x[r]
        for c in range(r):
            v += w[c * n - c * (c + 1) // 2 + r - c - 1] * x[c]
        s += v * v
    return s


def from_offset(w, x, a, n):
    """A start that is a variable: the value at the start has a fractional coefficient."""
    s = 0.0
    for c in range(a, n, 2):
        s += w[c * (c + 1) // 2] * x[c] ** 2
    return s


def tetrahedral(w, x, n):
    """Degree 3: c (c + 1) (c + 2) // 6."""
    s = 0.0
    for c in range(n):
        s += w[c * (c + 1) * (c + 2) // 6] * x[c]
    return s


def wraps_around(w, x, n):
    """Indices that go negative (read from the end, as Python does)."""
    s = 0.0
    for c in range(n):
        s += w[c * c - 3 * c] * x[c]
    return s


def inexact(w, x, n):
    """c * c // 2 is not a polynomial: the division stays in the loop (c * c is carried)."""
    s = 0.0
    for c in range(n):
        s += w[c * c // 2] * x[c]
    return s


def descending(w, x, n):
    """A loop of step -1."""
    s = 0.0
    for c in range(n - 1, -1, -1):
        s += w[c * (c + 1) // 2] * x[c]
    return s


def recurrence(w, x, n):
    """Carried adjoints that change: the reverse sweep is a loop of its own, run backwards."""
    s = 1.0
    for c in range(n):
        s = s * x[c] + w[c * (c + 1) // 2]
    return s


CASES = [
    (packed_rows, lambda rng: (rng.normal(size=21), rng.normal(size=6), 6)),
    (packed_columns, lambda rng: (rng.normal(size=15), rng.normal(size=6), 6)),
    (from_offset, lambda rng: (rng.normal(size=40), rng.normal(size=9), 3, 9)),
    (from_offset, lambda rng: (rng.normal(size=40), rng.normal(size=9), 9, 3)),  # no trip
    (tetrahedral, lambda rng: (rng.normal(size=56), rng.normal(size=6), 6)),
    (wraps_around, lambda rng: (rng.normal(size=12), rng.normal(size=5), 5)),
    (inexact, lambda rng: (rng.normal(size=13), rng.normal(size=6), 6)),
    (descending, lambda rng: (rng.normal(size=21), rng.normal(size=6), 6)),
    (recurrence, lambda rng: (rng.normal(size=21), rng.normal(size=6), 6)),
]
REDUCED = {packed_columns, from_offset, tetrahedral, wraps_around, inexact, descending,
           recurrence}
DIVIDES_IN_LOOP = {packed_rows, inexact}


def _types(args):
    return [ARRAY if isinstance(a, np.ndarray) else I64 if isinstance(a, int) else F64
            for a in args]


def _reduced_artifact(fn, args):
    """The gradient compiled as for Numba (strength reduced), loaded to run in CPython."""
    artifact = pipeline.compile(parse(fn), _types(args), [0, 1], "grad", jit=True, load=False)
    return pipeline.load(artifact, jit=False)


def _central(fn, args, k, step=1e-6):
    x = args[k]
    out = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = step
        hi = list(args)
        lo = list(args)
        hi[k], lo[k] = x + e, x - e
        out[j] = (fn(*hi) - fn(*lo)) / (2 * step)
    return out


@pytest.mark.parametrize("fn, make", CASES, ids=[f"{c[0].__name__}-{i}"
                                                   for i, c in enumerate(CASES)])
def test_reduced_code_computes_the_same(fn, make):
    args = make(np.random.default_rng(7))
    artifact = _reduced_artifact(fn, args)
    assert ("index_step" in artifact.source) == (fn in REDUCED)
    in_loops = [line for line in artifact.source.splitlines()
                if line.startswith(" " * 8) and not line.strip().startswith("#")]
    assert any(" // " in line for line in in_loops) == (fn in DIVIDES_IN_LOOP)
    results = artifact.call(*args)
    value, grads = results.outputs[0], results.gradients
    plain_value, plain_grads = value_and_grad(fn, argnums=(0, 1), jit=False)(*args)
    assert value == plain_value
    for ours, plain in zip(grads, plain_grads):
        np.testing.assert_array_equal(ours, plain)
    for k in (0, 1):
        np.testing.assert_allclose(grads[k], _central(fn, args, k), rtol=1e-6, atol=1e-8)


def any_range(w, x, a, b, step):
    """Bounds and step given at run time, either sign; the index wraps into w by %."""
    s = 0.0
    for c in range(a, b, step):
        s += w[(c * (c - 1) // 2 - 3 * a * c + c * c * step) % 50] * x[c % 7]
    return s


@pytest.mark.parametrize("bounds", [(0, 7, 1), (2, 30, 3), (-5, 11, 2), (20, -9, -1),
                                    (13, -13, -4), (4, 4, 1), (9, 3, 2)])
def test_run_time_bounds_and_steps(bounds):
    rng = np.random.default_rng(5)
    args = (rng.normal(size=50), rng.normal(size=7), *bounds)
    artifact = pipeline.compile(parse(any_range), _types(args), [0, 1], "grad", jit=True,
                                load=False)
    assert "index_step" in artifact.source
    results = pipeline.load(artifact, jit=False).call(*args)
    plain_value, plain_grads = value_and_grad(any_range, argnums=(0, 1), jit=False)(*args)
    assert results.outputs[0] == plain_value
    for ours, plain in zip(results.gradients, plain_grads):
        np.testing.assert_array_equal(ours, plain)


def test_polynomial_exact_division():
    c, d = Polynomial.atom(0, "c"), Polynomial.atom(1, "d")
    one = Polynomial.constant(1)
    assert (c * (c + one)).exact_div(2) is not None
    assert (c * c).exact_div(2) is None
    assert (c * (c + one) * (c + one + one)).exact_div(6) is not None
    assert (c * (c + one) * (c + one + one)).exact_div(4) is None  # 1 * 2 * 3
    assert (c * (c + one) * (c + one + one)).exact_div(12) is None
    assert (c * d * (d + one)).exact_div(2) is not None
    assert (c * d).exact_div(2) is None


def test_polynomial_differences():
    c, d = Polynomial.atom(0, "c"), Polynomial.atom(1, "d")
    one = Polynomial.constant(1)
    e = c * d - (c * (c + one)).exact_div(2) - c
    first = e.substitute(0, c + one) - e
    assert first.terms == (d - c - one - one).terms
    assert (first.substitute(0, c + one) - first).terms == Polynomial.constant(-1).terms
    assert e.degree(0) == 2 and e.degree(1) == 1


@pytest.mark.numba
@pytest.mark.parametrize("fn", [packed_columns, recurrence])
def test_numba_agrees_with_cpython(fn):
    """The reduced code compiled by Numba (int64 index updates, Numba's wraparound of the
    carried index) gives CPython's results bit for bit."""
    args = dict(CASES)[fn](np.random.default_rng(3))
    jitted = value_and_grad(fn, argnums=(0, 1), jit=True)(*args)
    plain = value_and_grad(fn, argnums=(0, 1), jit=False)(*args)
    assert jitted[0] == plain[0]
    for ours, theirs in zip(jitted[1], plain[1]):
        np.testing.assert_array_equal(ours, theirs)
