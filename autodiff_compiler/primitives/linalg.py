"""np.linalg.solve / inv / det / slogdet of square matrices and of stacks of them (..., n, n),
and the batched matrix helpers their rules (and those of the factorisations) are built from.

A 2-D operand runs the runtime's LU loops (rt.solve1, rt.inv, ...); a stack runs the `_stack`
helpers of autodiff_compiler.runtime_linalg, which are NumPy's own functions in CPython and
loops over the stack under Numba. The rules are the standard matrix-calculus results (Giles,
"An extended collection of matrix derivative results for forward and reverse mode AD",
2008), applied matrix by matrix over the leading axes:

    X = A^-1 B:      B_bar = A^-T X_bar,  A_bar = -B_bar X^T,    dX = A^-1 (dB - dA X)
    C = A^-1:        A_bar = -C^T C_bar C^T,                       dC = -C dA C
    d = det A:       A_bar = d_bar d A^-T,                         dd = d tr(A^-1 dA)
    l = log|det A|:  A_bar = l_bar A^-T,                           dl = tr(A^-1 dA)

Stacked right-hand sides (..., n, k) broadcast against the stack of matrices as NumPy 2
defines np.linalg.solve, so their adjoints are summed back over the broadcast axes.
"""

from __future__ import annotations

import ast

from ..ir.types import Type
from .arrays import (
    dot_p,
    expand_dims_p,
    outer_p,
    sum_p,
    trace_p,
    transpose_p,
    tril_p,
    unbroadcast,
)
from .registry import bilinear_jvp, call, defprim, defvjp


# --- batched helpers --------------------------------------------------------------------------
def tuple_item(helper: str, index: int):
    """Emits item `index` of the tuple that rt.<helper>(operands) returns."""
    return lambda op, args: ast.Subscript(call(f"rt.{helper}", args), ast.Constant(index),
                                          ast.Load())



def _emit_eye_of_last(op, args):
    shape = ast.Attribute(args[0], "shape", ast.Load())
    size = ast.Subscript(shape, ast.Constant(-1), ast.Load())
    if op.result.type.is_float32:  # np.eye is float64 unless told
        return ast.Call(ast.parse("np.eye", mode="eval").body, [size],
                        [ast.keyword("dtype", ast.parse("np.float32", mode="eval").body)])
    return call("np.eye", [size])


# the identity matrix of the size of the operand's last axis (broadcast over a stack)
eye_of_last_p = defprim("eye_of_last", infer=lambda a, **_: [Type("float", 2)],
                        emit=_emit_eye_of_last, differentiable=False, cheap=True)
# a @ b of stacks of matrices (leading axes broadcast), the runtime's loops under Numba
matmul_p = defprim("matmul", infer=lambda a, b, **_: [Type("float", max(a.ndim, b.ndim))],
                   emit=lambda op, a: call("rt.matmul", a))


@defvjp(matmul_p)
def _matmul_vjp(b, op, g):
    x, y = op.operands
    return (lambda: unbroadcast(b, b(matmul_p, g, swap_last(b, y)), x, op),
            lambda: unbroadcast(b, b(matmul_p, swap_last(b, x), g), y, op))


matmul_p.jvp = bilinear_jvp


def swap_last(b, x):
    """x with its last two axes swapped (x.T of a matrix)."""
    n = x.type.ndim
    if n == 2:
        return b(transpose_p, x)
    return b(transpose_p, x, attrs={"axes": (*range(n - 2), n - 1, n - 2)})


def mm(b, x, y):
    """The matrix product x @ y of matrices (np.dot) or of stacks of them."""
    if x.type.ndim <= 2 and y.type.ndim <= 2:
        return b(dot_p, x, y)
    return b(matmul_p, x, y)


def last_axes(b, v, count: int = 2):
    """v with `count` new axes of length one at the end (a number per matrix, broadcast)."""
    for _ in range(count):
        v = b(expand_dims_p, v, attrs={"axis": v.type.ndim})
    return v


def diagonal_of(b, x):
    """The diagonals (..., n) of a stack of square matrices (..., n, n)."""
    return b(sum_p, b.mul(x, b(eye_of_last_p, x)), attrs={"axis": x.type.ndim - 1})


def diagonal_matrix(b, v):
    """The stack of diagonal matrices (..., n, n) with diagonals v (..., n)."""
    return b.mul(last_axes(b, v, 1), b(eye_of_last_p, v))


def matrix_trace(b, x):
    """tr(x) of each matrix of a stack (of a matrix: np.trace)."""
    if x.type.ndim == 2:
        return b(trace_p, x)
    return b(sum_p, diagonal_of(b, x), attrs={"axis": x.type.ndim - 2})


def scale_columns(b, x, v):
    """x @ diag(v): column j of each matrix times v[..., j]."""
    return b.mul(x, b(expand_dims_p, v, attrs={"axis": v.type.ndim - 1}))


def scale_rows(b, v, x):
    """diag(v) @ x: row i of each matrix times v[..., i]."""
    return b.mul(last_axes(b, v, 1), x)


