"""Block reductions in CUDA kernels: the shared-memory tree, recognised as one statement.

The most common kernel after an elementwise one sums a value per thread over the block in
shared memory, then adds the block's total into an output with one atomic:

    buf = cuda.shared.array(128, float64)
    buf[cuda.threadIdx.x] = v          # (or t = cuda.threadIdx.x; buf[t] = v)
    cuda.syncthreads()
    s = cuda.blockDim.x // 2           # (or the constant 128 // 2: then blocks of 128)
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2                        # (or s = s // 2)
    if t == 0:
        cuda.atomic.add(out, index, buf[0])

For a one-dimensional block of a power-of-two number of threads that fits the buffer, this
adds the sum of every thread's v into out[index]: as if each thread added its own v. The AST
is rewritten before lowering so that those statements become one call,
`cuda.<BLOCK_SUM>(out, index, v, size, exact)`, which the lowering makes a `block_sum` op (a
write of out, primitives/gpu.py): its adjoint gives each thread v_bar = out_bar[index] (the
output's cotangent broadcast to every contribution); its tangent sums v_dot the same way.
The launch checks the block shape the tree needs (kernels.py). Nothing else is rewritten:
a pattern that differs in any way is left as written and refused at its line.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import types

import gast

from .resolve import BLOCK_SUM, is_cuda_module


def rewrite_block_reductions(parsed):
    """`parsed` with each recognised block reduction of its body made one statement."""
    cu = _cuda_alias(parsed.fn)
    if cu is None or not any(_match(parsed.node.body, k, cu)
                             for k in range(len(parsed.node.body))):
        return parsed
    node = copy.deepcopy(parsed.node)
    while True:
        found = next(filter(None, (_match(node.body, k, cu) for k in range(len(node.body)))),
                     None)
        if found is None:
            return dataclasses.replace(parsed, node=node)
        node.body = _replace(node.body, found, cu)


def _cuda_alias(fn) -> str | None:
    """The global name under which `fn` sees numba.cuda."""
    for name, value in getattr(fn, "__globals__", {}).items():
        if isinstance(value, types.ModuleType) and is_cuda_module(value) and \
                value.__name__.endswith("cuda"):
            return name
    return None


@dataclasses.dataclass
class _Found:
    alloc: int  # the shared.array statement
    thread: int | None  # t = cuda.threadIdx.x, when the tree uses a name for it
    first: int  # buf[t] = v (the tree follows: four more statements)
    out: object
    index: object
    value: object
    size: int
    exact: bool  # the stride starts at a constant: the block must hold `size` threads


def _text(node) -> str:
    return ast.unparse(gast.gast_to_ast(node))


def _same(node, source: str) -> bool:
    """Whether `node` (a statement or an expression) is the code `source`."""
    expected = ast.parse(source, mode="eval").body if isinstance(node, gast.expr) else \
        ast.parse(source).body[0]
    return ast.dump(gast.gast_to_ast(node)) == ast.dump(expected)


def _match(body: list, start: int, cu: str) -> _Found | None:
    """The block reduction whose shared buffer is made by body[start], if it has the form
    of the module docstring."""
    alloc = body[start]
    size = _shared_float64(alloc, cu)
    if size is None:
        return None
    buf = alloc.targets[0].id
    thread, tid = None, f"{cu}.threadIdx.x"
    for k, stmt in enumerate(body):
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], gast.Name) and _text(stmt.value) == tid:
            thread, tid = k, stmt.targets[0].id
            break
    first = next((k for k in range(start + 1, len(body) - 4)
                  if isinstance(body[k], gast.Assign) and len(body[k].targets) == 1
                  and _text(body[k].targets[0]) == f"{buf}[{tid}]"), None)
    if first is None or (thread is not None and thread > first):
        return None
    step = body[first + 2]
    if not (isinstance(step, gast.Assign) and len(step.targets) == 1
            and isinstance(step.targets[0], gast.Name)):
        return None
    s = step.targets[0].id
    exact = _same(step, f"{s} = {size // 2}") and size % 2 == 0
    if not (exact or _same(step, f"{s} = {cu}.blockDim.x // 2")):
        return None
    tree = [f"while {s} > 0:\n    if {tid} < {s}:\n        {buf}[{tid}] += {buf}[{tid} + {s}]\n"
            f"    {cu}.syncthreads()\n    {s} {halve}\n" for halve in ("//= 2", f"= {s} // 2")]
    if not (_same(body[first + 1], f"{cu}.syncthreads()")
            and any(_same(body[first + 3], t) for t in tree)):
        return None
    last = body[first + 4]
    if not (isinstance(last, gast.If) and not last.orelse and len(last.body) == 1
            and _same(last.test, f"{tid} == 0") and isinstance(last.body[0], gast.Expr)):
        return None
    call = last.body[0].value
    if not (isinstance(call, gast.Call) and _text(call.func) == f"{cu}.atomic.add"
            and len(call.args) == 3 and not call.keywords
            and isinstance(call.args[0], gast.Name) and _text(call.args[2]) == f"{buf}[0]"):
        return None
    found = _Found(start, thread, first, call.args[0], call.args[1], body[first].value,
                   size, exact)
    return found if _private(body, found, {buf, s} | ({tid} if thread is not None else set()))\
        else None


def _shared_float64(stmt, cu: str) -> int | None:
    """SIZE when `stmt` is `name = cuda.shared.array(SIZE, <float64>)`."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Call)
            and _text(stmt.value.func) == f"{cu}.shared.array"):
        return None
    args = list(stmt.value.args) + [k.value for k in stmt.value.keywords if k.arg == "dtype"]
    if len(args) != 2 or not isinstance(args[0], gast.Constant) or \
            not isinstance(args[0].value, int) or isinstance(args[0].value, bool):
        return None
    dtype = _text(args[1]).rsplit(".", 1)[-1]
    return args[0].value if dtype in ("float64", "f64", "f8", "double") else None


def _private(body: list, found: _Found, names: set[str]) -> bool:
    """Whether the tree's names (buffer, stride, thread index) appear nowhere else, and the
    value and index do not read them."""
    pattern = {found.alloc, found.thread} | set(range(found.first + 1, found.first + 5))
    outside = [s for k, s in enumerate(body) if k not in pattern and k != found.first]
    outside += [found.value, found.index, body[found.first].value]
    for node in outside:
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and n.id in names:
                return False
    return True


def _replace(body: list, found: _Found, cu: str) -> list:
    first = body[found.first]
    func = gast.Attribute(gast.Name(cu, gast.Load(), None, None), BLOCK_SUM, gast.Load())
    args = [found.out, found.index, found.value, gast.Constant(found.size, None),
            gast.Constant(found.exact, None)]
    call = gast.Expr(gast.Call(func, args, []))
    gast.copy_location(call.value, first)
    statement = gast.copy_location(call, first)
    dropped = {found.alloc, found.thread} | set(range(found.first + 1, found.first + 5))
    return [statement if k == found.first else s for k, s in enumerate(body)
            if k not in dropped]
