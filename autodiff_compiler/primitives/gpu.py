"""CUDA kernel primitives: the thread's grid index, atomic accumulation, thread-local tapes.

Kernels are differentiated per thread: the adjoint kernel runs the thread's code forward,
then backwards, and accumulates input adjoints with `cuda.atomic.add` where several threads
may touch the same element (shared parameters), or a plain `+=` where the element is indexed
by the thread's own grid index.
"""

from __future__ import annotations

import ast

from ..ir.types import I64, Type
from .indexing import forward_write, getitem_p
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


# --- bounded thread-local tapes (loops whose trip count is known at run time only) ---------
# A tape sized by grad_kernel's max_trip: its slot index is clamped into the array, so a
# thread whose loop runs longer never writes outside it; the counter's advance reports the
# overflow (the loop's line) in the kernel's `tape_overflow` argument, which the launch
# checks after the kernel ran (kernels.KernelDerivative).


def _bounded_slot(op) -> ast.Subscript:
    """tape[min(k, capacity - 1)]"""
    last = ast.Constant(op.attrs["capacity"] - 1)
    index = call("min", [ast.Name(op.attrs["counter"], ast.Load()), last])
    return ast.Subscript(ast.Name(op.attrs["tape"], ast.Load()), index, ast.Load())


def _emit_bounded_push(op, args):
    slot = _bounded_slot(op)
    slot.ctx = ast.Store()
    return ast.Assign([slot], args[0])


def _emit_bounded_advance(op, args):
    """k += 1, and the loop's line into tape_overflow[0] once k passes the capacity."""
    counter = op.attrs["counter"]
    (advance,) = ast.parse(f"{counter} += 1").body
    (check,) = ast.parse(f"if {counter} > {op.attrs['capacity']}:\n"
                         f"    FLAG[0] = {op.attrs['line']}").body
    check.body[0].targets[0].value = args[0]
    return [advance, check]


bounded_push_p = defprim("bounded_tape_push", infer=lambda *t, **_: [],
                         emit=_emit_bounded_push, pure=False, statement=True, stores="tape",
                         differentiable=False)
bounded_load_p = defprim("bounded_tape_load", infer=None, emit=lambda op, a: _bounded_slot(op),
                         pure=False, loads="tape", differentiable=False)
bounded_advance_p = defprim("bounded_counter_advance", infer=lambda *t, **_: [],
                            emit=_emit_bounded_advance, pure=False, statement=True,
                            differentiable=False)


# --- block sums written by the user (frontend.block_reductions) -----------------------------
def _emit_block_sum(op, args):
    """sum_scratch = cuda.shared.array(...); gpu.block_add(sum_scratch, value, out, index):
    out[index] += the block's sum (a scratch of its own: the simulator tells shared arrays
    apart by their line)."""
    out, *index, value = args
    where = index[0] if len(index) == 1 else ast.Tuple(index, ast.Load())
    scratch = ast.Name("sum_scratch", ast.Store())
    made = call("cuda.shared.array", [ast.Constant(BLOCK_THREADS), dotted("np.float64")])
    add = call("gpu.block_add", [ast.Name("sum_scratch", ast.Load()), value, out, where])
    return [ast.Assign([scratch], made), ast.Expr(add)]


def _reverse_block_sum(t, op, b, adj) -> None:
    """out[index] += (the sum over the block of every thread's value): each thread's
    value_bar += out_bar[index], the output's cotangent broadcast to every contribution."""
    array, *indices, value = op.operands
    if not t.active(array):
        return
    g = b.op(getitem_p, t.buffer(array), *indices, hint=value.hint + "_bar").result
    t.accumulate(b, adj, value, g)


# operands (out, *index, value); attrs: size (the user's shared buffer), exact (the tree's
# stride starts at size // 2, so the block must hold `size` threads)
block_sum_p = defprim("block_sum", infer=lambda *t, **_: [], emit=_emit_block_sum, pure=False,
                      statement=True, writes=True)
block_sum_p.reverse = _reverse_block_sum
block_sum_p.forward = forward_write  # the same block sum of the tangents
