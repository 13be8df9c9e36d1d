"""Every refused construct: the exception's type, where it points, and when it is raised.

The functions below are the user's code. The offending line of each carries a `# E:<name>`
marker; the tests look the marker up in this file, so the expected line numbers follow the
code when it moves. Each refusal must name this file and that line, show the line and put a
caret under the offending construct (the `token`), and it must come either when grad(f) is
applied (syntax: the fence) or when the gradient is first called (names are resolved and
types known only then) - never later, and never after any of the user's code has run.
Functions the differentiated one calls are inlined: they are read and fenced when the gradient
is first called, and a refusal inside one points into the helper's body.
"""

# The functions below are deliberately wrong or unusual code (unused names, a read before
# assignment, a useless return, for-else): that is what they test.
# ruff: noqa: F841, F823, PLW0120, PLR1711

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from autodiff_compiler import (
    AutodiffSyntaxError,
    GradientInputError,
    UnsupportedOperationError,
    grad,
    value_and_grad,
)

THIS_FILE = Path(__file__).resolve()
_LINES = THIS_FILE.read_text().splitlines()
CALLS: list = []  # side effects of user code: must stay empty


def marker_line(name: str) -> int:
    """1-based line of the unique line that ends with `# E:<name>`."""
    hits = [k + 1 for k, text in enumerate(_LINES) if text.rstrip().endswith(f"# E:{name}")]
    assert len(hits) == 1, f"marker E:{name} found on lines {hits}"
    return hits[0]


def assert_points_at(err, name: str, token: str | None = None) -> None:
    """str(err) is 'FILE:LINE:COL: message', the line, and a caret under `token`."""
    line = marker_line(name)
    text = str(err)
    lines = text.splitlines()
    assert len(lines) == 3, text
    head, shown, caret = lines
    where = f"{THIS_FILE}:{line}:"
    assert head.startswith(where), f"expected {where} in:\n{text}"
    assert THIS_FILE.name in head
    assert shown.rstrip().endswith(f"# E:{name}"), text
    assert caret.strip() == "^", text
    original = _LINES[line - 1].rstrip()
    assert shown.endswith(original), text
    prefix = len(shown) - len(original)  # the indentation the message adds
    col = len(caret) - 1 - prefix  # 0-based column of the caret in the file's line
    assert 0 <= col < len(original) and original[col] != " ", f"caret points at nothing:\n{text}"
    col_field = int(head[len(where):].split(":", 1)[0])
    assert col_field == col + 1, f"column {col_field} does not match the caret:\n{text}"
    if token is not None:
        assert original[col:].startswith(token), \
            f"caret should be under {token!r}, is under {original[col:col + 20]!r}:\n{text}"


def refuse_at_decoration(fn, name, token=None, argnums=0):
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(fn, argnums=argnums, jit=False)
    assert_points_at(info.value, name, token)
    with pytest.raises(AutodiffSyntaxError):
        value_and_grad(fn, argnums=argnums, jit=False)
    return info.value


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


@pytest.fixture(autouse=True)
def _no_side_effects():
    CALLS.clear()
    yield
    CALLS.clear()


def _record(*args):
    CALLS.append(args)
    return 0.0


def _scale_in_place(x):
    CALLS.append("scaled")  # E:mutating_helper
    x *= 2.0
    return 0.0


def _two_args(a, b):
    return a * b


def X():
    return np.linspace(0.1, 1.0, 4)


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


def f_lambda_inside(x):
    g = lambda v: v * 2.0  # E:lambda_inside
    return g(x)


f_lambda = lambda x: x * 2.0  # E:lambda


def f_class(x):
    class Box:  # E:class
        pass
    return x * 2.0


def f_nested_def(x):
    def helper(v):  # E:nested_def
        return v * 2.0
    return helper(x)


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


def f_list(x):
    values = [x, 2.0 * x]  # E:list
    return values[0] + values[1]


def f_list_times(x):
    values = [0.0] * 3  # E:list_times
    return x * 2.0


def f_listcomp(x):
    values = [x * k for k in range(3)]  # E:listcomp
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


def f_slice_then_write(x):
    y = x.copy()
    v = y[1:]
    y[0] = 2.0
    return v[0]  # E:slice_then_write


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


def f_keyword(x):
    return math.log(x) + round(x, ndigits=2)  # E:keyword


def f_side_effect_then_slice(x):
    _record(x)
    x.flags = 7.0  # E:side_effect_slice_write
    return x[0]


