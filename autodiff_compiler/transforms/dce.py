"""Dead code elimination: drop pure ops whose results nobody reads.

Runs to a fixed point over all regions (iteratively, innermost regions first). A structured
op (`if`, `for`) is dropped when none of its results is read and its regions hold no effect.
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Function, Op, Region, Value, walk_ops, walk_regions


def _count_uses(fn: Function) -> dict[Value, int]:
    uses: dict[Value, int] = {}
    for op in walk_ops(fn.body):
        for v in op.operands:
            uses[v] = uses.get(v, 0) + 1
    return uses


def _has_effects(op: Op) -> bool:
    if op.prim.region:
        return any(not (inner.prim.pure or inner.prim.terminator or inner.prim.region)
                   for region in op.regions for inner in walk_ops(region))
    return not op.prim.pure


def _removable(op: Op, uses: dict[Value, int]) -> bool:
    if op.prim.terminator or _has_effects(op):
        return False
    return all(uses.get(r, 0) == 0 for r in op.results)


def dce(fn: Function) -> Function:
    """A copy of `fn` without its dead ops."""
    fn = clone_function(fn)
    changed = True
    while changed:
        changed = False
        uses = _count_uses(fn)
        regions: list[Region] = [region for region, _ in walk_regions(fn.body)]
        for region in reversed(regions):
            kept = []
            for op in reversed(region.ops):
                if _removable(op, uses):
                    for v in op.operands:
                        uses[v] -= 1
                    changed = True
                else:
                    kept.append(op)
            region.ops = kept[::-1]
    return fn
