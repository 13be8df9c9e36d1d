"""Reverse mode for CUDA kernels written per thread (`i = cuda.grid(1)`, a bounds check).

The adjoint kernel runs one thread's code forward and backwards, as ad.reverse does for a
function, with three differences: the adjoint arrays are arguments (accumulated into, never
allocated), the arrays the kernel writes are its outputs whose cotangents are read-only
inputs, and an element other threads may also touch is accumulated with cuda.atomic.add.
"""

from __future__ import annotations

import math

from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.core import Function, Op, Region, Value, walk_ops
from ..primitives.control import comment_p, return_p
from ..primitives.indexing import getitem_p
from ..transforms.dce import dce
from .reverse import ReverseTransform


def kernel_adjoint(fn: Function, wrt: list[int], name: str | None = None) -> Function:
    """The adjoint of a CUDA kernel written per thread: takes the kernel's arguments, then
    the cotangents of the arrays it writes, then the adjoint arrays of `wrt` (accumulated
    into, never cleared: the caller zeroes them). Refuses what it cannot do per thread."""
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
    if transform.plan.tape_names:
        info = next(i for i in transform.plan.info.values() if i.taped)
        raise UnsupportedOperationError("a loop in this kernel needs a tape, which a thread "
                                        "cannot keep yet; write the loop so that its values "
                                        "can be recomputed", info.outer_loop.loc)
    b.op(return_p, result_types=[])
    body = Region(fn.params + extra, transform.plan.forward_sweep(fn.body) + reverse.ops)
    names = fn.param_names + [v.hint for v in extra]
    return dce(Function(name or fn.name + "_adjoint", body, fn.filename, None, names,
                        fn.constants))


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
