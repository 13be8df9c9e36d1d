"""Common subexpression elimination over structured SSA.

A pure op whose primitive, operands and attributes equal those of an op seen earlier in the
same region or an enclosing one (which dominates it in structured code) is dropped and its
result replaced. Reading `x[i]` three times thus becomes one read with one adjoint, and one
scatter into x_bar. Ops that read an array's contents (element reads, slices, x * x,
np.sum(x), ...) are forgotten after any effect: an array write may change what they give.
An array that is written into is storage of its own: it is never merged with another.
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Const, Function, Op, Region, Value, walk_ops


def _key(op: Op, subst: dict[Value, Value]):
    """(whether the result depends on an array's current contents, the op's identity)."""
    operands = tuple(("c", v.value, v.type) if isinstance(v, Const) else (subst.get(v, v))
                     for v in op.operands)
    reads = not op.prim.shape_only and any(v.type.is_array for v in op.operands)
    return reads, op.prim, operands, tuple(sorted(op.attrs.items()))


def _has_effect(op: Op) -> bool:
    ops = [op] + [inner for sub in op.regions for inner in walk_ops(sub)]
    return any(not o.prim.pure and not (o.prim.region or o.prim.terminator) for o in ops)


def written_arrays(fn: Function) -> set[Value]:
    """The arrays written into: write targets, and what an `if` yields for a written result
    (outer ifs come first in pre-order)."""
    written = {op.operands[0] for op in walk_ops(fn.body) if op.prim.writes}
    for op in walk_ops(fn.body):
        if op.prim.branches:
            for k, result in enumerate(op.results):
                if result in written:
                    written.update(region.ops[-1].operands[k] for region in op.regions)
    return written


def cse(fn: Function) -> Function:
    """A copy of `fn` without repeated pure computations."""
    fn = clone_function(fn)
    written = written_arrays(fn)
    subst: dict[Value, Value] = {}
    todo: list[tuple[Region, dict]] = [(fn.body, {})]
    while todo:
        region, available = todo.pop()
        kept = []
        for op in region.ops:
            op.operands = [subst.get(v, v) for v in op.operands]
            if op.prim.pure and not op.regions and len(op.results) == 1 \
                    and op.results[0] not in written:
                key = _key(op, subst)
                if key in available:
                    subst[op.results[0]] = available[key]
                    continue
                available[key] = op.results[0]
            inherited = dict(available)
            if op.prim.loop and _has_effect(op):
                # a write in any iteration may change what a read in the next one sees
                inherited = {k: v for k, v in inherited.items() if not k[0]}
            for sub in op.regions:
                todo.append((sub, dict(inherited)))
            if _has_effect(op):
                for key in [k for k in available if k[0]]:
                    del available[key]
            kept.append(op)
        region.ops = kept
    return fn
