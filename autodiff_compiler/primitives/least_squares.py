"""np.linalg.qr (reduced) and np.linalg.lstsq, one primitive per result as in
primitives/decompositions.py.

QR of A (m x n, m >= n) = Q R (Walter & Lehmann, "Algorithmic differentiation of linear
algebra functions with application in optimum experimental design", 2018; Liao et al.,
"Differentiable programming tensor networks", 2019): with copyltu(M) = tril(M) + tril(M, -1)^T,
    A_bar = (Q_bar + Q copyltu(M)) R^-T,  M = R R_bar^T - Q_bar^T Q;
and, with C = Q^T dA R^-1 and Omega = tril(C, -1) - tril(C, -1)^T (Q^T dQ, antisymmetric),
    dR = (C - Omega) R,  dQ = dA R^-1 - Q (C - Omega).
Wide matrices (m < n) factorise, but their derivative is refused when it runs.

lstsq(A, b) for A of full column rank: x = (A^T A)^-1 A^T b, the residual r = b - A x is
orthogonal to A's columns, and
    dx = (A^T A)^-1 (dA^T r - A^T dA x + A^T db),
    z = (A^T A)^-1 x_bar:  b_bar = A z,  A_bar = r z^T - A z x^T.
A rank-deficient A has the minimum-norm solution, which is not differentiable there: the
rules check the rank when they run and raise rather than return a wrong derivative.
"""

from __future__ import annotations

from ..ir.types import Type
from .arrays import expand_dims_p, outer_p, sum_p, tril_p
from .linalg import mm, solve_p, swap_last, symmetric_from_lower, tuple_item
from .registry import call, defprim, defvjp, set_linear_jvp

# the operand itself, after a check (attr `check`: a runtime helper) that its derivative exists
checked_p = defprim("checked", float32=False, infer=lambda a, **_: [a], cheap=True,
                    emit=lambda op, a: call(f"rt.{op.attrs['check']}", a))
defvjp(checked_p)(lambda b, op, g: (lambda: g,))
set_linear_jvp(checked_p)

# --- qr -------------------------------------------------------------------------------------
qr_q_p = defprim("qr_q", float32=False, infer=lambda a, **_: [a], emit=tuple_item("qr", 0), lapack=True,
                 spec={"arity": 1, "array": True})
qr_r_p = defprim("qr_r", float32=False, infer=lambda a, **_: [a], emit=tuple_item("qr", 1), lapack=True,
                 spec={"arity": 1, "array": True})


def _times_inverse_transpose(b, x, r):
    """x R^-T."""
    return swap_last(b, b(solve_p, r, swap_last(b, x)))


def _factors(b, op):
    """(Q, R) of op's operand, after checking that the derivative is defined."""
    a = b(checked_p, op.operands[0], attrs={"check": "check_tall"})
    q = op.result if op.prim is qr_q_p else b(qr_q_p, a)
    r = op.result if op.prim is qr_r_p else b(qr_r_p, a)
    return q, r


@defvjp(qr_q_p)
def _qr_q_vjp(b, op, g):
    def a_bar():
        q, r = _factors(b, op)
        m = b.neg(mm(b, swap_last(b, g), q))
        return _times_inverse_transpose(b, b.add(g, mm(b, q, symmetric_from_lower(b, m))), r)

    return (a_bar,)


@defvjp(qr_r_p)
def _qr_r_vjp(b, op, g):
    def a_bar():
        q, r = _factors(b, op)
        m = mm(b, r, swap_last(b, g))
        return _times_inverse_transpose(b, mm(b, q, symmetric_from_lower(b, m)), r)

    return (a_bar,)


def _qr_tangents(b, op, a_dot):
    """(Q, R, dA R^-1, C - Omega): the pieces of both tangents."""
    q, r = _factors(b, op)
    right = swap_last(b, b(solve_p, swap_last(b, r), swap_last(b, a_dot)))  # dA R^-1
    c = mm(b, swap_last(b, q), right)
    below = b(tril_p, c, attrs={"k": -1})
    upper = b.add(b.sub(c, below), swap_last(b, below))  # C - Omega
    return q, r, right, upper


