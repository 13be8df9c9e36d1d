"""Refusals at the first call: what is known only once names are resolved and types known.

The functions below are the user's code. The offending line of each carries a `# E:<name>`
marker; the tests look the marker up in this file, so the expected line numbers follow the
code when it moves. grad(f) accepts them; calling the gradient (or lowering it) must raise,
naming this file and that line, showing the line and putting a caret under the offending
construct (the `token`) - never later, and never after any of the user's code has run.
Functions the differentiated one calls are inlined: they are read and fenced when the gradient
is first called, and a refusal inside one points into the helper's body.
"""

# The functions below are deliberately wrong or unusual code (unused names, a useless
# return): that is what they test.
# ruff: noqa: F841, PLR1711

from __future__ import annotations

import math

import numpy as np
import pytest
from error_checks import (
    CALLS,
    Markers,
    X,
    _no_side_effects,  # noqa: F401 (an autouse fixture: applies here)
    _two_args,
)

from autodiff_compiler import (
    AutodiffSyntaxError,
    UnsupportedOperationError,
    grad,
)

MARKERS = Markers(__file__)  # this file's markers
marker_line = MARKERS.marker_line
assert_points_at = MARKERS.assert_points_at


def refuse_at_call(fn, args, exc_type, name, token=None, argnums=0):
    """grad(fn) is accepted; calling (or lowering) it raises exc_type before running anything."""
    g = grad(fn, argnums=argnums, jit=False)  # must not raise: resolution is at first call
    before = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(exc_type) as info:
        g(*args)
    assert type(info.value) is exc_type
    assert_points_at(info.value, name, token)
    with pytest.raises(exc_type):  # refused again: nothing half-built was cached
        g(*args)
    with pytest.raises(exc_type):
        g.lower(*args)
    for old, new in zip(before, args):  # the user's inputs are untouched
        if isinstance(old, np.ndarray):
            np.testing.assert_array_equal(old, new)
    assert CALLS == []
    return info.value


def _scale_in_place(x):
    CALLS.append("scaled")  # E:mutating_helper
    x *= 2.0
    return 0.0


# --- refused when first called: names and types -----------------------------------------------

def helper_scale(v):
    CALLS.append("helper")  # E:helper_string
    return 2.0 * v


def helper_method_call(v):
    CALLS.append(v)  # E:helper_method
    return 2.0 * v


def _countdown(v, n):
    if n == 0:
        return v
    return _countdown(v * 2.0, n - 1)  # E:recursion


def _ping(v, n):
    return _pong(v * 2.0, n)


def _pong(v, n):
    if n == 0:
        return v
    return _ping(v, n - 1)  # E:mutual_recursion


def _star_helper(*args):  # E:star_helper
    return args[0] * 2.0


def f_det(a):
    return np.linalg.eigvals(a)[0] * 2.0  # E:det


def f_user_call(x):
    y = x * 3.0
    return helper_scale(y)


def f_helper_method(x):
    return helper_method_call(x) * 3.0


def f_mutating_call(x):
    _scale_in_place(x)
    return x[0]


def f_recursion(x, n):  # n only known at run time: the recursion cannot be unrolled
    return _countdown(x, n) + x


def f_mutual_recursion(x, n):
    return _ping(x, n)


def f_star_helper(x):
    return _star_helper(x)


def f_too_many_args(x):
    return _two_args(x, 1.0, 2.0)  # E:too_many_args


def f_too_few_args(x):
    return x * _two_args(x)  # E:too_few_args


def f_array_exp(x):
    s = 0.0
    s += math.exp(x)  # E:array_exp
    return s


def f_array_max(x, y):
    return max(x, y)  # E:array_max


def f_array_condition(x):
    s = 0.0
    if x > 0.0:  # E:array_condition
        s = 1.0
    return s


def f_range_float(x, y):
    s = 0.0
    for i in range(y):  # E:range_float
        s += x[i]
    return s


