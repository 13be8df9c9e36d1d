"""Forward mode and Jacobians: jvp, jacfwd, jacrev, hessian, hvp (JAX's names and shapes).

jacfwd runs the compiled tangent code once per input entry (a unit direction each); jacrev
runs the seeded adjoint once per output entry. hessian is forward over reverse: the tangent
of the generated gradient code, once per input entry. Jacobians have shape
out.shape + in.shape.

Each mode runs only its own transform: jacrev and vjp learn the outputs' shapes from the
primal code (the function itself, compiled), never from a tangent sweep, so whatever grad
accepts, they accept. The sweeps themselves are in sweeps.py.

Forward mode costs one sweep per (block of) input directions, reverse mode one sweep per
output: jacfwd for few inputs and many outputs, jacrev and grad for many inputs and few
outputs (Griewank & Walther ch. 3).
"""

from __future__ import annotations

import weakref

import numpy as np

from .arguments import floats, like, normalize_argnums, output, require_floats, structure
from .errors import GradientInputError
from .specialize import Specializations
from .sweeps import forward_jacobians, reverse_jacobians, split

_SPECIALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def specializer(f, jit: bool) -> Specializations:
    """The per-function cache of compiled derivative code (one per jit setting)."""
    fn = getattr(f, "__autodiff_wrapped__", None) or f
    per_jit = _SPECIALIZERS.setdefault(fn, {})
    if jit not in per_jit:
        per_jit[jit] = Specializations(fn, jit)
    return per_jit[jit]


def jvp(f, primals, tangents, *, jit=True):
    """(f(*primals), the directional derivative along `tangents`), like jax.jvp. Tangents
    are given for every argument; those of int and bool arguments are ignored."""
    spec = specializer(f, jit)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise GradientInputError("jvp needs one tangent per primal")
    values, types = spec.prepare(primals)
    wrt = floats(types)
    artifact = spec.artifact(types, wrt, "jvp")
    results = artifact.call(*values, *(like(tangents[k], values[k], k) for k in wrt))
    single = len(results.outputs) == 1
    return structure(results.outputs, single), structure(results.output_tangents, single)


def _setup(f, jit, argnums, args, what: str):
    """(specialisations, argnums list, single?, argument values, their types)."""
    spec = specializer(f, jit)
    nums, single = normalize_argnums(argnums, len(spec.param_names))
    values, types = spec.prepare(args, argnums=nums)
    require_floats(types, nums, what)
    return spec, nums, single, values, types


def _one_or_tuple(results: list):
    return results[0] if len(results) == 1 else tuple(results)


def jacfwd(f, argnums=0, *, jit=True):
    """Jacobian by forward mode: jacfwd(f)(*args) has shape out.shape + in.shape."""
    def jacobian(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "jacfwd")
        _, outs = forward_jacobians(spec.artifact(types, nums, "jvp"), values, nums)
        return _one_or_tuple([split(o, values, nums, single) for o in outs])

    return jacobian


def jacrev(f, argnums=0, *, jit=True):
    """Jacobian by reverse mode (one seeded adjoint sweep per output entry)."""
    def jacobian(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "jacrev")
        shapes = [np.shape(v) for v in primal_outputs(spec, values, types)]
        rows = reverse_jacobians(spec.artifact(types, nums, "vjp"), values, nums, shapes)
        return _one_or_tuple([split(r, values, nums, single) for r in rows])

    return jacobian


def primal_outputs(spec: Specializations, values, types) -> list:
    """The function's outputs, from its own compiled code (no derivative is computed)."""
    return spec.artifact(types, (), "primal").call(*values).outputs


def hessian(f, argnums=0, *, jit=True):
    """Hessian of a scalar function, forward over reverse: shape in.shape + in.shape (nested
    tuples for several argnums, as jax.hessian)."""
    def hess(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "hessian")
        artifact = spec.artifact(types, nums, "hvp")
        _, rows = forward_jacobians(artifact, values, nums, "gradient_tangents")
        blocks = [split(r, values, nums, single) for r in rows]
        return blocks[0] if single else tuple(blocks)

    return hess


def hvp(f, primals, tangents, *, jit=True):
    """Hessian-vector product of a scalar function w.r.t. all its float arguments: one
    forward-over-reverse sweep. Returns one entry per argument (None for ints and bools)."""
    spec = specializer(f, jit)
    primals, tangents = tuple(primals), tuple(tangents)
    values, types = spec.prepare(primals)
    wrt = floats(types)
    artifact = spec.artifact(types, wrt, "hvp")
    results = artifact.call(*values, *(like(tangents[k], values[k], k) for k in wrt))
    products = iter(output(v) for v in results.gradient_tangents)
    return tuple(next(products) if k in wrt else None for k in range(len(values)))


def vjp(f, *primals, jit=True):
    """(f(*primals), pullback), as jax.vjp: pullback(cotangent) returns one cotangent per
    primal (None for int and bool arguments). The cotangent has the structure of f's output
    (a float, an array of its shape, or a tuple of those). The pullback runs the adjoint
    code, which computes the outputs again: nothing is kept between calls."""
    spec = specializer(f, jit)
    values, types = spec.prepare(primals)
    argnums = floats(types)
    outputs = primal_outputs(spec, values, types)
    artifact = spec.artifact(types, argnums, "vjp")
    single = len(outputs) == 1

    def pullback(cotangent):
        seeds = [cotangent] if single else list(cotangent)
        if len(seeds) != len(outputs):
            raise GradientInputError(f"the cotangent must have the structure of the output: "
                                     f"{len(outputs)} value(s), got {len(seeds)}")
        seeds = [like(s, out, k) for k, (s, out) in enumerate(zip(seeds, outputs))]
        grads = iter(output(g) for g in artifact.call(*values, *seeds).gradients)
        return tuple(next(grads) if k in argnums else None for k in range(len(values)))

    return structure(outputs, single), pullback
