"""Refusals at decoration: constructs the fence refuses when grad(f) is applied.

The functions below are the user's code. The offending line of each carries a `# E:<name>`
marker; the tests look the marker up in this file, so the expected line numbers follow the
code when it moves. Each refusal must name this file and that line, show the line and put a
caret under the offending construct (the `token`), and it must come when grad(f) (or
value_and_grad, or the decorator) is applied: syntax is checked at once, before any of the
user's code has run. Besides, what the fence must not refuse (docstrings).
"""

# The functions below are deliberately wrong or unusual code (unused names, for-else): that
# is what they test.
# ruff: noqa: F841, PLW0120

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from error_checks import (
    CALLS,
    Markers,
    X,
    _no_side_effects,  # noqa: F401 (an autouse fixture: applies here)
    )

from autodiff_compiler import AutodiffSyntaxError, grad, value_and_grad

MARKERS = Markers(__file__)  # this file's markers
THIS_FILE = MARKERS.file
marker_line = MARKERS.marker_line
assert_points_at = MARKERS.assert_points_at


def refuse_at_decoration(fn, name, token=None, argnums=0):
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(fn, argnums=argnums, jit=False)
    assert_points_at(info.value, name, token)
    with pytest.raises(AutodiffSyntaxError):
        value_and_grad(fn, argnums=argnums, jit=False)
    return info.value


def _record(*args):
    CALLS.append(args)
    return 0.0


# --- the user's functions: refused by the fence, at decoration ---------------------------------

def f_try(x):
    s = 0.0
    try:  # E:try
        s = x * 2.0
    except ZeroDivisionError:
        s = 0.0
    return s


def f_with(x):
    with np.errstate(all="ignore"):  # E:with
        y = x * 2.0
    return y


def f_yield(x):
    yield x * 2.0  # E:yield


def f_class(x):
    class Box:  # E:class
        pass
    return x * 2.0


G = 1.0


def f_global(x):
    global G  # E:global
    G = x
    return x * 2.0


def _make_nonlocal():
    c = 0.0

    def f_nonlocal(x):
        nonlocal c  # E:nonlocal
        c = x
        return x * 2.0

    return f_nonlocal


f_nonlocal = _make_nonlocal()


def f_varargs(x, *rest):  # E:varargs
    return x * 2.0


def f_kwargs(x, **options):  # E:kwargs
    return x * 2.0


def f_star_call(x, y):
    t = (x, y)
    return math.hypot(*t)  # E:star_call


def f_string(x):
    s = x * 2.0
    label = "energy"  # E:string
    return s


def f_bytes(x):
    tag = b"raw"  # E:bytes
    return x * 2.0


def f_fstring(x):
    label = f"x={x}"  # E:fstring
    return x * 2.0


def f_dict(x):
    d = {"x": x}  # E:dict
    return x * 2.0


def f_set(x):
    s = {x, 2.0}  # E:set
    return x * 2.0


def f_attribute(x):
    x.shape = (2, 2)  # E:attribute
    return x[0, 0]


def f_for_else(x, n):
    s = 0.0
    for i in range(n):  # E:for_else
        s += x[i]
    else:
        s = -s
    return s


def f_while_else(x):
    s = 0.0
    while s < 10.0:  # E:while_else
        s = s + x
    else:
        s = -s
    return s


def f_side_effect_then_slice(x):
    _record(x)
    x.flags = 7.0  # E:side_effect_slice_write
    return x[0]


DECORATION_CASES = [
    (f_try, "try", "try"),
    (f_with, "with", "with"),
    (f_yield, "yield", "yield"),
    (f_class, "class", "class"),
    (f_global, "global", "global"),
    (f_nonlocal, "nonlocal", "nonlocal"),
    (f_varargs, "varargs", "def"),
    (f_kwargs, "kwargs", "def"),
    (f_star_call, "star_call", "*t"),
    (f_string, "string", '"energy"'),
    (f_bytes, "bytes", 'b"raw"'),
    (f_fstring, "fstring", 'f"x={x}"'),
    (f_dict, "dict", '{"x": x}'),
    (f_set, "set", "{x, 2.0}"),
    (f_attribute, "attribute", "x.shape"),
    (f_for_else, "for_else", "for"),
    (f_while_else, "while_else", "while"),
]


@pytest.mark.parametrize("fn, name, token", DECORATION_CASES,
                         ids=[case[1] for case in DECORATION_CASES])
def test_refused_at_decoration(fn, name, token):
    err = refuse_at_decoration(fn, name, token)
    assert err.loc is not None and err.loc.line == marker_line(name)
    assert err.lineno == marker_line(name)  # SyntaxError's own fields agree
    assert Path(err.filename).resolve() == THIS_FILE
    assert CALLS == []


def test_refused_messages_say_what_is_wrong():
    cases = {f_try: "try", f_with: "with", f_yield: "yield",
             f_class: "class", f_global: "global",
             f_nonlocal: "nonlocal", f_varargs: "*args", f_kwargs: "**kwargs",
             f_star_call: "star", f_string: "string", f_fstring: "string",
             f_dict: "dict", f_set: "set", f_attribute: "attribute",
             f_for_else: "else", f_while_else: "else"}
    for fn, words in cases.items():
        with pytest.raises(AutodiffSyntaxError) as info:
            grad(fn, jit=False)
        assert words in info.value.message, (fn.__name__, info.value.message)


def test_refused_slice_write_never_runs():
    x = X()
    before = x.copy()
    with pytest.raises(AutodiffSyntaxError):
        grad(f_side_effect_then_slice, jit=False)(x)
    np.testing.assert_array_equal(x, before)
    assert CALLS == []


def test_decorator_syntax_refuses_at_definition():
    with pytest.raises(AutodiffSyntaxError) as info:
        @grad(jit=False)
        def f_decorated(x):
            y = 0.0
            try:  # E:decorated_try
                y = y + x
            except ZeroDivisionError:
                y = 0.0
            return y
    assert_points_at(info.value, "decorated_try", "try")


# --- not refused: a docstring is not a string expression --------------------------------------

def f_docstring(x):
    """A docstring is documentation, not a string in differentiated code."""
    return x * x


def test_docstring_is_accepted():
    assert grad(f_docstring, jit=False)(3.0) == pytest.approx(6.0)


def test_builtin_example_with_docstring_is_accepted():
    from autodiff_compiler.examples import example_args, power_sum

    g = grad(power_sum, jit=False)
    assert g(*example_args()).shape == (8,)
