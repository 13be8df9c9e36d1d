"""Reverse mode for CUDA kernels written per thread (`i = cuda.grid(1)`, a bounds check).

The adjoint kernel runs one thread's code forward and backwards, as ad.reverse does for a
function, with three differences: the adjoint arrays are arguments (accumulated into, never
allocated), the arrays the kernel writes are its outputs whose cotangents are read-only
inputs, and an element other threads may also touch is accumulated with cuda.atomic.add.

A loop's tape is the thread's own `cuda.local.array`, whose size is fixed when compiling: a
thread cannot allocate. Loops with constant bounds size it exactly, as do whiles whose
condition keeps a counter below a constant (a `for` left by `break`). A loop whose trip count
is known at run time only (a `while`, a Newton iteration with a tolerance, a range over a
per-thread count) needs a bound from the user, `max_trip`: its tape holds that many
iterations, and a thread that runs more reports it (rather than writing past the array) in
an error flag the launch reads, which raises. A tape was chosen over recomputing each
iteration from the loop's start (no memory, but O(n^2) work and only for loops whose state
is the carried scalars): the reverse sweep stays O(n), as on the CPU.
"""

from __future__ import annotations

import math

from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.core import Const, Function, Op, Region, Value, const, walk_ops
from ..ir.types import Type
from ..primitives.arith import add_p, and_p, lt_p, max2_p, mul_p, trip_count_p
from ..primitives.control import (
    comment_p,
    counter_advance_p,
    for_p,
    if_p,
    return_p,
    tape_alloc_p,
    tape_grow_p,
    tape_load_p,
    tape_push_p,
    tape_reserve_p,
)
from ..primitives.gpu import (
    atomic_add_p,
    block_add_p,
    bounded_advance_p,
    bounded_load_p,
    bounded_push_p,
    local_array_p,
    shared_scratch_p,
    thread_tape_p,
)
from ..primitives.indexing import getitem_p, index_add_p, setitem_p
from ..transforms.dce import dce
from .reverse import ReverseTransform


def kernel_adjoint(fn: Function, wrt: list[int], name: str | None = None,
                   block_sums: bool = True, max_trip: int | None = None) -> Function:
    """The adjoint of a CUDA kernel written per thread: takes the kernel's arguments, then
    the cotangents of the arrays it writes, then the adjoint arrays of `wrt` (accumulated
    into, never cleared: the caller zeroes them). Refuses what it cannot do per thread.
    With `block_sums`, adjoints of entries every thread reads at a fixed position are summed
    over the block first (one atomic add per block), else added by each thread.
    `max_trip` bounds the loops whose trip count is known at run time only (their tapes hold
    that many iterations); a kernel with such loops takes one more argument last, an int
    array `tape_overflow` of one entry, into which a thread whose loop runs longer writes
    the loop's line."""
    outputs = _kernel_outputs(fn, wrt)
    transform = ReverseTransform(fn, wrt, outputs=outputs)
    for k in wrt:
        if not (fn.params[k].type.is_array and fn.params[k].type.is_float):
            raise UnsupportedOperationError(f"kernels are differentiated w.r.t. float arrays; "
                                            f"'{fn.params[k].hint}' is not one (pass a scalar "
                                            "parameter in a 1-element array)")
    b = Builder(Region(), None, fold=True, resolve=transform.resolve)
    reverse = b.region
    reverse.ops.append(Op(comment_p, [], [], [], {"text": "reverse sweep"}, None))
    extra = []
    for array in outputs + [fn.params[k] for k in wrt]:
        extra.append(Value(array.type, array.hint + "_bar"))
        transform.buffers[array] = extra[-1]
    transform.reverse_ops(fn.body, b, {})
    b.op(return_p, result_types=[])
    forward = transform.plan.forward_sweep(fn.body)
    sweeps = forward + reverse.ops
    if transform.plan.tape_names:
        overflow = Value(Type("int", 1), "tape_overflow")
        sweeps, bounded = _thread_local_tapes(sweeps, transform.plan, max_trip, overflow)
        extra += [overflow] if bounded else []
    reduced = [transform.buffers[fn.params[k]] for k in wrt]
    body = Region(fn.params + extra, sweeps)
    if block_sums:
        body = _block_sums(body, reduced)
    names = fn.param_names + [v.hint for v in extra]
    return dce(Function(name or fn.name + "_adjoint", body, fn.filename, None, names,
                        fn.constants))


