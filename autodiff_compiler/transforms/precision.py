"""Float32 code as NumPy 2 computes it: Python numbers cast where they meet float32, one
precision per non-elementwise op, and what cannot compute in float32 run in float64.

NumPy 2 (NEP 50) computes `2.0 * x` of a float32 `x` in float32: a Python float or int is
"weak" and takes the precision of what it meets (ir.types.promote). Numba types the same
expression float64 (it promotes float32 with a float64 literal or an int64), and gives a
variable that is float32 on one path and a float literal on another the type float64. So
wherever the IR says float32, a weak operand of an elementwise op and a weak value flowing
into a float32 place (a loop's initial value, a yield) is cast here: a literal becomes a
float32 constant (`np.float32(2.0)`), any other value a cast op. An op that is not
elementwise (a matrix product, a runtime loop) computes in one precision: a float32 operand
of one whose result is float64 is cast to float64 first, as NumPy casts it, and a Python
float it spreads into float32 (a seed of ones) is cast to float32.

A primitive whose code cannot compute in float32 (`float32=False`: runtime loops written
for float64, LAPACK) runs in float64 where float32 meets it: its float32 operands are cast
to float64 and its float32 results computed as float64 and cast back, so the value is
float32, as np.linalg gives for float32 input. A primitive whose results take the precision
that running it gives (`typed_when_run`: the user's custom_vjp/custom_jvp rules, typed by
Numba or NumPy) gets its operands as they are and its float32 results cast to float32.

Runs on derived code (after AD), last before loop fusion (transforms/fuse.py): the casts go
around each such op of the primal and of the adjoint or tangent code alike, so no cast is
differentiated here (the adjoint of the widening cast is the narrowing one, and the adjoint
ops of the primitive get the same casts). Code without float32 comes back unchanged.
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.clone import clone_function
from ..ir.core import Const, Function, Op, Region, Value, const, walk_ops
from ..ir.types import F32, Type
from ..primitives.arith import cast_float_p
from .dce import dce


def float32_code(fn: Function) -> Function:
    """A copy of `fn` with the casts float32 code needs (above); `fn` itself when it has
    no float32 value."""
    if not any(_has_float32(op) for op in walk_ops(fn.body)):
        return fn
    fn = clone_function(fn)
    widened = _Widened(_never_changed(fn))
    todo = [(fn.body, widened.seen)]
    while todo:
        region, widened.seen = todo.pop()
        region.ops = _cast_region(region, widened, todo)
    return dce(fn) if widened.reused else fn


def _has_float32(op: Op) -> bool:
    return any(v.type.is_float32 for v in op.operands + op.results) or any(
        a.type.is_float32 for region in op.regions for a in region.args)


def _never_changed(fn: Function) -> set[Value]:
    """Values whose contents stay as defined: every op reading them is pure, owns no region,
    and makes no view of them (a view, a carried loop value or a write could change them)."""
    users: dict[Value, list[Op]] = {}
    for op in walk_ops(fn.body):
        for v in op.operands:
            users.setdefault(v, []).append(op)
    return {v for v, ops in users.items() if all(
        op.prim.pure and not op.prim.region and not op.prim.terminator
        and not (op.operands[0] is v and op.prim.is_view(op)) for op in ops)}


class _Widened:
    """The float64 twin of each float32 value that has one (a widening cast, or the result
    of an op that computes in float64) defined before the op at hand: in its region or in
    one around it, before the op that owns this one. Only values that never change share
    a twin."""

    def __init__(self, never_changed: set[Value]):
        self.never_changed = never_changed
        self.seen: dict[Value, Value] = {}
        self.reused = False

    def inside(self) -> dict[Value, Value]:
        """The twins a region of the op at hand sees: those defined so far."""
        return dict(self.seen)

    def widen(self, b: Builder, v: Value) -> Value:
        """A float32 `v` as float64 (an array) or a double (a number); `v` itself otherwise."""
        if not v.type.is_float32:
            return v
        if isinstance(v, Const):
            return const(v.value, Type("float"))
        if v in self.seen:
            self.reused = True  # the narrowing cast of an op's result may now be unread
            return self.seen[v]
        wide = b(cast_float_p, v, hint=v.hint)
        self.remember(v, wide)
        return wide

    def remember(self, v: Value, wide: Value) -> None:
        if v in self.never_changed:
            self.seen[v] = wide


def _cast_region(region: Region, widened: _Widened, todo: list) -> list[Op]:
    """The ops of `region` with their casts; its ops' regions (with the twins they see)
    go on `todo`."""
    ops: list[Op] = []
    for op in region.ops:
        b = Builder(Region(), op.loc)
        narrowed: list[Op] = []
        if op.prim.typed_when_run or not op.prim.float32:
            if not op.prim.typed_when_run:
                op.operands = [widened.widen(b, v) for v in op.operands]
            narrowed = _narrow_results(op)
            if not op.prim.typed_when_run:
                for cast in narrowed:
                    widened.remember(cast.result, cast.operands[0])
        else:
            targets = _targets(op)
            if targets is not None:
                op.operands = [_cast(b, v, t) for v, t in zip(op.operands, targets)]
        ops.extend(b.region.ops)
        ops.append(op)
        ops.extend(narrowed)
        todo.extend((sub, widened.inside()) for sub in op.regions)
        for sub, slots in _yield_slots(op):
            last = sub.ops[-1]
            tail = Builder(Region(), last.loc)
            last.operands = [_cast(tail, v, t) for v, t in zip(last.operands, slots)]
            sub.ops[-1:] = tail.region.ops + [last]
    return ops


def _narrow_results(op: Op) -> list[Op]:
    """Casts to float32 of `op`'s float32 results, which `op` now defines as float64 values
    (of unknown precision for `typed_when_run`): each cast defines the original result, so
    the ops reading it stay as they are."""
    casts = []
    for k, result in enumerate(op.results):
        if result.type.is_float32:
            wide = Value(Type("float", result.type.ndim), result.hint)
            op.results[k] = wide
            casts.append(Op(cast_float_p, [wide], [result], attrs={"bits": 32}, loc=op.loc))
    return casts


def _targets(op: Op) -> list[Type | None] | None:
    """The type each operand of `op` must have (None: as it is), or None for all."""
    floats = [r.type for r in op.results if r.type.is_float]
    if op.prim.loop and op.results and not op.prim.elementwise:  # initial values
        inits = [None] * (len(op.operands) - len(op.results))
        return inits + [r.type for r in op.results]
    if not floats or op.prim.shape_only or op.prim.fixed_precision or op.regions:
        return None
    if op.prim.elementwise:
        return [F32 if floats[0].is_float32 else None] * len(op.operands)
    if floats[0].is_float32:  # a Python float spread or filled into float32 (ints are
        return [F32 if v.type.weak else None for v in op.operands]  # indices and sizes)
    return [Type("float", v.type.ndim) if v.type.is_float32 else None  # one precision:
            for v in op.operands]  # float32 arrays up to float64


def _yield_slots(op: Op):
    """(region, types of the places its yield fills) for the regions of `op` whose yielded
    values become its results or carried values."""
    if not op.regions or op.prim.elementwise or not op.results:
        return
    for k, sub in enumerate(op.regions):
        if k == 0 and op.prim.condition_first:
            continue
        if sub.ops and len(sub.ops[-1].operands) == len(op.results):
            yield sub, [r.type for r in op.results]


def _cast(b: Builder, v: Value, target: Type | None) -> Value:
    """`v` as `target` requires: a weak number (a Python float or int) into float32, a
    float32 array into float64; otherwise `v` itself."""
    if target is None or not target.is_float:
        return v
    if target.is_float32:
        if v.type.is_array or not (v.type.weak or v.type.kind == "int"):
            return v
        if isinstance(v, Const):
            return const(float(v.value), F32)
        return b(cast_float_p, v, attrs={"bits": 32}, hint=v.hint)
    if v.type.is_float32 and v.type.is_array:
        return b(cast_float_p, v, hint=v.hint)
    return v
