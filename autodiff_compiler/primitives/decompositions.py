"""Matrix factorisations: np.linalg.cholesky, computed by runtime loops (Numba's LAPACK
bindings need SciPy, which is not a dependency).

Cholesky (Murray, "Differentiation of the Cholesky decomposition", 2016): with Phi(X) the
lower triangle of X with its diagonal halved, the tangent is L_dot = L Phi(L^-1 S_dot L^-T)
and the adjoint of the symmetric input is P = L^-T Phi(L^T L_bar) L^-1. Like NumPy, the
factorisation reads only the lower triangle of its operand a (S = tril(a) + tril(a, -1)^T),
so a's adjoint is P folded onto the lower triangle, tril(P + P^T) - diag(P), and zero above.
"""

from __future__ import annotations

from ..ir.core import const
from ..ir.types import Type
from .arrays import dot_p, eye_like_p, inv_p, transpose_p, tril_p
from .registry import call, defprim, defvjp

cholesky_p = defprim("cholesky", infer=lambda a, **_: [Type("float", 2)],
                     emit=lambda op, a: call("rt.cholesky", a), fresh_array=True,
                     spec={"arity": 1, "array": True})


def _phi(b, x):
    """The lower triangle of x with its diagonal halved."""
    return b.sub(b(tril_p, x, attrs={"k": 0}), b.mul(const(0.5), b.mul(x, b(eye_like_p, x))))


@defvjp(cholesky_p)
def _cholesky_vjp(b, op, g):
    low = op.result

    def a_bar():
        low_inv = b(inv_p, low)
        middle = _phi(b, b(dot_p, b(transpose_p, low), g))
        p = b(dot_p, b(dot_p, b(transpose_p, low_inv), middle), low_inv)
        folded = b(tril_p, b.add(p, b(transpose_p, p)), attrs={"k": 0})
        return b.sub(folded, b.mul(p, b(eye_like_p, p)))

    return (a_bar,)


def _cholesky_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    low, a_dot = op.result, dots[0]
    symmetric = b.add(b(tril_p, a_dot, attrs={"k": 0}),
                      b(transpose_p, b(tril_p, a_dot, attrs={"k": -1})))
    low_inv = b(inv_p, low)
    inner = b(dot_p, b(dot_p, low_inv, symmetric), b(transpose_p, low_inv))
    return [b(dot_p, low, _phi(b, inner))]


cholesky_p.jvp = _cholesky_jvp
