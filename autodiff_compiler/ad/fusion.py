"""Reverse loops that run inside their forward loop (fused), iteration by iteration.

A top-level counted loop whose carried adjoints are constants passing through every
iteration unchanged (a sum of terms, each iteration's own) has reverse iterations that may
run in any order, so each can run right after its forward iteration: the reverse work shares
the forward sweep's pass over memory and, after CSE, its computations. What the reverse of
the body would read from the body's tape is then the forward body's own value of the same
iteration: the loads go and the body records no tape (what regions nested in the body record,
a branch's or an inner loop's, is not handled: such loops are not fused).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.clone import clone_op
from ..ir.core import Const, Op, Region, walk_ops, walk_regions
from ..primitives.control import counter_retreat_p, for_p, tape_load_p


@dataclass(eq=False)
class Fusion:
    """The reverse of a loop run inside the loop (`fusable`): its region, the constant
    adjoints it reads for the carried values, and the loop results that total the adjoints of
    the outside values it reads."""

    region: Region
    carried: list
    totals: list


def fusable(transform, op: Op, carried, gs, region: Region, outs, args) -> bool:
    """Whether the reverse of a top-level counted loop (built as `region` by the
    ReverseTransform `transform`) can run inside the loop itself: its carried adjoints are
    constants that pass through every iteration unchanged, only the body itself records a
    tape, and it touches only the adjoint buffers of arguments."""
    plan = transform.plan
    if (transform.kernel or op.prim is not for_p
            or plan.op_region[op] is not transform.fn.body
            or _tapes_below_body(plan, op)
            or not all(g is None or isinstance(g, Const) for g in gs)
            or not all(outs[k] is args[k] for k in range(len(carried)))):
        return False
    param_buffers = {transform.buffers[p] for p in transform.fn.params
                     if p in transform.buffers}
    inside = {a for r, _ in walk_regions(region) for a in r.args}
    inside |= {r for o in walk_ops(region) for r in o.results}
    for inner in walk_ops(region):
        for v in inner.operands:
            if not (v in inside or isinstance(v, Const) or v in param_buffers
                    or plan.region_of(v) is not None):
                return False
    return True


def _tapes_below_body(plan, op: Op) -> bool:
    """Whether a region nested in loop `op`'s body (a branch, an inner loop) records a tape."""
    body = op.regions[0]
    return any(i.outer_loop is op and i.taped and i.region is not body
               for i in plan.info.values())


def untaped(region: Region, ctx) -> Region:
    """The reverse body `region` (whose loads are listed in the ReverseContext `ctx`) run
    inside its own loop's iteration: its tape loads become the forward values they copy, and
    the body records no tape (LIFO order is moot: each iteration reads its own values)."""
    served = {copy: primal for primal, copy in ctx.loaded}
    if not served:
        return region
    ctx.info.taped.clear()
    ctx.info.counter = None
    kept = [o for o in region.ops if o.prim not in (tape_load_p, counter_retreat_p)]
    return Region(region.args, [clone_op(o, served) for o in kept])
