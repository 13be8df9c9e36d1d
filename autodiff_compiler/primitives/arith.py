"""Arithmetic, comparison, logic and selection primitives with their derivative rules.

Conventions for the non-smooth ones (derivative of the branch the program takes, as
Tapenade and JAX do): min/max send the whole cotangent to the argument they return (the first
one on ties, as Python's min/max return it); floor division is piecewise constant (zero
derivative); x % y = x - floor(x/y)*y.

The `fold` rules are the algebra done while derivative code is built (JAX's symbolic zeros):
x+0, x-0, 0-x, x*1, x*0, x*-1, x/1, constant arithmetic. A rule applies only where the
folded value has the result's type, so folding never changes what the code computes beyond
dropping terms that are structurally zero. Powers and abs are in elementwise.py (their
derivatives need log and sign).
"""

from __future__ import annotations

import ast
import copy
import math
import operator

from ..ir.core import Const, const
from ..ir.types import BOOL, F64, I64, Type, promote
from .registry import call, defprim, defvjp, multiplicative_jvps


def promoted(*types: Type, **_) -> list[Type]:
    return [promote(*types)]


def _floating(*types: Type, **_) -> list[Type]:
    return [Type("float", max(t.ndim for t in types))]


def _boolean(*types: Type, **_) -> list[Type]:
    return [Type("bool", max(t.ndim for t in types))]


def binop_emitter(node_type):
    return lambda op, args: ast.BinOp(args[0], node_type(), args[1])


def _emit_mod(op, args):
    """x % y; of two int numbers with a divisor known only at run time and simple operands,
    `x if 0 <= x < y else x % y`: a cyclic index (`(i + 1) % n`, a ring buffer's slot) is
    mostly in range already, and two comparisons cost far less than the integer division
    (the value is Python's for any x and y, ZeroDivisionError included)."""
    x, y = op.operands
    node = ast.BinOp(args[0], ast.Mod(), args[1])
    if any(v.type.kind != "int" or v.type.is_array for v in (x, y)) or isinstance(y, Const) \
            or not all(map(_simple, args)):
        return node
    in_range = ast.Compare(ast.Constant(0), [ast.LtE(), ast.Lt()],
                           [copy.deepcopy(args[0]), copy.deepcopy(args[1])])
    return ast.IfExp(in_range, copy.deepcopy(args[0]), node)


