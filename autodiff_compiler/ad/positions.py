"""Where arrays are written and read, for the reverse transform's choice of adjoint storage
and of the reverse of in-place updates."""

from __future__ import annotations

from collections import Counter

from ..ir.core import Const, Function, Op, Region, Value, walk_ops, walk_regions
from ..primitives.arith import add_p, sub_p
from ..primitives.indexing import getitem_p, setitem_p


def write_positions(fn: Function):
    """(array id -> index of the last top-level statement writing it, op id -> index of the
    top-level statement containing the op)."""
    last_write: dict[Value, int] = {}
    statement_of: dict[Op, int] = {}
    for index, top in enumerate(fn.body.ops):
        for op in walk_ops(Region(ops=[top])):
            statement_of[op] = index
            if op.prim.writes:
                last_write[op.operands[0]] = index
    return last_write, statement_of


def read_in_loops(fn: Function) -> set[Value]:
    """Arrays read (with a derivative, or yielded) inside a loop nested in the region that
    made them."""
    made_in = {r: region for region, _ in walk_regions(fn.body) for op in region.ops
               for r in op.results}
    up = {sub: (op, region) for region, _ in walk_regions(fn.body) for op in region.ops
          for sub in op.regions}
    found = set()
    for region, _ in walk_regions(fn.body):
        for op in region.ops:
            if op.prim.differentiable or op.prim.terminator:
                found.update(v for v in op.operands if v.type.is_array
                             and _loop_between(region, made_in.get(v, region), up))
    return found


def _loop_between(region: Region, home: Region, up: dict) -> bool:
    while region is not home and region in up:
        op, region = up[region]
        if op.prim.loop:
            return True
    return False


def increments(fn: Function) -> dict[Op, tuple[Value, bool]]:
    """The element writes that update an element in place, `a[idx] += e` or `a[idx] -= e`:
    the written number is the element read earlier in the same region (only pure ops
    between, so no write) plus or minus e, and the sum is used by the write alone. Write op
    -> (e, whether e is subtracted). The reverse of such a write leaves a_bar[idx] as it is
    and passes it to e, instead of clearing it and adding it back through the read."""
    uses = Counter(v for op in walk_ops(fn.body) for v in op.operands)
    found = {}
    for region, _ in walk_regions(fn.body):
        position = {op: k for k, op in enumerate(region.ops)}
        producer = {r: op for op in region.ops for r in op.results}
        for k, write in enumerate(region.ops):
            if write.prim is not setitem_p or write.operands[-1].type.is_array:
                continue
            array, *indices, value = write.operands
            total = producer.get(value)
            if total is None or uses[value] != 1 or total.prim not in (add_p, sub_p):
                continue
            sides = [(0, 1)] if total.prim is sub_p else [(0, 1), (1, 0)]
            for read_at, step_at in sides:
                read = producer.get(total.operands[read_at])
                if read is not None and read.prim is getitem_p and read.operands[0] is array \
                        and len(indices) == array.type.ndim \
                        and _same_indices(read.operands[1:], indices) \
                        and all(op.prim.pure and not op.regions
                                for op in region.ops[position[read] + 1:k]):
                    found[write] = (total.operands[step_at], total.prim is sub_p)
                    break
    return found


def _same_indices(first, second) -> bool:
    return len(first) == len(second) and all(
        a is b or isinstance(a, Const) and isinstance(b, Const) and a.value == b.value
        for a, b in zip(first, second))
