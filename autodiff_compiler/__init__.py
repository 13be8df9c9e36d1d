"""autodiff_compiler: source-to-source automatic differentiation of numeric Python.

`grad(f)` reads f's source, lowers it to structured SSA, builds the adjoint (reverse mode)
and emits it as new Python source that Numba compiles. docs/api.md lists the public
functions (generated from their docstrings by `python -m autodiff_compiler.docs`).
"""

from . import config
from .api import GradFunction, Lowered, grad, value_and_grad
from .backend.cache import set_cache_dir
from .batching import vmap
from .custom import custom_jvp, custom_vjp
from .errors import (
    AutodiffSyntaxError,
    CompilationError,
    GradientInputError,
    TapeMemoryError,
    UnsupportedOperationError,
)
from .gradcheck import GradientMismatchError, check_grad, numerical_grad
from .jacobians import hessian, hvp, jacfwd, jacrev, jvp, vjp
from .kernels import grad_kernel, tangent_kernel
from .tapes import TapeBytes, TapeReport
from .version import __version__ as __version__

__all__ = [
    "AutodiffSyntaxError",
    "CompilationError",
    "GradFunction",
    "GradientInputError",
    "GradientMismatchError",
    "Lowered",
    "TapeBytes",
    "TapeMemoryError",
    "TapeReport",
    "UnsupportedOperationError",
    "check_grad",
    "config",
    "custom_jvp",
    "custom_vjp",
    "grad",
    "grad_kernel",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "numerical_grad",
    "set_cache_dir",
    "tangent_kernel",
    "value_and_grad",
    "vjp",
    "vmap",
]
