"""Every refused construct: the exception's type, where it points, and when it is raised.

The functions below are the user's code. The offending line of each carries a `# E:<name>`
marker; the tests look the marker up in this file, so the expected line numbers follow the
code when it moves. Each refusal must name this file and that line, show the line and put a
caret under the offending construct (the `token`), and it must come either when grad(f) is
applied (syntax: the fence) or when the gradient is first called (names are resolved and
types known only then) - never later, and never after any of the user's code has run.
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
    CALLS.append("scaled")
    x *= 2.0
    return 0.0


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


def f_while(x):
    s = 0.0
    while s < 10.0:  # E:while
        s = s + x
    return s


def f_break(x, n):
    s = 0.0
    for i in range(n):
        if x[i] < 0:
            break  # E:break
        s += x[i]
    return s


def f_continue(x, n):
    s = 0.0
    for i in range(n):
        if x[i] < 0:
            continue  # E:continue
        s += x[i]
    return s


def f_setitem(x, n):
    for i in range(n):
        x[i] = 0.0  # E:setitem
    return x[0]


def f_augitem(x):
    x[0] += 1.0  # E:augitem
    return x[0]


def f_attribute(x):
    x.shape = (2, 2)  # E:attribute
    return x[0, 0]


def f_matmul(x, y):
    return x @ y  # E:matmul


def f_slice(x):
    s = 0.0
    y = x[1:]  # E:slice
    return s


def f_return_in_loop(x, n):
    s = 0.0
    for i in range(n):
        s += x[i]
        if s > 1.0:
            return s  # E:return_in_loop
    return s


def f_for_else(x, n):
    s = 0.0
    for i in range(n):  # E:for_else
        s += x[i]
    else:
        s = -s
    return s


def f_keyword(x):
    return math.log(x) + round(x, ndigits=2)  # E:keyword


def f_side_effect_then_try(x):
    _record(x)
    x[0] = 7.0  # E:side_effect_setitem
    return x[0]


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
    (f_while, "while", "while"),
    (f_break, "break", "break"),
    (f_continue, "continue", "continue"),
    (f_setitem, "setitem", "x[i]"),
    (f_augitem, "augitem", "x[0]"),
    (f_attribute, "attribute", "x.shape"),
    (f_matmul, "matmul", "x @ y"),
    (f_slice, "slice", "1:"),
    (f_return_in_loop, "return_in_loop", "return"),
    (f_for_else, "for_else", "for"),
    (f_keyword, "keyword", "2)"),
    (f_side_effect_then_try, "side_effect_setitem", "x[0]"),
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
             f_list: "list", f_listcomp: "comprehension", f_dict: "dict", f_set: "set",
             f_while: "while", f_break: "break", f_continue: "continue",
             f_setitem: "writing into arrays", f_augitem: "writing into arrays",
             f_attribute: "attribute", f_matmul: "@", f_slice: "slice",
             f_return_in_loop: "return", f_for_else: "else", f_keyword: "keyword"}
    for fn, words in cases.items():
        with pytest.raises(AutodiffSyntaxError) as info:
            grad(fn, jit=False)
        assert words in info.value.message, (fn.__name__, info.value.message)


def test_refused_array_write_never_runs():
    x = X()
    before = x.copy()
    with pytest.raises(AutodiffSyntaxError):
        g = grad(f_setitem, jit=False)
        g(x, 4)
    with pytest.raises(AutodiffSyntaxError):
        grad(f_side_effect_then_try, jit=False)(x)
    np.testing.assert_array_equal(x, before)
    assert CALLS == []


def test_decorator_syntax_refuses_at_definition():
    with pytest.raises(AutodiffSyntaxError) as info:
        @grad(jit=False)
        def f_decorated(x):
            y = 0.0
            while y < 1.0:  # E:decorated_while
                y = y + x
            return y
    assert_points_at(info.value, "decorated_while", "while")


# --- refused when first called: names and types -----------------------------------------------

def helper_scale(v):
    CALLS.append("helper")
    return 2.0 * v


def f_det(a):
    return np.linalg.det(a) * 2.0  # E:det


def f_user_call(x):
    y = x * 3.0
    return helper_scale(y)  # E:user_call


def f_print(x):
    print(x)  # E:print
    return x * 2.0


def f_mutating_call(x):
    _scale_in_place(x)  # E:mutating_call
    return x[0]


def f_array_sin(x):
    return np.sin(x)[0]  # E:array_sin


def f_array_add(x):
    y = x + 1  # E:array_add
    return y[0]


def f_array_exp(x):
    s = 0.0
    s += math.exp(x)  # E:array_exp
    return s


def f_array_neg(x):
    y = -x  # E:array_neg
    return y[0]


def f_array_abs(x):
    return abs(x)[0]  # E:array_abs


def f_array_max(x, y):
    return max(x, y)  # E:array_max


def f_array_condition(x):
    s = 0.0
    if x > 0.0:  # E:array_condition
        s = 1.0
    return s


def f_np_sum(x):
    return np.sum(x)  # E:np_sum


def f_method_sum(x):
    return x.sum()  # E:method_sum


def f_partial_index(a):
    row = a[0]  # E:partial_index
    return row[0]


def f_iterate_array(x):
    s = 0.0
    for v in x:  # E:iterate_array
        s += v
    return s


def f_iterate_arange(x, n):
    s = 0.0
    for i in np.arange(n):  # E:iterate_arange
        s += x[i]
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


CALL_CASES = [
    # (fn, args, exception, marker, token)
    (f_det, (1.5,), UnsupportedOperationError, "det", "np.linalg.det"),
    (f_user_call, (1.5,), UnsupportedOperationError, "user_call", "helper_scale"),
    (f_print, (1.5,), UnsupportedOperationError, "print", "print"),
    (f_mutating_call, (X(),), UnsupportedOperationError, "mutating_call", "_scale_in_place"),
    (f_array_sin, (X(),), UnsupportedOperationError, "array_sin", "x)"),
    (f_array_add, (X(),), UnsupportedOperationError, "array_add", "x + 1"),
    (f_array_exp, (X(),), UnsupportedOperationError, "array_exp", "x)"),
    (f_array_neg, (X(),), UnsupportedOperationError, "array_neg", "x"),
    (f_array_abs, (X(),), UnsupportedOperationError, "array_abs", "x)"),
    (f_array_max, (X(), 1.0), UnsupportedOperationError, "array_max", "x,"),
    (f_array_condition, (X(),), UnsupportedOperationError, "array_condition", "x > 0.0"),
    (f_np_sum, (X(),), UnsupportedOperationError, "np_sum", "np.sum"),
    (f_method_sum, (X(),), UnsupportedOperationError, "method_sum", "x.sum"),
    (f_partial_index, (np.ones((2, 3)),), UnsupportedOperationError, "partial_index", "a[0]"),
    (f_iterate_array, (X(),), AutodiffSyntaxError, "iterate_array", "x:"),
    (f_iterate_arange, (X(), 4), AutodiffSyntaxError, "iterate_arange", "np.arange"),
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
]


@pytest.mark.parametrize("fn, args, exc_type, name, token", CALL_CASES,
                         ids=[case[3] for case in CALL_CASES])
def test_refused_at_first_call(fn, args, exc_type, name, token):
    args = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in args)
    refuse_at_call(fn, args, exc_type, name, token)


def test_unresolved_names_are_not_looked_up_at_decoration():
    # grad(f) succeeds although the function calls something without a rule ...
    g = grad(f_user_call, jit=False)
    # ... and the same call is refused as soon as the types are known
    with pytest.raises(UnsupportedOperationError) as info:
        g.lower(2.0)
    assert "helper_scale" in info.value.message
    assert CALLS == []


def test_refused_call_never_runs_user_code(capsys):
    x = X()
    before = x.copy()
    g = grad(f_mutating_call, jit=False)
    with pytest.raises(UnsupportedOperationError):
        g(x)
    np.testing.assert_array_equal(x, before)
    assert CALLS == []
    with pytest.raises(UnsupportedOperationError):
        grad(f_print, jit=False)(1.5)
    assert capsys.readouterr().out == ""


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