def f_keyword_helper(x):
    return _two_args(x, b=2.0)  # E:keyword_helper


def f_dtype(x):
    y = np.zeros(3, dtype=np.float64)  # E:dtype
    y[0] = x
    return y[0]


DECORATION_CASES = [
    (f_try, "try", "try"),
    (f_with, "with", "with"),
    (f_yield, "yield", "yield"),
    (f_lambda_inside, "lambda_inside", "lambda"),
    (f_class, "class", "class"),
    (f_nested_def, "nested_def", "def helper"),
    (f_global, "global", "global"),
    (f_nonlocal, "nonlocal", "nonlocal"),
    (f_varargs, "varargs", "def"),
    (f_kwargs, "kwargs", "def"),
    (f_star_call, "star_call", "*t"),
    (f_string, "string", '"energy"'),
    (f_bytes, "bytes", 'b"raw"'),
    (f_fstring, "fstring", 'f"x={x}"'),
    (f_list, "list", "[x, 2.0 * x]"),
    (f_list_times, "list_times", "[0.0]"),
    (f_listcomp, "listcomp", "[x * k"),
    (f_dict, "dict", '{"x": x}'),
    (f_set, "set", "{x, 2.0}"),
    (f_attribute, "attribute", "x.shape"),
    (f_for_else, "for_else", "for"),
    (f_while_else, "while_else", "while"),
    (f_keyword, "keyword", "2)"),
    (f_keyword_helper, "keyword_helper", "2.0)"),
    (f_dtype, "dtype", "np.float64"),
]


@pytest.mark.parametrize("fn, name, token", DECORATION_CASES,
                         ids=[case[1] for case in DECORATION_CASES])
def test_refused_at_decoration(fn, name, token):
    err = refuse_at_decoration(fn, name, token)
    assert err.loc is not None and err.loc.line == marker_line(name)
    assert err.lineno == marker_line(name)  # SyntaxError's own fields agree
    assert Path(err.filename).resolve() == THIS_FILE
    assert CALLS == []


def test_lambda_passed_to_grad_is_refused_at_decoration():
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(f_lambda, jit=False)
    assert "lambda" in info.value.message
    assert_points_at(info.value, "lambda", "lambda")


def test_refused_messages_say_what_is_wrong():
    cases = {f_try: "try", f_with: "with", f_yield: "yield", f_lambda_inside: "lambda",
             f_class: "class", f_nested_def: "nested function", f_global: "global",
             f_nonlocal: "nonlocal", f_varargs: "*args", f_kwargs: "**kwargs",
             f_star_call: "star", f_string: "string", f_fstring: "string",
             f_list: "list", f_list_to_helper: "list", f_listcomp: "comprehension", f_dict: "dict", f_set: "set",
             f_attribute: "attribute",
             f_for_else: "else", f_while_else: "else", f_keyword: "keyword",
             f_keyword_helper: "keyword", f_dtype: "keyword"}
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


def _fill_in_loop(x, n):
    s = 0.0
    for i in range(n):
        y = np.zeros(3)  # E:array_in_loop
        y[0] = x[i]
        s += y[0] * y[0]
    return s


def _make_row(v):
    row = np.zeros(2)  # E:helper_array_in_loop
    row[0] = v
    return row


def f_det(a):
    return np.linalg.eigvalsh(a)[0] * 2.0  # E:det


def f_user_call(x):
    y = x * 3.0
    return helper_scale(y)


def f_helper_method(x):
    return helper_method_call(x) * 3.0


def f_print(x):
    print(x)  # E:print
    return x * 2.0


def f_mutating_call(x):
    _scale_in_place(x)
    return x[0]


def f_recursion(x):
    return _countdown(x, 3) + x


def f_mutual_recursion(x):
    return _ping(x, 3)


def f_star_helper(x):
    return _star_helper(x)


def f_too_many_args(x):
    return _two_args(x, 1.0, 2.0)  # E:too_many_args


def f_too_few_args(x):
    return x * _two_args(x)  # E:too_few_args


def f_helper_array_in_loop(x, n):
    s = 0.0
    for i in range(n):
        r = _make_row(x[i])
        s += r[0] * r[0]
    return s


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


def f_list_to_helper(x):
    return _first([x, x])  # E:list_to_helper


def _first(values):
    return values[0][0]


