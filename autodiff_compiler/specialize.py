"""One user function's compiled code: an Artifact per (argument types, argnums, mode).

The compiler specialises on argument types, as Numba does, so each transform keeps its
artifacts here and compiles one the first time a combination is called. grad keeps one of
these per decorated function; the Jacobian transforms share one per function and jit
setting (jacobians.specializer).
"""

from __future__ import annotations

import inspect

from .arguments import prepare
from .ir.types import Type
from .pipeline import Artifact, compile, parse


class Specializations:
    """The parsed function and the artifacts compiled from it so far."""

    def __init__(self, fn, jit: bool = True, checkpoint=None, boundscheck: bool = False):
        self.parsed = parse(fn)
        self.fn = self.parsed.fn
        self.signature = inspect.signature(self.fn)
        self.param_names = list(self.signature.parameters)
        self.jit = jit
        self.checkpoint = checkpoint
        self.boundscheck = boundscheck
        self.artifacts: dict[tuple, Artifact] = {}
        self.last: Artifact | None = None

    def prepare(self, args, kwargs=None, argnums=()) -> tuple[list, list[Type]]:
        """(values, types) of a call's arguments; the `argnums` ones must be floats."""
        return prepare(self.signature, args, kwargs or {}, argnums)

    def artifact(self, types: list[Type], argnums, mode: str) -> Artifact:
        """The compiled code of one mode for these argument types (compiled once)."""
        key = (tuple(types), tuple(argnums), mode)
        if key not in self.artifacts:
            self.artifacts[key] = compile(self.parsed, types, list(argnums), mode,
                                          checkpoint=self.checkpoint, jit=self.jit,
                                          boundscheck=self.boundscheck)
        self.last = self.artifacts[key]
        return self.last
