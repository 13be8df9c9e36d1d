"""Lowering of np.linalg: solve/inv/det/slogdet of matrices and stacks of them, eigh,
eigvalsh, svd, qr, lstsq, and the matrix norms that need singular values (ord=2, -2, 'nuc').

A factorisation with several results becomes one primitive per result
(primitives/decompositions.py, least_squares.py); the call's value is the tuple of them, so
`w, v = np.linalg.eigh(a)`, `np.linalg.svd(a)[1]` and `q = np.linalg.qr(a)[0]` all work.
"""

from __future__ import annotations

from ..ir.core import Const, Value, const
from ..primitives.arrays import expand_dims_p, sum_p, transpose_attrs, transpose_p
from ..primitives.decompositions import eigh_vectors_p, eigvalsh_p, svd_u_p, svd_vt_p, svdvals_p
from ..primitives.least_squares import lstsq_p, lstsq_rank_p, qr_q_p, qr_r_p, residuals
from ..primitives.linalg import det_sign_p, logabsdet_p, solve_p, swap_last
from .scope import Text


def _constant(value):
    """The Python value of a constant argument (a number, a bool, a string), else `value`."""
    return value.value if isinstance(value, (Const, Text)) else value


class LinalgCalls:
    """Mixin for frontend.numpy_calls.NumpyLowering."""

    LINALG = frozenset({"eigh", "eigvalsh", "svd", "qr", "lstsq"})

    def square_matrices(self, node, name: str, matrix: Value, rest: list[Value]):
        """np.linalg.solve/inv/det/slogdet of a square matrix or a stack of them."""
        if matrix.type.ndim < 2:
            self.error(node, f"np.linalg.{name} takes a square matrix or a stack of them "
                       "(at least 2-D)", unsupported=True)
        if name == "solve":
            rhs = self.floating(rest[0])
            if not rhs.type.is_array:
                self.error(node, "np.linalg.solve takes an array right-hand side",
                           unsupported=True)
            if matrix.type.ndim == 2 or rhs.type.ndim != 1:
                return self.b(solve_p, matrix, rhs)
            # NumPy 2: a 1-D b is one vector for every matrix of the stack
            column = self.b(expand_dims_p, rhs, attrs={"axis": 1})
            solved = self.b(solve_p, matrix, column)
            return self.b(sum_p, solved, attrs={"axis": solved.type.ndim - 1})
        if name == "slogdet":  # (sign, log|det|); the sign's derivative is zero
            return self.b(det_sign_p, matrix), self.b(logabsdet_p, matrix)
        return self.b(name, matrix)

    def matrices_argument(self, node, spelling: str, value) -> Value:
        x = self.array_argument(node, spelling, value)
        if x.type.ndim < 2:
            self.error(node, f"{spelling} takes a matrix or a stack of them (at least 2-D)",
                       unsupported=True)
        return x

    def constant_option(self, node, spelling: str, given: dict, name: str, allowed: tuple):
        value = _constant(given[name])
        if isinstance(value, Value) or value not in allowed:
            self.error(node, f"{spelling}: {name} must be one of {allowed!r} (a constant)",
                       unsupported=True)
        return value

    def lower_read(self, node, spelling: str, args: list, upper_allowed: bool) -> Value:
        """The operand of eigh/eigvalsh as its lower triangle is read: UPLO='U' reads the
        upper one, the lower one of the transpose (the same eigenvalues; LAPACK's vectors
        may differ in sign, so eigh refuses it)."""
        given = self.bind(node, spelling, args, ("a", "UPLO"), {"UPLO": Text("L")})
        a = self.matrices_argument(node, spelling, given["a"])
        upper = self.constant_option(node, spelling, given, "UPLO", ("L", "U")) == "U"
        if upper and not upper_allowed:
            self.error(node, f"{spelling}: UPLO='U' is not supported (NumPy's eigenvectors "
                       "would differ in sign): pass the transposed matrix, whose lower "
                       "triangle is this one's upper triangle", unsupported=True)
        return swap_last(self.b, a) if upper else a

    def np_eigh(self, node, spelling, args):
        a = self.lower_read(node, "np.linalg.eigh", args, upper_allowed=False)
        return self.b(eigvalsh_p, a), self.b(eigh_vectors_p, a)

    def np_eigvalsh(self, node, spelling, args):
        return self.b(eigvalsh_p, self.lower_read(node, "np.linalg.eigvalsh", args,
                                                  upper_allowed=True))

    def np_svd(self, node, spelling, args):
        spelling = "np.linalg.svd"
        given = self.bind(node, spelling, args, ("a", "full_matrices", "compute_uv",
                                                 "hermitian"),
                          {"full_matrices": const(True), "compute_uv": const(True),
                           "hermitian": const(False)})
        a = self.matrices_argument(node, spelling, given["a"])
        full = self.constant_option(node, spelling, given, "full_matrices", (True, False))
        with_vectors = self.constant_option(node, spelling, given, "compute_uv", (True, False))
        if self.constant_option(node, spelling, given, "hermitian", (True, False)):
            self.error(node, f"{spelling}: hermitian=True is not supported: use "
                       "np.linalg.eigh for symmetric matrices", unsupported=True)
        if not with_vectors:
            return self.b(svdvals_p, a)
        if full:
            self.error(node, f"{spelling}: the full U and Vt (full_matrices=True, the "
                       "default) are not supported: pass full_matrices=False (the reduced "
                       "factors, the same for square matrices)", unsupported=True)
        return self.b(svd_u_p, a), self.b(svdvals_p, a), self.b(svd_vt_p, a)

    def np_qr(self, node, spelling, args):
        spelling = "np.linalg.qr"
        given = self.bind(node, spelling, args, ("a", "mode"), {"mode": Text("reduced")})
        a = self.matrices_argument(node, spelling, given["a"])
        mode = self.constant_option(node, spelling, given, "mode", ("reduced", "r"))
        if mode == "r":
            return self.b(qr_r_p, a)
        return self.b(qr_q_p, a), self.b(qr_r_p, a)

    def np_lstsq(self, node, spelling, args):
        spelling = "np.linalg.lstsq"
        given = self.bind(node, spelling, args, ("a", "b", "rcond"), {"rcond": None})
        a = self.array_argument(node, spelling, given["a"])
        rhs = self.array_argument(node, spelling, given["b"])
        if a.type.ndim != 2 or rhs.type.ndim not in (1, 2):
            self.error(node, f"{spelling} takes a matrix and a 1-D or 2-D right-hand side",
                       unsupported=True)
        if _constant(given["rcond"]) is not None:
            self.error(node, f"{spelling}: only rcond=None (NumPy's default) is supported",
                       unsupported=True)
        x = self.b(lstsq_p, a, rhs)
        return (x, residuals(self.b, a, rhs, x), self.b(lstsq_rank_p, a, rhs),
                self.b(svdvals_p, a))

    def singular_value_norm(self, node, x: Value, order, axes, keepdims: bool) -> Value:
        """np.linalg.norm of matrices with ord=2 / -2 (the largest / smallest singular value)
        or 'nuc' (their sum), over the two `axes` (None: those of a 2-D x)."""
        rows, columns = axes if axes is not None else (0, 1)
        ndim = x.type.ndim
        rows, columns = rows % ndim, columns % ndim
        if rows == columns:
            self.error(node, "np.linalg.norm: the two axes must differ", unsupported=True)
        others = [k for k in range(ndim) if k not in (rows, columns)]
        moved = self.b(transpose_p, x, attrs=transpose_attrs(others + [rows, columns])) \
            if (rows, columns) != (ndim - 2, ndim - 1) else x
        values = self.b(svdvals_p, moved)
        pick = {2: "max", -2: "min", "nuc": "sum"}[order]
        value = self.reduction(node, pick, values, (values.type.ndim - 1,), False) \
            if values.type.ndim > 1 else self.reduction(node, pick, values, None, False)
        return self.keep_axes(value, sorted((rows, columns)), ndim) if keepdims else value