def f_range_float_const(x):
    s = 0.0
    for i in range(4.0):  # E:range_float_const
        s += x[i]
    return s


def f_one_branch(x):
    if x > 0.0:
        y = x * 2.0
    return y  # E:one_branch


def f_one_branch_else(x):
    if x > 0.0:
        z = 1.0
    else:
        y = x * 2.0
    return y * z  # E:one_branch_else


def f_loop_only(x, n):
    for i in range(n):
        t = x[i] * 2.0
    return t  # E:loop_only


def f_loop_variable_after(x, n):
    s = 0.0
    for i in range(n):
        s += x[i]
    return s * x[i]  # E:loop_variable_after


def f_undefined_name(x):
    return x * no_such_name  # noqa: F821 # E:undefined_name


def f_no_return(x):  # E:no_return
    y = x * 2.0


def f_bare_return(x):
    y = x * 2.0
    return  # E:bare_return


def f_returns_bool(x):
    return x > 0.0  # E:returns_bool


def f_returns_tuple(x, y):
    return x * y, x + y  # E:returns_tuple


def f_returns_int(x, n):
    k = n * 2
    return k  # E:returns_int


def f_returns_array(x):
    return x  # E:returns_array


def f_library_python_function(x):
    return np.sum(np.tri(3) * x[0])  # E:library_python_function


def f_join_ranks(x):
    y = np.concatenate([x, np.ones((2, 2))])  # E:join_ranks
    return np.sum(y)


def f_join_axis(x):
    y = np.stack((x, x), axis=2)  # E:join_axis
    return np.sum(y)


CALL_CASES = [
    # (fn, args, exception, marker, token)
    (f_det, (1.5,), UnsupportedOperationError, "det", "np.linalg.eigvals"),
    (f_user_call, (1.5,), UnsupportedOperationError, "helper_string", "CALLS.append"),
    (f_helper_method, (1.5,), UnsupportedOperationError, "helper_method", "CALLS.append"),
    (f_mutating_call, (X(),), UnsupportedOperationError, "mutating_helper", "CALLS.append"),
    (f_recursion, (1.5, 3), UnsupportedOperationError, "recursion", "_countdown(v * 2.0"),
    (f_mutual_recursion, (1.5, 3), UnsupportedOperationError, "mutual_recursion", "_ping(v"),
    (f_star_helper, (1.5,), AutodiffSyntaxError, "star_helper", "def"),
    (f_too_many_args, (1.5,), AutodiffSyntaxError, "too_many_args", "_two_args("),
    (f_too_few_args, (1.5,), AutodiffSyntaxError, "too_few_args", "_two_args("),
    (f_array_exp, (X(),), UnsupportedOperationError, "array_exp", "x)"),
    (f_array_max, (X(), 1.0), UnsupportedOperationError, "array_max", "x,"),
    (f_array_condition, (X(),), UnsupportedOperationError, "array_condition", "x > 0.0"),
    (f_range_float, (X(), 4.0), AutodiffSyntaxError, "range_float", "y)"),
    (f_range_float_const, (X(),), AutodiffSyntaxError, "range_float_const", "4.0"),
    (f_one_branch, (1.5,), AutodiffSyntaxError, "one_branch", "y"),
    (f_one_branch_else, (1.5,), AutodiffSyntaxError, "one_branch_else", "y"),
    (f_loop_only, (X(), 4), AutodiffSyntaxError, "loop_only", "t"),
    (f_loop_variable_after, (X(), 4), AutodiffSyntaxError, "loop_variable_after", "i]"),
    (f_undefined_name, (1.5,), AutodiffSyntaxError, "undefined_name", "no_such_name"),
    (f_no_return, (1.5,), AutodiffSyntaxError, "no_return", "def"),
    (f_bare_return, (1.5,), AutodiffSyntaxError, "bare_return", "return"),
    (f_returns_bool, (1.5,), UnsupportedOperationError, "returns_bool", "return"),
    (f_returns_tuple, (1.5, 2.5), UnsupportedOperationError, "returns_tuple", "return"),
    (f_returns_int, (1.5, 3), UnsupportedOperationError, "returns_int", "return"),
    (f_returns_array, (X(),), UnsupportedOperationError, "returns_array", "return"),
    (f_library_python_function, (X(),), UnsupportedOperationError,
     "library_python_function", "np.tri"),
    (f_join_ranks, (X(),), UnsupportedOperationError, "join_ranks", "np.concatenate"),
    (f_join_axis, (X(),), UnsupportedOperationError, "join_axis", "np.stack"),
]