def _block_sums(body: Region, buffers: list[Value]) -> Region:
    """`body` with each atomic add into an adjoint array at a constant index (a parameter
    every thread reads) made into an add into a thread-local sum; at the end every thread
    passes its sums to gpu.block_add, one atomic add per block and parameter entry."""
    sites = [op for op in walk_ops(body) if op.prim is atomic_add_p
             and op.operands[0] in buffers and all(isinstance(v, Const)
                                                   for v in op.operands[1:-1])]
    if not sites:
        return body
    slots: dict[tuple, int] = {}
    for op in sites:
        slots.setdefault((op.operands[0], tuple(v.value for v in op.operands[1:-1])),
                         len(slots))
    start = Builder(Region(), None)
    sums = start.op(local_array_p, attrs={"size": len(slots)}, hint="block_sums").result
    for slot in range(len(slots)):
        start.op(setitem_p, sums, const(slot), const(0.0), result_types=[])
    for op in sites:
        index = tuple(v.value for v in op.operands[1:-1])
        op.prim = index_add_p
        op.operands = [sums, const(slots[op.operands[0], index]), op.operands[-1]]
    end = Builder(Region(), None)
    shared = end.op(shared_scratch_p, hint="block_scratch").result
    for (target, index), slot in slots.items():
        end.op(block_add_p, shared, sums, const(slot), target, *(const(k) for k in index),
               result_types=[])
    return Region(body.args, start.region.ops + body.ops[:-1] + end.region.ops + body.ops[-1:])


def _thread_local_tapes(ops: list[Op], plan, max_trip: int | None,
                        overflow: Value) -> tuple[list[Op], bool]:
    """`ops` (both sweeps) with each tape a `cuda.local.array` of the thread, which never
    grows: its size is the product of the trip counts of the loops around its region, each a
    constant or, for a loop whose count is known at run time only (a while, a range of
    computed bounds), `max_trip`. Such bounded tapes clamp their slot index into the array
    and report a thread that runs past them in `overflow`. Also says whether any did."""
    region = Region(ops=list(ops))
    producers = {r: op for op in walk_ops(region) for r in op.results}
    infos = {plan.tape_names[v]: plan.region_of(v) for v in plan.tape_names}
    sizes = {}  # counter -> (capacity, the run-time counted loop or None)
    for info in infos.values():
        sizes[info.counter] = _tape_capacity(info, plan, producers, max_trip)
    growths = set()  # checks for room: the tapes are sized for the most runs already
    for op in walk_ops(region):
        if op.prim is tape_alloc_p:
            if op.attrs.get("ndim"):
                raise UnsupportedOperationError(
                    "a loop in this kernel carries an array from one iteration to the next: a "
                    "thread's tape holds numbers only; keep arrays out of its carried values",
                    infos[op.attrs["tape"]].nearest_loop.loc)
            capacity, _ = sizes[infos[op.attrs["tape"]].counter]
            op.prim, op.operands = thread_tape_p, []
            op.attrs = {"tape": op.attrs["tape"], "kind": op.attrs["kind"], "size": capacity}
        elif op.prim in (tape_grow_p, tape_reserve_p):
            growths.add(op)
        elif op.prim is counter_advance_p and sizes[op.attrs["counter"]][1] is not None:
            capacity, loop = sizes[op.attrs["counter"]]
            op.prim, op.operands = bounded_advance_p, [overflow]
            op.attrs = dict(op.attrs, capacity=capacity, line=loop.loc.line)
        elif op.prim in (tape_push_p, tape_load_p) and \
                sizes[infos[op.attrs["tape"]].counter][1] is not None:
            op.prim = bounded_push_p if op.prim is tape_push_p else bounded_load_p
            op.attrs = dict(op.attrs, capacity=sizes[infos[op.attrs["tape"]].counter][0])
    for sub in [region] + [r for op in walk_ops(region) for r in op.regions]:
        sub.ops = [op for op in sub.ops if op not in growths]
    return region.ops, any(loop is not None for _, loop in sizes.values())


def _tape_capacity(info, plan, producers, max_trip):
    """(entries, run-time counted loop or None) of the tapes of `info`'s region: how often
    it runs per thread, the loops around it up to the outermost one each counting their
    trip count, or max_trip (max_trip + 1 for a while's condition) where that is not a
    constant. Refused without max_trip."""
    capacity, bounded = 1, None
    while info.owner is not None:
        owner = info.owner
        if owner.prim.loop:
            if owner.prim is for_p:
                bounds = [_constant(v, producers) for v in owner.operands[:3]]
                trips = None if None in bounds else len(range(*bounds))
            else:
                trips = _while_bound(owner)
            is_condition = owner.prim.condition_first and info.region is owner.regions[0]
            if trips is None:
                if max_trip is None:
                    raise UnsupportedOperationError(
                        "this loop's trip count is known at run time only, and a thread keeps "
                        "its tape in a cuda.local.array of a size fixed when compiling: pass "
                        "the most iterations it runs, grad_kernel(..., max_trip=N), or give "
                        "its range constant bounds, e.g. range(8)", owner.loc)
                trips, bounded = max_trip, bounded or owner
            capacity *= max(trips + is_condition, 1)
        info = plan.info[info.parent]
    return capacity, bounded


