"""Forward mode and Jacobians: jvp, jacfwd, jacrev, hessian, hvp (JAX's names and shapes).

jacfwd runs the compiled tangent code once per input entry (a unit direction each); jacrev
runs the seeded adjoint once per output entry. hessian is forward over reverse: the tangent
of the generated gradient code, once per input entry. Jacobians have shape
out.shape + in.shape.

A sweep carries one direction. Carrying k directions at once as a trailing tangent axis
would share the primal work, but every scalar of the sweep would become a small array: in
generated Numba code four such directions took 8x the time of four one-direction sweeps,
and NumPy's broadcasting of whole arrays would misalign the extra axis.

Forward mode costs one sweep per (block of) input directions, reverse mode one sweep per
output: jacfwd for few inputs and many outputs, jacrev and grad for many inputs and few
outputs (Griewank & Walther ch. 3).
"""

from __future__ import annotations

import weakref

import numpy as np

from .api import GradFunction, _normalize_argnums, _output
from .errors import GradientInputError

_SPECIALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def specializer(f, jit: bool) -> GradFunction:
    """The per-function cache of compiled derivative code (one per jit setting)."""
    fn = getattr(f, "__autodiff_wrapped__", None) or f
    per_jit = _SPECIALIZERS.setdefault(fn, {})
    if jit not in per_jit:
        per_jit[jit] = GradFunction(fn, 0, jit)
    return per_jit[jit]


def _float_args(types, nums, what: str) -> None:
    for k in nums:
        if not types[k].is_float:
            raise GradientInputError(f"{what}: argument {k} is not a float or float array")


def _structure(values: list, single: bool):
    values = [_output(v) for v in values]
    return values[0] if single else tuple(values)


def _tangent(value, template, k: int):
    if isinstance(template, np.ndarray):
        value = np.asarray(value, dtype=np.float64)
        if value.shape != template.shape:
            raise GradientInputError(f"tangent {k} has shape {value.shape}, its primal "
                                     f"{template.shape}")
        return value
    return float(value)


def jvp(f, primals, tangents, *, jit=True):
    """(f(*primals), the directional derivative along `tangents`), like jax.jvp. Tangents
    are given for every argument; those of int and bool arguments are ignored."""
    spec = specializer(f, jit)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise GradientInputError("jvp needs one tangent per primal")
    values, types = spec._prepare(primals, {}, argnums=())
    wrt = [k for k, t in enumerate(types) if t.is_float]
    artifact = spec._artifact(types, wrt, "jvp")
    dots = [_tangent(tangents[k], values[k], k) for k in wrt]
    results = artifact.run(*values, *dots)
    n_out = len(artifact.primal.body.ops[-1].operands)
    single = n_out == 1
    return _structure(results[:n_out], single), _structure(results[n_out:], single)


def _columns(values, nums):
    """(argument, flat index) of every input entry, in order."""
    return [(k, i) for k in nums for i in range(np.size(values[k]))]


def _unit_tangents(values, nums, column):
    """Tangents of the `nums` arguments: zero, but 1 at `column` (None: all zero)."""
    tangents = []
    for k in nums:
        tangent = np.zeros(np.shape(values[k]))
        if column is not None and column[0] == k:
            tangent.flat[column[1]] = 1.0
        tangents.append(tangent if tangent.ndim else float(tangent))
    return tangents


def _forward_jacobians(spec, values, types, nums, mode: str, skip: int):
    """Columns of d outputs / d inputs by one tangent sweep per input entry; returns the
    outputs and, after dropping the first `skip`, one array per output tangent, shaped
    out.shape + (number of input entries,)."""
    artifact = spec._artifact(types, nums, mode)
    n_out = len(artifact.adjoint.body.ops[-1].operands) // 2
    columns = _columns(values, nums)
    sweeps = [artifact.run(*values, *_unit_tangents(values, nums, c)) for c in columns]
    if not sweeps:  # no input entries: the outputs, and empty Jacobians
        results = artifact.run(*values, *_unit_tangents(values, nums, None))
        return ([_output(v) for v in results[:n_out]],
                [np.zeros(np.shape(d) + (0,)) for d in results[n_out + skip:]])
    jacobians = [np.stack([np.asarray(sweep[o]) for sweep in sweeps], axis=-1)
                 for o in range(n_out + skip, len(sweeps[0]))]
    return [_output(v) for v in sweeps[0][:n_out]], jacobians


def forward_gradient(spec, values, types, nums, single: bool):
    """(value, gradient) of a scalar function by forward sweeps."""
    outputs, rows = _forward_jacobians(spec, values, types, nums, "jvp", 0)
    if len(outputs) != 1 or np.ndim(outputs[0]) != 0:
        raise GradientInputError("grad needs a function that returns one float")
    return outputs[0], _split(rows[0], values, nums, single)


