"""CUDA kernel primitives: the thread's grid index and atomic accumulation.

Kernels are differentiated per thread: the adjoint kernel runs the thread's code forward,
then backwards, and accumulates input adjoints with `cuda.atomic.add` where several threads
may touch the same element (shared parameters), or a plain `+=` where the element is indexed
by the thread's own grid index.
"""

from __future__ import annotations

import ast

from ..ir.types import I64
from .registry import call, defprim


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
