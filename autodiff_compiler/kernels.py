"""Derivatives on the GPU: device-function gradients and adjoint / tangent kernels.

- `device_grad(f)` (also `grad(f, target="cuda")`): a numba.cuda device function returning the
  partial derivatives of a scalar function. It runs the tangent code once per differentiated
  argument, which needs no tape (threads cannot grow one), so any loop or branch works.
- `grad_kernel(kernel, wrt=("x", "params"))`: the adjoint of a kernel written per thread
  (`i = cuda.grid(1)`, a bounds check, element reads, writes of out[i], device-function
  calls). It takes the kernel's arguments, then one cotangent array per array the kernel
  writes, then one adjoint array per `wrt` name, which it accumulates into (zero them first).
  Elements several threads may read are accumulated with cuda.atomic.add, a thread's own
  element (indexed by its cuda.grid(1) index) with a plain add, and entries every thread
  reads at a fixed position (a model's parameters) are summed over the block first
  (cuda_runtime.block_add: one atomic per block). Loops keep their tape in the thread
  (cuda.local.array): sized by their constant bounds, or by `max_trip` for while loops and
  ranges of run-time bounds (a thread that runs more raises TapeOverflowError after the
  launch).
- `tangent_kernel(kernel, wrt=...)`: forward mode: the arguments, the tangents of the `wrt`
  arrays, then arrays that receive the tangents of the outputs.

All of them are compiled by pipeline.compile, for the targets "device" and "kernel"; the
arguments are typed by arguments.py, as the CPU transforms' are.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import pipeline
from .arguments import kernel_type, normalize_argnums, scalar_types
from .errors import GradientInputError, TapeOverflowError
from .ir.core import walk_ops
from .ir.types import F64
from .primitives.gpu import block_sum_p
from .tracebacks import api_boundary


class DeviceDerivative:
    """The generated device code of a scalar function's gradient (or tangent)."""

    def __init__(self, f, argnums=0, tangent: bool = False):
        self.parsed = pipeline.parse(f)
        types = scalar_types(self.parsed.fn)
        nums, single = normalize_argnums(argnums, len(types))
        for k in nums:
            if types[k] != F64:
                raise GradientInputError(f"argument {k} is an int: it cannot be differentiated")
        self.artifact = pipeline.compile(self.parsed, types, nums,
                                         "jvp" if tangent else "grad", "device", single=single)
        self.name = self.artifact.name
        self.source = self.artifact.source
        self.function = self.artifact.compiled


@api_boundary
def device_grad(f, argnums=0):
    """A numba.cuda device function computing the gradient of a scalar function of numbers
    (also `grad(f, argnums, target="cuda")`); it runs one tangent sweep per argument, so
    loops and branches need no tape.

    Parameters:
        f: a Python function of numbers (parameters annotated `int` stay ints).
        argnums: the position of the argument to differentiate, or a tuple of positions.

    Returns:
        A device function of f's arguments returning the partial (one argnum) or a tuple of
        partials; its `autodiff_source` attribute holds the generated code.

    Example:
        >>> import math
        >>> def f(x, y):
        ...     return math.sin(x) * y
        >>> df = device_grad(f, argnums=(0, 1))
        >>> "def f_grad(x, y):" in df.autodiff_source
        True
    """
    derivative = DeviceDerivative(f, argnums)
    derivative.function.autodiff_source = derivative.source
    return derivative.function


@api_boundary
def device_jvp(f, argnums=None):
    """A numba.cuda device function computing the value and a directional derivative of a
    function of numbers (forward mode).

    Parameters:
        f: a Python function of numbers (or a cuda device function wrapping one).
        argnums: the positions with a tangent (default: all).

    Returns:
        A device function (args..., tangents...) -> (value, directional derivative), with
        the generated code in `autodiff_source`.

    Example:
        >>> def f(x, y):
        ...     return x * y
        >>> tangent = device_jvp(f)
        >>> "def f_jvp(x, y, x_dot, y_dot):" in tangent.autodiff_source
        True
    """
    fn = getattr(f, "py_func", f)
    count = len(inspect.signature(fn).parameters)
    nums = list(range(count)) if argnums is None else list(argnums)
    derivative = DeviceDerivative(f, tuple(nums), tangent=True)
    derivative.function.autodiff_source = derivative.source
    return derivative.function


