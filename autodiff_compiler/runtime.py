"""Helpers that generated code calls: small loops compiled by Numba.

They are Numba dispatchers, callable from the interpreter too (jit=False runs them compiled
as well; they are cached on disk after the first use). The products (dot11, dot21, dot12,
dot22) call BLAS through Numba's np.dot (SciPy's BLAS) from the sizes where it is faster
than their own loops, and run the loops below them, where a call's overhead dominates
(benchmarks/blas.py measures both).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

# Multiply-adds from which np.dot (BLAS) beats the loops, measured single-threaded by
# benchmarks/blas.py: 16 x 16 matrix products, 32 x 32 matrix-vector products, inner
# products of 256 entries. Below them both take about a microsecond.
BLAS_MIN_MATRIX = 16 ** 3
BLAS_MIN_VECTOR = 32 ** 2
BLAS_MIN_INNER = 256
ALIGN = ("matrix product: shapes not aligned (the last axis of the first operand and the "
         "first axis of the second differ in length)")


def blas_operand(a):
    """`a` as Numba's np.dot hands it to BLAS without a copy or a warning: float64 and
    contiguous in C or Fortran order (a transpose is). Other arrays (a strided slice, int or
    bool entries: the loops accumulate in float64 too) are copied to a float64 C array."""
    return np.ascontiguousarray(a, dtype=np.float64)


@overload(blas_operand)
def _blas_operand_typed(a):
    if not isinstance(a, types.Array) or a.dtype not in (types.float64, types.float32):
        return lambda a: a.astype(np.float64)
    if a.layout in "CF":
        return lambda a: a
    return lambda a: np.ascontiguousarray(a)


def zero_of(a, b):
    """0.0 in the precision of a product of a and b: float32 when both are float32 (the
    generated code casts a float32 operand of a float64 product first)."""
    return np.float32(0.0) if a.dtype == b.dtype == np.float32 else 0.0


@overload(zero_of)
def _zero_of_typed(a, b):
    if a.dtype == types.float32 and b.dtype == types.float32:
        return lambda a, b: np.float32(0.0)
    return lambda a, b: 0.0


@numba.njit(cache=True)
def blas_dot(a, b):
    """np.dot through BLAS, of operands made ready for it (blas_operand)."""
    return np.dot(blas_operand(a), blas_operand(b))

from . import errors

# the parallel loop of fused loop nests (grad(f, parallel=True)); a range in the interpreter
prange = numba.prange

from .runtime_linalg import (  # noqa: F401  (generated code calls them as rt.<name>)
    check_full_column_rank,
    check_tall,
    cholesky,
    det,
    det_stack,
    eigh,
    eigvalsh,
    inv,
    inv_stack,
    keep_residuals,
    lstsq,
    lu_factor,
    matmul,
    qr,
    residuals_cotangent,
    slogdet,
    slogdet_stack,
    solve1,
    solve2,
    solve_stack,
    svd,
    svdvals,
    tril_stack,
    triu_stack,
)
from .runtime_vector import (  # noqa: F401  (generated code)
    array_max,
    array_min,
    reassociable_add,
    vector_exp,
)


@numba.njit(cache=True)
def dot11(a, b):
    if a.shape[0] != b.shape[0]:
        raise ValueError("np.dot: the vectors differ in length")
    if a.shape[0] >= BLAS_MIN_INNER:
        return blas_dot(a, b)
    return dot11_loops(a, b)


@numba.njit(cache=True)
def dot21(a, b):
    if a.shape[1] != b.shape[0]:
        raise ValueError(ALIGN)
    if a.shape[0] * a.shape[1] >= BLAS_MIN_VECTOR:
        return blas_dot(a, b)
    return dot21_loops(a, b)


@numba.njit(cache=True)
def dot12(a, b):
    if a.shape[0] != b.shape[0]:
        raise ValueError(ALIGN)
    if b.shape[0] * b.shape[1] >= BLAS_MIN_VECTOR:
        return blas_dot(a, b)
    return dot12_loops(a, b)


@numba.njit(cache=True)
def dot22(a, b):
    if a.shape[1] != b.shape[0]:
        raise ValueError(ALIGN)
    if a.shape[0] * a.shape[1] * b.shape[1] >= BLAS_MIN_MATRIX:
        return blas_dot(a, b)
    return dot22_loops(a, b)


@numba.njit(cache=True)
def dot11_loops(a, b):
    total = zero_of(a, b)
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@numba.njit(cache=True)
def dot21_loops(a, b):
    zero = zero_of(a, b)
    out = np.full(a.shape[0], zero)
    for i in range(a.shape[0]):
        total = zero
        for j in range(a.shape[1]):
            total += a[i, j] * b[j]
        out[i] = total
    return out


@numba.njit(cache=True)
def dot12_loops(a, b):
    out = np.full(b.shape[1], zero_of(a, b))
    for i in range(b.shape[0]):
        for j in range(b.shape[1]):
            out[j] += a[i] * b[i, j]
    return out


@numba.njit(cache=True)
def dot22_loops(a, b):
    out = np.full((a.shape[0], b.shape[1]), zero_of(a, b))
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            aik = a[i, k]
            for j in range(b.shape[1]):
                out[i, j] += aik * b[k, j]
    return out


@numba.njit(cache=True)
def batch_dot(a, b):
    """a[k] @ b[k] for every k: (B, m, s) and (B, s, n) -> (B, m, n), each product by dot22
    (BLAS from its threshold on)."""
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError("batched matrix product: the batch or summed axes differ in length")
    out = np.full((a.shape[0], a.shape[1], b.shape[2]), zero_of(a, b))
    for k in range(a.shape[0]):
        out[k] = dot22(a[k], b[k])
    return out


@numba.njit(cache=True)
def outer(a, b):
    out = np.full((a.shape[0], b.shape[0]), zero_of(a, b))
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = a[i] * b[j]
    return out


@numba.njit(cache=True)
def grow(tape, needed):
    """A copy of `tape` with room for at least `needed` entries (at least twice as long)."""
    size = max(2 * tape.shape[0], needed)
    out = np.empty((size,) + tape.shape[1:], dtype=tape.dtype)
    out[:tape.shape[0]] = tape
    return out


@numba.njit(cache=True)
def push_ragged(tape, rows, k, value):
    """Push `value` on a ragged tape (ad.tape): append it to the flat buffer `tape` (a longer
    copy when it does not fit) and record (start, end, *shape) in row k of `rows`; returns
    the buffer."""
    start = rows[k - 1, 1] if k > 0 else 0
    end = start + value.size
    if end > tape.shape[0]:
        tape = grow(tape, end)
    tape[start:end].reshape(value.shape)[...] = value
    rows[k, 0] = start
    rows[k, 1] = end
    for axis in range(value.ndim):
        rows[k, 2 + axis] = value.shape[axis]
    return tape


@numba.njit(cache=True)
def cumsum_middle(a):
    """np.cumsum(a, axis=1) of a 3-D array (Numba's np.cumsum takes no axis)."""
    out = np.empty(a.shape, a.dtype)
    for i in range(a.shape[0]):
        for k in range(a.shape[2]):
            total = a.dtype.type(0.0)
            for j in range(a.shape[1]):
                total += a[i, j, k]
                out[i, j, k] = total
    return out


@numba.njit(cache=True)
def reverse_cumsum_middle(g):
    """out[:, j, :] = sum of g[:, j:, :] (the adjoint of cumsum_middle)."""
    return cumsum_middle(g[:, ::-1, :])[:, ::-1, :]


@numba.njit(cache=True)
def reverse_cumsum(g):
    """out[i] = sum of g[i:] (the adjoint of np.cumsum)."""
    return np.cumsum(g[::-1])[::-1]


@numba.njit(cache=True)
def cumprod_middle(a):
    """np.cumprod(a, axis=1) of a 3-D array (Numba's np.cumprod takes no axis)."""
    out = np.empty(a.shape, a.dtype)
    for i in range(a.shape[0]):
        for k in range(a.shape[2]):
            total = a.dtype.type(1.0)
            for j in range(a.shape[1]):
                total *= a[i, j, k]
                out[i, j, k] = total
    return out


@numba.njit(cache=True)
def argsort_middle(a):
    """np.argsort(a, axis=1, kind="stable") of a 3-D array: equal entries keep their order."""
    out = np.empty(a.shape, dtype=np.int64)
    for i in range(a.shape[0]):
        for k in range(a.shape[2]):
            out[i, :, k] = np.argsort(np.ascontiguousarray(a[i, :, k]), kind="mergesort")
    return out


@numba.njit(cache=True)
def _extreme_middle(a, sign):
    """The first position of the largest (sign 1) or smallest (sign -1) entry along axis 1
    of a 3-D array, or of its first NaN, as np.argmax/np.argmin choose."""
    if a.shape[1] == 0:
        raise ValueError("attempt to get argmax or argmin of an empty sequence")
    out = np.empty((a.shape[0], a.shape[2]), dtype=np.int64)
    for i in range(a.shape[0]):
        for k in range(a.shape[2]):
            best = 0
            for j in range(1, a.shape[1]):
                if math.isnan(a[i, best, k]):
                    break
                if math.isnan(a[i, j, k]) or sign * (a[i, j, k] - a[i, best, k]) > 0.0:
                    best = j
            out[i, k] = best
    return out


@numba.njit(cache=True)
def argmax_middle(a):
    return _extreme_middle(a, 1.0)


@numba.njit(cache=True)
def argmin_middle(a):
    return _extreme_middle(a, -1.0)


@numba.njit(cache=True)
def cumprod_grad_middle(x, g):
    """The adjoint of cumprod_middle, exact with zeros: x_bar[j] = (x[0] ... x[j-1]) * r[j]
    with r[j] = g[j] + x[j+1] r[j+1] (the later cotangents times the later factors)."""
    out = np.empty(x.shape, x.dtype)
    zero, one = x.dtype.type(0.0), x.dtype.type(1.0)
    n = x.shape[1]
    for i in range(x.shape[0]):
        for k in range(x.shape[2]):
            later = zero
            for j in range(n - 1, -1, -1):
                later = g[i, j, k] + (x[i, j + 1, k] * later if j + 1 < n else zero)
                out[i, j, k] = later
            before = one
            for j in range(n):
                out[i, j, k] *= before
                before *= x[i, j, k]
    return out


@numba.njit(cache=True)
def cumprod_tangent_middle(x, x_dot):
    """The tangent of cumprod_middle: y_dot[j] = y_dot[j-1] x[j] + (x[0] ... x[j-1]) x_dot[j]."""
    out = np.empty(x.shape, x.dtype)
    for i in range(x.shape[0]):
        for k in range(x.shape[2]):
            before, tangent = x.dtype.type(1.0), x.dtype.type(0.0)
            for j in range(x.shape[1]):
                tangent = tangent * x[i, j, k] + before * x_dot[i, j, k]
                before *= x[i, j, k]
                out[i, j, k] = tangent
    return out


@numba.njit(cache=True)
def cumprod_grad(x, g):
    """The adjoint of np.cumprod of x flattened (g 1-D): in x's shape."""
    flat = np.ascontiguousarray(x).reshape((1, x.size, 1))
    return cumprod_grad_middle(flat, np.ascontiguousarray(g).reshape((1, g.size, 1))
                               ).reshape(x.shape)


@numba.njit(cache=True)
def cumprod_tangent(x, x_dot):
    """The tangent of np.cumprod of x flattened: 1-D."""
    flat = np.ascontiguousarray(x).reshape((1, x.size, 1))
    return cumprod_tangent_middle(flat, np.ascontiguousarray(x_dot).reshape(
        (1, x_dot.size, 1))).reshape(x.size)


@numba.njit(cache=True)
def prod_of_others(x):
    """For each entry, the product of all the others: the gradient of np.prod, exact when
    entries are zero."""
    flat = np.ascontiguousarray(x).reshape((1, x.size, 1))
    return prod_of_others_middle(flat).reshape(x.shape)


@numba.njit(cache=True)
def prod_of_others_middle(a):
    """For each entry of a 3-D array, the product of the others along axis 1 (prefix and
    suffix products)."""
    out = np.empty(a.shape, a.dtype)
    for i in range(a.shape[0]):
        for k in range(a.shape[2]):
            prefix = a.dtype.type(1.0)
            for j in range(a.shape[1]):
                out[i, j, k] = prefix
                prefix *= a[i, j, k]
            suffix = a.dtype.type(1.0)
            for j in range(a.shape[1] - 1, -1, -1):
                out[i, j, k] *= suffix
                suffix *= a[i, j, k]
    return out


@numba.njit(cache=True)
def prod_of_others_tangent(x, x_dot):
    """The tangent of prod_of_others(x) along x_dot (its forward mode, for Hessians)."""
    shape = (1, x.size, 1)
    return prod_of_others_tangent_middle(np.ascontiguousarray(x).reshape(shape),
                                         np.ascontiguousarray(x_dot).reshape(shape)
                                         ).reshape(x.shape)


@numba.njit(cache=True)
def prod_of_others_tangent_middle(a, a_dot):
    """prod_of_others_middle with its prefix and suffix products carried as dual numbers:
    exact when entries are zero, like the products themselves."""
    out = np.empty(a.shape, a.dtype)
    zero, one = a.dtype.type(0.0), a.dtype.type(1.0)
    n = a.shape[1]
    prefix, prefix_dot = np.empty(n, a.dtype), np.empty(n, a.dtype)
    for i in range(a.shape[0]):
        for k in range(a.shape[2]):
            p, p_dot = one, zero
            for j in range(n):
                prefix[j], prefix_dot[j] = p, p_dot
                p, p_dot = p * a[i, j, k], p_dot * a[i, j, k] + p * a_dot[i, j, k]
            s, s_dot = one, zero
            for j in range(n - 1, -1, -1):
                out[i, j, k] = prefix_dot[j] * s + prefix[j] * s_dot
                s, s_dot = s * a[i, j, k], s_dot * a[i, j, k] + s * a_dot[i, j, k]
    return out


@numba.njit(cache=True)
def prod_middle(a):
    """np.prod(a, axis=1) of a 3-D array (Numba's np.prod takes no axis)."""
    out = np.ones((a.shape[0], a.shape[2]), a.dtype)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                out[i, k] *= a[i, j, k]
    return out


@numba.njit(cache=True)
def scatter_add(buffer, index, values):
    """buffer[index] += values, adding repeated indices up (NumPy's np.add.at)."""
    for k in range(index.shape[0]):
        buffer[index[k]] += values[k]


def broadcast_shapes(*shapes):
    """np.broadcast_shapes of the shapes of arrays (fused loop nests: their iteration
    shape). Numba's own takes about 150 ns a call, as long as a loop over a few dozen
    entries; this one is unrolled for the ranks at hand."""
    return np.broadcast_shapes(*shapes)


@numba.njit(inline="always")
def _broadcast_length(n, d):
    """The broadcast length of axes of lengths n and d (NumPy's rule)."""
    if d == n or d == 1:
        return n
    if n == 1:
        return d
    raise ValueError("shape mismatch: objects cannot be broadcast to a single shape")


@overload(broadcast_shapes)
def _broadcast_shapes_unrolled(*shapes):
    """Axis by axis from the last, each shape's length joined in: code written for the
    ranks of these shapes (a tuple's rank is part of its type)."""
    ranks = [len(shape) for shape in shapes]
    ndim = max(ranks, default=0)
    lines = ["def unrolled(*shapes):"]
    for axis in range(ndim):
        lines.append(f"    n{axis} = 1")
        for k, rank in enumerate(ranks):
            if axis >= ndim - rank:
                lines.append(f"    n{axis} = length(n{axis}, shapes[{k}][{axis - ndim + rank}])")
    lines.append(f"    return ({''.join(f'n{axis}, ' for axis in range(ndim))})")
    namespace = {"length": _broadcast_length}
    exec("\n".join(lines), namespace)  # noqa: S102  (our own text, from ranks only)
    return namespace["unrolled"]


@numba.njit(cache=True, inline="always")  # called per step in loops: no call, no refcounts
def sum_to_shape1(g, x):
    """g summed down to x's shape where x was broadcast from length 1."""
    if x.shape[0] == 1 and g.shape[0] != 1:
        return np.full(1, g.sum())
    return g


@numba.njit(cache=True)
def sum_to_shape2(g, x):
    """g summed down to x's shape along the axes where x has length 1 (NumPy broadcasting)."""
    out = np.ascontiguousarray(g)
    if x.shape[0] == 1 and out.shape[0] != 1:
        out = out.sum(axis=0).reshape((1, out.shape[1]))
    if x.shape[1] == 1 and out.shape[1] != 1:
        out = out.sum(axis=1).reshape((out.shape[0], 1))
    return out


@numba.njit(cache=True)
def sum_to_shape(g, x):
    """sum_to_shape2 for arrays of any rank: each entry of g added to the entry of x's shape
    it was broadcast from (C order, offsets computed entry by entry)."""
    out = np.zeros(x.shape, g.dtype)
    if g.shape == x.shape:
        out += g
        return out
    flat = out.reshape(out.size)
    for index in np.ndindex(g.shape):
        offset = 0
        for k in range(g.ndim):
            offset = offset * x.shape[k] + (index[k] if x.shape[k] != 1 else 0)
        flat[offset] += g[index]
    return out


@numba.njit(cache=True)
def max_middle(a):
    """np.max(a, axis=1) of a 3-D array (Numba's np.max takes no axis)."""
    if a.shape[1] == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    out = a[:, 0, :].copy()
    for i in range(a.shape[0]):
        for j in range(1, a.shape[1]):
            for k in range(a.shape[2]):
                out[i, k] = max(out[i, k], a[i, j, k])
    return out


@numba.njit(cache=True)
def min_middle(a):
    return -max_middle(-a)  # negation is exact: the same entries are chosen


# --- writes through an array of indices ---------------------------------------------------------

@numba.njit(cache=True)
def last_writes(index, n):
    """Whether each position of `index` is the last one naming its entry of an axis of length
    n (-1 names entry n - 1, as in NumPy): `y[index] = v` keeps the writes of those positions."""
    named = np.zeros(n, dtype=np.bool_)
    last = np.zeros(index.shape[0], dtype=np.bool_)
    for k in range(index.shape[0] - 1, -1, -1):
        entry = index[k] % n
        if not named[entry]:
            named[entry] = True
            last[k] = True
    return last


@numba.njit(cache=True)
def take_last_writes(buffer, index):
    """buffer[index] with zeros at the positions whose write a later position overrides: the
    cotangent of v in `y[index] = v`, `buffer` being y's adjoint (rows of it for a 2-D y)."""
    last = last_writes(index, buffer.shape[0])
    out = np.zeros((index.shape[0],) + buffer.shape[1:], buffer.dtype)
    for k in range(index.shape[0]):
        if last[k]:
            out[k] = buffer[index[k]]
    return out


# --- special functions, elementwise on numbers and arrays (float32 ones give float32, as
# SciPy's do: computed in double and rounded) ----------------------------------------------
_SPECIAL = ["float32(float32)", "float64(float64)"]


@numba.vectorize(_SPECIAL, cache=True)
def erf(x):
    return math.erf(x)


@numba.vectorize(_SPECIAL, cache=True)
def erfc(x):
    return math.erfc(x)


@numba.vectorize(_SPECIAL, cache=True)
def lgamma(x):
    return math.lgamma(x)


@numba.vectorize(_SPECIAL, cache=True)
def gamma(x):
    return math.gamma(x)


@numba.vectorize(_SPECIAL, cache=True)
def digamma(x):
    """psi(x) = d/dx log|Gamma(x)|: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10,
    then the asymptotic series (Abramowitz & Stegun 6.3.18); reflection for x < 0."""
    if x <= 0.0 and x == math.floor(x):
        return math.nan
    result = 0.0
    if x < 0.0:
        result = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))))
    return result + math.log(x) - 0.5 / x - series


