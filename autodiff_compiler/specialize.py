"""One user function's compiled code: an Artifact per (argument types, argnums, mode).

The compiler specialises on argument types, as Numba does, so each transform keeps its
artifacts here and compiles one the first time a combination is called. grad keeps one of
these per decorated function; the Jacobian transforms share one per function and jit
setting (jacobians.specializer).
"""

from __future__ import annotations

import threading

from .arguments import leaf_positions, normalize_argnums, prepare
from .callables import Callee, signature
from .ir.types import Type
from .pipeline import Artifact, compile, parse


class Specializations:
    """The parsed function and the artifacts compiled from it so far. `f` may be a partial
    or a bound method (callables.py): `offset` leading arguments are then supplied here."""

    def __init__(self, f, jit: bool = True, checkpoint=None, boundscheck: bool = False,
                 parallel: bool = False):
        self.callee = Callee(f)
        self.parsed = parse(self.callee.fn, method=self.callee.is_method)
        self.fn = self.parsed.fn
        attributes = self.parsed.self_attributes
        params = [a.id for a in self.parsed.node.args.posonlyargs + self.parsed.node.args.args]
        self.signature = signature(self.fn, params[:len(attributes)]
                                   if self.callee.is_method else None)
        self.offset = len(attributes) + len(self.callee.args)
        self.param_names = list(self.signature.parameters)[self.offset:]
        self.jit = jit
        self.checkpoint = checkpoint
        self.boundscheck = boundscheck
        self.parallel = parallel
        self.artifacts: dict[tuple, Artifact] = {}
        self.last: Artifact | None = None
        self._lock = threading.Lock()

    def argnums(self, argnums) -> tuple[list[int], bool]:
        """(positions among all the arguments, a single int given?) of the user's argnums,
        which count the parameters after the bound ones."""
        nums, single = normalize_argnums(argnums, len(self.param_names))
        return [k + self.offset for k in nums], single

    def prepare(self, args, kwargs=None, argnums=(), trees: bool = False
                ) -> tuple[list, list[Type]]:
        """(values, types) of a call's arguments, bound ones first; the `argnums` ones (all
        arguments' positions) must be floats. trees: tuple and list arguments are taken
        (arguments.type_of), else refused."""
        leading = self.callee.leading(self.parsed.self_attributes)
        kwargs = {**self.callee.kwargs, **(kwargs or {})}
        return prepare(self.signature, leading + tuple(args), kwargs, argnums, trees)

    def artifact(self, types: list[Type], argnums, mode: str, fuse: bool | None = None,
                 checkpoint="default") -> Artifact:
        """The compiled code of one mode for these argument types (compiled once); its
        parameters are the entries of tuple and list arguments (arguments.flatten), and so
        are the differentiated ones. fuse: whole-array chains in loop nests (None: as the
        pipeline decides; False for code that is read again by the frontend, nested.py).
        With `checkpoint`, checkpointed so instead of as the Specializations say."""
        checkpoint = self.checkpoint if checkpoint == "default" else checkpoint
        key = (tuple(types), tuple(argnums), mode, checkpoint) + (
            (fuse,) if fuse is not None else ())
        artifact = self.artifacts.get(key)
        if artifact is None:
            with self._lock:  # threads (a threaded scheduler) compile it once
                artifact = self.artifacts.get(key)
                if artifact is None:
                    artifact = compile(self.parsed, types, leaf_positions(types, argnums), mode,
                                       checkpoint=checkpoint, jit=self.jit,
                                       boundscheck=self.boundscheck, fuse=fuse,
                                       parallel=self.parallel)
                    self.artifacts[key] = artifact
        self.last = artifact
        return artifact
