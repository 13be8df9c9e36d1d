"""Which reverse loops may run their iterations first to last.

The reverse of a counted loop visits the iterations last to first because each one, in
general, reads what the later ones left: the adjoints of the carried values and the tape,
a stack. When the reverse body leaves every carried adjoint as it found it, reads no tape
and writes only by accumulation (`a_bar[i] += g`) into arrays that it does not read, its
iterations are independent up to the order of those sums (what Tapenade's `$AD II-LOOP`
directive lets a user declare; here it is read off the adjoint code itself). Such a loop
runs in the primal loop's own order, which Numba compiles tighter than a descending range
and which walks memory forwards. Sums of adjoints of values from outside the loop (its
other carried values) then add up in the other order: the gradient differs by rounding
only.
"""

from __future__ import annotations

from ..ir.core import Op, Region, Value, walk_ops
from ..primitives.control import comment_p, for_p, while_p


def _structure(op: Op) -> bool:
    """An impure op that structures the code without touching memory (a while loop counts
    its trips on a tape, so it is not one)."""
    return (op.prim.region and op.prim is not while_p) or op.prim.terminator \
        or op.prim is comment_p


def independent_iterations(region: Region, carried: int) -> bool:
    """Whether the reverse loop body `region` (block args: the index, then `carried` carried
    adjoints, then the sums of outside adjoints) may run its iterations in any order."""
    yielded = region.ops[-1].operands
    if not all(_passed_through(yielded[k], region.args[1 + k], region) for k in range(carried)):
        return False
    ops = list(walk_ops(region))
    if any(not (op.prim.pure or op.prim.accumulates or _structure(op)) for op in ops):
        return False  # a tape, a counter, a write, an allocation
    targets = {op.operands[0] for op in ops if op.prim.accumulates}
    return not any(v in targets for op in ops for v in _reads(op))


def _passed_through(value: Value, arg: Value, region: Region) -> bool:
    """Whether `value` is `arg`, possibly carried unchanged through loops of `region`."""
    producers = {r: (op, k) for op in region.ops for k, r in enumerate(op.results)}
    while value is not arg:
        op, k = producers.get(value, (None, 0))
        if op is None or op.prim is not for_p:
            return False
        body = op.regions[0]
        if body.ops[-1].operands[k] is not body.args[1 + k]:
            return False
        value = op.operands[3 + k]
    return True


def _reads(op: Op):
    """The operands `op` reads (an accumulation does not read its target)."""
    return op.operands[1:] if op.prim.accumulates else op.operands
