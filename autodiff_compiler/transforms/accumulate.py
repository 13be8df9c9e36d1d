"""Adjoint contributions that fused loop nests put straight into their buffer.

The reverse sweep collects the contributions to an array's adjoint in a buffer:
`x_bar = np.zeros_like(v)`, then `x_bar += t` per contribution. When a contribution t is a
new array stored by a fused loop nest (transforms/fuse.py) and read by nothing else, t is a
temporary and the addition a pass over memory of their own. After loop fusion, this pass
removes them where it is provably the same result:

- the first contribution: the zeros and the addition go, t itself is the buffer;
- a later one: the loop nest adds each element into the buffer (`x_bar[i] += ...`, output
  kind ("add", operand) of the fused op, whose result is the buffer after the addition) and
  the addition goes. The buffer must exist before the loop and nothing may read it from
  there until the addition (the loop itself included), so the addition may move to the loop.

Types give ranks, not shapes, so shapes are proved from the loop nest: its iteration shape
is the broadcast of the shapes of its array operands, so when `v` (whose shape the buffer
has) is one of them with the loop's rank, t's shape broadcasts v's, and `x_bar += t` (valid
in the original code) makes it v's. Float precisions are compared on the types
(np.zeros_like keeps v's dtype). The zeros, the loop and the addition must be in one region
(not an addition once per trip of a loop). Anything else stays as it was.
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Function, Op, Region, Value, users, walk_ops, walk_regions
from ..primitives.control import fused_p
from ..primitives.indexing import array_add_p, zeros_like_p


def accumulate_in_place(fn: Function) -> Function:
    """A copy of `fn` whose adjoint contributions stored by fused loop nests go straight
    into their buffers (the module docstring says when)."""
    fn = clone_function(fn)
    readers = users(fn.body)
    for region, _ in list(walk_regions(fn.body)):
        if any(op.prim is array_add_p for op in region.ops):
            _Region(region, readers).rewrite()
    return fn


class _Region:
    """The rewrite of the additions of one region, in program order."""

    def __init__(self, region: Region, users):
        self.region = region
        self.users = users
        self.maker = {r: op for op in region.ops for r in op.results}
        self.position: dict[Op, int] = {}  # of each op in the region or nested in one
        for k, op in enumerate(region.ops):
            self.position[op] = k
            for sub in op.regions:
                self.position.update((inner, k) for inner in walk_ops(sub))
        self.shape_of: dict[Value, Value] = {}  # buffer -> an array with its shape

    def rewrite(self) -> None:
        dropped: set[Op] = set()
        for op in self.region.ops:
            if op.prim is zeros_like_p and _float_like(op.result, op.operands[0]):
                self.shape_of[op.result] = op.operands[0]
            elif op.prim is array_add_p:
                zeros = self._first_contribution(op)
                if zeros is not None:
                    self._start_with(op)
                    dropped |= {zeros, op}
                elif self._later_contribution(op):
                    self._add_in_loop(op)
                    dropped.add(op)
        if dropped:
            self.region.ops = [op for op in self.region.ops if op not in dropped]

    # --- the conditions ------------------------------------------------------------------------
    def _stored_contribution(self, add: Op) -> Op | None:
        """The fused loop storing the contribution `add` adds into the buffer, read nowhere
        else, at the buffer's rank, precision and (proved) shape, or None."""
        buffer, t = add.operands
        loop, v = self.maker.get(t), self.shape_of.get(buffer)
        if loop is None or loop.prim is not fused_p or v is None or self.users.get(t) != [add]:
            return None
        ndim = loop.attrs["ndim"]
        if loop.attrs["outputs"][loop.results.index(t)] != ("store",) \
                or t.type != buffer.type or t.type.ndim != ndim or v.type.ndim != ndim:
            return None
        shaped = any(operand is v and kind in ("array", "shape")
                     for operand, kind in zip(loop.operands, loop.attrs["inputs"]))
        return loop if shaped else None

    def _unread_until(self, buffer: Value, add: Op) -> bool:
        """Whether no op before `add` (or nested in one) reads `buffer`."""
        at = self.position[add]
        return all(self.position.get(user, -1) > at
                   for user in self.users.get(buffer, ()) if user is not add)

    def _first_contribution(self, add: Op) -> Op | None:
        """The zeros_like making the buffer that `add` may replace by its contribution."""
        zeros = self.maker.get(add.operands[0])
        if zeros is None or zeros.prim is not zeros_like_p \
                or self._stored_contribution(add) is None \
                or not self._unread_until(add.operands[0], add):
            return None
        return zeros

    def _later_contribution(self, add: Op) -> bool:
        """Whether the loop storing the contribution may add it into the buffer itself: the
        buffer is made before the loop and read by nothing until `add`."""
        buffer = add.operands[0]
        loop, made = self._stored_contribution(add), self.maker.get(buffer)
        return loop is not None and made is not None \
            and self.position[made] < self.position[loop] and self._unread_until(buffer, add)

    # --- the rewrites --------------------------------------------------------------------------
    def _start_with(self, add: Op) -> None:
        buffer, t = add.operands
        t.hint = buffer.hint  # the loop nest stores straight into x_bar
        self.shape_of[t] = self.shape_of[buffer]
        self._replace(buffer, t, add)

    def _add_in_loop(self, add: Op) -> None:
        buffer, t = add.operands
        loop = self.maker[t]
        t.hint = buffer.hint
        self.shape_of[t] = self.shape_of[buffer]
        self._replace(buffer, t, add)  # t: the buffer after the loop adds into it
        k = loop.results.index(t)
        loop.attrs = dict(loop.attrs, inputs=loop.attrs["inputs"] + ("target",),
                          outputs=loop.attrs["outputs"][:k] + (("add", len(loop.operands)),)
                          + loop.attrs["outputs"][k + 1:])
        loop.operands = loop.operands + [buffer]
        element = loop.regions[0]
        element.args = element.args + [Value(buffer.type.element, buffer.hint)]
        self.users[buffer] = [loop]

    def _replace(self, buffer: Value, t: Value, add: Op) -> None:
        """Every read of `buffer` (all after `add`, which goes) reads `t` instead."""
        readers = [user for user in self.users.pop(buffer, []) if user is not add]
        for user in readers:
            user.operands = [t if v is buffer else v for v in user.operands]
        self.users[t] = readers


def _float_like(buffer: Value, v: Value) -> bool:
    """np.zeros_like(v) keeps a float v's dtype: the buffer's type must say it."""
    return v.type.kind == buffer.type.kind == "float" and v.type.bits == buffer.type.bits
