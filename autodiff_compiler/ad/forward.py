"""Forward mode: the tangent function JVP, one direction per sweep.

Each op is followed by its tangent: x_dot for every active value, computed by the primitive's
jvp rule (Griewank & Walther ch. 3: the tangent propagation v_dot = sum_k d phi/d u_k u_k_dot).
Control flow is kept as it is: an `if` yields its results' tangents too, a loop carries them.
No tape is needed; a tangent has its primal's type, so every array operation's rule applies
unchanged. One sweep gives one column of a Jacobian.

The transform accepts generated reverse-mode code too (tapes, adjoint buffers): tangents of
taped values go to tangent tapes. That is forward-over-reverse: the JVP of a gradient is a
Hessian-vector product.
"""

from __future__ import annotations

from ..analysis.activity import analyze
from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.core import Const, Function, Op, Region, Value, const, storage_names, walk_ops
from ..ir.names import Namer
from ..ir.types import Type, bits_attrs
from ..primitives.control import (
    checkpoint_alloc_p,
    checkpoint_load_p,
    checkpoint_restore_p,
    checkpoint_save_p,
    for_p,
    if_p,
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
from ..primitives.indexing import copy_p, dim_p, full_p, getitem_p, new_array_p, zeros_like_p
from ..primitives.registry import storage_node
from ..transforms.dce import dce

# ops whose tangent is handled by the transform itself rather than a rule
_STRUCTURAL = {"if", "for", "while", "yield", "return"}


class ForwardTransform:
    def __init__(self, fn: Function, wrt: list[int], outputs=()):
        self.fn = fn
        self.wrt = wrt
        self.activity = analyze(fn, wrt, outputs)
        self.written = {op.operands[0] for op in walk_ops(fn.body) if op.prim.writes}
        self.dots: dict[Value, Value] = {}
        self.storage = Namer(storage_names(fn) | {v.hint for v in fn.params})
        self.storage_dots: dict[str, str] = {}
        self.charge: Op | None = None  # the last tape budget charge (forward over reverse)

    def active(self, v) -> bool:
        return self.activity.active(v)

    @staticmethod
    def tangent_type(t: Type) -> Type:
        return Type("float", t.ndim, t.bits, t.weak)

    def dot(self, v):
        return self.dots.get(v)

    def zero(self, b: Builder, v: Value):
        """A zero tangent for v (an array of zeros shaped like v, for an array)."""
        if not v.type.is_array:
            return const(0.0)
        return self.zeros_shaped_like(b, v, v.hint + "_dot")

    def dot_or_zero(self, b: Builder, v):
        return self.dot(v) or self.zero(b, v)

    def storage_dot(self, name: str) -> str:
        if name not in self.storage_dots:
            self.storage_dots[name] = self.storage.fresh(name + "_dot")
        return self.storage_dots[name]

    def tape_dot_attrs(self, op: Op, **more) -> dict:
        """A tape op's attributes for the tape of tangents beside it (and its ragged table)."""
        attrs = dict(op.attrs, tape=self.storage_dot(op.attrs["tape"]), **more)
        if "rows" in attrs:
            attrs["rows"] = self.storage_dot(attrs["rows"])
        return attrs

    def storage_active(self, op: Op, key: str = "tape") -> bool:
        return self.activity.active(storage_node(op.attrs[key]))

    # --- the transform ---------------------------------------------------------------------
    def run(self, name: str, outputs=()) -> Function:
        """`outputs`: arrays the function writes whose tangents are passed in (kernels)."""
        seeds = [Value(self.tangent_type(p.type), p.hint + "_dot")
                 for p in [self.fn.params[k] for k in self.wrt] + list(outputs)]
        self.dots.update((p, d) for p, d in zip(outputs, seeds[len(self.wrt):]))
        body = Region(self.fn.params + seeds)
        b = Builder(body, None, fold=True)
        for k, seed in zip(self.wrt, seeds):
            if self.fn.params[k].type.is_float:
                self.dots[self.fn.params[k]] = seed
        self.transform_region(self.fn.body, b)
        outs = self.fn.body.ops[-1].operands
        b.op(return_p, *outs, *(self.dot_or_zero(b, v) for v in outs), result_types=[])
        names = self.fn.param_names + [s.hint for s in seeds]
        if self.fn.budgeted:  # the tape budget stays the last argument
            body.args.append(body.args.pop(len(self.fn.params) - 1))
            names.append(names.pop(len(self.fn.params) - 1))
        return dce(Function(name, body, self.fn.filename, None, names, self.fn.constants,
                            budgeted=self.fn.budgeted))

    def transform_region(self, region: Region, b: Builder) -> list:
        """Copy `region`'s ops with tangents into b's region; return the end op's operands."""
        for op in region.ops:
            if op.prim.terminator:
                return op.operands
            b.loc = op.loc
            if op.prim.forward is not None:  # writes, region ops, arrays, tapes
                op.prim.forward(self, op, b)
            else:
                b.append(op)
                self.apply_rule(op, b)
        return []

    def apply_rule(self, op: Op, b: Builder) -> None:
        if not op.results and op.operands and op.prim.differentiable and \
                self.active(op.operands[0]):
            # a statement writing into an active array, with no op_<name> method: dropping
            # it would lose the tangent of what it writes (print and assert carry none)
            raise UnsupportedOperationError(f"forward mode: '{op.prim.name}' writes into an "
                                            "array with a tangent and has no rule", op.loc)
        if not any(self.active(r) for r in op.results):
            return
        dots = [self.dot(v) if self.active(v) else None for v in op.operands]
        if all(d is None for d in dots):
            return
        if op.prim.jvp is None:
            raise UnsupportedOperationError(f"'{op.prim.name}' has no forward-mode rule", op.loc)
        for result, tangent in zip(op.results, op.prim.jvp(b, op, dots)):
            if tangent is not None and result in self.written:
                # a tangent the rule shares with another value (x_dot for x * 1.0) must not
                # see the writes into this array's tangent
                tangent = b.op(copy_p, tangent, hint=result.hint + "_dot").result
            if tangent is not None:
                if not isinstance(tangent, Const) and tangent.hint != result.hint + "_dot":
                    tangent.hint = result.hint + "_dot"
                self.dots[result] = tangent

    # --- structured control flow --------------------------------------------------------------
    def new_region(self, primal: Region, b: Builder, extra_args, yields_for):
        """Copy a nested region, its block args extended by `extra_args`; its yield gets the
        tangents of the yielded values at positions `yields_for`."""
        region = Region(primal.args + extra_args)
        inner = b.child(region)
        ends = self.transform_region(primal, inner)
        tangents = [self.dot_or_zero(inner, ends[j]) for j in yields_for]
        inner.op(yield_p, *ends, *tangents, result_types=[])
        return region

    def op_if(self, op: Op, b: Builder) -> None:
        active = [j for j, r in enumerate(op.results) if self.active(r)]
        regions = [self.new_region(r, b, [], active) for r in op.regions]
        dots = [Value(self.tangent_type(op.results[j].type), op.results[j].hint + "_dot")
                for j in active]
        b.append(Op(op.prim, op.operands, op.results + dots, regions, op.attrs, op.loc))
        self.dots.update((op.results[j], d) for j, d in zip(active, dots))

    def _loop(self, op: Op, b: Builder, carried_args, inits, body_index: int) -> None:
        active = [j for j, (a, r) in enumerate(zip(carried_args, op.results))
                  if self.active(a) or self.active(r)]
        arg_dots = {}
        for index, primal in enumerate(op.regions):
            args = primal.args[1:] if op.prim is for_p else primal.args
            extra = [Value(self.tangent_type(args[j].type), args[j].hint + "_dot") for j in active]
            arg_dots[index] = extra
            self.dots.update((args[j], d) for j, d in zip(active, extra))
        regions = []
        for index, primal in enumerate(op.regions):
            if index == body_index:
                regions.append(self.new_region(primal, b, arg_dots[index], active))
            else:  # the while condition: same values, no tangents to yield
                region = Region(primal.args + arg_dots[index])
                ends = self.transform_region(primal, b.child(region))
                b.child(region).op(yield_p, *ends, result_types=[])
                regions.append(region)
        starts = [self.dot_or_zero(b, inits[j]) for j in active]
        dots = [Value(self.tangent_type(op.results[j].type), op.results[j].hint + "_dot")
                for j in active]
        b.append(Op(op.prim, op.operands + starts, op.results + dots, regions, op.attrs, op.loc))
        self.dots.update((op.results[j], d) for j, d in zip(active, dots))

    def op_for(self, op: Op, b: Builder) -> None:
        self._loop(op, b, op.regions[0].args[1:], op.operands[3:], 0)

    def op_while(self, op: Op, b: Builder) -> None:
        self._loop(op, b, op.regions[1].args, op.operands, 1)

    # --- arrays ----------------------------------------------------------------------------------
    def zeros_shaped_like(self, b: Builder, array: Value, hint: str) -> Value:
        dims = [b(dim_p, array, attrs={"axis": k}) for k in range(array.type.ndim)]
        return b.op(new_array_p, *dims, attrs={"fill": 0.0, **bits_attrs(array.type)},
                    hint=hint).result

    def op_getitem(self, op: Op, b: Builder) -> None:
        b.append(op)
        array = op.operands[0]
        if self.active(op.results[0]) and self.dot(array) is not None:
            self.dots[op.results[0]] = b(getitem_p, self.dot(array), *op.operands[1:],
                                             hint=op.results[0].hint + "_dot")

    def _new_array(self, op: Op, b: Builder) -> None:
        b.append(op)
        result = op.results[0]
        if self.active(result):
            source = op.operands[0] if op.prim is zeros_like_p else result
            self.dots[result] = self.zeros_shaped_like(b, source, result.hint + "_dot")


    def op_copy(self, op: Op, b: Builder) -> None:
        b.append(op)
        source, result = op.operands[0], op.results[0]
        if not self.active(result):
            return
        hint = result.hint + "_dot"
        if self.dot(source) is not None:
            self.dots[result] = b.op(copy_p, self.dot(source), hint=hint).result
        else:  # a copy of a constant, made active by later writes
            self.dots[result] = self.zeros_shaped_like(b, source, hint)

    def op_full(self, op: Op, b: Builder) -> None:
        b.append(op)
        result = op.results[0]
        if self.active(result) and self.dot(op.operands[-1]) is not None:
            self.dots[result] = b.op(full_p, *op.operands[:-1], self.dot(op.operands[-1]),
                                         hint=result.hint + "_dot").result

    # --- tapes of generated reverse code (forward-over-reverse) ---------------------------------
    def op_tape_charge(self, op: Op, b: Builder) -> None:
        b.append(op)
        self.charge = op  # the tangent tapes of the loop's scalars are charged like it

    def op_tape_alloc(self, op: Op, b: Builder) -> None:
        b.append(op)
        if self.storage_active(op):
            attrs = self.tape_dot_attrs(op, kind="float")
            if self.charge is not None and not op.attrs.get("ndim"):  # array rows: at push
                row = dict(self.charge.attrs, row=8)
                b.append(Op(tape_charge_p, [op.operands[0]], [], [], row, op.loc))
            b.append(Op(op.prim, op.operands, [], [], attrs, op.loc))

    def op_tape_push(self, op: Op, b: Builder) -> None:
        b.append(op)
        if self.storage_active(op):
            value = self.dot_or_zero(b, op.operands[0])
            b.append(Op(op.prim, [value] * len(op.operands), [], [], self.tape_dot_attrs(op),
                        op.loc))

    def op_tape_load(self, op: Op, b: Builder) -> None:
        b.append(op)
        if self.storage_active(op):
            result = op.results[0]
            dot = Value(self.tangent_type(result.type), result.hint + "_dot")
            b.append(Op(op.prim, [], [dot], [], self.tape_dot_attrs(op), op.loc))
            self.dots[result] = dot

    def op_tape_grow(self, op: Op, b: Builder) -> None:
        tapes = op.attrs["tapes"]
        dots = [self.storage_dots[t] for t in tapes if t in self.storage_dots]
        b.append(Op(op.prim, op.operands, [], [], dict(op.attrs, tapes=tapes + dots), op.loc))


    def _refuse(self, op: Op, b: Builder) -> None:
        if self.storage_active(op, "name"):
            raise UnsupportedOperationError("forward mode through checkpointed loops is not "
                                            "supported", op.loc)
        b.append(op)


# forward-mode rules of the ops whose tangent needs the transform's state (those of writes
# are with their primitives, in primitives/indexing.py)
if_p.forward = ForwardTransform.op_if
for_p.forward = ForwardTransform.op_for
while_p.forward = ForwardTransform.op_while
getitem_p.forward = ForwardTransform.op_getitem
new_array_p.forward = zeros_like_p.forward = ForwardTransform._new_array
copy_p.forward = ForwardTransform.op_copy
full_p.forward = ForwardTransform.op_full
tape_charge_p.forward = ForwardTransform.op_tape_charge
tape_alloc_p.forward = ForwardTransform.op_tape_alloc
tape_push_p.forward = ForwardTransform.op_tape_push
tape_load_p.forward = ForwardTransform.op_tape_load
tape_grow_p.forward = tape_reserve_p.forward = ForwardTransform.op_tape_grow
for _checkpoint_op in (checkpoint_alloc_p, checkpoint_save_p, checkpoint_load_p,
                       checkpoint_restore_p):
    _checkpoint_op.forward = ForwardTransform._refuse


def forward_mode(fn: Function, wrt: list[int], name: str | None = None) -> Function:
    """The tangent function of `fn`: takes fn's arguments then one tangent per `wrt` argument;
    returns (outputs..., tangents...)."""
    return ForwardTransform(fn, wrt).run(name or fn.name + "_jvp")



def kernel_tangent(fn: Function, wrt: list[int], outputs, name: str | None = None) -> Function:
    """The tangent kernel: the kernel's arguments, the tangents of the `wrt` arrays, then the
    arrays receiving the tangents of its outputs."""
    transform = ForwardTransform(fn, wrt, outputs=outputs)
    return transform.run(name or fn.name + "_tangent", outputs)
