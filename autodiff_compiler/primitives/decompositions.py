"""Matrix factorisations: np.linalg.cholesky, eigh / eigvalsh and svd.

Cholesky runs the runtime's loops (no SciPy needed); eigh and svd call NumPy in CPython and
Numba's LAPACK bindings (SciPy) when compiled, one matrix of a stack at a time
(autodiff_compiler.runtime_linalg). A factorisation with several results is one primitive
per result (eigh: values, vectors; svd: values, U, Vt), each with its own rules; a rule that
needs another result computes it again, so every rule reads one factorisation of the same
input. Adjoints are linear in the cotangents, so the contributions of the separate results
add up to the adjoint of the whole factorisation.

Cholesky (Murray, "Differentiation of the Cholesky decomposition", 2016): with Phi(X) the
lower triangle of X with its diagonal halved, the tangent is L_dot = L Phi(L^-1 S_dot L^-T)
and the adjoint of the symmetric input is P = L^-T Phi(L^T L_bar) L^-1.

eigh (Giles 2008, sec. 3.1; Seeger et al., "Auto-differentiating linear algebra", 2017):
for S = V diag(w) V^T with distinct eigenvalues, dw = diag(V^T dS V), dV = V (F o V^T dS V)
and S_bar = V (diag(w_bar) + F o V^T V_bar) V^T, with F_ij = 1 / (w_j - w_i) off the
diagonal and 0 on it. Equal eigenvalues make F infinite: the derivatives of the vectors are
then undefined (inf or nan), as in JAX; those of the values stay finite.

Like NumPy, Cholesky and eigh (UPLO='L') read only the lower triangle of their operand a
(S = tril(a) + tril(a, -1)^T), so a's adjoint is S's folded onto the lower triangle,
tril(P + P^T) - diag(P), zero above the diagonal: what central differences of NumPy's own
functions give.

svd, reduced (Townsend, "Differentiating the singular value decomposition", 2016): for
A = U diag(s) V^T with k = min(m, n) distinct nonzero singular values and
F_ij = 1 / (s_j^2 - s_i^2) (0 on the diagonal), dP = U^T dA V,
    ds = diag(dP),
    dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
    dV = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^-1,
    A_bar = U [diag(s_bar) + (F o (U^T U_bar - U_bar^T U)) S + S (F o (V^T V_bar - V_bar^T V))] V^T
            + (I - U U^T) U_bar S^-1 V^T + U S^-1 V_bar^T (I - V V^T).
U and V are defined up to the signs of their columns: functions that do not depend on those
signs (reconstructions, |U|, the singular values) have well-defined derivatives.
"""

from __future__ import annotations

from ..ir.core import const
from ..ir.types import Type
from .arrays import expand_dims_p, tril_p
from .linalg import (
    diagonal_matrix,
    diagonal_of,
    eye_of_last_p,
    fold_onto_lower,
    inv_p,
    mm,
    scale_columns,
    scale_rows,
    swap_last,
    symmetric_from_lower,
    tuple_item,
)
from .registry import call, defprim, defvjp

cholesky_p = defprim("cholesky", float32=False, infer=lambda a, **_: [Type("float", 2)],
                     emit=lambda op, a: call("rt.cholesky", a), fresh_array=True,
                     spec={"arity": 1, "array": True})


def _phi(b, x):
    """The lower triangle of x with its diagonal halved."""
    return b.sub(b(tril_p, x, attrs={"k": 0}), b.mul(const(0.5), b.mul(x, b(eye_of_last_p, x))))


@defvjp(cholesky_p)
def _cholesky_vjp(b, op, g):
    low = op.result

    def a_bar():
        low_inv = b(inv_p, low)
        middle = _phi(b, mm(b, swap_last(b, low), g))
        return fold_onto_lower(b, mm(b, mm(b, swap_last(b, low_inv), middle), low_inv))

    return (a_bar,)


def _cholesky_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    low, low_inv = op.result, b(inv_p, op.result)
    inner = mm(b, mm(b, low_inv, symmetric_from_lower(b, dots[0])), swap_last(b, low_inv))
    return [mm(b, low, _phi(b, inner))]


cholesky_p.jvp = _cholesky_jvp


def gap_inverses(b, w):
    """F with F_ij = 1 / (w_j - w_i) off the diagonal and 0 on it, for each vector of w."""
    n = w.type.ndim
    gaps = b.sub(b(expand_dims_p, w, attrs={"axis": n - 1}), b(expand_dims_p, w, attrs={"axis": n}))
    eye = b(eye_of_last_p, w)
    return b.div(b.sub(const(1.0), eye), b.add(gaps, eye))


def _similar(b, v, x):
    """v x v^T."""
    return mm(b, mm(b, v, x), swap_last(b, v))


def _congruent(b, v, x):
    """v^T x v."""
    return mm(b, mm(b, swap_last(b, v), x), v)


# --- eigh -----------------------------------------------------------------------------------
eigvalsh_p = defprim("eigvalsh", float32=False, infer=lambda a, **_: [Type("float", a.ndim - 1)],
                     emit=lambda op, a: call("rt.eigvalsh", a), lapack=True,
                     spec={"arity": 1, "array": True})
eigh_vectors_p = defprim("eigh_vectors", float32=False, infer=lambda a, **_: [Type("float", a.ndim)],
                         emit=tuple_item("eigh", 1), lapack=True,
                         spec={"arity": 1, "array": True})


