"""Derivatives assembled from sweeps of compiled code: one tangent sweep per input entry
(jacfwd, hessian, grad(mode="forward")), one adjoint sweep per output entry (jacrev).

A sweep carries one direction. Carrying k directions at once as a trailing tangent axis
would share the primal work, but every scalar of the sweep would become a small array: in
generated Numba code four such directions took 8x the time of four one-direction sweeps,
and NumPy's broadcasting of whole arrays would misalign the extra axis.
"""

from __future__ import annotations

import numpy as np

from .arguments import output
from .errors import GradientInputError
from .pipeline import Artifact


def columns(values, nums) -> list[tuple[int, int]]:
    """(argument, flat index) of every input entry, in order."""
    return [(k, i) for k in nums for i in range(np.size(values[k]))]


def _precision(value):
    """The float dtype of a tangent of `value`: float32 for float32, else float64."""
    return np.float32 if getattr(value, "dtype", None) == np.float32 else np.float64


def unit_tangents(values, nums, column) -> list:
    """Tangents of the `nums` arguments, of their precision: zero, but 1 at `column` (None:
    all zero)."""
    tangents = []
    for k in nums:
        tangent = np.zeros(np.shape(values[k]), _precision(values[k]))
        if column is not None and column[0] == k:
            tangent.flat[column[1]] = 1.0
        tangents.append(tangent if tangent.ndim else output(tangent[()]))
    return tangents


def forward_jacobians(artifact: Artifact, values, nums, kind: str = "output_tangents",
                      budget: int | None = None):
    """Columns of d results / d inputs by one tangent sweep per input entry: the outputs,
    and one array per result of `kind` (a Results field), shaped
    result.shape + (number of input entries,). `budget`: the tape budget of each sweep
    (forward over reverse; None: the default)."""
    sweeps = [artifact.call(*values, *unit_tangents(values, nums, c), budget=budget)
              for c in columns(values, nums)]
    if not sweeps:  # no input entries: the outputs, and empty Jacobians
        results = artifact.call(*values, *unit_tangents(values, nums, None), budget=budget)
        return ([output(v) for v in results.outputs],
                [np.zeros(np.shape(d) + (0,)) for d in getattr(results, kind)])
    count = len(getattr(sweeps[0], kind))
    jacobians = [np.stack([np.asarray(getattr(sweep, kind)[o]) for sweep in sweeps], axis=-1)
                 for o in range(count)]
    return [output(v) for v in sweeps[0].outputs], jacobians


def forward_gradient(artifact: Artifact, values, nums):
    """(value, gradients: one per argument of `nums`) of a scalar function by forward
    sweeps (a jvp artifact)."""
    outputs, rows = forward_jacobians(artifact, values, nums)
    if len(outputs) != 1 or np.ndim(outputs[0]) != 0:
        raise GradientInputError("grad needs a function that returns one float")
    return outputs[0], list(split(rows[0], values, nums, single=False))


def seeds(shapes: list[tuple], o: int, index, dtypes: list) -> list:
    """Cotangents of outputs of `shapes` and `dtypes`: zero, but 1 at `index` of output
    `o`."""
    result = [np.zeros(s, d) for s, d in zip(shapes, dtypes)]
    result[o][index] = 1.0
    return [r if r.ndim else output(r[()]) for r in result]


def reverse_jacobians(artifact: Artifact, values, nums, shapes: list[tuple],
                      budget: int | None = None) -> list:
    """Rows of d outputs / d inputs by one seeded adjoint sweep (a vjp artifact) per output
    entry, each within the tape budget `budget` (bytes; None: the default): one array per
    output, shaped out.shape + (number of input entries,)."""
    jacobians = []
    dtypes = [v.type.dtype for v in artifact.primal.body.ops[-1].operands]
    for o, shape in enumerate(shapes):
        rows = []
        for index in np.ndindex(shape):
            grads = artifact.call(*values, *seeds(shapes, o, index, dtypes),
                                  budget=budget).gradients
            rows.append(np.concatenate([np.ravel(g) for g in grads]))
        width = sum(int(np.size(values[k])) for k in nums)
        jacobians.append(np.array(rows).reshape(shape + (width,)))
    return jacobians


def split(full: np.ndarray, values, nums, single: bool):
    """Split the last axis (all input entries) per argument and reshape to in.shape."""
    parts, start = [], 0
    lead = full.shape[:-1]
    for k in nums:
        size = int(np.size(values[k]))
        part = full[..., start:start + size].reshape(lead + np.shape(values[k]))
        parts.append(output(part[()]) if part.ndim == 0 else part)
        start += size
    return parts[0] if single else tuple(parts)