@numba.njit(cache=True)
def trigamma_positive(x):
    result = 0.0
    while x < 10.0:
        result += 1.0 / (x * x)
        x += 1.0
    f = 1.0 / (x * x)
    series = 1.0 / x + f / 2 + f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f * (
        1.0 / 30 - f * 5.0 / 66))))
    return result + series


@numba.vectorize(_SPECIAL, cache=True)
def trigamma(x):
    """psi'(x): psi'(x) = psi'(x + 1) + 1/x^2 up to x >= 10, then the asymptotic series
    (Abramowitz & Stegun 6.4.12); reflection psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x)."""
    if x <= 0.0 and x == math.floor(x):
        return math.nan
    if x < 0.0:
        s = math.sin(math.pi * x)
        return math.pi * math.pi / (s * s) - trigamma_positive(1.0 - x)
    return trigamma_positive(x)


TapeMemoryError = errors.TapeMemoryError  # raised by generated code over the tape budget


@numba.njit(cache=True)
def ragged_grown_bytes(tape, rows, k, value):
    """The bytes `push_ragged(tape, rows, k, value)` adds to the flat buffer (0 if it fits)."""
    start = rows[k - 1, 1] if k > 0 else 0
    if start + value.size <= tape.shape[0]:
        return 0
    return grown_bytes(tape, start + value.size)


@numba.njit(cache=True)
def grown_bytes(tape, needed):
    """The bytes `grow(tape, needed)` adds to the tape."""
    row = tape.itemsize
    for k in range(1, tape.ndim):
        row *= tape.shape[k]
    return (max(2 * tape.shape[0], needed) - tape.shape[0]) * row