@defvjp(eigvalsh_p)
def _eigvalsh_vjp(b, op, g):
    def a_bar():
        vectors = b(eigh_vectors_p, op.operands[0])
        return fold_onto_lower(b, _similar(b, vectors, diagonal_matrix(b, g)))

    return (a_bar,)


def _eigvalsh_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    vectors = b(eigh_vectors_p, op.operands[0])
    return [diagonal_of(b, _congruent(b, vectors, symmetric_from_lower(b, dots[0])))]


@defvjp(eigh_vectors_p)
def _eigh_vectors_vjp(b, op, g):
    def a_bar():
        vectors = op.result
        gaps = gap_inverses(b, b(eigvalsh_p, op.operands[0]))
        inner = b.mul(gaps, mm(b, swap_last(b, vectors), g))
        return fold_onto_lower(b, _similar(b, vectors, inner))

    return (a_bar,)


def _eigh_vectors_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    vectors = op.result
    gaps = gap_inverses(b, b(eigvalsh_p, op.operands[0]))
    rotated = _congruent(b, vectors, symmetric_from_lower(b, dots[0]))
    return [mm(b, vectors, b.mul(gaps, rotated))]


eigvalsh_p.jvp = _eigvalsh_jvp
eigh_vectors_p.jvp = _eigh_vectors_jvp


# --- svd (reduced) --------------------------------------------------------------------------
def _svd_type(index: int):
    def infer(a, **_):
        return [Type("float", a.ndim - 1 if index == 1 else a.ndim)]
    return infer


svdvals_p = defprim("svdvals", float32=False, infer=_svd_type(1), emit=lambda op, a: call("rt.svdvals", a),
                    lapack=True, spec={"arity": 1, "array": True})
svd_u_p = defprim("svd_u", float32=False, infer=_svd_type(0), emit=tuple_item("svd", 0), lapack=True,
                  spec={"arity": 1, "array": True})
svd_vt_p = defprim("svd_vt", float32=False, infer=_svd_type(2), emit=tuple_item("svd", 2), lapack=True,
                   spec={"arity": 1, "array": True})


def _factors(b, op):
    """(U, s, Vt, F) of the reduced SVD of op's operand, F_ij = 1 / (s_j^2 - s_i^2)."""
    a = op.operands[0]
    s = b(svdvals_p, a)
    u = op.result if op.prim is svd_u_p else b(svd_u_p, a)
    vt = op.result if op.prim is svd_vt_p else b(svd_vt_p, a)
    return u, s, vt, gap_inverses(b, b.mul(s, s))


@defvjp(svdvals_p)
def _svdvals_vjp(b, op, g):
    def a_bar():
        a = op.operands[0]
        return mm(b, scale_columns(b, b(svd_u_p, a), g), b(svd_vt_p, a))

    return (a_bar,)


def _svdvals_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    a = op.operands[0]
    return [diagonal_of(b, mm(b, mm(b, swap_last(b, b(svd_u_p, a)), dots[0]),
                              swap_last(b, b(svd_vt_p, a))))]


def _antisymmetric_part(b, x):
    return b.sub(x, swap_last(b, x))


@defvjp(svd_u_p)
def _svd_u_vjp(b, op, g):
    def a_bar():
        u, s, vt, gaps = _factors(b, op)
        projected = mm(b, swap_last(b, u), g)  # U^T U_bar
        rotation = scale_columns(b, b.mul(gaps, _antisymmetric_part(b, projected)), s)
        outside = scale_columns(b, b.sub(g, mm(b, u, projected)), b.div(const(1.0), s))
        return mm(b, b.add(mm(b, u, rotation), outside), vt)

    return (a_bar,)


@defvjp(svd_vt_p)
def _svd_vt_vjp(b, op, g):
    def a_bar():
        u, s, vt, gaps = _factors(b, op)
        projected = mm(b, vt, swap_last(b, g))  # V^T V_bar
        rotation = mm(b, scale_rows(b, s, b.mul(gaps, _antisymmetric_part(b, projected))), vt)
        outside = scale_rows(b, b.div(const(1.0), s), b.sub(g, mm(b, swap_last(b, projected),
                                                                  vt)))
        return mm(b, u, b.add(rotation, outside))

    return (a_bar,)


def _svd_tangents(b, op, a_dot):
    """(U, s, Vt, F, dP = U^T dA V) for the tangent rules of U and Vt."""
    u, s, vt, gaps = _factors(b, op)
    return u, s, vt, gaps, mm(b, mm(b, swap_last(b, u), a_dot), swap_last(b, vt))


def _svd_u_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    u, s, vt, gaps, p = _svd_tangents(b, op, dots[0])
    mixed = b.add(scale_columns(b, p, s), scale_rows(b, s, swap_last(b, p)))
    outside = b.sub(mm(b, dots[0], swap_last(b, vt)), mm(b, u, p))
    return [b.add(mm(b, u, b.mul(gaps, mixed)), scale_columns(b, outside,
                                                               b.div(const(1.0), s)))]


def _svd_vt_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    u, s, vt, gaps, p = _svd_tangents(b, op, dots[0])
    mixed = b.add(scale_rows(b, s, p), scale_columns(b, swap_last(b, p), s))
    outside = b.sub(mm(b, swap_last(b, u), dots[0]), mm(b, p, vt))
    return [b.sub(scale_rows(b, b.div(const(1.0), s), outside),
                  mm(b, b.mul(gaps, mixed), vt))]


svdvals_p.jvp = _svdvals_jvp
svd_u_p.jvp = _svd_u_jvp
svd_vt_p.jvp = _svd_vt_jvp