def _split(full: np.ndarray, values, nums, single: bool):
    """Split the last axis (all input entries) per argument and reshape to in.shape."""
    parts, start = [], 0
    lead = full.shape[:-1]
    for k in nums:
        size = int(np.size(values[k]))
        part = full[..., start:start + size].reshape(lead + np.shape(values[k]))
        parts.append(float(part) if part.ndim == 0 else part)
        start += size
    return parts[0] if single else tuple(parts)


def _setup(f, jit, argnums, args, what: str):
    """(specialiser, argnums list, single?, argument values, their types)."""
    spec = specializer(f, jit)
    nums, single = _normalize_argnums(argnums, len(spec.param_names))
    values, types = spec._prepare(args, {}, argnums=nums)
    _float_args(types, nums, what)
    return spec, nums, single, values, types


def jacfwd(f, argnums=0, *, jit=True):
    """Jacobian by forward mode: jacfwd(f)(*args) has shape out.shape + in.shape."""
    def jacobian(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "jacfwd")
        _, outs = _forward_jacobians(spec, values, types, nums, "jvp", 0)
        result = [_split(o, values, nums, single) for o in outs]
        return result[0] if len(result) == 1 else tuple(result)

    return jacobian


def jacrev(f, argnums=0, *, jit=True):
    """Jacobian by reverse mode (one seeded adjoint sweep per output entry)."""
    def jacobian(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "jacrev")
        shapes = [np.shape(v) for v in _outputs(spec, values, types, nums)]
        artifact = spec._artifact(types, nums, "vjp")
        jacobians = []
        for o, shape in enumerate(shapes):
            rows = []
            for index in np.ndindex(shape):
                seeds = [np.zeros(s) if s else 0.0 for s in shapes]
                if shape:
                    seeds[o][index] = 1.0
                else:
                    seeds[o] = 1.0
                grads = artifact.run(*values, *seeds)[len(shapes):]
                rows.append(np.concatenate([np.ravel(g) for g in grads]))
            full = np.array(rows).reshape(shape + (-1,))
            jacobians.append(_split(full, values, nums, single))
        return jacobians[0] if len(jacobians) == 1 else tuple(jacobians)

    return jacobian


def _outputs(spec, values, types, nums) -> list:
    """The function's outputs, from one tangent sweep with zero tangents."""
    artifact = spec._artifact(types, nums, "jvp")
    zeros = [np.zeros(np.shape(values[k])) if np.ndim(values[k]) else 0.0 for k in nums]
    results = artifact.run(*values, *zeros)
    return list(results[:len(results) // 2])


def hessian(f, argnums=0, *, jit=True):
    """Hessian of a scalar function, forward over reverse: shape in.shape + in.shape (nested
    tuples for several argnums, as jax.hessian)."""
    def hess(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "hessian")
        _, rows = _forward_jacobians(spec, values, types, nums, "hvp", 1)
        blocks = [_split(r, values, nums, single) for r in rows]
        return blocks[0] if single else tuple(blocks)

    return hess


def hvp(f, primals, tangents, *, jit=True):
    """Hessian-vector product of a scalar function w.r.t. all its float arguments: one
    forward-over-reverse sweep. Returns one entry per argument (None for ints and bools)."""
    spec = specializer(f, jit)
    primals, tangents = tuple(primals), tuple(tangents)
    values, types = spec._prepare(primals, {}, argnums=())
    wrt = [k for k, t in enumerate(types) if t.is_float]
    artifact = spec._artifact(types, wrt, "hvp")
    dots = [_tangent(tangents[k], values[k], k) for k in wrt]
    results = artifact.run(*values, *dots)
    products = iter(_output(v) for v in results[2 + len(wrt):])
    return tuple(next(products) if k in wrt else None for k in range(len(values)))


def vjp(f, *primals, jit=True):
    """(f(*primals), pullback), as jax.vjp: pullback(cotangent) returns one cotangent per
    primal (None for int and bool arguments). The cotangent has the structure of f's output
    (a float, an array of its shape, or a tuple of those). The pullback runs the forward
    sweep again: nothing is kept between calls."""
    spec = specializer(f, jit)
    values, types = spec._prepare(primals, {}, argnums=())
    argnums = [k for k, t in enumerate(types) if t.is_float]
    outputs = _outputs(spec, values, types, argnums)
    artifact = spec._artifact(types, argnums, "vjp")
    single = len(outputs) == 1

    def pullback(cotangent):
        seeds = [cotangent] if single else list(cotangent)
        if len(seeds) != len(outputs):
            raise GradientInputError(f"the cotangent must have the structure of the output: "
                                     f"{len(outputs)} value(s), got {len(seeds)}")
        seeds = [_tangent(s, out, k) for k, (s, out) in enumerate(zip(seeds, outputs))]
        results = artifact.run(*values, *seeds)[len(outputs):]
        grads = iter(_output(g) for g in results)
        return tuple(next(grads) if k in argnums else None for k in range(len(values)))

    return _structure(outputs, single), pullback