@pytest.mark.parametrize("fn, args, exc_type, name, token", CALL_CASES,
                         ids=[case[3] for case in CALL_CASES])
def test_refused_at_first_call(fn, args, exc_type, name, token):
    args = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in args)
    refuse_at_call(fn, args, exc_type, name, token)


def test_unresolved_names_are_not_looked_up_at_decoration():
    # grad(f) succeeds although f calls something without a rule, or a helper that is
    # refused ...
    g_det = grad(f_det, jit=False)
    g_helper = grad(f_user_call, jit=False)
    # ... and the same calls are refused as soon as the types are known
    with pytest.raises(UnsupportedOperationError) as info:
        g_det.lower(np.eye(2))
    assert "np.linalg.eigvals" in info.value.message
    with pytest.raises(UnsupportedOperationError) as info:
        g_helper.lower(2.0)
    assert_points_at(info.value, "helper_string", "CALLS.append")
    assert CALLS == []


def f_calls_late_helper(x):
    return _late_helper(x) * 2.0  # noqa: F821 (defined by the test, after grad(f))


def _late_helper_impl(v):
    return v * v * v


def test_helper_defined_after_decoration_is_found_at_first_call():
    g = grad(f_calls_late_helper, jit=False)  # _late_helper does not exist yet
    globals()["_late_helper"] = _late_helper_impl
    try:
        assert g(1.5) == pytest.approx(6.0 * 1.5 ** 2, rel=1e-14)
    finally:
        del globals()["_late_helper"]


def test_refused_call_never_runs_user_code(capsys):
    x = X()
    before = x.copy()
    g = grad(f_mutating_call, jit=False)
    with pytest.raises(UnsupportedOperationError) as info:  # the helper's call, in its body
        g(x)
    assert_points_at(info.value, "mutating_helper", "CALLS.append")
    np.testing.assert_array_equal(x, before)
    assert CALLS == []
    with pytest.raises(UnsupportedOperationError):
        grad(f_helper_method, jit=False)(1.5)
    assert CALLS == []
    assert capsys.readouterr().out == ""


def test_refusal_messages_for_calls():
    cases = [(f_recursion, (1.5, 3), "recursive"), (f_mutual_recursion, (1.5, 3), "recursive"),
             (f_star_helper, (1.5,), "*args"), (f_too_many_args, (1.5,), "_two_args"),
             (f_det, (np.eye(2),), "np.linalg.eigvals")]
    for fn, args, words in cases:
        with pytest.raises((AutodiffSyntaxError, UnsupportedOperationError)) as info:
            grad(fn, jit=False)(*args)
        assert words in info.value.message, (fn.__name__, info.value.message)


def test_one_branch_message_names_the_if():
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(f_one_branch, jit=False)(1.5)
    assert "'y'" in info.value.message
    assert str(marker_line("one_branch") - 2) in info.value.message  # the 'if' line


def test_loop_only_message_names_the_loop():
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(f_loop_only, jit=False)(X(), 4)
    assert "'t'" in info.value.message
    assert str(marker_line("loop_only") - 2) in info.value.message  # the 'for' line


def test_vjp_hint_for_non_scalar_outputs():
    with pytest.raises(UnsupportedOperationError) as info:
        grad(f_returns_tuple, jit=False)(1.5, 2.5)
    assert "one float" in info.value.message
