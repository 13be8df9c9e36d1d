"""The bytes a derivative's tapes take for given arguments, computed without running its loops.

The generated reverse code charges every allocation of its tapes (ad.tape: `tape_charge`
ops before the arrays of a loop, a check at an array tape's first push, `tape_grow` and
`tape_reserve` when a tape grows) against the tape budget. This module builds a second, small
function from those charges: for each one it copies the ops its sizes depend on — trip
counts, bounds and shapes computed before the loop, and, for the rows of an array tape, the
ops making the pushed value in the loop's first iteration (block arguments taken as the
loop's lower bound and initial values, a state restored from a checkpoint as the state the
loop starts from) — and adds the bytes up. Loops themselves never run.

A charge whose size depends on what a loop or a branch computes (a bound found by an earlier
loop, a value made by an inner loop) cannot be sized that way: it is listed as `unknown`
(the generated code still checks it when it allocates). Tapes that grow while their loop runs
(`while` loops, nests whose inner bounds change) count at their first capacity and are listed
as `growing`.

`SITES` maps each primitive that charges to a function giving its sizes: a new kind of tape
adds one entry there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builder import Builder
from ..ir.clone import clone_op
from ..ir.core import Const, Function, Op, Region, Value, const, walk_ops
from ..ir.types import I64
from ..primitives.arith import gt_p
from ..primitives.control import (
    checkpoint_alloc_p,
    checkpoint_load_p,
    counter_init_p,
    for_p,
    if_p,
    return_p,
    tape_alloc_p,
    tape_charge_p,
    tape_grow_p,
    tape_push_p,
    tape_reserve_p,
    tape_value_p,
    while_p,
    yield_p,
)
from ..primitives.indexing import zeros_like_p

NO_LIMIT = 2 ** 62  # the budget to call the sizing function with (it checks none)


class _Unknown(Exception):
    """A size that depends on a value only a loop, a branch or an effect makes."""


@dataclass(frozen=True)
class Charge:
    """What one allocation takes: `count` rows of `row` bytes each, or of `template.nbytes`
    (an array value, computed in its loop's first iteration when `first_iteration`)."""

    op: Op
    count: Value
    row: int = 0
    template: Value | None = None
    first_iteration: bool = False


@dataclass
class SizePlan:
    """The sizing function and what it leaves out (source lines of the loops)."""

    function: Function | None
    growing: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)


def _charge(op: Op, capacities: dict) -> Charge:
    """A `tape_charge`: rows of `row` bytes, or of the array operand's bytes."""
    if len(op.operands) == 2:
        return Charge(op, op.operands[0], template=op.operands[1])
    return Charge(op, op.operands[0], row=op.attrs["row"])


def _first_push(op: Op, capacities: dict) -> Charge:
    """An array tape's first push: its capacity times the bytes of the pushed value."""
    return Charge(op, capacities[op.attrs["tape"]], template=op.operands[0],
                  first_iteration=True)


# primitive -> its charge; None: a tape growing as its loop runs
SITES = {tape_charge_p: _charge, tape_push_p: _first_push, tape_grow_p: None,
         tape_reserve_p: None}


def size_plan(fn: Function) -> SizePlan:
    """The sizing function of derived function `fn` (one that charges a budget): same
    arguments (call it with the budget NO_LIMIT), returns the bytes of the tapes one call
    allocates before any of them grows."""
    if not fn.budgeted:
        return SizePlan(None)
    capacities = {op.attrs["tape"]: op.operands[0] for op in walk_ops(fn.body)
                  if op.prim is tape_alloc_p}
    plan, slicer, pushed = SizePlan(None), _Slicer(fn), set()
    total = None
    for op in walk_ops(fn.body):
        if op.prim not in SITES or not op.attrs.get("budget"):
            continue
        total = op.attrs["total"]
        line = op.attrs["loop"].line
        rule = SITES[op.prim]
        if rule is None:
            _note(plan.growing, line)
            continue
        if op.prim is tape_push_p and op.attrs.get("rows"):  # a ragged buffer grows
            _note(plan.growing, line)
            continue
        if op.prim is tape_push_p:
            if op.attrs["tape"] in pushed:
                continue
            pushed.add(op.attrs["tape"])
        try:
            slicer.charge(rule(op, capacities))
        except _Unknown:
            _note(plan.unknown, line)
    if total is None:
        return plan
    result = Value(I64, "nbytes")
    ops = [Op(counter_init_p, [], [], [], {"counter": total}, None)] + slicer.region.ops
    ops.append(Op(tape_value_p, [], [result], [], {"tape": total}, None))
    ops.append(Op(return_p, [result], [], [], {}, None))
    plan.function = Function(fn.name + "_tape_bytes", Region(list(fn.params), ops),
                             fn.filename, None, list(fn.param_names), fn.constants)
    return plan


