"""Resolve the names a function reads that are not its own locals.

Globals and closure variables are looked up in the function's namespace when it is lowered
(first call): modules (math, numpy under any alias), functions of those modules that have a
primitive, builtins with a meaning here (range, len, abs, min, max, float, int, bool, pow),
and numbers, which are read as constants.
"""

from __future__ import annotations

import builtins
import inspect
import math
from dataclasses import dataclass

import numpy as np

# function object -> primitive name (math and numpy spellings of one function share a name)
_FUNCTION_PRIMS = {
    math.sin: "sin", np.sin: "sin", math.cos: "cos", np.cos: "cos", math.tan: "tan",
    np.tan: "tan", math.asin: "arcsin", np.arcsin: "arcsin", math.acos: "arccos",
    np.arccos: "arccos", math.atan: "arctan", np.arctan: "arctan", math.atan2: "arctan2",
    np.arctan2: "arctan2", math.sinh: "sinh", np.sinh: "sinh", math.cosh: "cosh",
    np.cosh: "cosh", math.tanh: "tanh", np.tanh: "tanh", math.exp: "exp", np.exp: "exp",
    math.expm1: "expm1", np.expm1: "expm1", math.log: "log", np.log: "log",
    math.log1p: "log1p", np.log1p: "log1p", math.log2: "log2", np.log2: "log2",
    math.log10: "log10", np.log10: "log10", math.sqrt: "sqrt", np.sqrt: "sqrt",
    math.hypot: "hypot", np.hypot: "hypot", math.fabs: "fabs", np.fabs: "fabs",
    np.abs: "abs", np.absolute: "abs", np.sign: "sign", math.pow: "fpow", np.power: "pow",
    np.square: "square",
    np.minimum: "min2", np.maximum: "max2",
    math.asinh: "arcsinh", np.arcsinh: "arcsinh", math.acosh: "arccosh", np.arccosh: "arccosh",
    math.atanh: "arctanh", np.arctanh: "arctanh", np.exp2: "exp2", np.cbrt: "cbrt",
    math.erf: "erf", math.erfc: "erfc", np.floor: "floor", np.ceil: "ceil",
    math.copysign: "copysign", np.copysign: "copysign",
    math.lgamma: "lgamma", math.gamma: "gamma",
}
if hasattr(np, "asin"):  # NumPy 2 array-API aliases
    _FUNCTION_PRIMS.update({np.asin: "arcsin", np.acos: "arccos", np.atan: "arctan",
                            np.atan2: "arctan2", np.pow: "pow"})

# array constructors: name -> (fill value, whether it takes an array to copy the shape of)
_CREATORS = {
    np.zeros: "zeros", np.ones: "ones", np.empty: "empty", np.full: "full",
    np.zeros_like: "zeros_like", np.ones_like: "ones_like", np.empty_like: "empty_like",
    np.full_like: "full_like", np.copy: "copy", np.arange: "arange", np.linspace: "linspace",
    np.eye: "eye", np.identity: "eye",
}

