"""autodiff_compiler: source-to-source automatic differentiation of numeric Python.

`grad(f)` reads f's source, lowers it to structured SSA, builds the adjoint (reverse mode)
and emits it as new Python source that Numba compiles.
"""

from .api import GradFunction, grad, value_and_grad
from .backend.cache import set_cache_dir
from .batching import vmap
from .custom import custom_jvp, custom_vjp
from .errors import (
    AutodiffSyntaxError,
    CompilationError,
    GradientInputError,
    UnsupportedOperationError,
)
from .gradcheck import check_grad, numerical_grad
from .jacobians import hessian, hvp, jacfwd, jacrev, jvp, vjp
from .kernels import grad_kernel, tangent_kernel
from .version import __version__ as __version__

__all__ = [
    "AutodiffSyntaxError",
    "CompilationError",
    "GradFunction",
    "GradientInputError",
    "UnsupportedOperationError",
    "check_grad",
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
