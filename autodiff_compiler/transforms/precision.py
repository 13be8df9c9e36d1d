"""Float32 code as NumPy 2 computes it: Python numbers cast where they meet float32, one
precision per non-elementwise op, and what cannot compute in float32 refused.

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
for float64, LAPACK, user rules Numba types itself) is refused at the user's line when one
of its operands or results is float32, before any code is generated.

Runs on derived code, last before loop fusion (transforms/fuse.py); code without float32
comes back unchanged.
"""

from __future__ import annotations

from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.clone import clone_function
from ..ir.core import Const, Function, Op, Region, Value, const, walk_ops
from ..ir.types import F32, Type
from ..primitives.arith import cast_float_p


def float32_code(fn: Function) -> Function:
    """A copy of `fn` with the casts float32 code needs (above); `fn` itself when it has
    no float32 value. Refuses primitives that do not compute in float32."""
    if not any(_has_float32(op) for op in walk_ops(fn.body)):
        return fn
    fn = clone_function(fn)
    todo = [fn.body]
    while todo:
        region = todo.pop()
        region.ops = _cast_region(region)
        for op in region.ops:
            todo.extend(op.regions)
    return fn


def _has_float32(op: Op) -> bool:
    return any(v.type.is_float32 for v in op.operands + op.results) or any(
        a.type.is_float32 for region in op.regions for a in region.args)


def _cast_region(region: Region) -> list[Op]:
    ops: list[Op] = []
    for op in region.ops:
        b = Builder(Region(), op.loc)
        targets = _targets(op)
        if targets is not None:
            op.operands = [_cast(b, v, t) for v, t in zip(op.operands, targets)]
        if not op.prim.float32 and _has_float32(op):
            raise UnsupportedOperationError(
                f"'{op.prim.name}' does not compute in float32 (np.linalg's routines and "
                "custom_vjp/custom_jvp rules run in float64 here): cast its operands with "
                "x.astype(np.float64), or pass float64 arrays", op.loc)
        ops.extend(b.region.ops)
        ops.append(op)
        for sub, slots in _yield_slots(op):
            last = sub.ops[-1]
            tail = Builder(Region(), last.loc)
            last.operands = [_cast(tail, v, t) for v, t in zip(last.operands, slots)]
            sub.ops[-1:] = tail.region.ops + [last]
    return ops


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
