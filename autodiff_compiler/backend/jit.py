"""Compile generated functions with Numba (nopython mode, on-disk cache) or run them as-is.

A Numba failure is reported with the generated file's path, so the user can read the code
Numba refused; there is no silent fallback to the interpreter. Numba's on-disk cache is read
only when its files are the ones we saved (numba_cache.py).

Numba compiles for the argument types of the first call (or of `Compiled.compile`); the time
it takes is logged at INFO on the `autodiff_compiler` logger, and the first compile of a
process that takes longer than SLOW_COMPILE seconds is reported once at WARNING.
"""

from __future__ import annotations

import logging
import time

from ..errors import CompilationError

logger = logging.getLogger("autodiff_compiler")

#: seconds of Numba compilation above which the first such compile is reported at WARNING
SLOW_COMPILE = 2.0
_warned_slow = False


class Compiled:
    """A generated function, compiled lazily by Numba on first call when `jit` is set.

    `compile_time` holds the seconds Numba took for the signatures compiled so far."""

    def __init__(self, fn, path, jit: bool, boundscheck: bool = False, cache: bool = True,
                 parallel: bool = False):
        self.path = path
        self.parallel = parallel
        self.cache = cache
        self.jit = jit
        self.boundscheck = boundscheck
        self.python_fn = fn
        self.compile_time = 0.0
        self._fn = None

    def dispatcher(self):
        """The Numba dispatcher (made on first use), for calls from other jitted code."""
        if self._fn is None:
            self._fn = _njit(self.python_fn, self.boundscheck, self.cache, self.parallel) \
                if self.jit else self.python_fn
        return self._fn

    def compile(self, args) -> float:
        """Compile for the Numba types of `args` without running (a no-op without jit, or
        when that signature is compiled already); returns the seconds it took."""
        dispatcher = self.dispatcher()
        if not self.jit:
            return 0.0
        import numba

        signature = tuple(numba.typeof(a) for a in args)
        if signature in dispatcher.overloads:
            return 0.0
        start = time.perf_counter()
        try:
            dispatcher.compile(signature)
        except Exception as exc:
            if _is_numba_error(exc):
                raise self._error(exc) from exc
            raise
        seconds = time.perf_counter() - start
        self.compile_time += seconds
        _report(self.python_fn.__name__, seconds, self.path)
        return seconds

    def __call__(self, *args):
        if self._fn is None and self.jit:
            self.compile(args)
        fn = self.dispatcher()
        if not self.jit:
            return fn(*args)
        try:
            return fn(*args)
        except Exception as exc:
            if _is_numba_error(exc):
                raise self._error(exc) from exc
            exc.raised_by_generated_code = True  # machine code has no frame to tell it by
            raise

    def _error(self, exc: Exception) -> CompilationError:
        return CompilationError(f"Numba could not compile the generated code in "
                                f"{self.path}:\n{exc}")


def _report(name: str, seconds: float, path) -> None:
    global _warned_slow
    logger.info("%s: compiled by Numba in %.3f s (%s)", name, seconds, path)
    if seconds > SLOW_COMPILE and not _warned_slow:
        _warned_slow = True
        logger.warning("Numba took %.1f s to compile %s (generated in %s); the machine code is "
                       "cached on disk, so later runs load it instead. (Reported once; the "
                       "'autodiff_compiler' logger gives every compile time at INFO.)",
                       seconds, name, path)


def _njit(fn, boundscheck: bool = False, cache: bool = True, parallel: bool = False):
    """numba.njit, with an on-disk cache that is read only when it is verified (`cache`);
    parallel: Numba's parallel backend (prange loops run on its threads)."""
    import numba

    from .numba_cache import VerifiedCache

    options = {"boundscheck": True} if boundscheck else {}
    if parallel:
        options["parallel"] = True
    dispatcher = numba.njit(**options)(fn) if options else numba.njit(fn)
    if cache:
        dispatcher._cache = VerifiedCache(fn)  # what njit(cache=True) sets, checked
    return dispatcher


def _is_numba_error(exc: Exception) -> bool:
    from numba.core import errors

    return isinstance(exc, (errors.TypingError, errors.LoweringError,
                            errors.UnsupportedError, errors.NumbaError))
