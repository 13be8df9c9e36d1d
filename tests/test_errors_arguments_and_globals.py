"""Refused arguments, and module-level names: GradientInputError, constant arrays, shadowing.

* Bad arguments: differentiating with respect to an int, a bool, an int array or a string,
  bad argnums, a wrong number of arguments.
* Module-level and captured arrays are constants of the generated module: writing into one
  is refused before anything runs, pointing at the line marked `# E:<name>` in this file.
* A local that shadows a module-level name is never read as the global.
"""

# The functions below read a local before assigning it, or assign one only for the next
# iteration: that is what they test.
# ruff: noqa: F823, F841

from __future__ import annotations

import numpy as np
import pytest
from error_checks import Markers, X

from autodiff_compiler import (
    AutodiffSyntaxError,
    GradientInputError,
    UnsupportedOperationError,
    grad,
    value_and_grad,
)

MARKERS = Markers(__file__)  # this file's markers
assert_points_at = MARKERS.assert_points_at


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


def _make_scaled_sum(W):
    def scaled_sum(x):
        return np.sum(W * x)

    return scaled_sum


W = np.array([10.0, 20.0, 30.0])
closure_sum = _make_scaled_sum(np.array([1.0, 2.0, 3.0]))  # its W is another array


def f_two_arrays_named_alike(x):
    # the global W here and the helper's captured array are two different constants
    return np.sum(W * x) + closure_sum(x) * 100.0


def f_two_arrays_named_alike_helper_first(x):
    return closure_sum(x) * 100.0 + np.sum(W * x)


@pytest.mark.parametrize("fn", [f_two_arrays_named_alike, f_two_arrays_named_alike_helper_first])
def test_constant_arrays_of_the_same_name_stay_apart(fn):
    x = np.array([0.5, 0.25, 1.0])
    value, gradient = value_and_grad(fn, jit=False)(x)
    assert value == pytest.approx(fn(x))
    np.testing.assert_allclose(gradient, W + 100.0 * np.array([1.0, 2.0, 3.0]))


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


def test_numpy_integer_argnums_are_ints():
    x = np.arange(4.0) + 1.0
    assert grad(f_scaled, argnums=np.int64(1), jit=False)(x, 3.0) == 1.0
    assert grad(f_two, argnums=(np.int32(1),), jit=False)(2.0, 3.0) == (2.0,)


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
