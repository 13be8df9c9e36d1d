"""Algebraic folding of a whole function (after constants were substituted into copied code).

Each primitive's own `fold` rule (primitives/arith.py: x+0, x*1, symbolic zeros, constant
arithmetic) is applied to every op that has one; the builder applies the same rules while
derivative code is built. A rule applies only where the folded value has the result's type.
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.clone import clone_function
from ..ir.core import Function, Region, Value
from .cse import written_arrays


def simplify(fn: Function) -> Function:
    """A copy of `fn` with every foldable op folded (x * 1.0 stays a new array where either
    one is written: the two must stay distinct storage)."""
    fn = clone_function(fn)
    written = written_arrays(fn)
    subst: dict[Value, Value] = {}
    todo = [fn.body]
    while todo:
        region = todo.pop()
        kept = []
        for op in region.ops:
            op.operands = [subst.get(v, v) for v in op.operands]
            todo.extend(op.regions)
            if op.prim.fold is not None and len(op.results) == 1 and \
                    not any(v in written for v in op.results + op.operands):
                emitted = Region()
                folded = op.prim.fold(Builder(emitted, op.loc, fold=True), tuple(op.operands),
                                      op.attrs)
                if folded is not None:
                    subst[op.results[0]] = folded
                    kept.extend(emitted.ops)
                    continue
            kept.append(op)
        region.ops = kept
    return fn
