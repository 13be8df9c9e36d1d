"""Adjoint buffers that start as their first contribution, after loop fusion.

The reverse sweep collects the contributions to an array's adjoint in a buffer:
`x_bar = np.zeros_like(v)`, then `x_bar += t` per contribution. When the first contribution
t is a new array stored by a fused loop nest (transforms/fuse.py) and read by nothing else,
the zeros and the addition are a pass over memory and a temporary each for nothing: t itself
becomes the buffer, and the later contributions add into it as before.

It is the same result only when t has the buffer's shape and dtype. Types give ranks, not
shapes, so the shape is proved from the loop nest: its iteration shape is the broadcast of
the shapes of its array operands, so when `v` is one of them with the loop's rank, t's shape
broadcasts v's, and `x_bar += t` (valid in the original code) makes it v's. Float precision
is compared on the types (np.zeros_like keeps v's dtype). Nothing may read the buffer before
that first addition (it would see zeros), and it must happen where the zeros are made (the
same region: not once per trip of a loop). Anything else stays as it was.
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Function, Op, Region, Value, walk_ops, walk_regions
from ..primitives.control import fused_p
from ..primitives.indexing import array_add_p, zeros_like_p


def accumulate_in_place(fn: Function) -> Function:
    """A copy of `fn` in which each adjoint buffer whose first contribution is a stored
    result of a fused loop nest, read nowhere else, is that result itself."""
    fn = clone_function(fn)
    users = _users(fn)
    replaced: dict[Value, Value] = {}
    for region, _ in list(walk_regions(fn.body)):
        if not any(op.prim is array_add_p for op in region.ops):
            continue
        places = _Places(region)
        dropped: set[Op] = set()
        for add in region.ops:
            zeros = _buffer_replaced_by(places, add, users) if add.prim is array_add_p \
                else None
            if zeros is not None:
                buffer, t = add.operands
                replaced[buffer] = t
                t.hint = buffer.hint  # the loop nest stores straight into x_bar
                dropped |= {zeros, add}
        if dropped:
            region.ops = [op for op in region.ops if op not in dropped]
    if replaced:
        for op in walk_ops(fn.body):
            op.operands = [replaced.get(v, v) for v in op.operands]
    return fn


def _users(fn: Function) -> dict[Value, list[Op]]:
    users: dict[Value, list[Op]] = {}
    for op in walk_ops(fn.body):
        for v in op.operands:
            users.setdefault(v, []).append(op)
    return users


class _Places:
    """Where the values and ops of one region are: the index of the op making each value,
    and of each op in it or nested in one of its ops."""

    def __init__(self, region: Region):
        self.ops = region.ops
        self.maker = {r: op for op in region.ops for r in op.results}
        self.position: dict[Op, int] = {}
        for k, op in enumerate(region.ops):
            self.position[op] = k
            for sub in op.regions:
                self.position.update((inner, k) for inner in walk_ops(sub))


def _buffer_replaced_by(places: _Places, add: Op, users) -> Op | None:
    """The `zeros_like` making the buffer that `add` (x_bar += t) may replace by t, or None."""
    buffer, t = add.operands
    zeros, loop = places.maker.get(buffer), places.maker.get(t)
    if zeros is None or zeros.prim is not zeros_like_p or loop is None \
            or loop.prim is not fused_p or users.get(t) != [add]:
        return None
    if not _stored_full_shape(loop, t, zeros.operands[0]) \
            or not _same_precision(buffer, t, zeros.operands[0]):
        return None
    at = places.position[add]
    if any(places.position.get(user, -1) <= at
           for user in users.get(buffer, ()) if user is not add):
        return None  # read (or viewed) while it still holds zeros, or elsewhere
    return zeros


def _stored_full_shape(loop: Op, t: Value, v: Value) -> bool:
    """Whether `t` is stored by the fused `loop` and `v`, of the loop's rank, is one of the
    arrays whose shapes broadcast to the loop's iteration shape."""
    ndim = loop.attrs["ndim"]
    output = loop.attrs["outputs"][loop.results.index(t)]
    if output != ("store",) or t.type.ndim != ndim or v.type.ndim != ndim:
        return False
    return any(operand is v and kind != "scalar"
               for operand, kind in zip(loop.operands, loop.attrs["inputs"]))


def _same_precision(buffer: Value, t: Value, v: Value) -> bool:
    """np.zeros_like(v) keeps a float v's dtype: the buffer's and t's must be it."""
    return v.type.kind == buffer.type.kind == t.type.kind == "float" \
        and v.type.bits == buffer.type.bits == t.type.bits
