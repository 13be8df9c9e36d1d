"""Value types of the IR: float, int and bool scalars, and arrays of them.

Types decide activity (only float values carry derivatives) and the dtype of tape arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("bool", "int", "float")


@dataclass(frozen=True)
class Type:
    kind: str  # "bool" | "int" | "float"
    ndim: int = 0

    @property
    def is_array(self) -> bool:
        return self.ndim > 0

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def element(self) -> Type:
        return Type(self.kind)

    def __str__(self) -> str:
        name = {"bool": "bool", "int": "i64", "float": "f64"}[self.kind]
        return f"{name}[{','.join(':' * self.ndim)}]" if self.ndim else name


F64 = Type("float")
I64 = Type("int")
BOOL = Type("bool")


def promote(*types: Type) -> Type:
    """NumPy-style promotion of scalar kinds: bool < int < float; arrays win over scalars."""
    kind = max((t.kind for t in types), key=KINDS.index)
    return Type(kind, max(t.ndim for t in types))


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
