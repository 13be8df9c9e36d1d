"""Linear-algebra helpers that generated code calls (through runtime.py, as `rt.<name>`).

The square-matrix factorisations (LU with partial pivoting, Cholesky) are loops compiled by
Numba, so that solve/inv/det/slogdet/cholesky need no SciPy. The stacked and spectral helpers
are plain functions that call NumPy itself when generated code runs in CPython (jit=False),
with a Numba implementation (`numba.extending.overload`) used when the generated code is
compiled: it loops over the stack of matrices (Numba's np.linalg works on one 2-D matrix at a
time). For eigh, svd, qr and lstsq that implementation calls Numba's np.linalg, which needs
SciPy's LAPACK bindings (the `special`/`test` extras); without SciPy, compiling such a
function with Numba fails with Numba's message naming SciPy, and jit=False still works.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload


@numba.njit(cache=True)
def lu_factor(a):
    """LU factorisation with partial pivoting: (packed LU, row permutation, sign)."""
    n = a.shape[0]
    lu = np.ascontiguousarray(a).copy()
    perm = np.arange(n)
    sign = 1.0
    for k in range(n):
        pivot = k
        for i in range(k + 1, n):
            if abs(lu[i, k]) > abs(lu[pivot, k]):
                pivot = i
        if lu[pivot, k] == 0.0:
            raise ValueError("singular matrix")
        if pivot != k:
            for j in range(n):
                lu[k, j], lu[pivot, j] = lu[pivot, j], lu[k, j]
            perm[k], perm[pivot] = perm[pivot], perm[k]
            sign = -sign
        for i in range(k + 1, n):
            lu[i, k] /= lu[k, k]
            factor = lu[i, k]
            for j in range(k + 1, n):
                lu[i, j] -= factor * lu[k, j]
    return lu, perm, sign


@numba.njit(cache=True)
def _lu_solve_vector(lu, perm, b):
    n = lu.shape[0]
    x = np.empty(n)
    for i in range(n):
        total = b[perm[i]]
        for j in range(i):
            total -= lu[i, j] * x[j]
        x[i] = total
    for i in range(n - 1, -1, -1):
        total = x[i]
        for j in range(i + 1, n):
            total -= lu[i, j] * x[j]
        x[i] = total / lu[i, i]
    return x


@numba.njit(cache=True)
def solve1(a, b):
    """np.linalg.solve(a, b) for a vector b."""
    lu, perm, _ = lu_factor(a)
    return _lu_solve_vector(lu, perm, b)


@numba.njit(cache=True)
def solve2(a, b):
    """np.linalg.solve(a, b) for a matrix b (column by column)."""
    lu, perm, _ = lu_factor(a)
    out = np.empty((a.shape[0], b.shape[1]))
    for j in range(b.shape[1]):
        out[:, j] = _lu_solve_vector(lu, perm, np.ascontiguousarray(b[:, j]))
    return out


@numba.njit(cache=True)
def inv(a):
    return solve2(a, np.eye(a.shape[0]))


@numba.njit(cache=True)
def det(a):
    lu, _, sign = lu_factor(a)
    total = sign
    for i in range(a.shape[0]):
        total *= lu[i, i]
    return total


@numba.njit(cache=True)
def cholesky(a):
    """np.linalg.cholesky: the lower factor L of a = L L^T, read from a's lower triangle
    (as LAPACK's potrf with 'L'); a matrix that is not positive definite raises."""
    n = a.shape[0]
    low = np.zeros((n, n))
    for j in range(n):
        total = a[j, j]
        for k in range(j):
            total -= low[j, k] * low[j, k]
        if not total > 0.0:
            raise ValueError("Matrix is not positive definite")
        low[j, j] = np.sqrt(total)
        for i in range(j + 1, n):
            total = a[i, j]
            for k in range(j):
                total -= low[i, k] * low[j, k]
            low[i, j] = total / low[j, j]
    return low


@numba.njit(cache=True)
def slogdet(a):
    """np.linalg.slogdet: (sign, log|det|) from the LU factors, summing logarithms so that
    large matrices do not overflow (a singular matrix raises, as in det and solve)."""
    lu, _, sign = lu_factor(a)
    total = 0.0
    for i in range(a.shape[0]):
        if lu[i, i] < 0.0:
            sign = -sign
        total += np.log(abs(lu[i, i]))
    return sign, total


# --- stacks of matrices (..., m, n) ---------------------------------------------------------

@numba.njit(cache=True)
def _flat(a, lead):
    """The stack `a`, broadcast to leading shape `lead`, as a contiguous (count, m, n)."""
    full = np.broadcast_to(a, lead + a.shape[-2:])
    count = np.empty(lead, dtype=np.bool_).size  # the product of the leading extents
    # a copy: Numba compiles np.ascontiguousarray of a strided stack much more slowly
    return full.copy().reshape((count, a.shape[-2], a.shape[-1]))


def inv_stack(a):
    return np.linalg.inv(a)


def det_stack(a):
    return np.linalg.det(a)


def slogdet_stack(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return sign, logabsdet


def solve_stack(a, b):
    """np.linalg.solve(a, b) for a right-hand side of stacked matrices (..., n, k)."""
    return np.linalg.solve(a, b)


def tril_stack(a, k):
    return np.tril(a, k)


def triu_stack(a, k):
    return np.triu(a, k)


def matmul(a, b):
    """a @ b of two stacks of matrices (leading axes broadcast)."""
    return np.matmul(a, b)


@numba.njit(cache=True)
def _inv_each(flat):
    out = np.empty_like(flat)
    for k in range(flat.shape[0]):
        out[k] = inv(flat[k])
    return out


@numba.njit(cache=True)
def _det_each(flat):
    out = np.empty(flat.shape[0])
    for k in range(flat.shape[0]):
        out[k] = det(flat[k])
    return out


@numba.njit(cache=True)
def _slogdet_each(flat):
    signs, logs = np.empty(flat.shape[0]), np.empty(flat.shape[0])
    for k in range(flat.shape[0]):
        signs[k], logs[k] = slogdet(flat[k])
    return signs, logs


@numba.njit(cache=True)
def _solve_each(left, right):
    out = np.empty_like(right)
    for k in range(left.shape[0]):
        out[k] = solve2(left[k], right[k])
    return out


@numba.njit(cache=True)
def _matmul_each(left, right):
    out = np.zeros((left.shape[0], left.shape[1], right.shape[2]))
    for k in range(left.shape[0]):
        for i in range(left.shape[1]):
            for j in range(left.shape[2]):
                factor = left[k, i, j]
                for m in range(right.shape[2]):
                    out[k, i, m] += factor * right[k, j, m]
    return out


@numba.njit(cache=True)
def _triangle_each(flat, k, lower):
    """Zeros above diagonal k (lower) or below it (upper) of each matrix, in place."""
    for i in range(flat.shape[1]):
        for j in range(flat.shape[2]):
            if (j - i > k) if lower else (j - i < k):
                flat[:, i, j] = 0.0
    return flat


# the Numba versions: flatten the stack, run one compiled (and cached) loop over it, reshape
@overload(inv_stack)
def _inv_stack(a):
    return lambda a: _inv_each(_flat(a, a.shape[:-2])).reshape(a.shape)


@overload(tril_stack)
def _tril_stack(a, k):
    return lambda a, k: _triangle_each(_flat(a, a.shape[:-2]), k, True).reshape(a.shape)


@overload(triu_stack)
def _triu_stack(a, k):
    return lambda a, k: _triangle_each(_flat(a, a.shape[:-2]), k, False).reshape(a.shape)


@overload(det_stack)
def _det_stack(a):
    return lambda a: _det_each(_flat(a, a.shape[:-2])).reshape(a.shape[:-2])


@overload(slogdet_stack)
def _slogdet_stack(a):
    def impl(a):
        signs, logs = _slogdet_each(_flat(a, a.shape[:-2]))
        return signs.reshape(a.shape[:-2]), logs.reshape(a.shape[:-2])
    return impl


@overload(solve_stack)
def _solve_stack(a, b):
    def impl(a, b):
        lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return _solve_each(_flat(a, lead), _flat(b, lead)).reshape(lead + b.shape[-2:])
    return impl


@overload(matmul)
def _matmul(a, b):
    def impl(a, b):
        lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        out = _matmul_each(_flat(a, lead), _flat(b, lead))
        return out.reshape(lead + (a.shape[-2], b.shape[-1]))
    return impl


# --- spectral factorisations (Numba: LAPACK through SciPy) ----------------------------------

def eigh(a):
    w, v = np.linalg.eigh(a)
    return w, v


def eigvalsh(a):
    return np.linalg.eigvalsh(a)


def svd(a):
    """The reduced SVD (u, s, vt), full_matrices=False."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return u, s, vt


def svdvals(a):
    return np.linalg.svd(a, compute_uv=False)


def qr(a):
    """The reduced QR factorisation (q, r)."""
    q, r = np.linalg.qr(a)
    return q, r


def lstsq(a, b):
    """np.linalg.lstsq(a, b, rcond=None): (x, residuals, rank, singular values)."""
    return np.linalg.lstsq(a, b, rcond=None)


_NOT_FULL_RANK = ("np.linalg.lstsq: the derivative needs a matrix of full column rank (as many "
                  "rows as columns at least, independent columns)")
_NOT_TALL = ("np.linalg.qr: the derivative needs matrices with as many rows as columns at "
             "least (m >= n)")


def check_full_column_rank(a):
    """a itself, after checking that its columns are independent (the least-squares
    solution is then unique and differentiable)."""
    m, n = a.shape
    s = np.linalg.svd(a, compute_uv=False)
    if m < n or (n and s[-1] <= np.finfo(np.float64).eps * max(m, n) * s[0]):
        raise ValueError(_NOT_FULL_RANK)
    return a


@numba.njit(cache=True)
def _eigh_each(flat):
    values, vectors = np.empty(flat.shape[:2]), np.empty_like(flat)
    for k in range(flat.shape[0]):
        values[k], vectors[k] = np.linalg.eigh(flat[k])
    return values, vectors


@numba.njit(cache=True)
def _eigvalsh_each(flat):
    values = np.empty(flat.shape[:2])
    for k in range(flat.shape[0]):
        values[k] = np.linalg.eigvalsh(flat[k])
    return values


@numba.njit(cache=True)
def _svd_each(flat):
    count, m, n = flat.shape
    size = min(m, n)
    us, ss, vts = np.empty((count, m, size)), np.empty((count, size)), np.empty((count, size, n))
    for k in range(count):
        us[k], ss[k], vts[k] = np.linalg.svd(flat[k], False)
    return us, ss, vts


@numba.njit(cache=True)
def _svdvals_each(flat):
    ss = np.empty((flat.shape[0], min(flat.shape[1], flat.shape[2])))
    for k in range(flat.shape[0]):
        ss[k] = np.linalg.svd(flat[k], False)[1]
    return ss


@numba.njit(cache=True)
def _qr_each(flat):
    count, m, n = flat.shape
    size = min(m, n)
    qs, rs = np.empty((count, m, size)), np.empty((count, size, n))
    for k in range(count):
        qs[k], rs[k] = np.linalg.qr(flat[k])
    return qs, rs


@overload(eigh)
def _eigh(a):
    def impl(a):
        values, vectors = _eigh_each(_flat(a, a.shape[:-2]))
        return values.reshape(a.shape[:-1]), vectors.reshape(a.shape)
    return impl


@overload(eigvalsh)
def _eigvalsh(a):
    return lambda a: _eigvalsh_each(_flat(a, a.shape[:-2])).reshape(a.shape[:-1])


@overload(svd)
def _svd(a):
    def impl(a):
        us, ss, vts = _svd_each(_flat(a, a.shape[:-2]))
        lead = a.shape[:-2]
        return us.reshape(lead + us.shape[1:]), ss.reshape(lead + ss.shape[1:]), \
            vts.reshape(lead + vts.shape[1:])
    return impl


@overload(svdvals)
def _svdvals(a):
    def impl(a):
        ss = _svdvals_each(_flat(a, a.shape[:-2]))
        return ss.reshape(a.shape[:-2] + ss.shape[1:])
    return impl


@overload(qr)
def _qr(a):
    def impl(a):
        qs, rs = _qr_each(_flat(a, a.shape[:-2]))
        lead = a.shape[:-2]
        return qs.reshape(lead + qs.shape[1:]), rs.reshape(lead + rs.shape[1:])
    return impl


@numba.njit(cache=True)
def _lstsq(a, b):
    rcond = np.finfo(np.float64).eps * max(a.shape[0], a.shape[1])
    return np.linalg.lstsq(a, b, rcond)


@overload(lstsq)
def _lstsq_stack(a, b):
    return lambda a, b: _lstsq(a.copy(), b.copy())


@numba.njit(cache=True)
def _has_full_column_rank(a):
    m, n = a.shape
    if m < n:
        return False
    if n == 0:
        return True
    s = np.linalg.svd(a, False)[1]
    return s[-1] > np.finfo(np.float64).eps * max(m, n) * s[0]


@overload(check_full_column_rank)
def _check_full_column_rank(a):
    def impl(a):
        if not _has_full_column_rank(a.copy()):
            raise ValueError(_NOT_FULL_RANK)
        return a
    return impl


def check_tall(a):
    """a itself, after checking that each matrix has as many rows as columns at least."""
    if a.shape[-2] < a.shape[-1]:
        raise ValueError(_NOT_TALL)
    return a


@overload(check_tall)
def _check_tall(a):
    def impl(a):
        if a.shape[-2] < a.shape[-1]:
            raise ValueError(_NOT_TALL)
        return a
    return impl


@numba.njit(cache=True)
def keep_residuals(total, rank, a):
    """np.linalg.lstsq's residuals from the squared column norms `total` of b - A x: kept
    where A has full column rank and more rows than columns, else an empty array."""
    if rank == a.shape[1] and a.shape[0] > a.shape[1]:
        return total
    return np.empty(0)


@numba.njit(cache=True)
def residuals_cotangent(g, total):
    """The cotangent of `total` in keep_residuals given g, that of the result."""
    if g.shape[0] == total.shape[0]:
        return g
    return np.zeros_like(total)
