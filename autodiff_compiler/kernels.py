"""Derivatives on the GPU: device-function gradients and adjoint / tangent kernels.

- `device_grad(f)` (also `grad(f, target="cuda")`): a numba.cuda device function returning the
  partial derivatives of a scalar function. It runs the tangent code once per differentiated
  argument, which needs no tape (threads cannot grow one), so any loop or branch works.
- `grad_kernel(kernel, wrt=("x", "params"))`: the adjoint of a kernel written per thread
  (`i = cuda.grid(1)`, a bounds check, element reads, writes of out[i], device-function
  calls). It takes the kernel's arguments, then one cotangent array per array the kernel
  writes, then one adjoint array per `wrt` name, which it accumulates into (zero them first).
  Elements several threads may read are accumulated with cuda.atomic.add, a thread's own
  element (indexed by its cuda.grid(1) index) with a plain add.
- `tangent_kernel(kernel, wrt=...)`: forward mode: the arguments, the tangents of the `wrt`
  arrays, then arrays that receive the tangents of the outputs.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import __version__
from .ad.forward import forward_mode, kernel_tangent
from .ad.kernel import _kernel_outputs, kernel_adjoint
from .api import _normalize_argnums
from .backend import cuda as cuda_backend
from .codegen.emit import emit_module
from .errors import GradientInputError
from .frontend.lower import lower_function
from .frontend.reader import read_function
from .ir.types import F64, I64, Type
from .ir.verifier import verify
from .transforms.cse import cse


def _origin(parsed) -> str:
    return f"{parsed.filename}:{parsed.first_line} ({parsed.node.name})"


def _scalar_types(fn) -> list[Type]:
    """Device functions take numbers: int where annotated `int`, float otherwise."""
    params = inspect.signature(fn, eval_str=True).parameters.values()
    return [I64 if p.annotation is int else F64 for p in params]


class DeviceDerivative:
    """The generated device code of a scalar function's gradient (or tangent)."""

    def __init__(self, f, argnums=0, tangent: bool = False):
        self.parsed = read_function(f)
        types = _scalar_types(self.parsed.fn)
        nums, single = _normalize_argnums(argnums, len(types))
        for k in nums:
            if types[k] != F64:
                raise GradientInputError(f"argument {k} is an int: it cannot be differentiated")
        primal = cse(lower_function(self.parsed, types))
        verify(primal)
        self.jvp_fn = forward_mode(primal, nums, name=primal.name + "_jvp")
        verify(self.jvp_fn)
        params = ", ".join(primal.param_names)
        if tangent:
            self.name, extra = self.jvp_fn.name, ""
        else:
            self.name = primal.name + "_grad"
            extra = _gradient_wrapper(self.name, self.jvp_fn.name, params, len(nums), single)
        self.source = emit_module([self.jvp_fn], _origin(self.parsed), __version__, cuda=True,
                                  extra=extra)
        self.module = cuda_backend.load(self.source, self.name)
        self.module.__dict__[self.jvp_fn.name] = cuda_backend.device(
            getattr(self.module, self.jvp_fn.name))
        self.function = getattr(self.module, self.name)
        if not tangent:
            self.function = cuda_backend.device(self.function)


def _gradient_wrapper(name: str, jvp_name: str, params: str, count: int, single: bool) -> str:
    """A device function calling the tangent code once per differentiated argument."""
    lines = [f"def {name}({params}):"]
    for k in range(count):
        seeds = ", ".join("1.0" if j == k else "0.0" for j in range(count))
        lines.append(f"    value, d{k} = {jvp_name}({params}, {seeds})")
    results = ", ".join(f"d{k}" for k in range(count))
    lines.append(f"    return {results}" if single else f"    return ({results},)")
    return "\n".join(lines) + "\n"


def device_grad(f, argnums=0):
    """A cuda device function: the gradient of scalar f (a number, or a tuple of partials)."""
    derivative = DeviceDerivative(f, argnums)
    derivative.function.autodiff_source = derivative.source
    return derivative.function


def device_jvp(f, argnums=None):
    """A cuda device function (args..., tangents...) -> (value, directional derivative)."""
    fn = getattr(f, "py_func", f)
    count = len(inspect.signature(fn).parameters)
    nums = list(range(count)) if argnums is None else list(argnums)
    derivative = DeviceDerivative(f, tuple(nums), tangent=True)
    function = cuda_backend.device(derivative.function)
    function.autodiff_source = derivative.source
    return function


def _kernel_type(value) -> Type:
    dtype = np.dtype(getattr(value, "dtype", type(value)))
    kind = {"f": "float", "i": "int", "u": "int", "b": "bool"}.get(dtype.kind)
    if kind is None:
        raise GradientInputError(f"unsupported kernel argument of type {dtype}")
    return Type(kind, getattr(value, "ndim", 0))


class KernelDerivative:
    """A derivative kernel, specialised and compiled per argument types at first launch:
    `adjoint[blocks, threads](*args)`."""

    def __init__(self, kernel, wrt, mode: str):
        self.parsed = read_function(kernel)
        names = list(inspect.signature(self.parsed.fn).parameters)
        missing = [w for w in wrt if w not in names]
        if missing:
            raise GradientInputError(f"{self.parsed.fn.__name__} has no argument {missing[0]!r}")
        self.wrt = [names.index(w) for w in wrt]
        self.mode = mode
        self.compiled: dict[tuple, tuple] = {}

    def specialise(self, args):
        """(generated source, kernel) for arguments like `args` (the kernel's own ones)."""
        types = tuple(_kernel_type(a) for a in args)
        if types not in self.compiled:
            primal = cse(lower_function(self.parsed, list(types), kernel=True))
            verify(primal)
            if self.mode == "adjoint":
                derivative = kernel_adjoint(primal, self.wrt)
            else:
                derivative = kernel_tangent(primal, self.wrt, _kernel_outputs(primal, self.wrt))
            verify(derivative)
            source = emit_module([derivative], _origin(self.parsed), __version__, cuda=True)
            module = cuda_backend.load(source, derivative.name)
            self.compiled[types] = (source, cuda_backend.kernel(getattr(module,
                                                                        derivative.name)))
        return self.compiled[types]

    def source(self, *args) -> str:
        """The generated kernel source for the kernel's arguments `args`."""
        return self.specialise(args)[0]

    def __getitem__(self, config):
        def launch(*args):
            count = len(inspect.signature(self.parsed.fn).parameters)
            _, compiled = self.specialise(args[:count])
            compiled[config](*args)

        return launch


def grad_kernel(kernel, wrt):
    """The adjoint kernel of `kernel` w.r.t. the array arguments named in `wrt`."""
    return KernelDerivative(kernel, tuple(wrt), "adjoint")


def tangent_kernel(kernel, wrt):
    """The tangent (forward-mode) kernel of `kernel` w.r.t. the arrays named in `wrt`."""
    return KernelDerivative(kernel, tuple(wrt), "tangent")
