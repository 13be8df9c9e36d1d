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

import functools
import weakref

import numpy as np

from .arguments import (
    flatten,
    floats,
    like,
    output,
    regroup,
    require_floats,
    structure,
)
from .budget import check_budget
from .errors import GradientInputError
from .pickling import reducer
from .specialize import Specializations
from .sweeps import forward_jacobians, reverse_jacobians, split
from .tracebacks import api_boundary

_SPECIALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def specializer(f, jit: bool) -> Specializations:
    """The per-function cache of compiled derivative code (one per jit setting)."""
    per_jit = _SPECIALIZERS.setdefault(f, {})  # a gradient is differentiated (nested.py)
    if jit not in per_jit:
        per_jit[jit] = Specializations(f, jit)
    return per_jit[jit]


def _user_floats(spec: Specializations, types, count: int) -> list[int]:
    """Positions of the float arguments among the `count` primals the user passed (bound
    ones and defaults are not differentiated)."""
    return [k for k in floats(types) if spec.offset <= k < spec.offset + count]


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
    values, types = spec.prepare(primals, trees=True)
    wrt = _user_floats(spec, types, len(primals))
    artifact = spec.artifact(types, wrt, "jvp")
    seeds = [like(tangents[k - spec.offset], values[k], k - spec.offset) for k in wrt]
    results = artifact.call(*flatten(values), *flatten(seeds))
    single = len(results.outputs) == 1
    return structure(results.outputs, single), structure(results.output_tangents, single)


def _setup(f, jit, argnums, args, what: str):
    """(specialisations, argnums list, single?, argument values, their types)."""
    spec = specializer(f, jit)
    nums, single = spec.argnums(argnums)
    values, types = spec.prepare(args, argnums=nums)
    require_floats(types, nums, what)
    return spec, nums, single, values, types


def _one_or_tuple(results: list):
    return results[0] if len(results) == 1 else tuple(results)


class _Transform:
    """A Jacobian or Hessian of f: a callable that pickles as (f, argnums, jit)."""

    def __init__(self, f, argnums=0, *, jit=True):
        self.f, self.argnums, self.jit = f, argnums, jit
        functools.update_wrapper(self, getattr(f, "__autodiff_wrapped__", None) or
                                 getattr(f, "func", f), updated=())

    def __reduce__(self):
        return reducer(type(self), self.f, (self.argnums,), {"jit": self.jit})

    @api_boundary
    def __call__(self, *args):
        spec, nums, single, values, types = _setup(self.f, self.jit, self.argnums, args,
                                                   self.what)
        return self._compute(spec, nums, single, values, types)


class _ReverseTransform(_Transform):
    """A transform that runs reverse-mode code, whose tapes count against a tape budget:
    pickles with it."""

    def __init__(self, f, argnums=0, *, jit=True, max_tape_bytes=None):
        super().__init__(f, argnums, jit=jit)
        self.max_tape_bytes = check_budget(max_tape_bytes)

    def __reduce__(self):
        return reducer(type(self), self.f, (self.argnums,),
                       {"jit": self.jit, "max_tape_bytes": self.max_tape_bytes})


class jacfwd(_Transform):
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

    what = "jacfwd"

    def _compute(self, spec, nums, single, values, types):
        _, outs = forward_jacobians(spec.artifact(types, nums, "jvp"), values, nums)
        return _one_or_tuple([split(o, values, nums, single) for o in outs])


class jacrev(_ReverseTransform):
    """The Jacobian by reverse mode: one adjoint sweep per output entry (for few outputs).

    Parameters:
        f, argnums, jit: as for `jacfwd`.
        max_tape_bytes: the tape budget of each sweep in bytes, as for `grad`.

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

    what = "jacrev"

    def _compute(self, spec, nums, single, values, types):
        shapes = [np.shape(v) for v in primal_outputs(spec, values, types)]
        rows = reverse_jacobians(spec.artifact(types, nums, "vjp"), values, nums, shapes,
                                 self.max_tape_bytes)
        return _one_or_tuple([split(r, values, nums, single) for r in rows])


def primal_outputs(spec: Specializations, values, types) -> list:
    """The function's outputs, from its own compiled code (no derivative is computed)."""
    return spec.artifact(types, (), "primal").call(*flatten(values)).outputs


