"""CUDA kernel primitives: the thread's grid index, atomic accumulation, thread-local tapes.

Kernels are differentiated per thread: the adjoint kernel runs the thread's code forward,
then backwards, and accumulates input adjoints with `cuda.atomic.add` where several threads
may touch the same element (shared parameters), or a plain `+=` where the element is indexed
by the thread's own grid index.
"""

from __future__ import annotations

import ast

from ..ir.types import I64, Type
from .registry import call, defprim, dotted


def _emit_grid(op, args):
    grid = call("cuda.grid", [ast.Constant(op.attrs["ndim"])])
    if op.attrs["ndim"] == 1:
        return grid
    return ast.Subscript(grid, ast.Constant(op.attrs["axis"]), ast.Load())


def _emit_atomic_add(op, args):
    array, *indices, value = args
    index = indices[0] if len(indices) == 1 else ast.Tuple(indices, ast.Load())
    add = ast.parse("cuda.atomic.add", mode="eval").body
    return ast.Expr(ast.Call(add, [array, index, value], []))


grid_p = defprim("grid", infer=lambda **_: [I64], emit=_emit_grid, differentiable=False, cheap=True)
atomic_add_p = defprim("atomic_add", infer=lambda *t, **_: [], emit=_emit_atomic_add, pure=False,
        statement=True)


_DTYPES = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_"}
BLOCK_THREADS = 1024  # CUDA's most threads per block (cuda_runtime.MAX_THREADS): a literal
# size, as cuda.shared.array needs one when the kernel is compiled


def _emit_thread_tape(op, args):
    """tape = cuda.local.array(size, dtype): a thread's own tape, its size a constant."""
    value = call("cuda.local.array", [ast.Constant(op.attrs["size"]),
                                      dotted(_DTYPES[op.attrs["kind"]])])
    return ast.Assign([ast.Name(op.attrs["tape"], ast.Store())], value)


thread_tape_p = defprim("thread_tape", infer=lambda *t, **_: [], emit=_emit_thread_tape,
                        differentiable=False,
                        pure=False, statement=True)
local_array_p = defprim("local_array", infer=lambda **_: [Type("float", 1)], pure=False,
                        differentiable=False,
                        emit=lambda op, a: call("cuda.local.array",
                                                [ast.Constant(op.attrs["size"]),
                                                 dotted("np.float64")]))


def _emit_block_add(op, args):
    """gpu.block_add(shared, sums[slot], target, index): the block's total of one
    thread-local sum, added into target[index] by one atomic per block
    (autodiff_compiler/cuda_runtime.py)."""
    shared, sums, slot, target, *index = args
    where = index[0] if len(index) == 1 else ast.Tuple(index, ast.Load())
    total = ast.Subscript(sums, slot, ast.Load())
    return ast.Expr(call("gpu.block_add", [shared, total, target, where]))


shared_scratch_p = defprim("shared_scratch", infer=lambda **_: [Type("float", 1)], pure=False,
                           differentiable=False,
                           emit=lambda op, a: call("cuda.shared.array",
                                                   [ast.Constant(BLOCK_THREADS),
                                                    dotted("np.float64")]))


block_add_p = defprim("block_add", infer=lambda *t, **_: [], emit=_emit_block_add, pure=False,
                      statement=True, differentiable=False)
