"""Value types of the IR: float, int and bool scalars, and arrays of them.

Types decide activity (only float values carry derivatives) and the dtype of tape arrays.
Floats are float64 or float32 (`bits`); a float scalar is `weak` when it is a Python float
(a literal, `float(x)`, arithmetic of Python numbers): under NumPy 2's promotion rules (NEP
50) a weak scalar, like a Python int, takes the precision of the arrays and NumPy scalars it
meets, so `2.0 * x` of a float32 `x` stays float32. `promote` is the one place that rule
lives; every primitive's result precision is derived from it (primitives.registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("bool", "int", "float")


@dataclass(frozen=True)
class Type:
    kind: str  # "bool" | "int" | "float"
    ndim: int = 0
    bits: int = 64  # of a float: 64 or 32 (ints are int64)
    # a Python float (NEP 50's weak scalar): compiled as float64, promotes nothing
    weak: bool = field(default=False, compare=False)

    @property
    def is_array(self) -> bool:
        return self.ndim > 0

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_float32(self) -> bool:
        return self.kind == "float" and self.bits == 32

    @property
    def element(self) -> Type:
        return Type(self.kind, 0, self.bits)

    @property
    def dtype(self) -> str:
        """NumPy's name of the element dtype: float64, float32, int64 or bool."""
        return {"bool": "bool", "int": "int64", "float": f"float{self.bits}"}[self.kind]

    @property
    def itemsize(self) -> int:
        return 1 if self.kind == "bool" else 4 if self.is_float32 else 8

    def with_ndim(self, ndim: int) -> Type:
        """This element type at rank `ndim` (a scalar of it stays weak only as a scalar)."""
        return Type(self.kind, ndim, self.bits, self.weak and ndim == 0)

    def __str__(self) -> str:
        name = {"bool": "bool", "int": "i64", "float": f"f{self.bits}"}[self.kind]
        return f"{name}[{','.join(':' * self.ndim)}]" if self.ndim else name


F64 = Type("float", weak=True)  # a Python float
F32 = Type("float", bits=32)
I64 = Type("int")
BOOL = Type("bool")


def float_bits(types) -> int | None:
    """The float precision NumPy 2 gives an operation of values of these types (NEP 50), or
    None when all of them are weak (Python numbers and bools: the result is a Python float,
    or a float64 array when it is one). Floats that are arrays or NumPy scalars count with
    their width; int arrays (int64) count as 64 bits, as np.result_type(int64, float32) is
    float64; int scalars are Python ints (weak)."""
    widths = [t.bits if t.kind == "float" else 64 for t in types
              if (t.kind == "float" and not t.weak) or (t.kind == "int" and t.ndim)]
    return max(widths) if widths else None


def float_result(types, ndim: int) -> Type:
    """The float type of rank `ndim` that an operation of these operand types yields."""
    bits = float_bits(types)
    return Type("float", ndim, bits or 64, bits is None and ndim == 0)


def promote(*types: Type) -> Type:
    """NumPy-style promotion: bool < int < float; arrays win over scalars; floats by NEP 50
    (float_bits)."""
    kind = max((t.kind for t in types), key=KINDS.index)
    ndim = max(t.ndim for t in types)
    return float_result(types, ndim) if kind == "float" else Type(kind, ndim)


def fits(value: Type, slot: Type) -> bool:
    """Whether a value of type `value` may flow into a place of type `slot` (a yield into an
    op's result): the same type, or float scalars of any precision (a weak one into a
    float32 place is cast by generated code, transforms.precision; a float32 one into a
    float64 place is exact)."""
    return value == slot or (value.kind == slot.kind == "float" and value.ndim == slot.ndim == 0)


def dtype_expr(kind: str, bits: int = 64) -> str:
    """The NumPy dtype of `kind` (and float `bits`) as generated code names it."""
    return {"bool": "np.bool_", "int": "np.int64", "float": f"np.float{bits}"}[kind]


@dataclass(frozen=True)
class Tree:
    """A tuple or list argument of the differentiated function: the types of its items
    (Types, or Trees when nested). Its entries become one parameter each, in order."""

    kind: str  # "tuple" | "list"
    items: tuple

    @property
    def leaves(self) -> list[Type]:
        """The entries' types, flattened depth first."""
        return [leaf for item in self.items for leaf in leaf_types(item)]

    @property
    def is_float(self) -> bool:  # every entry carries derivatives
        return bool(self.items) and all(t.is_float for t in self.leaves)

    def __str__(self) -> str:
        inner = ", ".join(str(t) for t in self.items)
        return f"({inner}{',' * (len(self.items) == 1)})" if self.kind == "tuple" \
            else f"[{inner}]"


def leaf_types(t) -> list[Type]:
    """One Type's own list, a Tree's entries."""
    return t.leaves if isinstance(t, Tree) else [t]


def bits_attrs(t: Type) -> dict:
    """The attribute an op making a float array or tape of type `t` carries: {"bits": 32}
    for float32 (none for float64, the default)."""
    return {"bits": 32} if t.is_float32 else {}