class hessian(_ReverseTransform):
    """The Hessian of a scalar function, forward over reverse: one tangent sweep of the
    generated gradient code per input entry.

    Parameters:
        f: a Python function returning one float.
        argnums: the position of the argument to differentiate, or a tuple of positions.
        jit: compile the generated code with Numba (False: run it in CPython).
        max_tape_bytes: the tape budget of each sweep in bytes (the gradient code's tapes
            and their tangents), as for `grad`.

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

    what = "hessian"

    def _compute(self, spec, nums, single, values, types):
        artifact = spec.artifact(types, nums, "hvp")
        _, rows = forward_jacobians(artifact, values, nums, "gradient_tangents",
                                    self.max_tape_bytes)
        blocks = [split(r, values, nums, single) for r in rows]
        return blocks[0] if single else tuple(blocks)


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
    wrt = _user_floats(spec, types, len(primals))
    artifact = spec.artifact(types, wrt, "hvp")
    seeds = (like(tangents[k - spec.offset], values[k], k - spec.offset) for k in wrt)
    results = artifact.call(*values, *seeds)
    products = iter(output(v) for v in results.gradient_tangents)
    return tuple(next(products) if k in wrt else None
                 for k in range(spec.offset, spec.offset + len(primals)))


@api_boundary
def vjp(f, *primals, jit=True, max_tape_bytes=None):
    """The value of f and its pullback (reverse mode), as jax.vjp.

    The pullback runs the adjoint code, which computes the outputs again: nothing is kept
    between calls.

    Parameters:
        f: a Python function returning a float, an array or a tuple of them.
        *primals: its arguments.
        jit: compile the generated code with Numba (False: run it in CPython).
        max_tape_bytes: the tape budget of each pullback call in bytes, as for `grad`.

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
    pullback = Pullback(f, primals, jit, max_tape_bytes)
    return structure(pullback.outputs, len(pullback.outputs) == 1), pullback


class Pullback:
    """vjp's pullback: cotangent(s) of the outputs -> one cotangent per primal. Pickles as
    (f, primals, jit, max_tape_bytes)."""

    def __init__(self, f, primals, jit=True, max_tape_bytes=None):
        self.f, self.primals, self.jit = f, tuple(primals), jit
        self.max_tape_bytes = check_budget(max_tape_bytes)
        self.spec = spec = specializer(f, jit)
        self.values, self.types = spec.prepare(self.primals, trees=True)
        self.argnums = _user_floats(spec, self.types, len(self.primals))
        self.outputs = primal_outputs(spec, self.values, self.types)
        self.artifact = spec.artifact(self.types, self.argnums, "vjp")

    def __reduce__(self):
        return reducer(Pullback, self.f, (self.primals, self.jit, self.max_tape_bytes), {})

    @api_boundary
    def __call__(self, cotangent):
        single = len(self.outputs) == 1
        seeds = [cotangent] if single else list(cotangent)
        if len(seeds) != len(self.outputs):
            raise GradientInputError(f"the cotangent must have the structure of the output: "
                                     f"{len(self.outputs)} value(s), got {len(seeds)}")
        seeds = [like(s, out, k) for k, (s, out) in enumerate(zip(seeds, self.outputs))]
        results = self.artifact.call(*flatten(self.values), *seeds, budget=self.max_tape_bytes)
        grads = iter(regroup(results.gradients, [self.types[k] for k in self.argnums]))
        offset = self.spec.offset
        return tuple(next(grads) if k in self.argnums else None
                     for k in range(offset, offset + len(self.primals)))
