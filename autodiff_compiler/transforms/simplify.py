"""Algebraic folding used while building derivative code.

Local rewrites only: x+0, x-0, 0-x, x*1, x*0 (symbolic zero, as JAX's symbolic zeros),
x/1, x**1 and constant arithmetic. Rules apply only where the folded value has the
result's type, so folding never changes what the generated code computes beyond dropping
terms that are structurally zero.
"""

from __future__ import annotations

import math
import operator

from ..ir.core import Const
from ..ir.types import promote
from .cse import written_arrays

_CONST_OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "neg": operator.neg,
}


def is_const(v, value=None) -> bool:
    return isinstance(v, Const) and (value is None or v.value == value)


def is_zero(v) -> bool:
    return is_const(v, 0)


def _keeps_type(v, operands) -> bool:
    return v.type == promote(*(o.type for o in operands))


def fold(b, name, operands, attrs):
    """Return a value equal to `name(*operands)` without emitting an op, or None."""
    from ..ir.builder import const

    if operands and all(isinstance(v, Const) for v in operands) and name in _CONST_OPS:
        value = _CONST_OPS[name](*(v.value for v in operands))
        if not (isinstance(value, float) and not math.isfinite(value)):
            return const(value, promote(*(o.type for o in operands)))
    if name in ("add", "sub"):
        x, y = operands
        if is_zero(y) and _keeps_type(x, operands):
            return x
        if is_zero(x):
            if name == "add" and _keeps_type(y, operands):
                return y
            if name == "sub":
                return b("neg", y)
    elif name == "mul":
        x, y = operands
        for a, c in ((x, y), (y, x)):
            if is_const(c, 1) and _keeps_type(a, operands):
                return a
            if is_zero(c) and not a.type.is_array:
                return const(0, promote(x.type, y.type))
            if is_const(c, -1) and _keeps_type(a, operands):
                return b("neg", a)
    elif name == "truediv":
        x, y = operands
        if is_const(y, 1) and x.type.is_float:
            return x
        if is_zero(x) and not y.type.is_array:
            return const(0.0)
    elif name == "floordiv":
        x, y = operands
        if is_const(y, 1) and x.type.kind == "int" and y.type.kind == "int":
            return x
    elif name == "pow":
        x, y = operands
        if is_const(y, 1) and x.type.is_float:
            return x
    return None


_FOLDABLE = ("add", "sub", "mul", "neg", "truediv", "floordiv", "pow")


def simplify(fn):
    """Apply `fold` to every arithmetic op of `fn` in place (e.g. after constants were
    substituted into copied code); returns `fn`."""
    from ..ir.builder import Builder
    from ..ir.core import Region

    written = written_arrays(fn)  # x * 1.0 stays a new array where either one is written
    subst: dict[int, object] = {}
    todo = [fn.body]
    while todo:
        region = todo.pop()
        kept = []
        for op in region.ops:
            op.operands = [subst.get(id(v), v) for v in op.operands]
            todo.extend(op.regions)
            if op.prim.name in _FOLDABLE and len(op.results) == 1 and \
                    not any(id(v) in written for v in op.results + op.operands):
                emitted = Region()
                folded = fold(Builder(emitted, op.loc, fold=True), op.prim.name,
                              tuple(op.operands), op.attrs)
                if folded is not None:
                    subst[id(op.results[0])] = folded
                    kept.extend(emitted.ops)
                    continue
            kept.append(op)
        region.ops = kept
    return fn
