"""Arithmetic, comparison, logic and selection primitives with their derivative rules.

Conventions for the non-smooth ones (derivative of the branch the program takes, as
Tapenade and JAX do): min/max send the whole cotangent to the argument they return (the first
one on ties, as Python's min/max return it); abs and sign use sign(0) = 0; floor division is
piecewise constant (zero derivative); x % y = x - floor(x/y)*y.
"""

from __future__ import annotations

import ast

from ..ir.builder import const
from ..ir.core import Const
from ..ir.types import BOOL, F64, I64, Type, promote
from .registry import call, defprim, defvjp, multiplicative_jvps

_BINOPS = {
    "add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "truediv": ast.Div,
    "floordiv": ast.FloorDiv, "mod": ast.Mod, "pow": ast.Pow,
}
_COMPARE = {"lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE, "eq": ast.Eq, "ne": ast.NotEq}


def _promoted(*types: Type, **_) -> list[Type]:
    return [promote(*types)]


def _floating(*types: Type, **_) -> list[Type]:
    return [Type("float", max(t.ndim for t in types))]


def _boolean(*types: Type, **_) -> list[Type]:
    return [Type("bool", max(t.ndim for t in types))]


def _binop_emitter(node_type):
    return lambda op, args: ast.BinOp(args[0], node_type(), args[1])


def _compare_emitter(node_type):
    return lambda op, args: ast.Compare(args[0], [node_type()], [args[1]])


_SPECS = {
    "add": {}, "sub": {}, "mul": {}, "truediv": {"domain": [(-3, 3), (0.5, 3)]},
    "floordiv": {"domain": [(0.1, 5), (0.7, 2)], "kinks": True},
    "mod": {"domain": [(0.1, 5), (0.7, 2)], "kinks": True},
    "pow": {"domain": [(0.3, 3), (-2, 2)]},
}
for _name, _node in _BINOPS.items():
    defprim(_name, infer=_floating if _name == "truediv" else _promoted,
            emit=_binop_emitter(_node), cheap=_name != "pow",
            spec={"arity": 2, **_SPECS[_name]})
for _name, _node in _COMPARE.items():
    defprim(_name, infer=_boolean, emit=_compare_emitter(_node), differentiable=False, cheap=True)

defprim("neg", infer=_promoted, emit=lambda op, a: ast.UnaryOp(ast.USub(), a[0]),
        cheap=True, spec={"arity": 1})
def _logical(node, array_name: str):
    def emit(op, args):
        if any(v.type.is_array for v in op.operands):
            return call(array_name, args)
        return ast.UnaryOp(node(), args[0]) if node is ast.Not else ast.BoolOp(node(), args)

    return emit


defprim("and_", infer=_boolean, emit=_logical(ast.And, "np.logical_and"),
        differentiable=False, cheap=True)
defprim("not_", infer=_boolean, emit=_logical(ast.Not, "np.logical_not"),
        differentiable=False, cheap=True)
def _emit_cast_float(op, args):
    if op.operands[0].type.is_array:
        return ast.Call(ast.Attribute(args[0], "astype", ast.Load()),
                        [ast.parse("np.float64", mode="eval").body], [])
    return call("float", args)


defprim("cast_float", infer=lambda t, **_: [Type("float", t.ndim)], emit=_emit_cast_float,
        cheap=True, spec={"arity": 1})
defprim("cast_int", infer=lambda t, **_: [I64], emit=lambda op, a: call("int", a),
        differentiable=False, cheap=True)
defprim("cast_bool", infer=lambda t, **_: [BOOL], emit=lambda op, a: call("bool", a),
        differentiable=False, cheap=True)
def _scalar_or_array(scalar_name: str, array_name: str):
    def emit(op, args):
        arrays = any(v.type.is_array for v in op.operands)
        return call(array_name if arrays else scalar_name, args)

    return emit


defprim("min2", infer=_promoted, emit=_scalar_or_array("min", "np.minimum"), cheap=True,
        spec={"arity": 2, "kinks": True})
defprim("max2", infer=_promoted, emit=_scalar_or_array("max", "np.maximum"), cheap=True,
        spec={"arity": 2, "kinks": True})
defprim("abs", infer=_promoted, emit=_scalar_or_array("abs", "np.abs"), cheap=True,
        spec={"arity": 1, "kinks": True})
def _emit_select(op, args):
    if any(v.type.is_array for v in op.operands):
        return call("np.where", args)
    return ast.IfExp(args[0], args[1], args[2])


defprim("select", infer=lambda c, a, b, **_: [promote(c, a, b)], emit=_emit_select, cheap=True)
def _emit_trip_count(op, args):
    lb, _, step = op.operands
    if getattr(step, "value", None) == 1:
        args = args[1:2] if getattr(lb, "value", None) == 0 else args[:2]
    return call("len", [call("range", args)])


defprim("trip_count", infer=lambda *t, **_: [I64], emit=_emit_trip_count,
        differentiable=False, cheap=True)


def _zero_like(v):
    return const(0.0, F64)


@defvjp("add")
def _add_vjp(b, op, g):
    return (lambda: g, lambda: g)


@defvjp("sub")
def _sub_vjp(b, op, g):
    return (lambda: g, lambda: b.neg(g))


@defvjp("mul")
def _mul_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b.mul(g, y), lambda: b.mul(g, x))


