"""The adjoint of a broadcast reads the shape of its reference from the arrays that make it.

`sum_to_shape(g, x)` (the adjoint of broadcasting: g summed over the axes where x has length
one) reads x's shape only. In a reverse sweep x is often a forward value made again for that
read alone: the adjoint of `a * w + c` sums its cotangent to the shape of `a * w`, so the
product is computed into a temporary that nothing else reads. When x is made by a pure op
whose result has the broadcast shape of its array operands (trait `broadcast_shape`), those
operands give the same shape: the sum reads them instead (through chains of such ops, up to
MAX_SOURCES arrays), and x, read by nobody else, is dropped as dead code. The emitter
broadcasts the sources' shapes (np.broadcast_shapes) and passes a view of that shape.

Run on code Numba compiles, before loop fusion (whose loops then need not store x either).
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Function, Op, Value, walk_ops
from .dce import dce

MAX_SOURCES = 8  # arrays whose shapes one sum_to_shape broadcasts, at most


def shape_sources(fn: Function) -> Function:
    """A copy of `fn` whose sums to a shape read the arrays that shape the reference."""
    fn = clone_function(fn)
    producers = {r: op for op in walk_ops(fn.body) for r in op.results}
    changed = False
    for op in walk_ops(fn.body):
        if not op.prim.sums_to_shape or len(op.operands) != 2:
            continue
        sources = _sources(op.operands[1], producers)
        if sources is not None and sources != [op.operands[1]]:
            op.operands = [op.operands[0], *sources]
            changed = True
    return dce(fn) if changed else fn


def _sources(x: Value, producers: dict[Value, Op]) -> list[Value] | None:
    """The arrays whose broadcast shape is x's (x itself when it is made otherwise), or None
    when there are more than MAX_SOURCES."""
    sources: list[Value] = []
    todo = [x]
    while todo:
        v = todo.pop()
        op = producers.get(v)
        if op is not None and _shaped_by_operands(op):
            todo.extend(w for w in reversed(op.operands) if w.type.is_array)
        elif op is not None and op.prim.unit_axes is not None:
            return None  # loop fusion reads its unit axes as the reference's own
        elif v not in sources:
            sources.append(v)
            if len(sources) > MAX_SOURCES:
                return None
    return sources


def _shaped_by_operands(op: Op) -> bool:
    """Whether op's one result has the broadcast shape of its array operands, whatever their
    contents, and computing it has no effect."""
    return op.prim.broadcast_shape and op.prim.pure and not op.regions \
        and len(op.results) == 1 and op.result.type.is_array \
        and any(w.type.is_array for w in op.operands)