CALL_CASES = [
    # (fn, args, exception, marker, token)
    (f_det, (1.5,), UnsupportedOperationError, "det", "np.linalg.eigvalsh"),
    (f_user_call, (1.5,), AutodiffSyntaxError, "helper_string", '"helper"'),
    (f_helper_method, (1.5,), UnsupportedOperationError, "helper_method", "CALLS.append"),
    (f_print, (1.5,), UnsupportedOperationError, "print", "print"),
    (f_mutating_call, (X(),), AutodiffSyntaxError, "mutating_helper", '"scaled"'),
    (f_recursion, (1.5,), UnsupportedOperationError, "recursion", "_countdown(v * 2.0"),
    (f_mutual_recursion, (1.5,), UnsupportedOperationError, "mutual_recursion", "_ping(v"),
    (f_star_helper, (1.5,), AutodiffSyntaxError, "star_helper", "def"),
    (f_too_many_args, (1.5,), AutodiffSyntaxError, "too_many_args", "_two_args("),
    (f_too_few_args, (1.5,), AutodiffSyntaxError, "too_few_args", "_two_args("),
    (_fill_in_loop, (X(), 4), UnsupportedOperationError, "array_in_loop", "y = np.zeros"),
    (f_helper_array_in_loop, (X(), 4), UnsupportedOperationError, "helper_array_in_loop",
     "row = np.zeros"),
    (f_array_exp, (X(),), UnsupportedOperationError, "array_exp", "x)"),
    (f_array_max, (X(), 1.0), UnsupportedOperationError, "array_max", "x,"),
    (f_array_condition, (X(),), UnsupportedOperationError, "array_condition", "x > 0.0"),
    (f_slice_then_write, (X(),), UnsupportedOperationError, "slice_then_write", "return"),
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
    assert "np.linalg.eigvalsh" in info.value.message
    with pytest.raises(AutodiffSyntaxError) as info:
        g_helper.lower(2.0)
    assert_points_at(info.value, "helper_string", '"helper"')
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
    with pytest.raises(AutodiffSyntaxError) as info:  # the helper's string, in its body
        g(x)
    assert_points_at(info.value, "mutating_helper", '"scaled"')
    np.testing.assert_array_equal(x, before)
    assert CALLS == []
    with pytest.raises(UnsupportedOperationError):
        grad(f_helper_method, jit=False)(1.5)
    assert CALLS == []
    with pytest.raises(UnsupportedOperationError):
        grad(f_print, jit=False)(1.5)
    assert capsys.readouterr().out == ""


def test_refusal_messages_for_calls():
    cases = [(f_recursion, (1.5,), "recursive"), (f_mutual_recursion, (1.5,), "recursive"),
             (f_star_helper, (1.5,), "*args"), (f_too_many_args, (1.5,), "_two_args"),
             (_fill_in_loop, (X(), 4), "inside a loop"),
             (f_helper_array_in_loop, (X(), 4), "inside a loop"),
             (f_print, (1.5,), "print"), (f_det, (np.eye(2),), "np.linalg.eigvalsh")]
    for fn, args, words in cases:
        with pytest.raises((AutodiffSyntaxError, UnsupportedOperationError)) as info:
            grad(fn, jit=False)(*args)
        assert words in info.value.message, (fn.__name__, info.value.message)


# --- module-level and captured arrays are constants: never written ---------------------------

G_ARRAY = np.array([1.0, 2.0, 3.0])


def _write_first(a, v):
    a[0] = v  # E:global_write_helper


def f_global_array_write(x):
    G_ARRAY[1] = x  # E:global_write
    return G_ARRAY[1] * x


def f_global_array_write_helper(x):
    _write_first(G_ARRAY, x)
    return G_ARRAY[0] * x


def _make_closure_writer():
    captured = np.array([1.0, 2.0])

    def f_closure_array_write(x):
        captured[0] = x  # E:closure_write
        return captured[0] * x

    return f_closure_array_write, captured


f_closure_array_write, CAPTURED = _make_closure_writer()


@pytest.mark.parametrize("fn, array, name, token", [
    (f_global_array_write, G_ARRAY, "global_write", "G_ARRAY[1]"),
    (f_global_array_write_helper, G_ARRAY, "global_write_helper", "a[0]"),
    (f_closure_array_write, CAPTURED, "closure_write", "captured[0]"),
], ids=["global", "global_via_helper", "closure"])
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)],
                         ids=["python", "numba"])
