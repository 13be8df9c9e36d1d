"""Compile generated derivative code for the GPU with numba.cuda.

Device functions become `cuda.jit(device=True)` functions that the user's kernels call;
kernels become `cuda.jit` kernels launched with the usual `kernel[blocks, threads](...)`.
Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set before numba is imported) runs the same
code on the CPU, which is how the tests check it without a GPU.
"""

from __future__ import annotations

from ..version import __version__
from .cache import import_module, write_module


def load(source: str, name_hint: str):
    """Write and import a generated module (no Numba compilation yet)."""
    return import_module(write_module(source, name_hint, __version__ + "-cuda"), source)


def device(fn):
    from numba import cuda

    return cuda.jit(device=True)(fn)


def kernel(fn):
    from numba import cuda

    return cuda.jit(fn)
