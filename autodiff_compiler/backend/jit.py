"""Compile generated functions with Numba (nopython mode, on-disk cache) or run them as-is.

A Numba failure is reported with the generated file's path, so the user can read the code
Numba refused; there is no silent fallback to the interpreter. Numba's on-disk cache is read
only when its files are the ones we saved (numba_cache.py).
"""

from __future__ import annotations

from ..errors import CompilationError


class Compiled:
    """A generated function, compiled lazily by Numba on first call when `jit` is set."""

    def __init__(self, fn, path, jit: bool, boundscheck: bool = False, cache: bool = True):
        self.path = path
        self.cache = cache
        self.jit = jit
        self.boundscheck = boundscheck
        self.python_fn = fn
        self._fn = None

    def dispatcher(self):
        """The Numba dispatcher (made on first use), for calls from other jitted code."""
        if self._fn is None:
            self._fn = _njit(self.python_fn, self.boundscheck, self.cache) if self.jit \
                else self.python_fn
        return self._fn

    def __call__(self, *args):
        if self._fn is None:
            self._fn = self.dispatcher()
        if not self.jit:
            return self._fn(*args)
        try:
            return self._fn(*args)
        except Exception as exc:
            if _is_numba_error(exc):
                raise CompilationError(f"Numba could not compile the generated code in "
                                       f"{self.path}:\n{exc}") from exc
            raise


def _njit(fn, boundscheck: bool = False, cache: bool = True):
    """numba.njit, with an on-disk cache that is read only when it is verified (`cache`)."""
    import numba

    from .numba_cache import VerifiedCache

    dispatcher = numba.njit(boundscheck=True)(fn) if boundscheck else numba.njit(fn)
    if cache:
        dispatcher._cache = VerifiedCache(fn)  # what njit(cache=True) sets, checked
    return dispatcher


def _is_numba_error(exc: Exception) -> bool:
    from numba.core import errors

    return isinstance(exc, (errors.TypingError, errors.LoweringError,
                            errors.UnsupportedError, errors.NumbaError))
