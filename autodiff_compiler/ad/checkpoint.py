"""Checkpointing of long counted loops: tape memory O(sqrt(steps)) instead of O(steps).

The forward sweep runs the loop without recording, saving the loop's state (its carried
values and the arrays it writes) at the start of every segment of K iterations. The reverse
sweep walks the segments last to first: it restores a segment's state, runs the segment
forward again while recording the tape (K iterations' worth), then runs the segment's
reverse. This is periodic checkpointing (Griewank & Walther, ch. 12; with K = sqrt(n) the
memory is O(sqrt(n)) for one extra forward sweep); the binomial schedule of Griewank's
`revolve` needs fewer recomputations and is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builder import Builder
from ..ir.clone import clone_op
from ..ir.core import Op, Region, Value, const, walk_ops
from ..ir.types import I64
from ..primitives.arith import (
    add_p,
    cast_float_p,
    cast_int_p,
    eq_p,
    floordiv_p,
    min2_p,
    mod_p,
    mul_p,
    sub_p,
    trip_count_p,
)
from ..primitives.control import (
    checkpoint_alloc_p,
    checkpoint_load_p,
    checkpoint_restore_p,
    checkpoint_save_p,
    for_p,
    if_p,
    yield_p,
)
from ..primitives.elementwise import sqrt_p


@dataclass(eq=False)
class Checkpoint:
    loop: Op
    setup: list[Op]  # computes n, K, number of segments; allocates the checkpoint arrays
    trips: Value
    every: Value  # K, iterations per segment
    segments: Value
    carried: list[tuple[Value, str]] = field(default_factory=list)  # block arg, storage name
    arrays: list[tuple[Value, str]] = field(default_factory=list)  # written array, storage
    # storage name -> attributes of its ops: a carried array whose shape may change from
    # segment to segment is saved ragged (its table named by "rows", as tapes in ad.tape)
    storage: dict[str, dict] = field(default_factory=dict)


def plan(loop: Op, policy, namer, mutable: set[Value], shape_may_vary) -> Checkpoint:
    """Storage and segment size for checkpointing `loop` (a counted `for`). The arrays saved
    with each segment's state are those made before the loop that it reads or writes and that
    are written anywhere in the function (`mutable`): when the segment runs again they must
    hold what they held. A carried array for which `shape_may_vary` is saved ragged."""
    region = Region()
    b = Builder(region, loop.loc, fold=True)
    trips = b(trip_count_p, *loop.operands[:3], hint="n_steps")
    if policy == "sqrt":
        every = b(add_p, b(cast_int_p, b(sqrt_p, b(cast_float_p, trips))), const(1), hint="every")
    else:
        every = const(int(policy))
    segments = b(floordiv_p, b(add_p, trips, b(sub_p, every, const(1))), every,
                 hint="n_segments")
    ck = Checkpoint(loop, region.ops, trips, every, segments)
    body = loop.regions[0]
    for arg in body.args[1:]:
        name = namer.fresh("checkpoint_" + arg.hint)
        ck.carried.append((arg, name))
        ck.storage[name] = {"name": name}
        if arg.type.is_array and shape_may_vary(arg):
            ck.storage[name].update(rows=namer.fresh(name + "_rows"), ndim=arg.type.ndim)
    touched = {}
    made_inside = {r for op in walk_ops(body) for r in op.results}  # made again each time
    for op in walk_ops(body):
        for v in op.operands:
            if v.type.is_array and v in mutable and v not in made_inside:
                touched.setdefault(v, v)
    for array in touched.values():
        name = namer.fresh("checkpoint_" + array.hint)
        ck.arrays.append((array, name))
        ck.storage[name] = {"name": name}
    for (value, name), init in zip(ck.carried, loop.operands[3:]):
        _store_op(region, checkpoint_alloc_p, [segments, init], ck.storage[name], loop.loc)
    for array, name in ck.arrays:
        _store_op(region, checkpoint_alloc_p, [segments, array], ck.storage[name], loop.loc)
    return ck


def _store_op(region: Region, prim, operands, attrs: dict, loc) -> None:
    region.ops.append(Op(prim, list(operands), [], [], dict(attrs), loc))


def save_ops(ck: Checkpoint) -> list[Op]:
    """At the top of the forward loop body: save the state when a segment starts."""
    lb, _, step = ck.loop.operands[:3]
    index = ck.loop.regions[0].args[0]
    region = Region()
    b = Builder(region, ck.loop.loc, fold=True)
    count = b(floordiv_p, b(sub_p, index, lb), step, hint="step_count")
    starts = b(eq_p, b(mod_p, count, ck.every), const(0))
    segment = Region()
    sb = Builder(segment, ck.loop.loc)
    seg = sb(floordiv_p, count, ck.every, hint="segment")
    for value, name in ck.carried + ck.arrays:
        _store_op(segment, checkpoint_save_p, [seg, value], ck.storage[name], ck.loop.loc)
    sb.op(yield_p, result_types=[])
    otherwise = Region()
    Builder(otherwise).op(yield_p, result_types=[])
    b.op(if_p, starts, regions=[segment, otherwise], result_types=[])
    return region.ops


def reverse_segments(ck: Checkpoint, b: Builder, recorded_body: list[Op], reverse_body: Region,
                     starts: list[Value], reversed_range) -> Op:
    """for seg from last to first: restore, run the segment forward recording, reverse it."""
    loop = ck.loop
    lb, _, step = loop.operands[:3]
    args = reverse_body.args[1:]
    seg_region = Region([Value(I64, "segment")] + [Value(a.type, a.hint) for a in args])
    sb = b.child(seg_region)
    seg = seg_region.args[0]
    first = sb(mul_p, seg, ck.every, hint="first_step")
    last = sb(min2_p, sb(add_p, first, ck.every), ck.trips, hint="end_step")
    begin, end = sb.add(lb, sb.mul(first, step)), sb.add(lb, sb.mul(last, step))
    restored = [sb.op(checkpoint_load_p, seg, attrs=dict(ck.storage[name]), hint=value.hint,
                      result_types=[value.type]).result for value, name in ck.carried]
    for array, name in ck.arrays:
        _store_op(seg_region, checkpoint_restore_p, [seg, array], ck.storage[name], loop.loc)
    body = loop.regions[0]
    forward = Op(loop.prim, [begin, end, step, *restored],
                 [Value(r.type, r.hint) for r in loop.results],
                 [Region(body.args, recorded_body)], loop.attrs, loop.loc)
    seg_region.ops.append(clone_op(forward, {}))
    segment_reverse = sb.op(for_p, *reversed_range(sb, begin, end, step), *seg_region.args[1:],
                            regions=[reverse_body], result_types=[a.type for a in args])
    sb.op(yield_p, *segment_reverse.results, result_types=[])
    return b.op(for_p, b.sub(ck.segments, const(1)), const(-1), const(-1), *starts,
                regions=[seg_region], result_types=[a.type for a in args])
