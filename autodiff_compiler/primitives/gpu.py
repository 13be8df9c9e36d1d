"""CUDA kernel primitives: the thread's grid index, atomic accumulation, thread-local tapes.

Kernels are differentiated per thread: the adjoint kernel runs the thread's code forward,
then backwards, and accumulates input adjoints with `cuda.atomic.add` where several threads
may touch the same element (shared parameters), or a plain `+=` where the element is indexed
by the thread's own grid index.
"""

from __future__ import annotations

import ast

from ..ir.types import I64
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


def _emit_local_array(op, args):
    """tape = cuda.local.array(size, dtype): a thread's own tape, its size a constant."""
    value = call("cuda.local.array", [ast.Constant(op.attrs["size"]),
                                      dotted(_DTYPES[op.attrs["kind"]])])
    return ast.Assign([ast.Name(op.attrs["tape"], ast.Store())], value)


local_array_p = defprim("local_array", infer=lambda *t, **_: [], emit=_emit_local_array,
                        pure=False, statement=True)