def _note(lines: list[int], line: int) -> None:
    if line not in lines:
        lines.append(line)


class _Slicer:
    """Copies of the ops a size depends on, into one straight-line region."""

    def __init__(self, fn: Function):
        self.producer = {r: op for op in walk_ops(fn.body) for r in op.results}
        # block argument -> its value in the first iteration; a state restored from a
        # checkpoint -> the state the loop starts from (the same shapes)
        self.first = {}
        saved = {op.attrs["name"]: op.operands[1] for op in walk_ops(fn.body)
                 if op.prim is checkpoint_alloc_p}
        for op in walk_ops(fn.body):
            if op.prim is checkpoint_load_p:
                self.first[op.results[0]] = saved[op.attrs["name"]]
            if op.prim is for_p:
                body = op.regions[0]
                self.first[body.args[0]] = op.operands[0]
                self.first.update(zip(body.args[1:], op.operands[3:]))
            elif op.prim is while_p:
                for region in op.regions:
                    self.first.update(zip(region.args, op.operands))
        self.params = set(fn.params)
        self.region = Region()
        self.done: dict[Value, Value] = {}

    def charge(self, charge: Charge) -> None:
        """Append the charge, with the ops its sizes need (raises _Unknown, appending
        nothing, when a size cannot be computed before the loops run)."""
        count = self.value(charge.count, self.done, self.region)
        operands = [count]
        target, done = self.region, self.done
        if charge.first_iteration:  # the loop's body runs only if it has a first iteration
            target, done = Region(), dict(self.done)
        if charge.template is not None:
            operands.append(self.value(charge.template, done, target))
        attrs = dict(charge.op.attrs)
        if charge.row:
            attrs["row"] = charge.row
        target.ops.append(Op(tape_charge_p, operands, [], [], attrs, None))
        if charge.first_iteration:
            b = Builder(self.region)
            target.ops.append(Op(yield_p, [], [], [], {}, None))
            otherwise = Region([], [Op(yield_p, [], [], [], {}, None)])
            b.op(if_p, b(gt_p, count, const(0)), regions=[target, otherwise], result_types=[])

    def value(self, wanted: Value, done: dict, target: Region) -> Value:
        """`wanted` in the sizing function: its ops copied into `target` (after what `done`
        already maps), walked with an explicit stack."""
        staged: list[Op] = []
        stack = [wanted]
        local = dict(done)
        while stack:
            v = stack[-1]
            if v in local or isinstance(v, Const) or v in self.params:
                stack.pop()
                continue
            inputs = self._inputs(v)
            missing = [d for d in inputs
                       if d not in local and not isinstance(d, Const) and d not in self.params]
            if missing:
                if any(m in stack for m in missing):
                    raise _Unknown  # carried around a loop: not a first-iteration value
                stack.extend(missing)
                continue
            stack.pop()
            if v in self.first:
                local[v] = local.get(self.first[v], self.first[v])
            else:
                copy = clone_op(self.producer[v], local)
                staged.append(copy)
        target.ops.extend(staged)
        done.update(local)
        return local.get(wanted, wanted)

    def _inputs(self, v: Value) -> list[Value]:
        if v in self.first:
            return [self.first[v]]
        op = self.producer.get(v)
        if op is None or op.regions or not _makes_only(op):
            raise _Unknown
        return list(op.operands)


def _makes_only(op: Op) -> bool:
    """Whether running `op` again only makes its results (no effect on other values)."""
    return op.prim.pure or op.prim.fresh_array or op.prim is zeros_like_p