def _while_bound(loop: Op) -> int | None:
    """The most iterations a `while` runs when its condition requires a counter below a
    constant: the counter starts at a constant and each iteration adds a positive constant
    to it (a `for` over a constant range that a `break` may leave, made a while by
    frontend.jumps, or such a while written by hand); else None."""
    cond, body = loop.regions
    trips = None
    for position, stop in _required_bounds(cond).items():
        start, step = loop.operands[position], _increment(body, position)
        if isinstance(start, Const) and type(start.value) is int and type(step) is int and \
                step > 0:
            count = len(range(start.value, stop, step))
            trips = count if trips is None else min(trips, count)
    return trips


def _increment(body: Region, position: int):
    """The constant the loop body adds to its carried value `position` (at its top level,
    so on every path), or None."""
    carried, end = body.args[position], body.ops[-1].operands[position]
    for op in body.ops:
        if op.prim is add_p and op.results[0] is end:
            a, b = op.operands
            if a is carried and isinstance(b, Const):
                return b.value
            if b is carried and isinstance(a, Const):
                return a.value
    return None


def _required_bounds(cond: Region) -> dict[int, int]:
    """{position: K} for the carried values the condition requires below a constant K
    (`c < K`, alone or in a chain of `and`s)."""
    producers = {r: op for op in walk_ops(cond) for r in op.results}
    positions = {a: k for k, a in enumerate(cond.args)}
    bounds: dict[int, int] = {}
    todo = [cond.ops[-1].operands[0]]
    while todo:
        value = todo.pop()
        op = producers.get(value)
        if op is None:
            continue
        left, right = (op.operands + [None, None])[:2]
        if op.prim is lt_p and left in positions and isinstance(right, Const) and \
                type(right.value) is int:
            bounds[positions[left]] = min(bounds.get(positions[left], right.value), right.value)
        elif op.prim is and_p:
            todo.extend(op.operands)
        elif op.prim is if_p:  # `a and b` as `b if a else False`
            k = op.results.index(value)
            then_end, else_end = (r.ops[-1].operands[k] for r in op.regions)
            if isinstance(else_end, Const) and else_end.value is False:
                todo.extend([op.operands[0], then_end])
    return bounds


def _constant(value, producers):
    """The int `value` computes from literals only (trip counts and their products), or
    None."""
    if isinstance(value, Const):
        return value.value
    op = producers.get(value)
    if op is None:
        return None
    parts = [_constant(v, producers) for v in op.operands]
    if any(p is None for p in parts):
        return None
    if op.prim is trip_count_p:
        return len(range(*parts))
    if op.prim is mul_p:
        return parts[0] * parts[1]
    if op.prim is max2_p:
        return max(parts)
    return None


def _kernel_outputs(fn: Function, wrt: list[int]) -> list[Value]:
    """The array arguments a kernel writes: written once per thread and never read."""
    writes: dict[Value, list[Op]] = {}
    reads: set[Value] = set()
    for op in walk_ops(fn.body):
        if op.prim.writes:
            writes.setdefault(op.operands[0], []).append(op)
        elif op.prim is getitem_p:
            reads.add(op.operands[0])
    outputs = []
    for k, param in enumerate(fn.params):
        if param not in writes:
            continue
        if k in wrt or param in reads:
            raise UnsupportedOperationError(f"kernel argument '{param.hint}' is both read and "
                                            "written; differentiate kernels whose outputs are "
                                            "write-only", writes[param][0].loc)
        if _writes_on_a_path(fn.body, param) > 1:
            raise UnsupportedOperationError(f"'{param.hint}' is written more than once per "
                                            "thread", writes[param][0].loc)
        outputs.append(param)
    for op_list in writes.values():
        target = op_list[0].operands[0]
        if not any(target is p for p in fn.params):
            raise UnsupportedOperationError("a kernel may write only into its array arguments",
                                            op_list[0].loc)
    return outputs


def _writes_on_a_path(region: Region, array) -> float:
    """The most element writes into `array` one run of `region` can make (a write inside a
    loop counts as many)."""
    total = 0.0
    for op in region.ops:
        if op.prim.writes and op.operands[0] is array:
            total += 1
        elif op.prim.branches:
            total += max(_writes_on_a_path(r, array) for r in op.regions)
        elif op.regions and any(_writes_on_a_path(r, array) for r in op.regions):
            total = math.inf  # a loop
    return total