def _qr_q_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    q, _, right, upper = _qr_tangents(b, op, dots[0])
    return [b.sub(right, mm(b, q, upper))]


def _qr_r_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    _, r, _, upper = _qr_tangents(b, op, dots[0])
    return [mm(b, upper, r)]


qr_q_p.jvp = _qr_q_jvp
qr_r_p.jvp = _qr_r_jvp


# --- lstsq ----------------------------------------------------------------------------------
lstsq_p = defprim("lstsq", float32=False, infer=lambda a, rhs, **_: [Type("float", rhs.ndim)],
                  emit=tuple_item("lstsq", 0), lapack=True, spec={"arity": 2, "array": True})
lstsq_rank_p = defprim("lstsq_rank", float32=False, infer=lambda a, rhs, **_: [Type("int")],
                       emit=tuple_item("lstsq", 2), lapack=True, differentiable=False)


def _times_transpose(b, x, y):
    """x y^T, an outer product for vectors."""
    if x.type.ndim == 1:
        return b(outer_p, x, y)
    return mm(b, x, swap_last(b, y))


def _normal_solve(b, a, x):
    """(A^T A)^-1 x, after checking that A has full column rank."""
    checked = b(checked_p, a, attrs={"check": "check_full_column_rank"})
    return b(solve_p, mm(b, swap_last(b, checked), checked), x)


@defvjp(lstsq_p)
def _lstsq_vjp(b, op, g):
    a, rhs = op.operands

    def rhs_bar():
        return mm(b, a, _normal_solve(b, a, g))

    def a_bar():
        z = _normal_solve(b, a, g)
        residual = b.sub(rhs, mm(b, a, op.result))
        return b.sub(_times_transpose(b, residual, z), _times_transpose(b, mm(b, a, z),
                                                                           op.result))

    return (a_bar, rhs_bar)


def _lstsq_jvp(b, op, dots):
    a, rhs = op.operands
    a_dot, rhs_dot = dots
    change = None
    if a_dot is not None:
        residual = b.sub(rhs, mm(b, a, op.result))
        change = b.sub(mm(b, swap_last(b, a_dot), residual),
                       mm(b, swap_last(b, a), mm(b, a_dot, op.result)))
    if rhs_dot is not None:
        moved = mm(b, swap_last(b, a), rhs_dot)
        change = moved if change is None else b.add(change, moved)
    return [_normal_solve(b, a, change)]


lstsq_p.jvp = _lstsq_jvp


# np.linalg.lstsq's residuals: the squared column norms of b - A x (as a 1-vector for a vector
# b) where A has full column rank and more rows than columns, else an empty array
keep_residuals_p = defprim("keep_residuals", float32=False, infer=lambda total, rank, a, **_: [total],
                           emit=lambda op, a: call("rt.keep_residuals", a),
                           spec={"arity": 3, "array": True})
# the cotangent of the squared norms given that of the residuals (zero where they are empty)
residuals_cotangent_p = defprim("residuals_cotangent", float32=False, infer=lambda g, total, **_: [total],
                                emit=lambda op, a: call("rt.residuals_cotangent", a))
defvjp(keep_residuals_p)(lambda b, op, g: (
    lambda: b(residuals_cotangent_p, g, op.operands[0]), None, None))
set_linear_jvp(keep_residuals_p, residuals_cotangent_p)


def residuals(b, a, rhs, x):
    """np.linalg.lstsq(a, rhs)[1] given its solution x."""
    residual = b.sub(rhs, mm(b, a, x))
    if residual.type.ndim == 1:
        residual = b(expand_dims_p, residual, attrs={"axis": 1})
    total = b(sum_p, b.mul(residual, residual), attrs={"axis": 0})
    return b(keep_residuals_p, total, b(lstsq_rank_p, a, rhs), a)
