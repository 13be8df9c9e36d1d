"""vmap: a function mapped over a batch axis of some arguments (JAX's in_axes/out_axes).

For a gradient compiled with Numba (reverse mode), the batch is a loop inside compiled code:
a generated function loops over the batch (a `numba.prange` loop, run on threads with
parallel=True; serial by default: on a 2-core machine shared with other jobs the threads
made per-sample gradients of 10^4 x 20 3x slower, as each sample's body allocates) calling the
gradient's dispatcher (njit.py) on each sample's slices and writing each result into a
preallocated output array. The first sample is also run from Python, to learn the results'
structure and shapes. Other callables (forward-mode gradients, the Jacobian transforms, plain
functions, jit=False, arguments the compiled code does not take as they are) are mapped by a
Python loop with the same results.

    vmap(grad(loss), in_axes=(None, 0, 0))(w, X, y)   # per-sample gradients, shape (n, d)
"""

from __future__ import annotations

import itertools

import numpy as np

from .calls import quick_key
from .errors import GradientInputError

_counter = itertools.count()


def _leaves(value, path=()):
    """[(path, leaf)] of a result: nested tuples of numbers and arrays."""
    if isinstance(value, tuple):
        return [pair for k, v in enumerate(value) for pair in _leaves(v, path + (k,))]
    return [(path, value)]


def _rebuild(template, leaves):
    """The structure of `template` with its leaves taken in order from the iterator."""
    if isinstance(template, tuple):
        return tuple(_rebuild(v, leaves) for v in template)
    return next(leaves)


class vmap:
    """vmap(f, in_axes=0, out_axes=0)(*args): f mapped over axis in_axes[k] of argument k
    (None: the argument is passed whole to every sample); results stacked along out_axes.

    For the package's own gradients the loop over the batch runs inside compiled code
    (`parallel=True`: a prange loop on threads); any other f is called sample by sample.

    Example:
        >>> import numpy as np
        >>> from autodiff_compiler import grad
        >>> def loss(w, x):
        ...     return (w * x) ** 2
        >>> vmap(grad(loss), in_axes=(None, 0))(2.0, np.array([1.0, 2.0]))
        array([ 4., 16.])
    """

    def __init__(self, f, in_axes=0, out_axes=0, *, parallel=False):
        self.f, self.in_axes, self.out_axes, self.parallel = f, in_axes, out_axes, parallel
        self._kernels: dict = {}

    def __reduce__(self):
        return vmap, (self.f, self.in_axes, self.out_axes), {"parallel": self.parallel}

    def __setstate__(self, state):
        self.parallel = state["parallel"]
        self._kernels = {}

    def __call__(self, *args):
        axes = self._axes(len(args))
        args = [np.moveaxis(np.asarray(a), ax, 0) if ax not in (None, 0) else a
                for a, ax in zip(args, axes)]
        n = self._batch_size(args, axes)
        first = self.f(*self._sample(args, axes, 0))
        leaves = _leaves(first)
        outs = [np.empty((n,) + np.shape(leaf), dtype=np.result_type(leaf))
                for _, leaf in leaves]
        kernel = self._kernel(args, axes, leaves)
        if kernel is not None:
            kernel(*args, *outs)
        else:
            for i in range(n):
                result = first if i == 0 else self.f(*self._sample(args, axes, i))
                for out, (_, leaf) in zip(outs, _leaves(result)):
                    out[i] = leaf
        if self.out_axes != 0:
            outs = [np.moveaxis(o, 0, self.out_axes) for o in outs]
        return _rebuild(first, iter(outs))

    def _axes(self, count: int) -> list:
        axes = self.in_axes
        if isinstance(axes, (int, type(None))):
            axes = (axes,) * count
        axes = list(axes)
        if len(axes) != count:
            raise GradientInputError(f"in_axes has {len(axes)} entries for {count} arguments")
        if all(ax is None for ax in axes):
            raise GradientInputError("vmap needs at least one argument with a batch axis")
        return axes

    @staticmethod
    def _batch_size(args, axes) -> int:
        sizes = {np.shape(a)[0] for a, ax in zip(args, axes) if ax is not None}
        if len(sizes) != 1:
            raise GradientInputError(f"the batch axes have different sizes: {sorted(sizes)}")
        n = sizes.pop()
        if n == 0:
            raise GradientInputError("vmap over an empty batch: the results' shapes are not "
                                     "known")
        return n

    @staticmethod
    def _sample(args, axes, i: int) -> list:
        return [a if ax is None else a[i] for a, ax in zip(args, axes)]

    def _kernel(self, args, axes, leaves):
        """The compiled batch loop for f (None: f has no dispatcher, or these arguments
        need converting first)."""
        f = self.f
        if not (getattr(f, "jit", False) and getattr(f, "mode", None) == "reverse"
                and hasattr(f, "njit") and not f.specializations.offset):
            return None
        if quick_key(self._sample(args, axes, 0)) is None:
            return None
        key = (tuple(ax is None for ax in axes), tuple(p for p, _ in leaves))
        if key not in self._kernels:
            self._kernels[key] = _batch_loop(f.njit, key[0], key[1], self.parallel)
        return self._kernels[key]


def _batch_loop(dispatcher, whole: tuple, paths: tuple, parallel: bool):
    """A Numba function looping over the batch, writing each result's leaves."""
    import numba

    names = [f"a{k}" for k in range(len(whole))]
    outs = [f"out{k}" for k in range(len(paths))]
    sample = ", ".join(n if w else f"{n}[i]" for n, w in zip(names, whole))
    lines = [f"def batch_{next(_counter)}({', '.join(names + outs)}):",
             f"    for i in prange({outs[0]}.shape[0]):",
             f"        r = g({sample})"]
    for out, path in zip(outs, paths):
        lines.append(f"        {out}[i] = r{''.join(f'[{k}]' for k in path)}")
    namespace = {"g": dispatcher, "prange": numba.prange}
    exec("\n".join(lines) + "\n", namespace)  # noqa: S102 - generated loop
    fn = namespace[lines[0][4:lines[0].index("(")]]
    return numba.njit(parallel=parallel)(fn)
