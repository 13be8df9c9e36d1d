"""Array element access, array sizes, adjoint buffers and scatter-adds.

Reading `x[i, j]` has as adjoint a scatter into x's adjoint buffer (`x_bar[i, j] += g`), so
its vjp rule returns a `Scatter` for the array operand; the reverse transform turns it into an
`index_add` on the buffer it allocated for x.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..ir.core import Value
from ..ir.types import I64, Type
from .registry import call, defprim, defvjp


@dataclass
class Scatter:
    """Adjoint contribution `g` to the elements `indices` of an array operand."""

    indices: tuple
    g: Value


def _subscript(target: ast.expr, indices: list[ast.expr], ctx=ast.Load) -> ast.Subscript:
    index = indices[0] if len(indices) == 1 else ast.Tuple(list(indices), ast.Load())
    return ast.Subscript(target, index, ctx())


def _getitem_type(array: Type, *indices: Type, **_) -> list[Type]:
    return [Type(array.kind, array.ndim - len(indices))]


defprim("getitem", infer=_getitem_type, emit=lambda op, a: _subscript(a[0], a[1:]), cheap=True)
defprim("len", infer=lambda t, **_: [I64], emit=lambda op, a: call("len", a),
        differentiable=False, cheap=True)
defprim("dim", infer=lambda t, axis, **_: [I64], differentiable=False, cheap=True,
        emit=lambda op, a: _subscript(ast.Attribute(a[0], "shape", ast.Load()),
                                      [ast.Constant(op.attrs["axis"])]))
defprim("zeros_like", infer=lambda t, **_: [Type("float", t.ndim)],
        emit=lambda op, a: call("np.zeros_like", [a[0]] + ([] if op.operands[0].type.is_float
                                                         else [dtype_keyword()])))
defprim("index_add", infer=lambda *t, **_: [], pure=False, statement=True,
        emit=lambda op, a: ast.AugAssign(_subscript(a[0], a[1:-1], ast.Store), ast.Add(), a[-1]))


def dtype_keyword():
    return ast.keyword("dtype", ast.Attribute(ast.Name("np", ast.Load()), "float64", ast.Load()))


@defvjp("getitem")
def _getitem_vjp(b, op, g):
    indices = tuple(op.operands[1:])
    return (lambda: Scatter(indices, g),) + (None,) * len(indices)
