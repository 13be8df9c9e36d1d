"""Where arrays are written and read, for the reverse transform's choice of adjoint storage."""

from __future__ import annotations

from ..ir.core import Function, Op, Region, Value, walk_ops, walk_regions


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
