"""Which reverse loops may run their iterations first to last, and how they read their tape.

The reverse of a counted loop visits the iterations last to first because each one, in
general, reads what the later ones left: the adjoints of the carried values and the tape,
a stack. When the reverse body leaves every carried adjoint as it found it, its iterations
are independent up to the order of sums (what Tapenade's `$AD II-LOOP` directive lets a user
declare; here it is read off the adjoint code itself) provided that every array it touches is
either
- only added into (`a_bar[j] += g`, any element: the sums commute), or only read, or
- private to the iteration: read, overwritten and added into only at elements whose index
  has the loop's own index in one fixed position (`k_bar[i]` read then zeroed, the adjoint
  of the primal's `k[i] = ...`), so no two iterations touch the same element;
and the only tape it reads is its own body's, at the start of each iteration (the values
the primal iteration pushed: scalars or rows). Such a loop runs in the primal loop's own
order, which Numba compiles tighter than a descending range and which walks memory
forwards: adjoint stencils (`t_bar[i - 1] += ...`, `t_bar[i + 1] += ...`) run faster
ascending (RK4 Lorenz-96 in benchmarks/control.py).
Sums of adjoints of values from outside the loop (its other carried values) then add up in
the other order: the gradient differs by rounding only.

The tape of a loop run first to last is read in push order (`in_push_order`): the counter
steps back over the whole run before the loop, each iteration reads at the counter and
advances it, and the counter steps back over the run again after the loop, where a
last-to-first loop would have left it.
"""

from __future__ import annotations

from ..ir.core import Op, Region, Value, walk_ops
from ..primitives.control import (
    comment_p,
    counter_advance_p,
    counter_retreat_p,
    for_p,
    tape_load_p,
    while_p,
)
from ..primitives.indexing import getitem_p, index_add_p, setitem_p

# the ops that read or write one element of their first operand, given by one int per axis
_ELEMENT_OPS = (getitem_p, setitem_p, index_add_p)


def _structure(op: Op) -> bool:
    """An impure op that structures the code without touching memory (a while loop counts
    its trips on a tape, so it is not one)."""
    return (op.prim.region and op.prim is not while_p) or op.prim.terminator \
        or op.prim is comment_p


def independent_iterations(region: Region, carried: int, counter: str | None = None) -> bool:
    """Whether the reverse loop body `region` (block args: the index, then `carried` carried
    adjoints, then the sums of outside adjoints) may run its iterations in any order;
    `counter` names the tape counter of the primal loop's body, whose loads at the start of
    `region` are then read in push order (`in_push_order`)."""
    yielded = region.ops[-1].operands
    if not all(_passed_through(yielded[k], region.args[1 + k], region) for k in range(carried)):
        return False
    own_tape = _own_tape_ops(region, counter)
    if own_tape is None:
        return False
    ops = [op for op in walk_ops(region) if op not in own_tape]
    if any(not (op.prim.pure or op.prim.accumulates or op.prim is setitem_p
                or _structure(op)) for op in ops):
        return False  # another tape, a counter, another write, an allocation
    targets = {op.operands[0] for op in ops if op.prim.accumulates}
    written = {op.operands[0] for op in ops if op.prim is setitem_p}
    shared = written | {v for op in ops for v in _reads(op) if v in targets}
    return all(_private(array, ops, region.args[0]) for array in shared)


def _own_tape_ops(region: Region, counter: str | None) -> set[Op] | None:
    """The ops reading the body's own tape: a step back of `counter` first, then loads at
    it (an empty set when the region reads no tape; None when its tape ops are others)."""
    head = region.ops[0] if region.ops else None
    if head is None or head.prim is not counter_retreat_p:
        return set()
    if head.attrs["counter"] != counter or head.operands:
        return None
    loads = {op for op in region.ops if op.prim is tape_load_p
             and op.attrs["counter"] == counter}
    return {head} | loads


def _private(array: Value, ops: list[Op], index: Value) -> bool:
    """Whether every op touching `array` reads, writes or adds into one element of it whose
    index has the loop's `index` in the same position (each iteration its own elements)."""
    positions = set()
    for op in ops:
        if not any(v is array for v in op.operands):
            continue
        values = 0 if op.prim is getitem_p else 1  # what a write or an addition stores
        if op.prim not in _ELEMENT_OPS or op.operands[0] is not array \
                or len(op.operands) != 1 + array.type.ndim + values:
            return False
        indices = op.operands[1:1 + array.type.ndim]
        if any(v.type.is_array or v.type.kind != "int" for v in indices) \
                or any(v is array for v in op.operands[1:]):
            return False
        own = {k for k, v in enumerate(indices) if v is index}
        positions = own if not positions else positions & own
        if not positions:
            return False
    return True


def in_push_order(region: Region, counter: str, count: Value) -> tuple[Region, Op, Op]:
    """The reverse body `region`, which steps its tape `counter` back and then loads, made to
    read the tape in push order: the region loads at the counter and advances it; the two ops
    returned go before and after the loop (each steps the counter back by the trip count
    `count`). `region` itself is left unchanged."""
    ops = region.ops[1:-1] + [Op(counter_advance_p, [], [], [], {"counter": counter}, None),
                              region.ops[-1]]
    step_back = Op(counter_retreat_p, [count], [], [], {"counter": counter}, None)
    again = Op(counter_retreat_p, [count], [], [], {"counter": counter}, None)
    return Region(region.args, ops), step_back, again


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
