"""Values that two branches on one condition both compute, computed once.

When the reverse of a loop runs inside the loop (ad.reverse, a fused reverse), the forward
`if c:` of an iteration and its reverse `if c:` sit in one region, and the reverse branch
computes again what the forward branch computed (the square root, cosine and sine of a
rotation angle, ...): CSE cannot merge them, a branch's values being local to it. Here the
later `if` takes them from the earlier one instead, which yields them as extra results (a
zero from its other branch, which never reaches a use: the same condition takes the same
branch both times). Only pure scalar ops that read no array are shared, so no write between
the two `if`s can change what they give.
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Const, Function, Op, Value, const, walk_ops, walk_regions


def share_branch_values(fn: Function) -> Function:
    """A copy of `fn` where an `if` reuses the values an earlier `if` on the same condition
    (in the same region) computed in the same branch."""
    fn = clone_function(fn)
    subst: dict[Value, Value] = {}
    for region, _ in list(walk_regions(fn.body)):
        first: dict[Value, Op] = {}
        for op in region.ops:
            if not op.prim.branches:
                continue
            condition = op.operands[0]
            if condition in first:
                _share(first[condition], op, subst)
            else:
                first[condition] = op
    if subst:
        for op in walk_ops(fn.body):
            op.operands = [subst.get(v, v) for v in op.operands]
    return fn


def _shareable(op: Op) -> bool:
    return (op.prim.pure and not op.regions and len(op.results) == 1
            and not op.results[0].type.is_array
            and not any(v.type.is_array for v in op.operands))


def _key(op: Op, operands):
    return (op.prim, tuple(("c", v.value, v.type) if isinstance(v, Const) else v
                           for v in operands), tuple(sorted(op.attrs.items())))


def _share(earlier: Op, later: Op, subst: dict[Value, Value]) -> None:
    """Drop the ops of `later`'s branches that repeat a top-level op of `earlier`'s same
    branch; `earlier` yields the values they are replaced by (recorded in `subst`)."""
    for k, (mine, theirs) in enumerate(zip(earlier.regions, later.regions)):
        available = {_key(o, o.operands): o.results[0] for o in mine.ops if _shareable(o)}
        matched: dict[Value, Value] = {}
        kept = []
        for o in theirs.ops:
            if _shareable(o):
                hit = available.get(_key(o, [matched.get(v, v) for v in o.operands]))
                if hit is not None:
                    matched[o.results[0]] = hit
                    continue
            kept.append(o)
        theirs.ops = kept
        used = {v for o in walk_ops(theirs) for v in o.operands}
        for value, hit in matched.items():
            if value in used:
                subst[value] = _yield_extra(earlier, k, hit)


def _yield_extra(op: Op, branch: int, value: Value) -> Value:
    """A new result of the `if` op: `value` from region `branch`, zero from the others."""
    for k, region in enumerate(op.regions):
        end = region.ops[-1]
        end.operands = end.operands + [value if k == branch else const(0, value.type)]
    result = Value(value.type, value.hint)
    op.results.append(result)
    return result