_ARRAY_FUNCTIONS = {
    np.sum: "sum", np.mean: "mean", np.dot: "dot", np.matmul: "matmul", np.outer: "outer",
    np.transpose: "transpose", np.max: "max", np.amax: "max", np.min: "min", np.amin: "min",
    np.prod: "prod", np.cumsum: "cumsum", np.cumprod: "cumprod", np.where: "where", np.clip: "clip",
    np.logaddexp: "logaddexp", np.reciprocal: "reciprocal", np.linalg.norm: "norm",
    np.ravel: "ravel", np.reshape: "reshape", np.concatenate: "concatenate",
    np.stack: "stack", np.linalg.solve: "solve", np.linalg.inv: "inv", np.linalg.det: "det",
    np.linalg.slogdet: "slogdet",
    np.trace: "trace", np.diag: "diag", np.hstack: "hstack", np.vstack: "vstack",
    np.triu: "triu", np.tril: "tril", np.var: "var", np.std: "std", np.squeeze: "squeeze", np.flip: "flip",
    np.swapaxes: "swapaxes", np.moveaxis: "moveaxis",
    # compositions of primitives (frontend/numpy_more.py)
    np.add: "add", np.subtract: "subtract", np.multiply: "multiply", np.divide: "divide",
    np.true_divide: "true_divide", np.floor_divide: "floor_divide", np.mod: "mod",
    np.remainder: "remainder", np.negative: "negative", np.positive: "positive",
    np.fmod: "fmod", np.deg2rad: "deg2rad", np.radians: "radians", np.rad2deg: "rad2deg",
    np.degrees: "degrees", np.real: "real", np.imag: "imag", np.conj: "conj",
    np.conjugate: "conjugate", np.logaddexp2: "logaddexp2", np.nan_to_num: "nan_to_num",
    np.sinc: "sinc", np.heaviside: "heaviside", np.isnan: "isnan",
    np.expand_dims: "expand_dims", np.atleast_1d: "atleast_1d", np.atleast_2d: "atleast_2d",
    np.atleast_3d: "atleast_3d", np.flipud: "flipud", np.fliplr: "fliplr", np.rot90: "rot90",
    np.roll: "roll", np.repeat: "repeat", np.tile: "tile", np.append: "append",
    np.split: "split", np.array_split: "array_split", np.diagonal: "diagonal",
    np.broadcast_to: "broadcast_to", np.sort: "sort", np.argsort: "argsort",
    np.argmax: "argmax", np.argmin: "argmin", np.average: "average", np.array: "array",
    np.asarray: "asarray", np.all: "all", np.any: "any", np.einsum: "einsum",
    np.tensordot: "tensordot", np.inner: "inner", np.kron: "kron", np.cross: "cross",
    np.linalg.cholesky: "cholesky", np.take_along_axis: "take_along_axis",
    np.partition: "partition", np.argpartition: "argpartition", np.diff: "diff",
    np.take: "take", np.vdot: "vdot", np.meshgrid: "meshgrid", np.median: "median",
    np.linalg.eigh: "eigh", np.linalg.eigvalsh: "eigvalsh", np.linalg.svd: "svd",
    np.linalg.qr: "qr", np.linalg.lstsq: "lstsq",
}
if hasattr(np, "trapezoid"):  # NumPy 2's name of np.trapz
    _ARRAY_FUNCTIONS[np.trapezoid] = "trapezoid"

try:  # scipy.special, where SciPy is installed (compiled through our runtime's functions)
    import scipy.special as _special
except ImportError:  # pragma: no cover - SciPy is optional
    _special = None
if _special is not None:
    _FUNCTION_PRIMS.update({_special.gammaln: "lgamma", _special.gamma: "gamma",
                            _special.digamma: "digamma", _special.psi: "digamma",
                            _special.erf: "erf", _special.erfc: "erfc"})
    _ARRAY_FUNCTIONS.update({_special.expit: "expit", _special.logit: "logit",
                             _special.xlogy: "xlogy", _special.xlog1py: "xlog1py",
                             _special.logsumexp: "logsumexp", _special.softmax: "softmax",
                             _special.log_softmax: "log_softmax"})

_BUILTINS = {
    builtins.range: "range", builtins.len: "len", builtins.abs: "abs", builtins.min: "min",
    builtins.max: "max", builtins.float: "float", builtins.int: "int", builtins.bool: "bool",
    builtins.pow: "pow", builtins.sum: "sum",
    np.float64: "float", np.int64: "int", np.bool_: "bool", np.double: "float",
    np.float32: "float32",
}


@dataclass(frozen=True)
class Resolved:
    """What a non-local name or attribute chain denotes."""

    kind: str  # module | prim | creator | builtin | constant | array | function | unknown
    value: object = None
    name: str = ""


def lookup_name(fn, name: str) -> Resolved:
    """Resolve a bare name read by `fn` that is not a local variable."""
    closure = _closure_vars(fn)
    if name in closure:
        return classify(closure[name], name)
    if name in fn.__globals__:
        return classify(fn.__globals__[name], name)
    if hasattr(builtins, name):
        return classify(getattr(builtins, name), name)
    return Resolved("unknown", name=name)


