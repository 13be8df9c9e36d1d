"""Tracebacks that end in the user's code: the compiler's own frames are left out.

An error about the user's code (an unsupported construct, an argument that cannot be
differentiated, generated code that Numba refuses, a run-time error in the user's or the
generated code) would otherwise reach the user through twenty frames of frontend, pipeline
and backend. Every public entry point is wrapped by `api_boundary`, which removes the frames
of files in this package from such an exception's traceback before it propagates, as JAX's
traceback filtering does; the user's frames, the generated module's and the caret of an
AutodiffSyntaxError stay. An unexpected exception raised inside the compiler itself (a bug)
keeps its whole traceback, and `config.show_internal_frames = True` turns filtering off.
"""

from __future__ import annotations

import functools
import os
import types

from . import config
from .backend.cache import is_generated
from .errors import (
    AutodiffSyntaxError,
    CompilationError,
    GradientInputError,
    TapeMemoryError,
    UnsupportedOperationError,
)

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
NOTE = ("(autodiff_compiler's internal frames are hidden; "
        "autodiff_compiler.config.show_internal_frames = True shows them)")
# the errors the compiler raises about the user's code
USER_ERRORS = (AutodiffSyntaxError, UnsupportedOperationError, GradientInputError,
               CompilationError, TapeMemoryError)
# raised by generated code, with the user's line and caret in the message: the generated
# module's frame is left out too
LOCATED = (TapeMemoryError,)


def is_internal(tb: types.TracebackType) -> bool:
    """Whether a traceback entry is a frame of this package's own source."""
    return tb.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR)


def filter_traceback(tb: types.TracebackType | None,
                     generated: bool = True) -> types.TracebackType | None:
    """The same traceback without the package's frames (nor the generated modules', unless
    `generated`)."""
    kept = []
    while tb is not None:
        if not is_internal(tb) and (generated or not _is_generated(tb)):
            kept.append(tb)
        tb = tb.tb_next
    filtered = None
    for entry in reversed(kept):
        filtered = types.TracebackType(filtered, entry.tb_frame, entry.tb_lasti,
                                       entry.tb_lineno)
    return filtered


def _is_generated(tb: types.TracebackType) -> bool:
    return is_generated(tb.tb_frame.f_code.co_filename)


def _innermost(tb: types.TracebackType | None):
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def should_filter(exc: BaseException) -> bool:
    """An error about the user's code, or one raised outside the compiler (the user's or the
    generated code, compiled by Numba too: backend.jit marks those), unless
    config.show_internal_frames is set."""
    if config.show_internal_frames:
        return False
    if isinstance(exc, USER_ERRORS) or getattr(exc, "raised_by_generated_code", False):
        return True
    last = _innermost(exc.__traceback__)
    return last is not None and not is_internal(last)


def api_boundary(fn):
    """Wrap a public entry point so that exceptions leaving it have filtered tracebacks."""

    @functools.wraps(fn)
    def entry_point(*args, **kwargs):
        __tracebackhide__ = True
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            filter_exception(exc)
            raise

    return entry_point


def filter_exception(exc: Exception) -> None:
    """Filter `exc`'s traceback in place (should_filter says when), before an entry point
    re-raises it with a bare `raise`. A hot entry point (GradFunction.__call__) calls this in
    its own `except` clause instead of being wrapped by api_boundary, so that successful
    calls pay for no extra frame; its own frame is one of the package's and is dropped."""
    tb = exc.__traceback__
    if should_filter(exc) and any(is_internal(t) for t in _entries(tb)):
        exc.with_traceback(filter_traceback(tb, not isinstance(exc, LOCATED)))
        context = exc.__context__
        if exc.__cause__ is None and context is not None and (
                _innermost(context.__traceback__) is None
                or is_internal(_innermost(context.__traceback__))):
            exc.__suppress_context__ = True  # the compiler handled another error
        if hasattr(exc, "add_note") and NOTE not in getattr(exc, "__notes__", ()):
            exc.add_note(NOTE)


def _entries(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next
