"""Where primal values live when the reverse sweep reads them, and the forward sweep's tape.

A region that runs at most once per call (the function body, branches outside loops) keeps
its values in plain variables: the reverse sweep reads them directly. A region that runs many
times (a loop body and everything inside one) records each value the reverse sweep reads in
a typed array, one per value, indexed by a counter of that region's executions: pushed after
the value is defined, popped at the start of the region's reverse (LIFO, Griewank & Walther
ch. 4). Arrays are allocated once, before the outermost loop, sized by its trip count (times
those of the counted loops in between when their bounds are known before it); any other tape
of a region nested in two or more loops doubles when full. Only values the reverse sweep
actually asks for are taped (Tapenade's to-be-recorded analysis); cheap values whose inputs
are available are recomputed instead.

Arrays are taped in one of two layouts, chosen per value by analysis.shapes:
- Rows (when every push of a run of the outermost loop provably has one shape): the tape
  has one more axis, (capacity,) + the value's shape. A push copies the value into the row
  (tape[k] = value); a load reads the row back as a view (rows are never written after
  their push). The row shape is taken from the first push: the tape is allocated before
  the loop with empty rows and reallocated with the value's shape at the first push of a
  run (counter 0). A later push of another shape would raise a ValueError naming the line;
  the analysis proves it cannot happen.
- Ragged (when the shape may change between pushes: `x[i:]`, `L[i, :i]`, windows of varying
  length): two arrays. `tape` is a flat 1-D buffer of the value's dtype holding the pushed
  values one after the other, in C order; it grows (at least doubling) inside the push
  when the next value does not fit. `rows` is an int64 table of shape (capacity, ndim + 2):
  row k = (start, end, *shape) of push k in the flat buffer (start = the previous push's
  end, 0 for the first of a run). A load is tape[start:end].reshape(shape), a view. The
  table grows with the region's counter like any row tape; bytes in use after k pushes:
  8 * (ndim + 2) * capacity for the table plus itemsize * rows[k - 1, 1] for the buffer.
An array that the region writes into after making it is pushed at the end of the region's
run, so the row holds the state its last write leaves, as the reverse sweep expects. Tapes
handed back by the caller (reuse) have the value's rank plus one (rows), or are the flat
buffer and the table (ragged); the first push replaces row tapes whose rows have another
shape, and a ragged buffer is kept whatever its length (pushes grow it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis.shapes import LoopShapes
from ..errors import SourceLocation
from ..ir.builder import Builder
from ..ir.clone import clone_op
from ..ir.core import Function, Op, Region, Value, const
from ..ir.names import Namer
from ..ir.types import I64, Type, bits_attrs
from ..primitives.arith import add_p, max2_p, mul_p, trip_count_p
from ..primitives.control import (
    checkpoint_alloc_p,
    counter_advance_p,
    counter_init_p,
    counter_retreat_p,
    for_p,
    return_p,
    tape_alloc_p,
    tape_charge_p,
    tape_grow_p,
    tape_load_p,
    tape_push_p,
    tape_reserve_p,
    while_p,
    yield_p,
)
from ..primitives.indexing import new_array_p
from .checkpoint import save_ops

# initial length of a tape under a while loop (doubles when full)
WHILE_TAPE_START = 64


@dataclass(eq=False)
class RegionInfo:
    region: Region
    owner: Op | None  # the op owning the region (None for the function body)
    parent: Region | None  # region holding the owner op
    once: bool
    outer_loop: Op | None = None  # outermost loop enclosing the region (its parent is once)
    nearest_loop: Op | None = None  # innermost loop enclosing the region
    loops_deep: int = 0
    counter: str | None = None
    taped: list[Value] = field(default_factory=list)  # values pushed, in definition order


class TapePlan:
    """Classifies regions and records which values get a tape."""

    def __init__(self, fn: Function, reuse: bool = False, budget: bool = False):
        self.fn = fn
        # reuse: tapes allocated in the function body come in as arguments (last call's
        # arrays, reused when big enough) and go out with the results
        self.reuse = reuse
        self.tape_inputs: dict[str, Value] = {}
        self.info: dict[Region, RegionInfo] = {}
        self.def_region: dict[Value, Region] = {}
        self.op_region: dict[Op, Region] = {}
        self.tape_names: dict[Value, str] = {}
        self.at_end: set[Value] = set()  # arrays pushed at the end of their region's run
        self.where: dict[Value, str] = {}  # array value -> "file:line" for shape errors
        self.rows: dict[Value, str] = {}  # ragged array value -> its (start, end, shape) table
        self._shapes: LoopShapes | None = None
        self.lifts: dict[Op, list[tuple[Value, Value, Region]]] = {}
        self.lifted: dict[Value, Value] = {}
        self.trip_counts: dict[Op, Value] = {}
        self.checkpoints: dict[Op, object] = {}  # loop -> ad.checkpoint.Checkpoint
        self.fusions: dict[Op, object] = {}  # loop -> ad.fusion.Fusion
        self.namer = Namer({p.hint for p in fn.params})
        # with `charge`, every allocation is first charged against the tape budget, the last
        # argument (`budget`, made at the first charge), in a running total (`total`)
        self.charge = budget
        self.budget: Value | None = None
        self.total: str | None = None
        self._classify()

    def _classify(self) -> None:
        body = self.fn.body
        self.info[body] = RegionInfo(body, None, None, True)
        todo = [body]
        while todo:
            region = todo.pop()
            parent = self.info[region]
            for v in region.args:
                self.def_region[v] = region
            for op in region.ops:
                self.op_region[op] = region
                for r in op.results:
                    self.def_region[r] = region
                for sub in op.regions:
                    is_loop = op.prim.loop
                    info = RegionInfo(sub, op, region, parent.once and not is_loop)
                    info.outer_loop = parent.outer_loop or (op if is_loop else None)
                    info.nearest_loop = op if is_loop else parent.nearest_loop
                    info.loops_deep = parent.loops_deep + is_loop
                    self.info[sub] = info
                    todo.append(sub)

    def region_of(self, value) -> RegionInfo | None:
        region = self.def_region.get(value)
        return None if region is None else self.info[region]

    def tape(self, value: Value, loc=None, at_end: bool = False) -> str:
        """Name of `value`'s tape, creating it (and its region's counter) on first use. An
        array `at_end` is pushed when its region's run ends (it is written after it is made);
        `loc` names the line for the error raised when its shape changes between pushes."""
        if value not in self.tape_names:
            info = self.region_of(value)
            if info.counter is None:
                loop = info.outer_loop
                label = loop.regions[0].args[0].hint if loop.prim is for_p else "while"
                info.counter = self.namer.fresh("k_" + label)
            self.tape_names[value] = self.namer.fresh("tape_" + value.hint)
            if value.type.is_array:
                self.where[value] = f"{loc.filename}:{loc.line}" if loc else self.fn.name
                if at_end:
                    self.at_end.add(value)
                if self.shape_may_vary(value):
                    self.rows[value] = self.namer.fresh(self.tape_names[value] + "_rows")
            info.taped.append(value)
        return self.tape_names[value]

    def shape_may_vary(self, array: Value) -> bool:
        """Whether `array`, made in a loop, may have another shape at another push (then it
        gets a ragged tape, or a ragged checkpoint); the analysis runs once, when first asked."""
        if self._shapes is None:
            self._shapes = LoopShapes(self.fn)
        return self._shapes.shape_may_vary(array)

    def _counted_name(self, value: Value) -> str:
        """The array its region's counter indexes: the tape, or a ragged tape's table."""
        return self.rows.get(value) or self.tape_names[value]

    def _array_attrs(self, value: Value) -> dict:
        """Attributes of a taped array's ops: its rank, and a ragged tape's table."""
        attrs = {"ndim": value.type.ndim}
        if value in self.rows:
            attrs["rows"] = self.rows[value]
        return attrs

    def lift(self, value: Value) -> Value:
        """Serve a value of a branch that runs at most once: the forward `if` yields it as an
        extra result (zero, or an empty array, from the other branch), up to the function
        body."""
        chain, current = [], value
        while True:  # one extra result per enclosing `if`, outwards (no recursion)
            info = self.region_of(current)
            if info.parent is None or current in self.lifted:
                top = self.lifted.get(current, current)
                break
            chain.append(current)
            result = Value(current.type, current.hint)
            self.lifts.setdefault(info.owner, []).append((current, result, info.region))
            self.def_region[result] = info.parent
            current = result
        for lifted in chain:
            self.lifted[lifted] = top
        return top

    def trip_count(self, loop: Op) -> Value:
        """The number of iterations a `while` ran: a value the forward sweep counts."""
        if loop not in self.trip_counts:
            count = Value(I64, "n_iter")
            self.trip_counts[loop] = count
            self.def_region[count] = self.op_region[loop]
        return self.trip_counts[loop]

    # --- forward sweep -----------------------------------------------------------------------
    def forward_sweep(self, region: Region, record: bool = True) -> list[Op]:
        """Copies of `region`'s ops (the primal computation) with tape ops inserted (none
        when not `record`: a checkpointed loop's first run)."""
        info = self.info[region]
        ops: list[Op] = []
        taped = {v for v in info.taped} if record else set()
        if record and self._growable(info) and info.nearest_loop.prim is while_p:
            ops.append(self._growth(_tape_op(tape_grow_p, [], self._tape_set(info), None),
                                    info))
        ops.extend(self._push(v, info) for v in region.args if v in taped)
        at_end = {k for k in taped if k in self.at_end}  # pushed before the yield instead
        taped -= at_end
        for op in region.ops:
            if op.prim is return_p:
                continue
            checkpoint = self.checkpoints.get(op)
            if info.once and op.regions and op.prim.loop:
                if checkpoint is not None:
                    ops.extend(self._charge_checkpoints(checkpoint))
                ops.extend(self._allocate(op, checkpoint, self.reuse and info.parent is None))
            if record and op.prim is for_p and not info.once:
                ops.extend(self._reserve(op))
            if op.prim is yield_p and record and info.counter is not None and info.taped:
                ops.extend(self._push(v, info) for v in info.taped if v in at_end)
                ops.append(_tape_op(counter_advance_p, [], {"counter": info.counter}, None))
            inner_record = record and checkpoint is None
            regions = [Region(sub.args, self.forward_sweep(sub, inner_record))
                       for sub in op.regions]
            if checkpoint is not None:
                regions[0].ops[:0] = save_ops(checkpoint)
            lifts = self.lifts.get(op, [])
            for primal, copied in zip(op.regions, regions):
                end = copied.ops.pop()
                served = [v if where is primal else _placeholder(copied, v)
                          for v, _, where in lifts]
                copied.ops.append(Op(end.prim, end.operands + served, [], [], end.attrs,
                                     end.loc))
            results = op.results + [r for _, r, _ in lifts]
            operands = op.operands
            if op in self.fusions:
                operands, results = _fuse(operands, results, regions[0], self.fusions[op])
            if op in self.trip_counts:
                operands, results = _count_iterations(operands, results, regions,
                                                      self.trip_counts[op])
            ops.append(Op(op.prim, operands, results, regions, op.attrs, op.loc))
            ops.extend(self._push(r, info) for r in results if r in taped)
        return ops

    def _growable(self, info: RegionInfo) -> bool:
        """Tapes sized at the outer loop may be too small: nested loops whose trip counts
        are not known before the outer loop starts, or a while."""
        return bool(info.taped) and self._inner_loops(info) is None

    def _inner_loops(self, info: RegionInfo) -> list[Op] | None:
        """The counted loops between `info`'s outer loop and its region, when the outer loop
        is counted too and all their bounds are defined before it: the region then runs at
        most the product of their trip counts times the outer one's, and its tapes can be
        allocated at that size once (no check for room inside the loops). None otherwise."""
        outer = info.outer_loop
        if outer.prim is not for_p:
            return None
        loops: list[Op] = []
        while info.owner is not outer:
            if info.owner.prim is while_p:
                return None
            if info.owner.prim is for_p:
                if not all(self._defined_before(v, outer) for v in info.owner.operands[:3]):
                    return None
                loops.append(info.owner)
            info = self.info[info.parent]
        return loops

    def _defined_before(self, value: Value, loop: Op) -> bool:
        """Whether `value` is a constant, a parameter or defined in a region enclosing
        `loop` (so before it, the IR being SSA)."""
        region = self.def_region.get(value)
        if region is None:
            return True
        enclosing = self.info[self.op_region[loop]]
        while enclosing is not None:
            if enclosing.region is region:
                return True
            enclosing = None if enclosing.parent is None else self.info[enclosing.parent]
        return False

    def _tape_set(self, info: RegionInfo) -> dict:
        return {"tapes": [self._counted_name(v) for v in info.taped], "counter": info.counter}

    def _reserve(self, loop: Op) -> list[Op]:
        """Before a nested counted loop: room on the tapes of the regions it runs (their
        pushes then need no check)."""
        infos = [i for i in self.info.values() if i.nearest_loop is loop and self._growable(i)]
        if not infos:
            return []
        region = Region()
        count = Builder(region, loop.loc)(trip_count_p, *loop.operands[:3], hint="n_inner")
        for info in infos:
            reserve = _tape_op(tape_reserve_p, [count], self._tape_set(info), loop.loc)
            region.ops.append(self._growth(reserve, info))
        return region.ops

    def _push(self, value: Value, info: RegionInfo) -> Op:
        attrs = {"tape": self.tape_names[value], "counter": info.counter}
        if not value.type.is_array:
            return _tape_op(tape_push_p, [value], attrs, None)
        attrs.update(self._array_attrs(value), where=self.where[value], hint=value.hint)
        # the push reads the array twice (its shape, then its values): as two operands, so
        # the emitter gives it a name instead of inlining its expression
        push = _tape_op(tape_push_p, [value, value], attrs, None)
        return self._budgeted(push, info.outer_loop, self._kind(info.outer_loop))

    def tapes_under(self, loop: Op) -> bool:
        return any(i.outer_loop is loop and i.taped for i in self.info.values())

    def _allocate(self, loop: Op, checkpoint=None, reuse: bool = False) -> list[Op]:
        """Tape arrays and counters for every region under `loop`, placed before it (sized
        for one segment when the loop is checkpointed)."""
        infos = [i for i in self.info.values() if i.outer_loop is loop and i.taped]
        if not infos:
            return []
        region = Region()
        b = Builder(region, loop.loc)
        if checkpoint is not None:
            capacity = checkpoint.every
        elif loop.prim is for_p:
            capacity = b(trip_count_p, *loop.operands[:3],
                         hint="n_" + loop.regions[0].args[0].hint)
        else:
            capacity = const(WHILE_TAPE_START)
        doubled = None
        for info in infos:
            inner = self._inner_loops(info)
            if inner is None:
                doubled = doubled or b(max2_p, b(mul_p, capacity, const(2)), const(16))
                size = doubled if info.loops_deep > 1 else capacity
            else:
                size = capacity
                for inner_loop in reversed(inner):
                    hint = "n_" + inner_loop.regions[0].args[0].hint
                    size = b(mul_p, size, b(trip_count_p, *inner_loop.operands[:3]), hint=hint)
            region.ops.append(_tape_op(counter_init_p, [], {"counter": info.counter}, loop.loc))
            row = sum(v.type.itemsize for v in info.taped if not v.type.is_array)
            row += sum(8 * (v.type.ndim + 2) for v in info.taped if v in self.rows)
            if row and self.charge:  # array tapes are charged at their first push (ragged
                # ones: their tables of (start, end, *shape) here, their buffers as they grow)
                charge = _tape_op(tape_charge_p, [size], {"row": row}, None)
                region.ops.append(self._budgeted(charge, loop, self._kind(loop)))
            for value in info.taped:
                region.ops.append(self._alloc_op(value, size, reuse, loop.loc))
        return region.ops

    def _alloc_op(self, value: Value, size: Value, reuse: bool, loc) -> Op:
        """The allocation of `value`'s tape; with `reuse`, the last call's arrays come in as
        arguments (a row tape: rank + 1; a ragged one: its flat buffer and its table)."""
        name = self.tape_names[value]
        attrs = {"tape": name, "kind": value.type.kind, **bits_attrs(value.type),
                 **self._array_attrs(value)}
        operands = [size]
        if reuse:
            if value in self.rows:
                inputs = {name: value.type.with_ndim(1), self.rows[value]: Type("int", 2)}
            else:
                inputs = {name: value.type.with_ndim(value.type.ndim + 1)}
            for stored, tape_type in inputs.items():
                self.tape_inputs[stored] = Value(tape_type, stored + "_in")
                operands.append(self.tape_inputs[stored])
            attrs["reuse"] = True
        return _tape_op(tape_alloc_p, operands, attrs, loc)
    # --- the tape budget -----------------------------------------------------------------------
    def _kind(self, loop: Op) -> str:
        """How the tapes of outer loop `loop` could shrink (errors.TapeMemoryError.kind)."""
        if loop in self.checkpoints:
            return "checkpointed"
        if loop.prim is not for_p:
            return "grows"
        return "counted" if self.op_region[loop] is self.fn.body else "branch"

    def _budgeted(self, op: Op, loop: Op, kind: str) -> Op:
        """`op` charging what it allocates against the budget (a parameter, named in its
        attributes), when the function takes one (the CPU gradients)."""
        if not self.charge:
            return op
        if self.budget is None:
            self.budget = Value(I64, self.namer.fresh("tape_budget"))
            self.total = self.namer.fresh("tape_total")
        loc = loop.loc or SourceLocation(self.fn.filename, 0, 0, self.fn.name)
        attrs = dict(op.attrs, budget=self.budget.hint, total=self.total, loop=loc, kind=kind)
        return Op(op.prim, op.operands, op.results, op.regions, attrs, op.loc)

    def _growth(self, op: Op, info: RegionInfo) -> Op:
        """A growth of `info`'s tapes, charged: named after their outer loop when that is one
        checkpointing shrinks, else after the loop making them grow."""
        kind = self._kind(info.outer_loop)
        loop = info.nearest_loop if kind == "grows" else info.outer_loop
        return self._budgeted(op, loop, kind)

    def _charge_checkpoints(self, ck) -> list[Op]:
        """A checkpoint's setup, each of its arrays charged before it is allocated."""
        ops = []
        for op in ck.setup:
            if op.prim is checkpoint_alloc_p and self.charge:
                count, template = op.operands
                if template.type.is_array:
                    charge = _tape_op(tape_charge_p, [count, template], {}, None)
                else:
                    charge = _tape_op(tape_charge_p, [count],
                                      {"row": template.type.itemsize}, None)
                ops.append(self._budgeted(charge, ck.loop, "checkpointed"))
            ops.append(op)
        return ops

    def budget_prelude(self) -> list[Op]:
        """Ops starting the forward sweep: the running total at 0 (when charged at all)."""
        if self.budget is None:
            return []
        return [_tape_op(counter_init_p, [], {"counter": self.total}, None)]

    def loads(self, info: RegionInfo, wanted: list[tuple[Value, Value]]) -> list[Op]:
        """The start of a region's reverse: step its counter back, read its taped values."""
        ops = [_tape_op(counter_retreat_p, [], {"counter": info.counter}, None)]
        for primal, copy in wanted:
            attrs = {"tape": self.tape_names[primal], "counter": info.counter}
            if primal in self.rows:
                attrs.update(self._array_attrs(primal))
            ops.append(Op(tape_load_p, [], [copy], [], attrs, None))
        return ops