def _simple(node: ast.expr) -> bool:
    """A name, a number, or a sum or difference of two of them (cheap to repeat)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return _simple(node.left) and _simple(node.right) and \
            not isinstance(node.left, ast.BinOp) and not isinstance(node.right, ast.BinOp)
    return isinstance(node, (ast.Name, ast.Constant))


def _compare_emitter(node_type):
    return lambda op, args: ast.Compare(args[0], [node_type()], [args[1]])


# --- folding --------------------------------------------------------------------------------
def is_const(v, value=None) -> bool:
    return isinstance(v, Const) and (value is None or v.value == value)


def _keeps_type(v, operands) -> bool:
    return v.type == promote(*(o.type for o in operands))


def _constant(function):
    """Fold rule: the value of `function` on literal operands (finite results only)."""
    def fold(b, operands, attrs):
        if not all(isinstance(v, Const) for v in operands):
            return None
        value = function(*(v.value for v in operands))
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return const(value, promote(*(o.type for o in operands)))

    return fold


def _constant_first(function, algebra):
    """Fold rule: literal operands are computed, else `algebra` applies."""
    constant = _constant(function)

    def fold(b, operands, attrs):
        folded = constant(b, operands, attrs)
        return folded if folded is not None else algebra(b, operands)

    return fold


def _add_algebra(b, operands):
    x, y = operands
    if is_const(y, 0) and _keeps_type(x, operands):
        return x
    if is_const(x, 0) and _keeps_type(y, operands):
        return y
    return None


def _sub_algebra(b, operands):
    x, y = operands
    if is_const(y, 0) and _keeps_type(x, operands):
        return x
    return b(neg_p, y) if is_const(x, 0) else None


def _mul_algebra(b, operands):
    x, y = operands
    for a, c in ((x, y), (y, x)):
        if is_const(c, 1) and _keeps_type(a, operands):
            return a
        if is_const(c, 0) and not a.type.is_array:
            return const(0, promote(x.type, y.type))
        if is_const(c, -1) and _keeps_type(a, operands):
            return b(neg_p, a)
    return None


_fold_add = _constant_first(operator.add, _add_algebra)
_fold_sub = _constant_first(operator.sub, _sub_algebra)
_fold_mul = _constant_first(operator.mul, _mul_algebra)


def _fold_truediv(b, operands, attrs):
    x, y = operands
    if is_const(y, 1) and x.type.is_float:
        return x
    if is_const(x, 0) and not y.type.is_array:
        return const(0.0)
    return None


def _fold_floordiv(b, operands, attrs):
    x, y = operands
    if is_const(y, 1) and x.type.kind == "int" and y.type.kind == "int":
        return x
    return None


# --- binary operators ----------------------------------------------------------------------
add_p = defprim("add", infer=promoted, emit=binop_emitter(ast.Add), cheap=True, linear=True,
                elementwise=True,
                fold=_fold_add, spec={"arity": 2})
sub_p = defprim("sub", infer=promoted, emit=binop_emitter(ast.Sub), cheap=True, linear=True,
                elementwise=True,
                fold=_fold_sub, spec={"arity": 2})
mul_p = defprim("mul", infer=promoted, emit=binop_emitter(ast.Mult), cheap=True,
                elementwise=True,
                fold=_fold_mul, spec={"arity": 2})
# in a fused loop the division operators are NumPy's (x / 0 is inf, not ZeroDivisionError)
truediv_p = defprim("truediv", infer=_floating, emit=binop_emitter(ast.Div), cheap=True,
                    elementwise=True, emit_element=lambda op, a: call("np.true_divide", a),
                    fold=_fold_truediv, spec={"arity": 2, "domain": [(-3, 3), (0.5, 3)]})
floordiv_p = defprim("floordiv", infer=promoted, emit=binop_emitter(ast.FloorDiv), cheap=True,
                     elementwise=True, emit_element=lambda op, a: call("np.floor_divide", a),
                     fold=_fold_floordiv,
                     spec={"arity": 2, "domain": [(0.1, 5), (0.7, 2)], "kinks": True})
mod_p = defprim("mod", infer=promoted, emit=_emit_mod, cheap=True,
                elementwise=True, emit_element=lambda op, a: call("np.remainder", a),
                spec={"arity": 2, "domain": [(0.1, 5), (0.7, 2)], "kinks": True})
neg_p = defprim("neg", infer=promoted, emit=lambda op, a: ast.UnaryOp(ast.USub(), a[0]),
                cheap=True, elementwise=True, linear=True, fold=_constant(operator.neg), spec={"arity": 1})


# --- integer polynomials (index arithmetic; transforms/strength.py) -------------------------
add_p.polynomial = lambda op, p: p[0] + p[1]
sub_p.polynomial = lambda op, p: p[0] - p[1]
mul_p.polynomial = lambda op, p: p[0] * p[1]
neg_p.polynomial = lambda op, p: -p[0]


def _floordiv_polynomial(op, p):
    """x // k for a positive constant k: a polynomial only where the division is exact."""
    k = op.operands[1]
    if isinstance(k, Const) and k.type.kind == "int" and k.value > 0:
        return p[0].exact_div(k.value)
    return None


floordiv_p.polynomial = _floordiv_polynomial


def _comparison(name: str, node_type):
    return defprim(name, infer=_boolean, emit=_compare_emitter(node_type), differentiable=False,
                   cheap=True, elementwise=True)


lt_p = _comparison("lt", ast.Lt)
le_p = _comparison("le", ast.LtE)
gt_p = _comparison("gt", ast.Gt)
ge_p = _comparison("ge", ast.GtE)
eq_p = _comparison("eq", ast.Eq)
ne_p = _comparison("ne", ast.NotEq)


def _logical(node, array_name: str):
    def emit(op, args):
        if any(v.type.is_array for v in op.operands):
            return call(array_name, args)
        return ast.UnaryOp(node(), args[0]) if node is ast.Not else ast.BoolOp(node(), args)

    return emit


and_p = defprim("and_", infer=_boolean, emit=_logical(ast.And, "np.logical_and"),
                differentiable=False, cheap=True, elementwise=True)
not_p = defprim("not_", infer=_boolean, emit=_logical(ast.Not, "np.logical_not"),
                differentiable=False, cheap=True, elementwise=True)


def _emit_cast_float(op, args):
    bits = op.attrs.get("bits", 64)
    if op.operands[0].type.is_array:
        return ast.Call(ast.Attribute(args[0], "astype", ast.Load()),
                        [ast.parse(f"np.float{bits}", mode="eval").body], [])
    if bits == 32:
        return call("np.float32", args)
    if op.operands[0].type.is_float32:  # Numba's float() keeps float32: a double first
        return call("float", [call("np.float64", args)])
    return call("float", args)


def _cast_float_type(t: Type, bits: int = 64, **_) -> list[Type]:
    """float(x) is a Python float (weak), x.astype(np.float64) an array; bits=32: float32."""
    return [Type("float", t.ndim, bits, bits == 64 and t.ndim == 0)]


cast_float_p = defprim("cast_float", infer=_cast_float_type, fixed_precision=True,
                       emit=_emit_cast_float, cheap=True, linear=True, elementwise=True,
                       emit_element=lambda op, a: call(f"np.float{op.attrs.get('bits', 64)}",
                                                       a),  # Numba: of a bool
                       spec={"arity": 1})
