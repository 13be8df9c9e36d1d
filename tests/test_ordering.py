"""Sorting and selection along any axis (frontend/ordering.py): the integer results against
NumPy's where ties, NaN and empty axes decide them, keepdims shapes, np.partition's
contract, np.squeeze without an axis, and the refusals. Values and derivatives on random
inputs are the spec table's (tests/primitive_specs.py: sort_axis, partition,
arg_extreme_axis, squeeze_all)."""

from __future__ import annotations

import numpy as np
import pytest
from error_checks import Markers

from autodiff_compiler import UnsupportedOperationError, grad
from autodiff_compiler.jacobians import primal_outputs, specializer

MARKERS = Markers(__file__)
TIES = np.array([[1.0, 3.0, 1.0, 3.0], [2.0, 2.0, 0.0, 2.0], [0.5, 0.5, 0.5, 0.5]])
RNG = np.random.default_rng(7)


def _outputs(f, *args, jit=False):
    """f's own values (integer arrays too) from its compiled primal code."""
    spec = specializer(f, jit)
    values, types = spec.prepare(args)
    outputs = primal_outputs(spec, values, types)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def orders(x):
    return (np.argsort(x, axis=0), np.argsort(x), np.argsort(x, axis=None),
            np.argpartition(x, 1, axis=0))


def extremes(x):
    return (np.argmax(x, axis=1), np.argmin(x, axis=0), x.argmax(), np.argmin(x, axis=-1),
            np.argmax(x, axis=0, keepdims=True), np.argmin(x, keepdims=True))


@pytest.mark.parametrize("x", [TIES, np.ones((2, 3, 2)), RNG.normal(size=(3, 5))])
def test_ties_follow_numpys_stable_argsort_and_first_extreme(x):
    got = _outputs(orders, x)
    for g, axis in zip(got[:3], (0, -1, None)):
        np.testing.assert_array_equal(g, np.argsort(x, axis=axis, kind="stable"))
    np.testing.assert_array_equal(got[3], np.argsort(x, axis=0, kind="stable"))
    for g, expected in zip(_outputs(extremes, x), extremes(x), strict=True):
        assert np.shape(g) == np.shape(expected)
        np.testing.assert_array_equal(g, expected)


def test_nan_is_the_extreme_as_numpy_says():
    x = np.array([[1.0, np.nan, 5.0], [3.0, 2.0, np.nan], [0.0, 4.0, 1.0]])
    for g, expected in zip(_outputs(extremes, x), extremes(x), strict=True):
        np.testing.assert_array_equal(g, expected)


def partitioned(x):
    return np.partition(x, (1, -1), axis=1), np.take_along_axis(
        x, np.argpartition(x, 2, axis=0), axis=0)


def test_partition_keeps_numpys_contract():
    x = RNG.normal(size=(4, 5))
    values, gathered = _outputs(partitioned, x)
    reference = np.partition(x, (1, -1), axis=1)
    np.testing.assert_array_equal(values[:, [1, -1]], reference[:, [1, -1]])
    assert np.all(values[:, :1] <= values[:, 1:2]) and np.all(values[:, 2:] >= values[:, 1:2])
    np.testing.assert_array_equal(gathered[2], np.partition(x, 2, axis=0)[2])


def top_two(x):
    return np.sum(np.partition(x, -2)[-2:])


def test_partition_gradient_goes_to_the_selected_entries():
    x = np.array([0.3, 2.0, -1.0, 1.5, 0.7])
    np.testing.assert_array_equal(grad(top_two, jit=False)(x), [0, 1, 0, 1, 0])


def empty_rows(x):
    return np.sort(x, axis=1), np.argsort(x, axis=0)


def test_empty_axes_sort_to_empty_arrays_and_argmax_refuses_them():
    x = np.zeros((3, 0))
    sorted_rows, order = _outputs(empty_rows, x)
    assert sorted_rows.shape == (3, 0) and order.shape == (3, 0)
    with pytest.raises(ValueError, match="empty sequence"):
        _outputs(lambda v: np.argmax(v, axis=1), x)


def squeezes(x):
    column = np.reshape(x, (3, 1))[None, :, :]
    return np.squeeze(column * 2.0), np.squeeze(np.ones((1, 1)) * x[0])


def unknown_length(x):
    return np.squeeze(x[:, None])  # E:squeeze


def test_squeeze_without_axis_drops_the_axes_of_length_one():
    x = np.array([1.0, 2.0, 3.0])
    doubled, number = _outputs(squeezes, x)
    np.testing.assert_array_equal(doubled, 2.0 * x)
    assert number == 1.0 and np.ndim(number) == 0
    gradient = grad(lambda v: np.sum(np.squeeze(np.reshape(v, (1, 3))) * v), jit=False)(x)
    np.testing.assert_array_equal(gradient, 2.0 * x)


def axis_out_of_range(x):
    return np.sum(np.sort(x, axis=2))  # E:axis


def run_time_axis(x, k):
    return np.argmax(x, axis=k)  # E:runtime


def sort_order(x):
    return np.sort(x, order="a")  # E:order


@pytest.mark.parametrize(("f", "marker", "message"), [
    (axis_out_of_range, "axis", "axis 2 is out of bounds"),
    (run_time_axis, "runtime", "axis must be an integer constant"),
    (sort_order, "order", "order= is not supported"),
    (unknown_length, "squeeze", "axis 0 has a length known only at run time"),
])
def test_refusals_point_at_the_users_line(f, marker, message):
    args = (np.ones((2, 3) if f is not unknown_length else 1),) + (
        (1,) if f is run_time_axis else ())
    with pytest.raises(UnsupportedOperationError, match=message) as info:
        _outputs(f, *args)
    MARKERS.assert_points_at(info.value, marker)


@pytest.mark.numba
def test_numba_matches_numpy_on_ties_and_nan():
    x = TIES.copy()
    x[1, 3] = np.nan
    for g, expected in zip(_outputs(extremes, x, jit=True), extremes(x), strict=True):
        np.testing.assert_array_equal(g, expected)
    for g, axis in zip(_outputs(orders, TIES, jit=True)[:3], (0, -1, None)):
        np.testing.assert_array_equal(g, np.argsort(TIES, axis=axis, kind="stable"))
