"""Data-parallel derivatives of a sum on Dask: the gradient of a sum over rows is the sum of
the chunks' gradients.

    value, g = value_and_grad_sum(loss, argnums=0)(w, X, y)

`loss(w, X_chunk, y_chunk)` returns one chunk's share of the total (a sum over its rows).
Dask arrays are split along axis 0 (all with the same chunks along it); numbers and NumPy
arrays are passed whole to every chunk. Each chunk's derivative runs on a worker; the
results are added by a tree reduction inside the Dask graph (fan-in 8), and only the total
comes back, as NumPy values.

Each worker compiles once per transform, not per chunk: the per-chunk task receives one
pickled operation (the loss, the options, the source text: pickling.py) shared by all the
chunks, and the worker keeps what it compiled under the operation's token; Numba's cache
makes later processes load machine code instead of compiling. Before any work is sent the
client checks the chunks and compiles the derivative's source for the arguments' types
(no Numba, no data), so a loss that does not return a float, an argnums entry that is not a
float or chunks that disagree are reported at once. Needs the `dask` extra:
`pip install "autodiff_compiler[dask]"`.
"""

from __future__ import annotations

import uuid

import numpy as np

from .arguments import type_of
from .backend.cache import set_cache_dir
from .errors import GradientInputError
from .ir.types import Type
from .pickling import reducer
from .pipeline import compile as compile_source
from .specialize import Specializations

_FAN_IN = 8
_WORKER: dict = {}  # token -> Specializations, in each worker process
_KINDS = {"f": "float", "i": "int", "u": "int", "b": "bool"}


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError("autodiff_compiler.dask needs Dask: pip install "
                          "'autodiff_compiler[dask]' (dask[array] and distributed)") from exc
    return dask, da


class ChunkOperation:
    """The derivative of one chunk, as a worker runs it (pickles as loss + options)."""

    def __init__(self, loss, kind: str, argnums, jit: bool, cache_dir, token: str):
        self.loss, self.kind, self.argnums = loss, kind, argnums
        self.jit, self.cache_dir, self.token = jit, cache_dir, token

    def __reduce__(self):
        return reducer(ChunkOperation, self.loss,
                       (self.kind, self.argnums, self.jit, self.cache_dir, self.token), {})

    def specializations(self) -> Specializations:
        spec = _WORKER.get(self.token)
        if spec is None:
            if self.cache_dir is not None:
                set_cache_dir(self.cache_dir)
            spec = _WORKER[self.token] = Specializations(self.loss, self.jit)
        return spec

    def __call__(self, *args):
        spec = self.specializations()
        nums, _ = spec.argnums(self.argnums)
        if self.kind == "hvp":
            *args, tangents = args
            values, types = spec.prepare(args, argnums=nums)
            results = spec.artifact(types, nums, "hvp").call(*values, *tangents)
            return tuple(np.asarray(v, dtype=np.float64) for v in results.gradient_tangents)
        values, types = spec.prepare(args, argnums=nums)
        results = spec.artifact(types, nums, "grad").call(*values)
        value = results.outputs[0]
        if np.ndim(value) != 0:
            raise GradientInputError(f"the loss must return a float (its chunk's share of the "
                                     f"sum); it returned an array of shape {np.shape(value)}")
        return (float(value),) + tuple(np.asarray(g, dtype=np.float64)
                                       for g in results.gradients)


def _apply(operation, *args):
    return operation(*args)


def _add(*parts):
    """The sum of chunk results (tuples of floats and arrays, entry by entry)."""
    return tuple(sum(entries[1:], entries[0]) for entries in zip(*parts))


