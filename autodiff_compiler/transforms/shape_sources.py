"""The adjoints of broadcasts read the shape of their reference from the arrays that make it.

`sum_to_shape(g, x)` (the adjoint of broadcasting: g summed over the axes where x has length
one) and `spread(g, x)` (the adjoint of a sum: g repeated over x's shape) read x's shape
only. In a reverse sweep x is often a forward value made again for that read alone: the
adjoint of `a * w + c` sums its cotangent to the shape of `a * w`, so the product is
computed into a temporary that nothing else reads (or the forward sweep stores it). When x
is made by a pure op whose result has the broadcast shape of its array operands (trait
`broadcast_shape`), those operands give the same shape: through chains of such ops, up to
MAX_SOURCES arrays, the adjoint reads a `shape_ref` of them instead (a view of one number
with their broadcast shape, no storage), or the one array itself, and x, read by nobody
else, is dropped as dead code.

Run on code Numba compiles, before loop fusion (whose loops then need not store x either).
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Function, Op, Region, Value, walk_regions
from ..ir.types import Type
from ..primitives.arrays import shape_ref_p
from .dce import dce

MAX_SOURCES = 8  # arrays whose shapes one reference broadcasts, at most


def shape_sources(fn: Function) -> Function:
    """A copy of `fn` whose adjoints of broadcasts read the arrays that shape their
    reference."""
    fn = clone_function(fn)
    producers = {r: op for region, _ in walk_regions(fn.body) for op in region.ops
                 for r in op.results}
    changed = False
    for region, _ in list(walk_regions(fn.body)):
        refs: dict[tuple, Value] = {}  # one shape_ref per set of sources in a region
        for op in list(region.ops):
            if not (op.prim.sums_to_shape or op.prim.broadcasts) or len(op.operands) != 2 \
                    or not op.operands[1].type.is_array:
                continue
            sources = _sources(op.operands[1], producers)
            if sources is None or sources == [op.operands[1]]:
                continue
            op.operands = [op.operands[0],
                           _reference(region, sources, refs, producers, op.operands[1].type)]
            changed = True
    return dce(fn) if changed else fn


def _reference(region: Region, sources: list[Value], refs: dict, producers,
               like: Type) -> Value:
    """The one source when it has the dtype of the reference it stands for (`like`: the
    adjoint's arrays take their dtype from it), or a shape_ref of them with that dtype placed
    after the last of them made in `region` (as early as can be: a loop nest fused from
    before the adjoint may read it)."""
    if len(sources) == 1 and sources[0].type.dtype == like.dtype:
        return sources[0]
    key = (like.dtype,) + tuple(id(v) for v in sources)
    if key not in refs:
        ref_type = shape_ref_p.infer(*(v.type for v in sources))[0]
        ref = Value(Type(ref_type.kind, ref_type.ndim, like.bits if like.is_float else 64),
                    "shape_ref")
        made_here = [region.ops.index(producers[v]) for v in sources
                     if v in producers and producers[v] in region.ops]
        at = max(made_here) + 1 if made_here else 0
        op = Op(shape_ref_p, list(sources), [ref], [], {}, None)
        region.ops.insert(at, op)
        producers[ref] = op
        refs[key] = ref
    return refs[key]


def _sources(x: Value, producers: dict[Value, Op]) -> list[Value] | None:
    """The arrays whose broadcast shape is x's (x itself when it is made otherwise), or None
    when there are more than MAX_SOURCES or one has axes of length one by construction."""
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
