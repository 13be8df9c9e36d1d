"""Which arrays made in a loop keep one shape for a whole run of the outermost loop.

The forward sweep tapes an array that the reverse sweep reads back from a loop. When every
value it pushes during one run of the outermost loop around it has one shape, the tape is an
array of rows of that shape (fast: a push is one copy, a load a view); otherwise it needs a
ragged tape (ad.tape: a flat buffer plus each push's offsets and shape). This analysis
answers conservatively: an array may vary unless the rules below prove it keeps its shape.

Each array gets a shape signature, a token standing for "the shape of ..." (None: may vary);
equal signatures mean provably equal shapes.
- Values defined outside every loop (parameters, constants too) have one value and one
  shape: their own signature, unless the rules below give them a shared one.
- An op whose array operands have signatures and whose shaping numbers keep their values
  (the primitive's `shaped_by` trait: by default every int or bool operand; the bounds of a
  slice but not its indices) gives its result one shape every time: a signature of its
  own, or, for a primitive with the `broadcast_shape` trait (the result has the broadcast
  shape of its operands), the operands' signature when they all share one; for one whose
  shape is its int operands (`dims_shape`: np.zeros, np.full, reshape), the signature of
  the array whose axis lengths (`x.shape[k]`, `len(x)`) they are, in order.
- A number keeps its value when made outside every loop, or by a pure op from numbers that
  keep theirs (an array operand counts by its shape for a `shape_only` op such as `len`, by
  its contents otherwise: kept only when made outside every loop and never written). Loop
  indices and carried numbers do not.
- An array a loop carries is assumed to keep its initial value's signature; the assumption
  holds when the value each iteration yields has that signature too (by induction over the
  iterations), else the carried array may vary. Assumptions that fail are dropped and the
  signatures recomputed until none fails (a fixed point: the dropped set only grows).
- An array an `if` yields has both branches' signature when they share one; when they do
  not, a signature of its own if the condition keeps its value (the same branch runs every
  time), else it may vary.
Floats never shape an array in the IR (the frontend makes counts ints first), so float
numbers matter only through the ints computed from them.
"""

from __future__ import annotations

from ..ir.core import Const, Function, Op, Region, Value, walk_ops
from ..ir.types import I64
from ..primitives.control import for_p, if_p, while_p