def test_writing_into_a_constant_array_is_refused(fn, array, name, token, jit):
    """A module-level or captured array is read as a constant of the generated module:
    writing into it must be refused before anything runs (in CPython it would change the
    user's array, and Numba cannot write a global array), not half-done."""
    saved = array.copy()
    try:
        with pytest.raises(UnsupportedOperationError) as info:
            grad(fn, jit=jit)(1.5)
        assert_points_at(info.value, name, token)
        assert "cannot be written" in info.value.message
        np.testing.assert_array_equal(array, saved)
    finally:
        array[:] = saved


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


# --- bad arguments: GradientInputError ---------------------------------------------------------

def f_scaled(x, n):
    return x[0] * n


def f_two(x, y):
    return x * y


def test_differentiating_wrt_int_is_refused_at_call():
    g = grad(f_two, argnums=1, jit=False)  # fine: the types are not known yet
    with pytest.raises(GradientInputError) as info:
        g(1.5, 2)
    message = str(info.value)
    assert "'y'" in message and "int" in message
    assert "2.0" in message  # suggests the float to pass instead
    assert g(1.5, 2.0) == pytest.approx(1.5)  # the same function with a float is fine


def test_differentiating_wrt_int_scalar_argument_of_array_function():
    with pytest.raises(GradientInputError) as info:
        grad(f_scaled, argnums=1, jit=False)(X(), 3)
    assert "'n'" in str(info.value)


def test_differentiating_wrt_bool_is_refused():
    with pytest.raises(GradientInputError) as info:
        grad(f_two, jit=False)(True, 2.0)
    assert "bool" in str(info.value)


def test_differentiating_wrt_int_array_is_refused():
    x = np.arange(4)
    with pytest.raises(GradientInputError) as info:
        grad(f_scaled, jit=False)(x, 3)
    message = str(info.value)
    assert "'x'" in message and "int64" in message and "float array" in message
    np.testing.assert_array_equal(x, np.arange(4))


def test_int_array_is_fine_when_not_differentiated():
    assert grad(f_scaled, argnums=1, jit=False)(np.arange(4.0) + 1.0, 3.0) == 1.0


@pytest.mark.parametrize("argnums", [2, -3, (0, 2), (0, 0), ()])
def test_bad_argnums_are_refused_at_decoration(argnums):
    with pytest.raises(GradientInputError) as info:
        grad(f_two, argnums=argnums, jit=False)
    text = str(info.value)
    if argnums == (0, 0):
        assert "twice" in text
    elif argnums == ():
        assert "at least one" in text
    else:
        assert "out of range" in text and "2 arguments" in text


def test_argnums_positionally_is_a_type_error():
    with pytest.raises(TypeError, match="by keyword"):
        grad(1)


def test_string_argument_is_refused():
    with pytest.raises(GradientInputError) as info:
        grad(f_two, argnums=0, jit=False)(1.5, "abc")
    assert "'y'" in str(info.value)


def test_wrong_number_of_arguments_is_a_type_error():
    g = grad(f_two, jit=False)
    with pytest.raises(TypeError):
        g(1.5)


# --- locals that shadow a global: must never read the global -------------------------------

prev = 100.0  # a module-level number; the functions below have a local of the same name


def f_previous_iteration(x, n):
    s = 0.0
    for i in range(n):
        if i > 0:
            s += prev * x[i]  # E:previous_iteration
        prev = x[i]
    return s


def f_read_before_assign(x):
    y = prev * x  # E:read_before_assign
    prev = 3.0
    return y + prev


def test_local_from_previous_iteration_is_not_the_global():
    """Python reads `prev` from the previous iteration; the compiler must either do the same
    or refuse the read. Reading the module-level `prev` (100.0) is a wrong derivative."""
    from autodiff_compiler import numerical_grad

    x = np.linspace(0.1, 1.0, 4)
    try:
        g = grad(f_previous_iteration, jit=False)
        result = g(x, 4)
    except AutodiffSyntaxError as err:
        assert_points_at(err, "previous_iteration", "prev")
        return
    np.testing.assert_allclose(result, numerical_grad(f_previous_iteration, x, 4),
                               rtol=1e-7, atol=1e-9)


def test_local_read_before_assignment_is_refused():
    """Python raises UnboundLocalError here; the compiler must refuse, not read the global."""
    with pytest.raises(UnboundLocalError):
        f_read_before_assign(2.0)
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(f_read_before_assign, jit=False)(2.0)
    assert_points_at(info.value, "read_before_assign", "prev")


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
