"""An IR builder: appends ops to a region, infers result types, folds trivial algebra.

Folding (x*1, x+0, symbolic zeros) is optional: the frontend builds the user's program as
written; the AD transforms build derivative code with folding on, so that adjoints of
inactive or constant paths vanish instead of being computed at run time. What folds is each
primitive's own `fold` rule (primitives/arith.py), so the builder knows no primitive by name.
"""

from __future__ import annotations

from ..primitives.arith import add_p, mul_p, neg_p, sub_p, truediv_p
from ..primitives.registry import Primitive, get
from .core import Op, Region, Value


def _primitive(prim) -> Primitive:
    """The primitive itself; a name is accepted from the frontend, whose table maps source
    names to primitives."""
    return get(prim) if isinstance(prim, str) else prim


class Builder:
    """Appends ops to `region`. `resolve` maps each operand before use (the reverse transform
    uses it to serve primal values from the tape); `fold` applies the primitives' fold rules."""

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

    def op(self, prim: Primitive, *operands: Value, attrs=None, hint: str | None = None,
           regions=None, result_types=None) -> Op:
        prim = _primitive(prim)
        if self.resolve is not None:
            operands = tuple(self.resolve(v) for v in operands)
        attrs = dict(attrs or {})
        if result_types is None:
            result_types = prim.result_types(*(v.type for v in operands), **attrs)
        hint = hint or prim.name
        results = [Value(t, hint) for t in result_types]
        return self.append(Op(prim, list(operands), results, list(regions or []), attrs, self.loc))

    def __call__(self, prim: Primitive, *operands: Value, attrs=None,
                 hint: str | None = None) -> Value:
        """Emit a single-result op, folded when folding is on."""
        prim = _primitive(prim)
        if self.fold and prim.fold is not None:
            if self.resolve is not None:
                operands = tuple(self.resolve(v) for v in operands)
            folded = prim.fold(self, operands, attrs or {})
            if folded is not None:
                return folded
            saved, self.resolve = self.resolve, None
            try:
                return self.op(prim, *operands, attrs=attrs, hint=hint).result
            finally:
                self.resolve = saved
        return self.op(prim, *operands, attrs=attrs, hint=hint).result

    # the arithmetic the derivative rules use most
    def add(self, x, y):
        return self(add_p, x, y)

    def sub(self, x, y):
        return self(sub_p, x, y)

    def mul(self, x, y):
        return self(mul_p, x, y)

    def div(self, x, y):
        return self(truediv_p, x, y)

    def neg(self, x):
        return self(neg_p, x)
