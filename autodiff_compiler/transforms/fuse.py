"""Loop fusion: chains of elementwise, broadcasting and summing ops become one loop nest.

Whole-array code evaluates each NumPy operation as a pass of its own with a temporary of its
own, in the primal and in the adjoint. This pass, run last on code that Numba compiles,
gathers ops that run over one iteration space into a `fused` op (primitives/control.py)
whose region computes one element; the emitter writes it as one loop nest
(codegen/loops.py). Groups form per region, greedily, in program order:

- an elementwise op (trait `elementwise`) joins the group of a value it reads when every
  other operand is available where the group runs (at its first op) and no array it reads
  is written in between;
- a sum (trait `sums_axes`) of a value of the group joins it: the loop adds up as it goes;
- a broadcast (trait `broadcasts`: the adjoint of a sum, g spread over x's shape) is read
  in place through a view of g, never materialised;
- a cheap elementwise value of an earlier group (x - c) is recomputed where it is read
  again (in the adjoint) instead of being stored by its group and read back.

Types give ranks, not shapes, so a group's iteration shape is the broadcast, at run time,
of the shapes of its leaves (the arrays it reads). A value leaves its group (stored, or
summed) only when it depends on all of the group's leaves: then its shape is the iteration
shape. When in doubt an op stays as it was (NumPy code).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.clone import clone_function
from ..ir.core import Const, Function, Op, Region, Value, users, walk_ops, walk_regions
from ..ir.types import Type
from ..primitives.arrays import expand_dims_p, sum_p
from ..primitives.control import fused_p, yield_p
from .dce import dce

MAX_RECOMPUTED = 24  # ops one group recomputes from earlier groups, at most
MAX_SHAPE_SOURCES = 8  # arrays giving the shape of a broadcast, at most


@dataclass(eq=False)
class _Group:
    start: int  # index in its region of its first op: where the loop nest runs
    ndim: int
    body: list[Op] = field(default_factory=list)  # maps and sums in order, recomputed too
    members: set[Op] = field(default_factory=set)  # the ops of the region it replaces
    leaves: dict[Value, frozenset] = field(default_factory=dict)  # value -> its leaves
    recomputed: set[Value] = field(default_factory=set)  # values of other ops made again
    reads: set[Value] = field(default_factory=set)  # values of the region it reads

    def copy(self) -> _Group:
        return _Group(self.start, self.ndim, list(self.body), set(self.members),
                      dict(self.leaves), set(self.recomputed), set(self.reads))

    @property
    def all_leaves(self) -> frozenset:
        return frozenset().union(*self.leaves.values()) if self.leaves else frozenset()


def fuse(fn: Function, parallel: bool = False) -> Function:
    """A copy of `fn` with its fusable chains in `fused` loop nests; parallel: their
    outermost loop runs in parallel (prange) where its iterations write distinct entries."""
    fn = clone_function(fn)
    producers = {r: op for op in walk_ops(fn.body) for r in op.results}
    for region, _ in list(walk_regions(fn.body)):
        region.ops = _unit_axes_summed_first(region.ops, producers)
    readers = users(fn.body)
    changed = False
    for region, _ in list(walk_regions(fn.body)):
        groups = _Grouping(region, readers, producers).run()
        if groups:
            region.ops = _rewrite(region, groups, readers, parallel)
            changed = True
    return dce(fn) if changed else fn


def _unit_axes_summed_first(ops: list[Op], producers) -> list[Op]:
    """The adjoint of a broadcast against x[:, None, :] (a sum to the shape of an array
    with an axis of length one by construction) as a sum over that axis first, which a
    loop nest can do as it goes, then the sum to the shape of what is left (small)."""
    rewritten: list[Op] = []
    for op in ops:
        g, target = (op.operands + [None, None])[:2]
        maker = producers.get(target) if op.prim.sums_to_shape else None
        if maker is None or maker.prim.unit_axes is None or g.type.ndim < 2 \
                or g.type.ndim != target.type.ndim:
            rewritten.append(op)
            continue
        axis = maker.prim.unit_axes(maker)[0] % g.type.ndim
        summed = Op(sum_p, [g], [Value(Type("float", g.type.ndim - 1, g.type.bits),
                                       g.hint + "_sum")], [],
                    {"axis": axis}, op.loc)
        kept = Op(expand_dims_p, [summed.result], [Value(g.type, g.hint)], [],
                  {"axis": axis}, op.loc)
        rest = Op(op.prim, [kept.result, *op.operands[1:]], op.results, [], dict(op.attrs),
                  op.loc)
        for new in (summed, kept, rest):
            producers.update((r, new) for r in new.results)
        rewritten += [summed, kept, rest]
    return rewritten


def fusable_map(op: Op) -> bool:
    """An elementwise op the loop nest can compute one element at a time: a float result,
    or a comparison or logic op (bool result; NumPy's bool arithmetic is not Python's)."""
    if not op.prim.elementwise or op.regions or len(op.results) != 1:
        return False
    result = op.result.type
    if not result.is_array:
        return False
    return result.kind == "float" or (result.kind == "bool" and not op.prim.differentiable)


def _summed(op: Op):
    """The axes a sum adds up, or None when `op` is no sum of an array."""
    if op.prim.sums_axes is None or not op.operands[0].type.is_array:
        return None
    return op.prim.sums_axes(op)


class _Grouping:
    """The groups of one region (greedy, in program order)."""

    def __init__(self, region: Region, users, producers):
        self.ops = region.ops
        self.users = users
        self.producers = producers
        self.index = {r: k for k, op in enumerate(self.ops) for r in op.results}
        self.group_of: dict[Op, _Group] = {}
        self.writes = [_written_roots(op, self._root) for op in self.ops]

    def run(self) -> list[_Group]:
        groups: list[_Group] = []
        for k, op in enumerate(self.ops):
            if fusable_map(op):
                self._place_map(k, op, groups)
            elif _summed(op) is not None:
                self._place_sum(k, op)
        return [g for g in groups if len(g.body) >= 2]  # else no temporary is saved

    # --- where values come from --------------------------------------------------------------
    def _root(self, v: Value) -> Value:
        """The array whose memory `v` shares (through views)."""
        for _ in range(256):
            op = self.producers.get(v)
            if op is None or not op.operands or not op.prim.is_view(op):
                return v
            v = op.operands[0]
        return v

    def _available(self, v: Value) -> int:
        """The index from which `v` exists in the fused code (-1: before the region)."""
        k = self.index.get(v)
        if k is None:
            return -1
        group = self.group_of.get(self.ops[k])
        return group.start if group is not None else k

    def _written(self, values, lo: int, hi: int) -> bool:
        """Whether an op at index lo <= k < hi may write into the memory of `values`."""
        roots = {self._root(v) for v in values if v.type.is_array}
        return bool(roots) and any(w is _ANY or w & roots
                                   for w in self.writes[max(lo, 0):max(hi, 0)] if w)

    def _reads(self, v: Value) -> list[Value]:
        """What the loop reads for `v`: a broadcast's operand and the array giving its
        shape (it is never materialised), else `v` itself."""
        k = self.index.get(v)
        if k is not None and self.ops[k].prim.broadcasts:
            return list(self.ops[k].operands[:2])
        return [v]

    def _can_read(self, group: _Group, v: Value, lo: int, hi: int) -> bool:
        """Whether the loop nest, run at group.start, reads `v` as it was between the
        indices lo and hi (nothing writes it in between)."""
        reads = self._reads(v)
        return all(self._available(r) < group.start for r in reads) \
            and not self._written(reads, lo, hi)

    # --- placing ops -------------------------------------------------------------------------
    def _place_map(self, k: int, op: Op, groups: list[_Group]) -> None:
        candidates = {self.group_of[self.ops[self.index[v]]] for v in op.operands
                      if v in self.index and self.ops[self.index[v]] in self.group_of}
        if groups:  # else the latest loop, when it reads the same arrays (forward mode)
            candidates.add(groups[-1])
        for group in sorted(candidates, key=lambda g: -g.start):
            if group.ndim == op.result.type.ndim and self._join(group, k, op):
                return
        group = _Group(k, op.result.type.ndim)
        if self._join(group, k, op):
            groups.append(group)

    def _place_sum(self, k: int, op: Op) -> None:
        x = op.operands[0]
        producer = self.ops[self.index[x]] if x in self.index else None
        group = self.group_of.get(producer)
        if group is None or group.ndim != x.type.ndim or x not in group.leaves \
                or x in group.recomputed or self._written([x], self.index[x], k):
            return
        if group.leaves[x] != group.all_leaves or \
                not self._outputs_ok(group, group.all_leaves, extra=op):
            return
        group.body.append(op)
        group.members.add(op)
        self.group_of[op] = group

    def _join(self, group: _Group, k: int, op: Op) -> bool:
        """Add the map `op` (at index k) to `group` if it may run there; returns whether."""
        trial = group.copy()
        leaves: set[Value] = set()
        for v in op.operands:
            if isinstance(v, Const):
                continue
            if v in trial.leaves:
                if self._written([v], self.index.get(v, -1), k):
                    return False  # its memory changed since: read it, do not recompute
                leaves |= trial.leaves[v]
            elif self._recompute(trial, v, k, [MAX_RECOMPUTED - len(trial.recomputed)]):
                leaves |= trial.leaves[v]
            elif self._can_read(trial, v, group.start, k):
                leaves |= {v} if v.type.is_array else set()
                trial.reads.add(self._reads(v)[0])  # a broadcast's shape: not read
            else:
                return False
        trial.leaves[op.result] = frozenset(leaves)
        trial.body.append(op)
        trial.members.add(op)
        if not self._outputs_ok(trial, trial.all_leaves):
            return False
        group.body, group.members, group.leaves, group.recomputed, group.reads = \
            trial.body, trial.members, trial.leaves, trial.recomputed, trial.reads
        self.group_of[op] = group
        return True

    def _recompute(self, group: _Group, v: Value, use: int, budget: list[int]) -> bool:
        """Make the cheap elementwise value `v` (of an earlier op of this region), read by
        the op at index `use`, again inside `group`, with what it reads, instead of storing
        and reading it back; nothing may write them before that use."""
        k = self.index.get(v)
        if k is None or budget[0] <= 0:
            return False
        producer = self.ops[k]
        if not (producer.prim.cheap and fusable_map(producer)) \
                or producer.result.type.ndim != group.ndim or self._written([v], k, use):
            return False
        budget[0] -= 1
        since = self._available(v)
        leaves: set[Value] = set()
        for w in producer.operands:
            if isinstance(w, Const):
                continue
            if (w in group.leaves and not self._written([w], self.index.get(w, -1), use)) \
                    or self._recompute(group, w, use, budget):
                leaves |= group.leaves[w]
            elif self._can_read(group, w, since, use):
                leaves |= {w} if w.type.is_array else set()
                group.reads.add(self._reads(w)[0])
            else:
                return False
        group.leaves[v] = frozenset(leaves)
        group.recomputed.add(v)
        group.body.append(producer)
        return True

    def _outputs_ok(self, group: _Group, leaves: frozenset, extra: Op | None = None) -> bool:
        """Every value that may leave the group (read by an op outside it, or summed) has
        all the group's leaves, so its shape is the loop's."""
        inside = group.members | ({extra} if extra is not None else set())
        for op in inside:
            summed = _summed(op) is not None
            value = op.operands[0] if summed else op.result
            leaves_out = summed or any(u not in inside for u in self.users.get(value, ()))
            if leaves_out and group.leaves.get(value) != leaves:
                return False
        return True


_ANY = object()  # an op that may write arrays it does not name


def _written_roots(op: Op, root):
    """The roots of the arrays `op` (or an op in its regions) may write into; _ANY when it
    may write arrays we cannot name. Ops with effects that make a new value (np.zeros_like,
    a tape read) write no array they read; those that write say so by their traits."""
    roots: set[Value] = set()
    for inner in [op] + [o for sub in op.regions for o in walk_ops(sub)]:
        prim = inner.prim
        if prim.pure or prim.region or prim.terminator or prim.fresh_array \
                or prim.stores or prim.loads:
            continue
        if prim.writes or prim.accumulates or prim.fills:
            roots.add(root(inner.operands[0]))
        elif not inner.results and any(v.type.is_array for v in inner.operands):
            return _ANY  # an effect with no result and no write trait (print, assert)
    return roots


# --- rewriting a region ------------------------------------------------------------------------

def _rewrite(region: Region, groups: list[_Group], users, parallel: bool) -> list[Op]:
    first = {min(g.members, key=region.ops.index): g for g in groups}
    member_of = {op: g for g in groups for op in g.members}
    index = {r: k for k, op in enumerate(region.ops) for r in op.results}
    ops: list[Op] = []
    for op in region.ops:
        group = first.get(op)
        if group is not None:
            ops.extend(_Build(group, region, index, users, member_of).ops(parallel))
        elif op not in member_of:
            ops.append(op)
    return ops


class _Build:
    """The fused op of one group, and the views of broadcasts it reads."""

    def __init__(self, group: _Group, region: Region, index, users, member_of):
        self.group = group
        self.region = region
        self.index = index
        self.users = users
        self.member_of = member_of
        self.groups = set(member_of.values())
        self.inputs: list[tuple[Value, str, Value]] = []  # (operand, how read, element)
        self.before: list[Op] = []
        self.mapping: dict[Value, Value] = {}

    def ops(self, parallel: bool) -> list[Op]:
        body: list[Op] = []
        outputs, results, yields = [], [], []
        for op in self.group.body:
            axes = _summed(op)
            if axes is not None:
                outputs.append(("sum", tuple(sorted(axes))))
                results.append(op.result)
                yields.append(self.read(op.operands[0]))
                continue
            element = Value(op.result.type.element, op.result.hint)
            body.append(Op(op.prim, [self.read(v) for v in op.operands], [element], [],
                           dict(op.attrs), op.loc))
            self.mapping[op.result] = element
            if op in self.group.members and self._read_outside(op.result):
                outputs.append(("store",))
                results.append(op.result)
                yields.append(element)
        if not results:
            return []
        attrs = {"ndim": self.group.ndim, "inputs": tuple(kind for _, kind, _ in self.inputs),
                 "outputs": tuple(outputs)}
        axis = _parallel_axis(outputs, self.group.ndim) if parallel else None
        if axis is not None:
            attrs["parallel"] = axis
        region = Region([e for _, _, e in self.inputs], body + [Op(yield_p, yields, [])])
        loc = next((op.loc for op in self.group.body if op.loc is not None), None)
        fused = Op(fused_p, [v for v, _, _ in self.inputs], results, [region], attrs, loc)
        return self.before + [fused]

    def read(self, v: Value) -> Value:
        """The element of `v` inside the loop."""
        if isinstance(v, Const):
            return v
        if v not in self.mapping:
            k = self.index.get(v)
            producer = self.region.ops[k] if k is not None else None
            if producer is not None and producer.prim.broadcasts:
                self.mapping[v] = self._broadcast(producer)
            else:
                self.mapping[v] = self._input(v, "array" if v.type.is_array else "scalar")
        return self.mapping[v]

    def _input(self, v: Value, kind: str) -> Value:
        for value, how, element in self.inputs:
            if value is v and how == kind:
                return element
        element = Value(v.type.element, v.hint)
        self.inputs.append((v, kind, element))
        return element

    def _broadcast(self, op: Op) -> Value:
        """g spread over x's shape, read as g itself (a number, or a view of g with the
        spread axis of length one) broadcast with x's shape."""
        g, x = op.operands[:2]
        for source in self._shape_sources(x):
            self._input(source, "shape")
        axis = op.attrs.get("axis")
        if axis is None or not g.type.is_array:
            return self._input(g, "array" if g.type.is_array else "scalar")
        view = Value(Type(g.type.kind, g.type.ndim + 1, g.type.bits), g.hint)
        self.before.append(Op(expand_dims_p, [g], [view], [], {"axis": axis}, op.loc))
        return self._input(view, "array")

    def _shape_sources(self, x: Value) -> list[Value]:
        """Arrays whose shapes broadcast to x's: the leaves of an elementwise x (so that x
        need not be stored for its shape), else x."""
        sources, todo = [], [x]
        while todo and len(sources) <= MAX_SHAPE_SOURCES:
            v = todo.pop()
            k = self.index.get(v)
            producer = self.region.ops[k] if k is not None else None
            if producer is not None and fusable_map(producer):
                todo.extend(w for w in reversed(producer.operands) if w.type.is_array)
            elif producer is not None and producer.prim.broadcasts:
                todo.append(producer.operands[1])
            elif v not in sources:
                sources.append(v)
        return sources if not todo else [x]

    def _read_outside(self, value: Value) -> bool:
        """Whether an op outside the group reads `value` itself: not a group that makes it
        again, nor a broadcast over its shape that only fused loops read."""
        if any(value in group.reads for group in self.groups if group is not self.group):
            return True  # a loop that makes a value of it again reads it
        for user in self.users.get(value, ()):
            group = self.member_of.get(user)
            if group is self.group or (group is not None and value in group.recomputed):
                continue
            if user.prim.broadcasts and user.operands[0] is not value and not any(
                    u not in self.member_of for u in self.users.get(user.result, ())):
                continue
            return True
        return False


def _parallel_axis(outputs, ndim: int):
    """The first axis whose iterations write distinct entries, run as the outermost loop
    (prange), or None: no result is summed over it in part (stores, sums that keep it, and
    whole sums, a reduction Numba's prange supports)."""
    for axis in range(ndim):
        if all(kind == "store" or axis not in rest[0] or rest[0] == tuple(range(ndim))
               for kind, *rest in outputs):
            return axis
    return None
