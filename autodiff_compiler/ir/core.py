"""Structured SSA: Function -> Region -> Op, with block arguments instead of phi nodes.

The shape follows MLIR's scf dialect and JAX's jaxprs: control flow stays structured
(`if` with two regions, `for` with a body whose arguments are the induction variable and the
carried values, `while` with a condition region and a body), so that the reverse sweep of a
region is again a region and the emitted Python is almost a print of the IR.

Values are defined exactly once (an op result or a region argument) and compared by identity.
Array values are references: ops with effects (`setitem`, `index_add`, tape pushes) mutate the
array they name, and the printer and passes treat such ops as statements that stay in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import BOOL, F64, I64, Type


class Value:
    """An SSA value: defined once, used by any number of ops."""

    __slots__ = ("hint", "type")

    def __init__(self, type: Type, hint: str = "t"):
        self.type = type
        self.hint = hint

    def __repr__(self) -> str:
        return f"%{self.hint}:{self.type}"


class Const(Value):
    """A literal: needs no defining op, prints as its value."""

    __slots__ = ("value",)

    def __init__(self, value, type: Type):
        super().__init__(type, "const")
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def const(value, type: Type | None = None) -> Const:
    """A literal of `type` (by default that of the Python value: bool, int or float)."""
    if type is None:
        type = BOOL if isinstance(value, bool) else I64 if isinstance(value, int) else F64
    value = {"float": float, "int": int, "bool": bool}[type.kind](value)
    return Const(value, type)


@dataclass(eq=False)
class Op:
    """One operation: a primitive applied to operands, defining results, owning regions."""

    prim: Any  # primitives.registry.Primitive
    operands: list[Value]
    results: list[Value]
    regions: list[Region] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    loc: Any = None  # errors.SourceLocation of the source construct, or None

    @property
    def result(self) -> Value:
        assert len(self.results) == 1, self.prim.name
        return self.results[0]


@dataclass(eq=False)
class Region:
    """A block of ops with block arguments; nested regions end with a `yield` op."""

    args: list[Value] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)

    @property
    def terminator(self) -> Op | None:
        return self.ops[-1] if self.ops else None


@dataclass(eq=False)
class Function:
    """A function: parameters are the body's block arguments; the body ends with `return`."""

    name: str
    body: Region
    filename: str = "<generated>"
    docstring: str | None = None
    param_names: list[str] = field(default_factory=list)
    constants: dict = field(default_factory=dict)  # module-level name -> array read as constant
    # types of the tapes passed in last and returned last (ad.reverse, reuse_tapes)
    tape_kinds: list = field(default_factory=list)
    copied_params: list = field(default_factory=list)  # array parameters copied on entry
    budgeted: bool = False  # takes the tape budget in bytes as its last argument (ad.tape)

    @property
    def params(self) -> list[Value]:
        return self.body.args


def walk_ops(region: Region):
    """Yield every op under `region`, pre-order, without recursion."""
    stack = [iter(region.ops)]
    while stack:
        op = next(stack[-1], None)
        if op is None:
            stack.pop()
            continue
        yield op
        for sub in reversed(op.regions):
            stack.append(iter(sub.ops))


def users(region: Region) -> dict:
    """Value -> the ops under `region` that read it (in walk order)."""
    readers: dict = {}
    for op in walk_ops(region):
        for v in op.operands:
            readers.setdefault(v, []).append(op)
    return readers


def walk_regions(region: Region):
    """Yield (region, parent_op) for `region` (parent None) and every nested region."""
    todo = [(region, None)]
    while todo:
        reg, parent = todo.pop()
        yield reg, parent
        for op in reversed(reg.ops):
            for sub in reversed(op.regions):
                todo.append((sub, op))


def storage_names(fn: Function) -> set[str]:
    """Names the IR fixes in attributes (tapes, counters, constants): values must avoid them."""
    names = set(fn.constants)
    for op in walk_ops(fn.body):
        for key in ("tape", "rows", "counter", "name"):
            if key in op.attrs:
                names.add(op.attrs[key])
        names.update(op.attrs.get("tapes", ()))
    return names
