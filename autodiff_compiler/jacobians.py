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
from .tracebacks import api_boundary

_SPECIALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def specializer(f, jit: bool) -> Specializations:
    """The per-function cache of compiled derivative code (one per jit setting)."""
    fn = getattr(f, "__autodiff_wrapped__", None) or f
    per_jit = _SPECIALIZERS.setdefault(fn, {})
    if jit not in per_jit:
        per_jit[jit] = Specializations(fn, jit)
    return per_jit[jit]


@api_boundary
def jvp(f, primals, tangents, *, jit=True):
    """The value of f and its directional derivative along `tangents` (forward mode, one
    tangent sweep), like jax.jvp.

    Parameters:
        f: a Python function of numbers and arrays.
        primals: the arguments, a tuple.
        tangents: one tangent per argument, a tuple (floats, arrays of the arguments'
            shapes); those of int and bool arguments are ignored.
        jit: compile the generated code with Numba (False: run it in CPython).

    Returns:
        (f(*primals), tangent of the output): each a float or an array, or a tuple of them
        when f returns several values.

    Example:
        >>> import math
        >>> def f(x, y):
        ...     return math.sin(x) * y
        >>> value, tangent = jvp(f, (0.0, 2.0), (1.0, 0.0))
        >>> value, tangent
        (0.0, 2.0)
    """
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
    """The Jacobian by forward mode: one tangent sweep per input entry (for few inputs).

    Parameters:
        f: a Python function returning a float, an array or a tuple of them.
        argnums: the position of the argument to differentiate, or a tuple of positions.
        jit: compile the generated code with Numba (False: run it in CPython).

    Returns:
        A function of f's arguments giving the Jacobian, shaped out.shape + in.shape (a
        tuple over argnums when argnums is a tuple, and over outputs for several outputs).

    Example:
        >>> import numpy as np
        >>> def f(x):
        ...     return x * x
        >>> jacfwd(f)(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
    """
    @api_boundary
    def jacobian(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "jacfwd")
        _, outs = forward_jacobians(spec.artifact(types, nums, "jvp"), values, nums)
        return _one_or_tuple([split(o, values, nums, single) for o in outs])

    return jacobian


def jacrev(f, argnums=0, *, jit=True):
    """The Jacobian by reverse mode: one adjoint sweep per output entry (for few outputs).

    Parameters:
        f, argnums, jit: as for `jacfwd`.

    Returns:
        A function of f's arguments giving the Jacobian, shaped out.shape + in.shape, as
        `jacfwd` does.

    Example:
        >>> import numpy as np
        >>> def f(x):
        ...     return x * x[0]
        >>> jacrev(f)(np.array([2.0, 3.0]))
        array([[4., 0.],
               [3., 2.]])
    """
    @api_boundary
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
    """The Hessian of a scalar function, forward over reverse: one tangent sweep of the
    generated gradient code per input entry.

    Parameters:
        f: a Python function returning one float.
        argnums: the position of the argument to differentiate, or a tuple of positions.
        jit: compile the generated code with Numba (False: run it in CPython).

    Returns:
        A function of f's arguments giving the Hessian, shaped in.shape + in.shape (a float
        for a float argument; nested tuples for several argnums, as jax.hessian).

    Example:
        >>> import numpy as np
        >>> def f(x):
        ...     return x[0] ** 2 * x[1]
        >>> hessian(f)(np.array([1.0, 2.0]))
        array([[4., 2.],
               [2., 0.]])
    """
    @api_boundary
    def hess(*args):
        spec, nums, single, values, types = _setup(f, jit, argnums, args, "hessian")
        artifact = spec.artifact(types, nums, "hvp")
        _, rows = forward_jacobians(artifact, values, nums, "gradient_tangents")
        blocks = [split(r, values, nums, single) for r in rows]
        return blocks[0] if single else tuple(blocks)

    return hess


@api_boundary
def hvp(f, primals, tangents, *, jit=True):
    """The Hessian-vector product of a scalar function with respect to all its float
    arguments: one forward-over-reverse sweep, without forming the Hessian.

    Parameters:
        f: a Python function returning one float.
        primals: the arguments, a tuple.
        tangents: the vector, one entry per argument (those of ints and bools ignored).
        jit: compile the generated code with Numba (False: run it in CPython).

    Returns:
        A tuple with one entry per argument: the product's part for that argument (a float
        or an array of its shape), None for int and bool arguments.

    Example:
        >>> import numpy as np
        >>> def f(x):
        ...     return x[0] ** 2 * x[1]
        >>> hvp(f, (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
        (array([4., 2.]),)
    """
    spec = specializer(f, jit)
    primals, tangents = tuple(primals), tuple(tangents)
    values, types = spec.prepare(primals)
    wrt = floats(types)
    artifact = spec.artifact(types, wrt, "hvp")
    results = artifact.call(*values, *(like(tangents[k], values[k], k) for k in wrt))
    products = iter(output(v) for v in results.gradient_tangents)
    return tuple(next(products) if k in wrt else None for k in range(len(values)))


@api_boundary
def vjp(f, *primals, jit=True):
    """The value of f and its pullback (reverse mode), as jax.vjp.

    The pullback runs the adjoint code, which computes the outputs again: nothing is kept
    between calls.

    Parameters:
        f: a Python function returning a float, an array or a tuple of them.
        *primals: its arguments.
        jit: compile the generated code with Numba (False: run it in CPython).

    Returns:
        (f(*primals), pullback): pullback(cotangent), the cotangent with the structure of
        f's output (a float, an array of its shape, or a tuple of those), returns one
        cotangent per primal (None for int and bool arguments).

    Example:
        >>> import numpy as np
        >>> def f(x, k):
        ...     return x * k
        >>> out, pullback = vjp(f, np.array([1.0, 2.0]), 3)
        >>> out
        array([3., 6.])
        >>> pullback(np.array([1.0, 1.0]))
        (array([3., 3.]), None)
    """
    spec = specializer(f, jit)
    values, types = spec.prepare(primals)
    argnums = floats(types)
    outputs = primal_outputs(spec, values, types)
    artifact = spec.artifact(types, argnums, "vjp")
    single = len(outputs) == 1

    @api_boundary
    def pullback(cotangent):
        seeds = [cotangent] if single else list(cotangent)
        if len(seeds) != len(outputs):
            raise GradientInputError(f"the cotangent must have the structure of the output: "
                                     f"{len(outputs)} value(s), got {len(seeds)}")
        seeds = [like(s, out, k) for k, (s, out) in enumerate(zip(seeds, outputs))]
        grads = iter(output(g) for g in artifact.call(*values, *seeds).gradients)
        return tuple(next(grads) if k in argnums else None for k in range(len(values)))

    return structure(outputs, single), pullback