def _placeholder(region: Region, value: Value):
    """What a branch yields for a value the other branch defines: zero, or an empty array."""
    if not value.type.is_array:
        return const(0, value.type)
    empty = Builder(region).op(new_array_p, *[const(0)] * value.type.ndim,
                               attrs={"fill": None, "kind": value.type.kind,
                                      **bits_attrs(value.type)}, hint=value.hint)
    return empty.result


def _fuse(operands, results, body: Region, fusion):
    """Run a loop's reverse inside it: append a copy of the reverse body to the forward body,
    carrying the adjoint totals of the outside values it reads (starting from zero)."""
    index, *adjoint_args = fusion.region.args
    accumulators = [Value(t.type, t.hint) for t in fusion.totals]
    mapping = {index: body.args[0]}
    mapping.update((a, v) for a, v in zip(adjoint_args, fusion.carried + accumulators))
    reverse_ops = [clone_op(o, mapping) for o in fusion.region.ops[:-1]]
    ends = [mapping.get(v, v) for v in fusion.region.ops[-1].operands[len(fusion.carried):]]
    end = body.ops[-1]
    body.args = body.args + accumulators
    body.ops[-1:] = reverse_ops + [Op(end.prim, end.operands + ends, [], [], end.attrs, end.loc)]
    zeros = [const(0.0) for _ in accumulators]
    return operands + zeros, results + fusion.totals


def _count_iterations(operands, results, regions, count: Value):
    """Add an iteration counter to a forward `while`: carried from 0, +1 per iteration."""
    before, body = regions
    before.args = before.args + [Value(I64, "n_iter")]
    counter = Value(I64, "n_iter")
    body.args = body.args + [counter]
    end = body.ops[-1]
    increment = Builder(Region(), end.loc).op(add_p, counter, const(1), hint="n_iter")
    body.ops[-1:] = [increment, Op(end.prim, end.operands + increment.results, [], [],
                                   end.attrs, end.loc)]
    return operands + [const(0)], results + [count]


def _tape_op(prim, operands, attrs, loc) -> Op:
    return Op(prim, list(operands), [], [], attrs, loc)