class LoopShapes:
    """Shape signatures of the arrays, and which numbers may change value, inside loops."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.in_loop: set[Value] = set()  # values defined in a region some loop runs
        self.written = {op.operands[0] for op in walk_ops(fn.body) if op.prim.writes}
        self.dropped: set[Value] = set()  # carried arrays whose shape may change
        self.signature: dict[Value, object] = {}
        self.value_varies: set[Value] = set()
        self.dims: dict[Value, tuple] = {}  # a length: (the array's signature, its axis)
        self._collect(fn.body)
        while self._sweep():
            pass

    def shape_may_vary(self, array: Value) -> bool:
        """Whether the array may have another shape at another run of its region."""
        return self._signature(array) is None

    def _collect(self, body: Region) -> None:
        todo = [(body, False)]
        while todo:
            region, looping = todo.pop()
            if looping:
                self.in_loop.update(region.args)
            for op in region.ops:
                if looping:
                    self.in_loop.update(op.results)
                todo.extend((sub, looping or op.prim.loop) for sub in op.regions)

    def _sweep(self) -> bool:
        """Signatures of every op in program order; whether an assumption failed."""
        self.signature.clear()
        self.value_varies.clear()
        self.dims.clear()
        failed = False
        stack: list = [iter(self.fn.body.ops)]
        while stack:
            top = stack.pop()
            if isinstance(top, Op):  # its regions are done
                failed |= self._finish(top)
                continue
            op = next(top, None)
            if op is None:
                continue
            stack.append(top)
            if not op.regions:
                self._simple(op)
                continue
            self._enter(op)
            stack.append(op)
            stack.extend(iter(sub.ops) for sub in reversed(op.regions))
        return failed

    # --- ops -------------------------------------------------------------------------------
    def _enter(self, op: Op) -> None:
        """Before a region op's regions: its arguments (loops: as assumed)."""
        if op.prim is for_p:
            body = op.regions[0]
            self.value_varies.add(body.args[0])
            self._assume(op, op.operands[3:], [body.args[1:]])
        elif op.prim is while_p:
            self._assume(op, op.operands, [r.args for r in op.regions])
        elif op.prim is not if_p:  # any other region op: assume the worst
            for sub in op.regions:
                self._mark_all(sub.args)
            self._mark_all(op.results)

    def _assume(self, loop: Op, inits, arg_lists) -> None:
        for j, init in enumerate(inits):
            sig = None if loop.results[j] in self.dropped else self._signature(init)
            for value in [args[j] for args in arg_lists] + [loop.results[j]]:
                self._set(value, sig, varies=True)

    def _finish(self, op: Op) -> bool:
        """After a region op's regions: an `if`'s results, a loop's assumptions checked."""
        if op.prim is if_p:
            self._branches(op)
            return False
        if not op.prim.loop:
            return False
        body = op.regions[-1]
        failed = False
        for result, yielded in zip(op.results, body.ops[-1].operands):
            if result.type.is_array and result not in self.dropped and \
                    self._signature(yielded) != self._signature(result):
                self.dropped.add(result)
                failed = True
        return failed

    def _branches(self, op: Op) -> None:
        then, other = (region.ops[-1].operands for region in op.regions)
        switches = self._value_varies(op.operands[0], op)
        for result, a, b in zip(op.results, then, other):
            sig_a, sig_b = self._signature(a), self._signature(b)
            if sig_a != sig_b:
                sig_a = None if switches or sig_b is None else ("if", result)
            self._set(result, sig_a, varies=True)

    def _simple(self, op: Op) -> None:
        arrays = [self._signature(o) for o in op.operands if o.type.is_array]
        shaped = any(self._value_varies(op.operands[k], op) for k in _shaped_by(op))
        sig = None
        if None not in arrays and not shaped:
            sig = arrays[0] if op.prim.broadcast_shape and arrays and len(set(arrays)) == 1 \
                else self._shape_of_dims(op) or ("op", op)
        varies = not op.prim.pure or any(self._value_varies(o, op) for o in op.operands)
        for r in op.results:
            self._set(r, sig, varies)
        if op.prim.shape_only and len(arrays) == 1 and not op.results[0].type.is_array:
            self.dims[op.results[0]] = (arrays[0], op.attrs.get("axis", 0))

    def _shape_of_dims(self, op: Op):
        """The signature of array `a` for an op shaped by the lengths of `a`'s axes in order
        (np.zeros_like(a) written as np.zeros((a.shape[0], a.shape[1])))."""
        if not op.prim.dims_shape:
            return None
        dims = [self.dims.get(o) for o in op.operands if o.type == I64]
        sigs = {d[0] if d else None for d in dims}
        axes = [d[1] for d in dims if d]
        rank = op.results[0].type.ndim
        if len(sigs) == 1 and None not in sigs and axes == list(range(rank)):
            return next(iter(sigs))
        return None

    # --- the facts -----------------------------------------------------------------------
    def _set(self, value: Value, sig, varies: bool) -> None:
        if value not in self.in_loop:  # made once: one shape, one value
            sig, varies = sig or ("value", value), False
        if value.type.is_array:
            self.signature[value] = sig
        if varies:
            self.value_varies.add(value)

    def _mark_all(self, values) -> None:
        for value in values:
            self._set(value, None, varies=True)

    def _signature(self, value: Value):
        if value not in self.signature and value not in self.in_loop:  # a parameter
            return ("value", value)
        return self.signature.get(value)

    def _value_varies(self, value: Value, reader: Op) -> bool:
        if isinstance(value, Const):
            return False
        if not value.type.is_array:
            return value in self.value_varies
        if reader.prim.shape_only:
            return self._signature(value) is None
        return value in self.in_loop or value in self.written


def _shaped_by(op: Op) -> list[int]:
    """Positions of the operands whose values (not only shapes) shape `op`'s result."""
    if op.prim.shaped_by is not None:
        return list(op.prim.shaped_by(op))
    return [k for k, o in enumerate(op.operands)
            if not o.type.is_array and o.type.kind in ("int", "bool")]
