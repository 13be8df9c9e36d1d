"""Whole-array primitives: reductions, products, transposes, and the adjoint helpers of
broadcasting.

Broadcasting follows NumPy: an operand of lower rank is aligned to the trailing axes, so its
adjoint sums the cotangent over the leading axes (`sum_leading`); a scalar operand's adjoint
sums over all. Equal-rank operands must have equal shapes for now: size-1 broadcasting makes
the adjoint's in-place add fail at run time with NumPy's shape error, never a wrong result.
Products (np.dot, @) call the loops of autodiff_compiler.runtime, so Numba needs no BLAS.
"""

from __future__ import annotations

import ast

from ..ir.types import Type
from .registry import PRIMITIVES, bilinear_jvp, call, defprim, defvjp, linear_jvp


def _axis_keyword(op):
    axis = op.attrs.get("axis")
    return [] if axis is None else [ast.keyword("axis", ast.Constant(axis))]


def _reduced(t: Type, axis=None, **_) -> list[Type]:
    return [Type("float", 0 if axis is None else t.ndim - 1)]


defprim("sum", infer=_reduced, cheap=False,
        emit=lambda op, a: ast.Call(ast.parse("np.sum", mode="eval").body, [a[0]],
                                    _axis_keyword(op)),
        spec={"arity": 1, "array": True})


def _emit_spread(op, args):
    """g spread over x's shape: along `axis` (a reduced axis) or everywhere."""
    g, x = args
    axis = op.attrs.get("axis")
    if axis is None:
        return call("np.full_like", [x, g])
    ones = call("np.ones_like", [x])
    return ast.BinOp(ones, ast.Mult(), call("np.expand_dims", [g, ast.Constant(axis)]))


defprim("spread", infer=lambda g, x, **_: [Type("float", x.ndim)], emit=_emit_spread)


def _emit_sum_leading(op, args):
    count = op.attrs["count"]
    if op.results[0].type.ndim == 0:
        return call("np.sum", args)
    node = args[0]
    for _ in range(count):
        node = ast.Call(ast.Attribute(node, "sum", ast.Load()), [],
                        [ast.keyword("axis", ast.Constant(0))])
    return node


defprim("sum_leading", infer=lambda g, count, **_: [Type("float", g.ndim - count)],
        emit=_emit_sum_leading)


def unbroadcast(b, g, operand):
    """The part of cotangent g that belongs to `operand` (summed over broadcast axes)."""
    extra = g.type.ndim - operand.type.ndim
    if extra <= 0:
        return g
    return b("sum_leading", g, attrs={"count": extra})


@defvjp("sum")
def _sum_vjp(b, op, g):
    return (lambda: b("spread", g, op.operands[0], attrs={"axis": op.attrs.get("axis")}),)


# --- products ------------------------------------------------------------------------------
def _dot_type(a: Type, b: Type, **_) -> list[Type]:
    return [Type("float", a.ndim + b.ndim - 2)]


def _emit_dot(op, args):
    a, b = (v.type.ndim for v in op.operands)
    return call(f"rt.dot{a}{b}", args)


defprim("dot", infer=_dot_type, emit=_emit_dot, spec={"arity": 2, "array": True})
defprim("outer", infer=lambda a, b, **_: [Type("float", 2)],
        emit=lambda op, a: call("rt.outer", a), spec={"arity": 2, "array": True})
defprim("transpose", infer=lambda t, **_: [t],
        emit=lambda op, a: ast.Attribute(a[0], "T", ast.Load()), cheap=True,
        spec={"arity": 1, "array": True})


@defvjp("transpose")
def _transpose_vjp(b, op, g):
    return (lambda: b("transpose", g),)


@defvjp("outer")
def _outer_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b("dot", g, y), lambda: b("dot", b("transpose", g), x))


@defvjp("dot")
def _dot_vjp(b, op, g):
    x, y = op.operands
    kinds = (x.type.ndim, y.type.ndim)
    if kinds == (1, 1):
        return (lambda: b.mul(g, y), lambda: b.mul(g, x))
    if kinds == (2, 1):
        return (lambda: b("outer", g, y), lambda: b("dot", b("transpose", x), g))
    if kinds == (1, 2):
        return (lambda: b("dot", y, g), lambda: b("outer", x, g))
    return (lambda: b("dot", g, b("transpose", y)), lambda: b("dot", b("transpose", x), g))


for _name in ("sum", "spread", "sum_leading", "transpose"):
    PRIMITIVES[_name].jvp = linear_jvp
for _name in ("dot", "outer"):
    PRIMITIVES[_name].jvp = bilinear_jvp