# the call a block reduction in shared memory becomes (frontend.block_reductions); not a
# numba.cuda name, so no user code calls it
BLOCK_SUM = "autodiff_block_sum"


def is_cuda_module(module) -> bool:
    name = getattr(module, "__name__", "")
    return name.startswith(("numba.cuda", "numba_cuda"))


def lookup_attribute(base: Resolved, attr: str) -> Resolved:
    if base.kind == "module" and is_cuda_module(base.value):
        if attr in ("grid", BLOCK_SUM):
            return Resolved("cuda", attr, f"{base.name}.{attr}")
        return Resolved("unknown", name=f"{base.name}.{attr} (a differentiated kernel is "
                        "written per thread with cuda.grid: shared memory, syncthreads and "
                        "atomics only in a block sum of the form of docs/cuda.md (buf[t] = v; "
                        "a halving tree; if t == 0: cuda.atomic.add(out, k, buf[0])); else "
                        "write each thread's own result, e.g. out[i] = ..., and sum the "
                        "outputs after the launch)")
    if base.kind != "module":
        return Resolved("unknown", name=f"{base.name}.{attr}")
    if not hasattr(base.value, attr):
        return Resolved("unknown", name=f"{base.name}.{attr}")
    return classify(getattr(base.value, attr), f"{base.name}.{attr}")


def classify(obj, name: str) -> Resolved:
    if getattr(obj, "__autodiff_custom__", False):  # custom_vjp / custom_jvp (custom.py)
        return Resolved("custom", obj, name)
    if getattr(obj, "__autodiff_transform__", False):  # a gradient, inlined (nested.py)
        return Resolved("derivative", obj, name)
    if getattr(obj, "__autodiff_factory__", False):  # grad / value_and_grad itself
        return Resolved("factory", obj, name)
    if isinstance(obj, type(math)):
        return Resolved("module", obj, name)
    try:
        if obj in _BUILTINS:
            return Resolved("builtin", _BUILTINS[obj], name)
        if obj in _FUNCTION_PRIMS:
            return Resolved("prim", _FUNCTION_PRIMS[obj], name)
        if obj in _CREATORS:
            return Resolved("creator", _CREATORS[obj], name)
        if obj in _ARRAY_FUNCTIONS:
            return Resolved("array_function", _ARRAY_FUNCTIONS[obj], name)
    except TypeError:  # unhashable
        pass
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf" and obj.ndim > 0:
        return Resolved("array", obj, name)
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating)):
        return Resolved("constant", obj.item() if isinstance(obj, np.generic) else obj, name)
    if getattr(obj, "__module__", None) in _TRANSFORM_MODULES and callable(obj) \
            and not hasattr(obj, "__autodiff_wrapped__"):
        return Resolved("transform", obj, name)  # grad, jvp, ... inside a function: refused
    if _is_library(obj):
        return Resolved("unknown", obj, name)  # no rule, and its source is not ours to read
    if inspect.isfunction(obj) or inspect.isfunction(getattr(obj, "py_func", None)) \
            or hasattr(obj, "__autodiff_wrapped__"):
        return Resolved("function", obj, name)  # Python source we can read and inline
    return Resolved("unknown", obj, name)


_TRANSFORM_MODULES = ("autodiff_compiler.api", "autodiff_compiler.jacobians",
                      "autodiff_compiler.kernels", "autodiff_compiler.gradcheck")
_LIBRARIES = ("numpy", "scipy", "numba", "math", "builtins")


def _is_library(obj) -> bool:
    """A function of NumPy, SciPy or Numba: some are written in Python, but reading their
    source would differentiate an implementation detail (keywords, dispatch, dtype logic)."""
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARIES and not hasattr(obj, "__autodiff_wrapped__")


def _closure_vars(fn) -> dict:
    if not fn.__closure__:
        return {}
    values = {}
    for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
        try:
            values[var] = cell.cell_contents
        except ValueError:  # empty cell
            pass
    return values