cast_int_p = defprim("cast_int", infer=lambda t, **_: [I64], emit=lambda op, a: call("int", a),
                     differentiable=False, cheap=True)
cast_bool_p = defprim("cast_bool", infer=lambda t, **_: [BOOL],
                      emit=lambda op, a: call("bool", a), differentiable=False, cheap=True)


def scalar_or_array(scalar_name: str, array_name: str):
    def emit(op, args):
        arrays = any(v.type.is_array for v in op.operands)
        return call(array_name if arrays else scalar_name, args)

    return emit


# in a fused loop NumPy's minimum and maximum, which propagate NaN (Python's min does not)
min2_p = defprim("min2", infer=promoted, emit=scalar_or_array("min", "np.minimum"), cheap=True,
                 elementwise=True, emit_element=lambda op, a: call("np.minimum", a),
                 spec={"arity": 2, "kinks": True})
max2_p = defprim("max2", infer=promoted, emit=scalar_or_array("max", "np.maximum"), cheap=True,
                 elementwise=True, emit_element=lambda op, a: call("np.maximum", a),
                 spec={"arity": 2, "kinks": True})


def _emit_select(op, args):
    if any(v.type.is_array for v in op.operands):
        return call("np.where", args)
    return ast.IfExp(args[0], args[1], args[2])


select_p = defprim("select", infer=lambda c, a, b, **_: [promote(c, a, b)], emit=_emit_select,
                   cheap=True, elementwise=True,
                   shaped_by=lambda op: ())  # np.where broadcasts, whatever c


def _emit_trip_count(op, args):
    lb, _, step = op.operands
    if getattr(step, "value", None) == 1:
        args = args[1:2] if getattr(lb, "value", None) == 0 else args[:2]
    return call("len", [call("range", args)])


trip_count_p = defprim("trip_count", infer=lambda *t, **_: [I64], emit=_emit_trip_count,
                       differentiable=False, cheap=True)


def zero_like(v):
    return const(0.0, F64)


@defvjp(add_p)
def _add_vjp(b, op, g):
    return (lambda: g, lambda: g)


@defvjp(sub_p)
def _sub_vjp(b, op, g):
    return (lambda: g, lambda: b.neg(g))


@defvjp(mul_p)
def _mul_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b.mul(g, y), lambda: b.mul(g, x))


@defvjp(truediv_p)
def _truediv_vjp(b, op, g):
    y = op.operands[1]
    # d/dy (x / y) = -(x / y) / y: written as -(g / y) * (x / y), so that g / y is one
    # division shared with x's cotangent (and with any other g / y, e.g. log's, after CSE).
    return (lambda: b.div(g, y), lambda: b.neg(b.mul(b.div(g, y), op.result)))


@defvjp(floordiv_p)
def _floordiv_vjp(b, op, g):
    return (None, None)


@defvjp(mod_p)
def _mod_vjp(b, op, g):
    x, y = op.operands
    return (lambda: g, lambda: b.neg(b.mul(g, b(floordiv_p, x, y))))


@defvjp(neg_p)
def _neg_vjp(b, op, g):
    return (lambda: b.neg(g),)


@defvjp(cast_float_p)
def _cast_float_vjp(b, op, g):
    return (lambda: g,)


def routed(b, cond, g):
    """The cotangent where `cond` holds, zero elsewhere (g may be a vector of directions)."""
    if g.type.is_array:
        return b.mul(g, b(select_p, cond, const(1.0), const(0.0)))
    return b(select_p, cond, g, zero_like(g))


@defvjp(min2_p)
def _min_vjp(b, op, g):
    x, y = op.operands
    return (lambda: routed(b, b(le_p, x, y), g), lambda: routed(b, b(gt_p, x, y), g))


@defvjp(max2_p)
def _max_vjp(b, op, g):
    x, y = op.operands
    return (lambda: routed(b, b(ge_p, x, y), g), lambda: routed(b, b(lt_p, x, y), g))


@defvjp(select_p)
def _select_vjp(b, op, g):
    c = op.operands[0]
    return (None, lambda: routed(b, c, g), lambda: routed(b, b(not_p, c), g))


multiplicative_jvps([add_p, sub_p, mul_p, truediv_p, floordiv_p, mod_p, neg_p, cast_float_p,
                     min2_p, max2_p, select_p])


# elementwise: the result has the broadcast shape of the array operands (analysis.shapes)
for _elementwise in (add_p, sub_p, mul_p, truediv_p, floordiv_p, mod_p, neg_p, lt_p, le_p, gt_p,
                     ge_p, eq_p, ne_p, and_p, not_p, cast_float_p, min2_p, max2_p, select_p):
    _elementwise.broadcast_shape = True
