"""An IR builder: appends ops to a region, infers result types, folds trivial algebra.

Folding (x*1, x+0, symbolic zeros) is optional: the frontend builds the user's program as
written; the AD transforms build derivative code with folding on, so that adjoints of
inactive or constant paths vanish instead of being computed at run time.
"""

from __future__ import annotations

from ..primitives import registry
from .core import Const, Op, Region, Value
from .types import BOOL, F64, I64, Type


def const(value, type: Type | None = None) -> Const:
    if type is None:
        type = BOOL if isinstance(value, bool) else I64 if isinstance(value, int) else F64
    value = {"float": float, "int": int, "bool": bool}[type.kind](value)
    return Const(value, type)


class Builder:
    """Appends ops to `region`. `resolve` maps each operand before use (the reverse transform
    uses it to serve primal values from the tape); `fold` applies transforms.simplify."""

    def __init__(self, region: Region, loc=None, fold: bool = False, resolve=None):
        self.region = region
        self.loc = loc
        self.fold = fold
        self.resolve = resolve

    def child(self, region: Region) -> Builder:
        return Builder(region, self.loc, self.fold, self.resolve)

    def append(self, op: Op) -> Op:
        self.region.ops.append(op)
        return op

    def op(self, name: str, *operands: Value, attrs=None, hint: str | None = None,
           regions=None, result_types=None) -> Op:
        prim = registry.get(name)
        if self.resolve is not None:
            operands = tuple(self.resolve(v) for v in operands)
        attrs = dict(attrs or {})
        if result_types is None:
            result_types = prim.infer(*(v.type for v in operands), **attrs)
        hint = hint or name
        results = [Value(t, hint) for t in result_types]
        return self.append(Op(prim, list(operands), results, list(regions or []), attrs, self.loc))

    def __call__(self, name: str, *operands: Value, attrs=None, hint: str | None = None) -> Value:
        """Emit a single-result op, folded when folding is on."""
        if self.fold:
            from ..transforms.simplify import fold

            if self.resolve is not None:
                operands = tuple(self.resolve(v) for v in operands)
            folded = fold(self, name, operands, attrs or {})
            if folded is not None:
                return folded
            saved, self.resolve = self.resolve, None
            try:
                return self.op(name, *operands, attrs=attrs, hint=hint).result
            finally:
                self.resolve = saved
        return self.op(name, *operands, attrs=attrs, hint=hint).result

    # the arithmetic the derivative rules use most
    def add(self, x, y):
        return self("add", x, y)

    def sub(self, x, y):
        return self("sub", x, y)

    def mul(self, x, y):
        return self("mul", x, y)

    def div(self, x, y):
        return self("truediv", x, y)

    def neg(self, x):
        return self("neg", x)
