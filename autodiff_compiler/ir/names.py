"""Deterministic, readable names for values: the source name, then name_1, name_2, ..."""

from __future__ import annotations

import keyword
import re

from .core import Value

RESERVED = {"np", "math", "numba", "rt", "cuda", "range", "len", "float", "int", "bool", "abs", "min",
            "max", "pow"}


class Namer:
    def __init__(self, reserved=()):
        self.taken: set[str] = set(RESERVED) | set(reserved)
        self.names: dict[Value, str] = {}

    def fresh(self, hint: str) -> str:
        base = re.sub(r"\W", "_", hint) or "t"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = "v_" + base
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def name(self, value) -> str:
        key = value
        if key not in self.names:
            self.names[key] = self.fresh(value.hint)
        return self.names[key]

    def alias(self, value, name: str) -> None:
        self.names[value] = name
