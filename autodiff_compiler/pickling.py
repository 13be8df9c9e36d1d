"""Pickling what the transforms return: the user's callable, the options and the function's
source text, never compiled code.

A process that unpickles a gradient builds it again from the function: it reads the source,
regenerates the module (the same bytes, so the same cache file) and Numba loads the machine
code from its cache. Functions pickle as the pickler pickles them: by reference with pickle
(module-level functions), by value with cloudpickle (lambdas, closures, functions of
`__main__`, as Dask sends them). Where the receiving process cannot read the source — a
function pickled by value (cloudpickle names its code's file "<dynamic-code>"), a file that
is not on that machine, an IPython cell or exec'd text known only to linecache — the text
carried along is registered with linecache under the function's original file name, at its
original lines.
"""

from __future__ import annotations

import inspect
import linecache
import os

from .callables import Callee


def source_record(f) -> tuple | None:
    """(filename, first line, lines) of the source of the function `f` reads (None: none)."""
    fn = Callee(f).fn
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    return code.co_filename, first, tuple(lines)


def register(f, record) -> None:
    """Make the recorded source readable for `f` in this process (see the module doc)."""
    if record is None:
        return
    filename, first, lines = record
    fn = Callee(f).fn
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_filename != filename:
        fn.__code__ = code.replace(co_filename=filename)  # pickled by value
    if os.path.exists(filename):
        return  # a stale file is reported by the frontend's check, never shadowed
    known = linecache.getlines(filename)
    if known[first - 1:first - 1 + len(lines)] == list(lines):
        return
    padded = ["\n"] * (first - 1) + list(lines)
    if len(known) >= len(padded):  # other text there: put ours at its lines
        padded = known[:first - 1] + list(lines) + known[first - 1 + len(lines):]
    linecache.cache[filename] = (sum(map(len, padded)), None, padded, filename)


def rebuild(factory, record, args, kwargs):
    """factory(*args, **kwargs), once the carried source is readable (args[0] is f)."""
    register(args[0], record)
    return factory(*args, **kwargs)


def reducer(factory, f, args, kwargs) -> tuple:
    """The __reduce__ tuple rebuilding an object as factory(f, *args, **kwargs)."""
    return rebuild, (factory, source_record(f), (f, *args), dict(kwargs))
