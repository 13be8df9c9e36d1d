"""Reverse mode for CUDA kernels written per thread (`i = cuda.grid(1)`, a bounds check).

The adjoint kernel runs one thread's code forward and backwards, as ad.reverse does for a
function (a loop's tape is the thread's own `cuda.local.array`, so its bounds must be
constants), with three differences: the adjoint arrays are arguments (accumulated into, never
allocated), the arrays the kernel writes are its outputs whose cotangents are read-only
inputs, and an element other threads may also touch is accumulated with cuda.atomic.add.
"""

from __future__ import annotations

import math

from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.core import Const, Function, Op, Region, Value, const, walk_ops
from ..primitives.arith import max2_p, mul_p, trip_count_p
from ..primitives.control import comment_p, return_p, tape_alloc_p, tape_grow_p, tape_reserve_p
from ..primitives.gpu import (
    atomic_add_p,
    block_add_p,
    local_array_p,
    shared_scratch_p,
    thread_tape_p,
)
from ..primitives.indexing import getitem_p, index_add_p, setitem_p
from ..transforms.dce import dce
from .reverse import ReverseTransform


def kernel_adjoint(fn: Function, wrt: list[int], name: str | None = None,
                   block_sums: bool = True) -> Function:
    """The adjoint of a CUDA kernel written per thread: takes the kernel's arguments, then
    the cotangents of the arrays it writes, then the adjoint arrays of `wrt` (accumulated
    into, never cleared: the caller zeroes them). Refuses what it cannot do per thread.
    With `block_sums`, adjoints of entries every thread reads at a fixed position are summed
    over the block first (one atomic add per block), else added by each thread."""
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
    if transform.plan.tape_names:
        forward = _thread_local_tapes(forward, transform.plan)
    reduced = [transform.buffers[fn.params[k]] for k in wrt]
    body = Region(fn.params + extra, forward + reverse.ops)
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


def _thread_local_tapes(forward: list[Op], plan) -> list[Op]:
    """The forward sweep with each tape a `cuda.local.array` of the thread: its size must be
    known when compiling (loops with constant bounds), and it never grows."""
    region = Region(ops=list(forward))
    producers = {r: op for op in walk_ops(region) for r in op.results}
    for op in walk_ops(region):
        size = _constant(op.operands[0], producers) if op.prim is tape_alloc_p else None
        if op.prim is tape_alloc_p and size is not None and not op.attrs.get("ndim"):
            op.prim, op.operands = thread_tape_p, []
            op.attrs = {"tape": op.attrs["tape"], "kind": op.attrs["kind"], "size": size}
        elif op.prim in (tape_alloc_p, tape_grow_p, tape_reserve_p):
            loop = next(i.outer_loop for i in plan.info.values() if i.taped)
            raise UnsupportedOperationError(
                "a loop in this kernel needs a tape of a size known when compiling (a thread "
                "keeps its own, in cuda.local.array): give its range constant bounds, e.g. "
                "range(8), and keep arrays out of its carried values", loop.loc)
    return region.ops


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