class SumTransform:
    """What value_and_grad_sum, grad_sum and hvp_sum return."""

    def __init__(self, loss, kind: str, argnums=0, *, jit=True, cache_dir=None):
        self.loss, self.kind, self.argnums = loss, kind, argnums
        self.jit, self.cache_dir = jit, cache_dir
        self.spec = Specializations(loss, jit)  # the client's: checks, no data, no Numba
        self.nums, self.single = self.spec.argnums(argnums)
        self.operation = ChunkOperation(loss, kind, argnums, jit, cache_dir,
                                        uuid.uuid4().hex)
        self._checked: set = set()

    def __reduce__(self):
        return reducer(SumTransform, self.loss, (self.kind, self.argnums),
                       {"jit": self.jit, "cache_dir": self.cache_dir})

    def graph(self, args, tangents=None):
        """The Dask Delayed of the total (not computed)."""
        dask, da = _dask()
        args = list(args)
        split = [k for k, a in enumerate(args) if isinstance(a, da.Array)]
        if not split:
            raise GradientInputError("no Dask array among the arguments: nothing to split "
                                     "(use value_and_grad for NumPy arrays)")
        chunks = args[split[0]].chunks[0]
        for k in split:
            if args[k].ndim == 0:
                raise GradientInputError(f"argument {k} is a 0-d Dask array: nothing to split")
            if args[k].chunks[0] != chunks:
                raise GradientInputError(
                    f"arguments {split[0]} and {k} are chunked differently along axis 0 "
                    f"({_brief(chunks)} and {_brief(args[k].chunks[0])}): rechunk one of "
                    f"them, e.g. b.rechunk({{0: a.chunks[0]}})")
        self._check_types(args, split)
        blocks = {k: _row_blocks(args[k]) for k in split}
        shared = {k: dask.delayed(a, pure=True) if isinstance(a, np.ndarray) else a
                  for k, a in enumerate(args) if k not in blocks}
        operation = dask.delayed(self.operation, pure=True)
        extra = [tuple(np.asarray(t, dtype=np.float64) if np.ndim(t) else float(t)
                       for t in tangents)] if tangents is not None else []
        parts = [dask.delayed(_apply, pure=True)(
            operation, *(blocks[k][i] if k in blocks else shared[k] for k in range(len(args))),
            *extra) for i in range(len(chunks))]
        while len(parts) > 1:
            parts = [dask.delayed(_add, pure=True)(*parts[i:i + _FAN_IN])
                     for i in range(0, len(parts), _FAN_IN)]
        return parts[0]

    def _check_types(self, args, split) -> None:
        """Compile the derivative's source for the chunks' types: errors before any work."""
        types = []
        for k, a in enumerate(args):
            if k in split:
                kind = _KINDS.get(np.dtype(a.dtype).kind)
                if kind is None:
                    raise GradientInputError(f"argument {k} has unsupported dtype {a.dtype}")
                t = Type(kind, a.ndim, 32 if np.dtype(a.dtype) == np.float32 else 64)
                if k in self.nums and not t.is_float:
                    raise GradientInputError(f"cannot differentiate with respect to argument "
                                             f"{k}: a Dask array of {a.dtype}")
            else:
                _, t = type_of(a, self.spec.param_names[k - self.spec.offset]
                               if k - self.spec.offset < len(self.spec.param_names) else
                               str(k), k in self.nums)
            types.append(t)
        key = tuple(types)
        if key not in self._checked:
            mode = "hvp" if self.kind == "hvp" else "grad"
            compile_source(self.spec.parsed, types, self.nums, mode, load=False)
            self._checked.add(key)

    def compute(self, args, tangents=None):
        dask, _ = _dask()
        (total,) = dask.compute(self.graph(args, tangents))
        return total

    def _structure(self, values):
        values = [v if np.ndim(v) else float(v) for v in values]
        return values[0] if self.single else tuple(values)

    def __call__(self, *args, tangents=None):
        if self.kind == "hvp":
            if tangents is None:
                raise GradientInputError("hvp_sum needs tangents=: one per argnums entry")
            tangents = [tangents] if self.single else list(tangents)
            if len(tangents) != len(self.nums):
                raise GradientInputError(f"hvp_sum needs {len(self.nums)} tangents")
            return self._structure(self.compute(args, tangents))
        total = self.compute(args)
        gradient = self._structure(total[1:])
        return (total[0], gradient) if self.kind == "value_and_grad" else gradient


def _row_blocks(array) -> list:
    """One Delayed per chunk along axis 0, each holding whole rows."""
    if any(len(c) > 1 for c in array.chunks[1:]):
        array = array.rechunk({k: -1 for k in range(1, array.ndim)})
    return list(array.to_delayed().reshape(-1))


def _brief(chunks) -> str:
    text = str(tuple(chunks))
    return text if len(text) < 60 else text[:57] + "...)"


def value_and_grad_sum(loss, argnums=0, *, jit=True, cache_dir=None) -> SumTransform:
    """(sum of loss over the chunks, its gradient w.r.t. argnums), NumPy values. cache_dir:
    where workers put generated modules (default: their own cache directory)."""
    return SumTransform(loss, "value_and_grad", argnums, jit=jit, cache_dir=cache_dir)


def grad_sum(loss, argnums=0, *, jit=True, cache_dir=None) -> SumTransform:
    """The gradient of the sum of loss over the chunks w.r.t. argnums."""
    return SumTransform(loss, "grad", argnums, jit=jit, cache_dir=cache_dir)


def hvp_sum(loss, argnums=0, *, jit=True, cache_dir=None) -> SumTransform:
    """hvp_sum(loss, argnums)(*args, tangents=v): the Hessian of the sum w.r.t. argnums
    times v (one tangent per argnums entry), one forward-over-reverse sweep per chunk (for
    Newton-CG)."""
    return SumTransform(loss, "hvp", argnums, jit=jit, cache_dir=cache_dir)