class KernelDerivative:
    """A derivative kernel, specialised and compiled per argument types at first launch:
    `adjoint[blocks, threads](*args)`."""

    def __init__(self, kernel, wrt, mode: str, max_trip: int | None = None):
        if max_trip is not None and (isinstance(max_trip, bool) or not isinstance(max_trip, int)
                                     or max_trip < 1):
            raise GradientInputError(f"max_trip must be a positive int (the most iterations "
                                     f"a loop runs in one thread), not {max_trip!r}")
        self.max_trip = max_trip
        self._overflow = None  # the device flag of bounded tapes, made at the first launch
        self.parsed = pipeline.parse(kernel)
        names = list(inspect.signature(self.parsed.fn).parameters)
        missing = [w for w in wrt if w not in names]
        if missing:
            raise GradientInputError(f"{self.parsed.fn.__name__} has no argument {missing[0]!r}")
        self.wrt = [names.index(w) for w in wrt]
        self.mode = mode
        self.compiled: dict[tuple, pipeline.Artifact] = {}

    def artifact(self, args) -> pipeline.Artifact:
        """The compiled derivative kernel for arguments like `args` (the kernel's own ones)."""
        types = tuple(kernel_type(a) for a in args)
        if types not in self.compiled:
            mode = {"adjoint": "vjp", "atomic adjoint": "vjp_atomic"}.get(self.mode, "jvp")
            self.compiled[types] = pipeline.compile(self.parsed, list(types), self.wrt, mode,
                                                    "kernel", max_trip=self.max_trip)
        return self.compiled[types]

    def specialise(self, args):
        """(generated source, kernel) for arguments like `args` (the kernel's own ones)."""
        artifact = self.artifact(args)
        return artifact.source, artifact.compiled

    @api_boundary
    def source(self, *args) -> str:
        """The generated kernel source for the kernel's arguments `args`."""
        return self.artifact(args).source

    def __getitem__(self, config):
        @api_boundary
        def launch(*args):
            count = len(inspect.signature(self.parsed.fn).parameters)
            artifact = self.artifact(args[:count])
            _check_block_shape(artifact, config)
            if self.mode == "tangent" or artifact.layout.receivers == len(self.wrt):
                artifact.compiled[config](*args)
                return
            from numba import cuda

            if self._overflow is None:
                self._overflow = cuda.to_device(np.zeros(1, np.int64))
            artifact.compiled[config](*args, self._overflow)
            line = int(self._overflow.copy_to_host()[0])  # waits for the kernel
            if line:
                self._overflow = None
                self._raise_overflow(artifact, line)

        return launch

    def _raise_overflow(self, artifact, line: int):
        loop = next(op for op in walk_ops(artifact.primal.body)
                    if op.prim.loop and op.loc is not None and op.loc.line == line)
        raise TapeOverflowError(
            f"a thread ran this loop more times than max_trip={self.max_trip} lets its "
            "thread-local tape hold, so the adjoints this launch added are wrong: pass a "
            "larger max_trip to grad_kernel", loop.loc)


def _check_block_shape(artifact, config) -> None:
    """A block sum written in shared memory (frontend.block_reductions) sums the whole block
    only for one-dimensional blocks of a power-of-two number of threads that fit its buffer
    (of exactly its size when the tree's stride starts at a constant): the derivative would
    otherwise be that of another function than the kernel computes."""
    threads = config[1] if isinstance(config, tuple) and len(config) > 1 else None
    shape = tuple(threads) if isinstance(threads, (tuple, list)) else (threads,)
    count = int(shape[0]) if isinstance(shape[0], (int, np.integer)) else 0
    for op in walk_ops(artifact.primal.body):
        if op.prim is not block_sum_p:
            continue
        size = op.attrs["size"]
        fits = count == size if op.attrs["exact"] else 0 < count <= size
        if not (fits and count & (count - 1) == 0 and all(d == 1 for d in shape[1:])):
            need = f"exactly {size}" if op.attrs["exact"] else f"a power of two up to {size}"
            raise GradientInputError(op.loc.render(
                f"this block sum in shared memory adds up a whole block only when the block "
                f"is one-dimensional with {need} threads; launched with {threads!r}"))


@api_boundary
def grad_kernel(kernel, wrt, *, block_sums: bool = True, max_trip: int | None = None):
    """The adjoint of a CUDA kernel written per thread (`i = cuda.grid(1)`, a bounds check,
    element reads, one write per output per path).

    Parameters:
        kernel: a numba.cuda kernel (or its Python function).
        wrt: names of the array arguments to differentiate, e.g. ("x", "params").
        block_sums: adjoints of entries every thread reads at a fixed position (shared
            parameters) are summed over each block, then added by one atomic per block;
            False adds them thread by thread (one same-address atomic per thread).
        max_trip: the most iterations one thread runs a loop whose trip count is known at
            run time only (`while`, `range(n[i])`): its tape, the thread's own
            cuda.local.array, holds that many (times the trip counts of the loops around
            it). A launch where a thread runs more raises TapeOverflowError after the kernel
            ran. Without it such loops are refused when compiling.

    Returns:
        A KernelDerivative: launch it as `adjoint[blocks, threads](*args, *cotangents,
        *adjoints)`, with the kernel's arguments, one cotangent array per array the kernel
        writes, then one adjoint array per `wrt` name, which it adds into (zero them
        first); `adjoint.source(*args)` gives the generated kernel.

    Example:
        >>> from numba import cuda
        >>> def scale(x, out):
        ...     i = cuda.grid(1)
        ...     if i < x.shape[0]:
        ...         out[i] = 2.0 * x[i] * x[i]
        >>> adjoint = grad_kernel(scale, wrt=("x",))
        >>> import numpy as np
        >>> "cuda.grid(1)" in adjoint.source(np.ones(4), np.zeros(4))
        True
    """
    return KernelDerivative(kernel, tuple(wrt), "adjoint" if block_sums else "atomic adjoint",
                            max_trip)


@api_boundary
def tangent_kernel(kernel, wrt):
    """The tangent (forward-mode) kernel of a CUDA kernel written per thread.

    Parameters:
        kernel: a numba.cuda kernel (or its Python function).
        wrt: names of the array arguments with a tangent.

    Returns:
        A KernelDerivative: launch it with the kernel's arguments, the tangents of the
        `wrt` arrays, then arrays that receive the tangents of the outputs.

    Example:
        >>> from numba import cuda
        >>> def scale(x, out):
        ...     i = cuda.grid(1)
        ...     if i < x.shape[0]:
        ...         out[i] = 2.0 * x[i]
        >>> import numpy as np
        >>> "x_dot" in tangent_kernel(scale, wrt=("x",)).source(np.ones(4), np.zeros(4))
        True
    """
    return KernelDerivative(kernel, tuple(wrt), "tangent")