def symmetric_from_lower(b, x):
    """The symmetric matrix whose lower triangle is x's: what a factorisation that reads
    only the lower triangle (Cholesky, eigh with UPLO='L') sees of x."""
    return b.add(b(tril_p, x, attrs={"k": 0}), swap_last(b, b(tril_p, x, attrs={"k": -1})))


def fold_onto_lower(b, p):
    """The adjoint of x in symmetric_from_lower(x), p being that of the symmetric matrix:
    tril(p + p^T) - diag(p), zero above the diagonal."""
    folded = b(tril_p, b.add(p, swap_last(b, p)), attrs={"k": 0})
    return b.sub(folded, b.mul(p, b(eye_of_last_p, p)))


# --- solve, inv, det, slogdet ------------------------------------------------------------------

def _stacked(op) -> bool:
    return op.operands[0].type.ndim > 2


def _emit_solve(op, args):
    a, rhs = (v.type.ndim for v in op.operands)
    return call(f"rt.solve{rhs}" if a == 2 and rhs <= 2 else "rt.solve_stack", args)


def _emit_matrix(name: str, index=None):
    """The runtime's 2-D helper rt.<name>, or its stacked version, (item `index` of it)."""
    def emit(op, args):
        helper = f"{name}_stack" if _stacked(op) else name
        return call(f"rt.{helper}", args) if index is None else \
            tuple_item(helper, index)(op, args)
    return emit


def _per_matrix(a, **_):
    return [Type("float", a.ndim - 2)]


# b is one vector when 1-D (a being one matrix: the frontend gives a stack a column instead)
solve_p = defprim("solve", float32=False, emit=_emit_solve, spec={"arity": 2, "array": True},
                  infer=lambda a, b, **_: [Type("float", 1 if b.ndim == 1 else max(a.ndim, b.ndim))])
inv_p = defprim("inv", float32=False, infer=lambda a, **_: [Type("float", a.ndim)], emit=_emit_matrix("inv"),
                spec={"arity": 1, "array": True})
det_p = defprim("det", float32=False, infer=_per_matrix, emit=_emit_matrix("det"),
                spec={"arity": 1, "array": True})
logabsdet_p = defprim("logabsdet", float32=False, infer=_per_matrix, emit=_emit_matrix("slogdet", 1),
                      spec={"arity": 1, "array": True})
det_sign_p = defprim("det_sign", float32=False, infer=_per_matrix, differentiable=False,
                     emit=_emit_matrix("slogdet", 0))


@defvjp(solve_p)
def _solve_vjp(b, op, g):
    a, rhs = op.operands
    stacked = op.result.type.ndim > 2 or a.type.ndim > 2

    def full_rhs_bar():
        return b(solve_p, swap_last(b, a), g)

    def rhs_bar():
        return unbroadcast(b, full_rhs_bar(), rhs, op) if stacked else full_rhs_bar()

    def a_bar():
        adjoint = full_rhs_bar()
        if op.result.type.ndim == 1:
            return b.neg(b(outer_p, adjoint, op.result))
        product = b.neg(mm(b, adjoint, swap_last(b, op.result)))
        return unbroadcast(b, product, a, op) if stacked else product

    return (a_bar, rhs_bar)


def _solve_jvp(b, op, dots):
    """dX = A^-1 (dB - dA X)."""
    a = op.operands[0]
    rhs = dots[1]
    if dots[0] is not None:
        change = mm(b, dots[0], op.result)
        rhs = b.neg(change) if rhs is None else b.sub(rhs, change)
    return [None if rhs is None else b(solve_p, a, rhs)]


@defvjp(inv_p)
def _inv_vjp(b, op, g):
    inverse_t = swap_last(b, op.result)
    return (lambda: b.neg(mm(b, mm(b, inverse_t, g), inverse_t)),)


def _inv_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [b.neg(mm(b, mm(b, op.result, dots[0]), op.result))]


def _per_matrix_factor(b, g):
    """A number per matrix, g (...,), as a factor of each matrix of the stack."""
    return g if g.type.ndim == 0 else last_axes(b, g)


@defvjp(det_p)
def _det_vjp(b, op, g):
    (a,) = op.operands
    return (lambda: b.mul(_per_matrix_factor(b, b.mul(g, op.result)),
                          swap_last(b, b(inv_p, a))),)


def _det_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    inverse = b(inv_p, op.operands[0])
    return [b.mul(op.result, matrix_trace(b, mm(b, inverse, dots[0])))]


@defvjp(logabsdet_p)
def _logabsdet_vjp(b, op, g):
    """d log|det A| = tr(A^-1 dA): A_bar = g A^-T."""
    return (lambda: b.mul(_per_matrix_factor(b, g), swap_last(b, b(inv_p, op.operands[0]))),)


def _logabsdet_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [matrix_trace(b, mm(b, b(inv_p, op.operands[0]), dots[0]))]


solve_p.jvp = _solve_jvp
inv_p.jvp = _inv_jvp
det_p.jvp = _det_jvp
logabsdet_p.jvp = _logabsdet_jvp
