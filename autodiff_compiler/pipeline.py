"""The compiler's stages in order, for one function specialised to its argument types.

source -> fence -> SSA (frontend) -> adjoint (ad) -> dead code removed (transforms) ->
Python source (codegen) -> module file and function (backend).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import __version__, primitives  # noqa: F401  (registers the primitives)
from .ad.forward import forward_mode
from .ad.reverse import reverse_mode
from .analysis.aliasing import check_views
from .backend.cache import import_module, write_module
from .backend.jit import Compiled
from .codegen.emit import emit_module
from .errors import GradientInputError
from .frontend.lower import lower_function
from .frontend.reader import read_function
from .frontend.source import ParsedFunction
from .ir.core import Function
from .ir.printer import format_function
from .ir.types import Type
from .ir.verifier import verify
from .transforms.cse import cse
from .transforms.views import remake_views_after_writes

_DTYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_}


@dataclass
class Artifact:
    """Everything the compiler made for one specialisation."""

    primal: Function
    adjoint: Function
    source: str
    path: object = None
    compiled: Compiled | None = None
    tapes: list | None = None  # the last call's tape arrays, handed back to the next call

    def run(self, *args) -> tuple:
        """Call the compiled derivative; tapes that come back are kept for the next call
        (a call while another holds them gets fresh ones)."""
        _check_unshared(self.primal.copied_params, args[:len(self.primal.params)])
        kinds = self.adjoint.tape_kinds
        if not kinds:
            return self.compiled(*args)
        tapes, self.tapes = self.tapes, None
        if tapes is None:  # empty tapes of each one's type (arrays: rows of the value's rank)
            tapes = [np.empty((0,) * t.ndim, dtype=_DTYPES[t.kind]) for t in kinds]
        results = self.compiled(*args, *tapes)
        self.tapes = list(results[-len(kinds):])
        return results[:-len(kinds)]

    @property
    def ir(self) -> str:
        return format_function(self.adjoint)

    @property
    def primal_ir(self) -> str:
        return format_function(self.primal)


def _check_unshared(written: list[int], args) -> None:
    """Refuse an array argument the function writes into that shares memory with another
    argument: NumPy would show the write through the other one; the compiled code, which
    writes into a copy, would not."""
    for k in written:
        for j, other in enumerate(args):
            if j != k and isinstance(other, np.ndarray) and np.shares_memory(args[k], other):
                raise GradientInputError(
                    f"arguments {k} and {j} share memory and the function writes into argument "
                    f"{k}: NumPy would show the write through argument {j}; pass a copy "
                    "(np.copy) of one of them")


def parse(fn) -> ParsedFunction:
    """Read and fence `fn`, then remove its jumps out of loops (frontend.jumps)."""
    return read_function(fn)


def transform(parsed: ParsedFunction, types: list[Type], argnums: list[int],
              mode: str = "grad", checkpoint=None) -> Artifact:
    """Source to generated source, without touching the disk or Numba. See `derivative` for
    the modes."""
    primal = cse(remake_views_after_writes(lower_function(parsed, types)))
    verify(primal)
    check_views(primal)
    adjoint = derivative(primal, argnums, mode, checkpoint)
    verify(adjoint)
    origin = f"{parsed.filename}:{parsed.first_line} ({parsed.node.name})"
    source = emit_module([adjoint], origin, __version__)
    return Artifact(primal, adjoint, source)


def derivative(primal: Function, argnums: list[int], mode: str, checkpoint=None) -> Function:
    """The derivative function of `primal` for one mode:
    grad     (args) -> (out, grads...)                      reverse, seeded with 1
    vjp      (args, out cotangents) -> (outs..., grads...)   reverse
    jvp      (args, tangents) -> (outs..., tangents...)      forward, one direction
    hvp      (args, tangents) -> (out, grads..., out tangent, grad tangents...)
                                                            forward over reverse"""
    if mode in ("grad", "vjp"):
        return reverse_mode(primal, argnums, seeded=mode == "vjp", checkpoint=checkpoint,
                            reuse_tapes=True)
    if mode == "jvp":
        return forward_mode(primal, argnums)
    if mode == "hvp":  # tangents do not go through checkpoints
        adjoint = reverse_mode(primal, argnums)
        verify(adjoint)
        return forward_mode(adjoint, argnums, name=f"{primal.name}_hvp")
    raise ValueError(f"unknown derivative mode {mode!r}")


def build(parsed: ParsedFunction, types: list[Type], argnums: list[int], jit: bool,
          mode: str = "grad", checkpoint=None) -> Artifact:
    artifact = transform(parsed, types, argnums, mode, checkpoint)
    artifact.path = write_module(artifact.source, artifact.adjoint.name, __version__)
    module = import_module(artifact.path)
    for name, array in artifact.adjoint.constants.items():
        setattr(module, name, array)
    artifact.compiled = Compiled(getattr(module, artifact.adjoint.name), artifact.path, jit)
    return artifact