@defvjp("truediv")
def _truediv_vjp(b, op, g):
    y = op.operands[1]
    return (lambda: b.div(g, y), lambda: b.neg(b.div(b.mul(g, op.result), y)))


@defvjp("floordiv")
def _floordiv_vjp(b, op, g):
    return (None, None)


@defvjp("mod")
def _mod_vjp(b, op, g):
    x, y = op.operands
    return (lambda: g, lambda: b.neg(b.mul(g, b("floordiv", x, y))))


@defvjp("pow")
def _pow_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b.mul(g, _pow_d_base(b, x, y)),
            lambda: b.mul(g, b.mul(op.result, b("log", _zero_to_one(b, x)))))


def _pow_d_base(b, x, y):
    """d(x**y)/dx = y * x**(y-1), which is 0 where y == 0 (also at x == 0, where x**-1
    would divide by zero): the exponent y-1 is replaced by 1 there."""
    if isinstance(y, Const):
        if y.value == 0:
            return _zero_like(y)
        if y.type.kind == "int" and y.value == 2:
            return b.mul(const(2.0), x)
        return b.mul(y, b("pow", x, b.sub(y, const(1, Type(y.type.kind)))))
    one = const(1, Type(y.type.kind))
    exponent = b("select", b("ne", y, const(0, one.type)), b.sub(y, one), one)
    return b.mul(y, b("pow", x, exponent))


def _zero_to_one(b, x):
    """x with 0 replaced by 1 (unless x is a nonzero literal): d(0**y)/dy = 0**y * log(1) = 0,
    since 0**y is constant (0) for y > 0."""
    if isinstance(x, Const) and x.value != 0:
        return x
    kind = Type(x.type.kind)
    return b("select", b("eq", x, const(0, kind)), const(1, kind), x)


@defvjp("neg")
def _neg_vjp(b, op, g):
    return (lambda: b.neg(g),)


@defvjp("cast_float")
def _cast_float_vjp(b, op, g):
    return (lambda: g,)


def _routed(b, cond, g):
    """The cotangent where `cond` holds, zero elsewhere (g may be a vector of directions)."""
    if g.type.is_array:
        return b.mul(g, b("select", cond, const(1.0), const(0.0)))
    return b("select", cond, g, _zero_like(g))


@defvjp("min2")
def _min_vjp(b, op, g):
    x, y = op.operands
    return (lambda: _routed(b, b("le", x, y), g), lambda: _routed(b, b("gt", x, y), g))


@defvjp("max2")
def _max_vjp(b, op, g):
    x, y = op.operands
    return (lambda: _routed(b, b("ge", x, y), g), lambda: _routed(b, b("lt", x, y), g))


@defvjp("abs")
def _abs_vjp(b, op, g):
    (x,) = op.operands
    return (lambda: b.mul(g, b("sign", x)),)


@defvjp("select")
def _select_vjp(b, op, g):
    c = op.operands[0]
    return (None, lambda: _routed(b, c, g), lambda: _routed(b, b("not_", c), g))


multiplicative_jvps([*_BINOPS, "neg", "cast_float", "min2", "max2", "abs", "select"])
