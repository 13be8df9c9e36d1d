"""NumPy spellings of issue 12 beyond the spec table's value and derivative cases
(tests/primitive_specs.py: ellipsis_newaxis, fancy_gather, np.diff, clip_keywords): what
happens out of range, the refusals at the user's line, and Numba against CPython."""

from __future__ import annotations

import numpy as np
import pytest
from error_checks import Markers

from autodiff_compiler import UnsupportedOperationError, grad, value_and_grad

MARKERS = Markers(__file__)
P = np.random.default_rng(11).uniform(0.1, 1.0, size=(5, 3))
LABELS = np.array([0, 2, 1, 1, 0])


def cross_entropy(p, labels):
    return -np.sum(np.log(p[np.arange(p.shape[0]), labels]))


def test_cross_entropy_gradient_reaches_the_labelled_entries_only():
    gradient = grad(cross_entropy, jit=False)(P, LABELS)
    expected = np.zeros_like(P)
    expected[np.arange(5), LABELS] = -1.0 / P[np.arange(5), LABELS]
    np.testing.assert_allclose(gradient, expected, rtol=1e-14)


def test_an_index_out_of_range_is_an_error_not_another_rows_entry():
    with pytest.raises(AssertionError, match="index out of bounds for axis 1"):
        grad(cross_entropy, jit=False)(P, np.array([0, 2, 1, 1, 3]))


def masked(x):
    return np.sum(x[x > 0.5])  # E:mask


def diff_prepend(x):
    return np.sum(np.diff(x, prepend=0.0))  # E:prepend


def partial_fancy(x):
    return np.sum(np.ones((2, 3, 4))[[0, 1], [2, 0]])  # E:partial


def sort_in_place(x):
    y = x.copy()
    y.sort()  # E:sort
    return y[0]


def where_indices(x):
    return np.sum(x[np.where(x > 0.5)])  # E:where


def median_nan(x):
    return np.median(x)


def test_median_of_nan_is_nan_as_numpys():
    x = np.array([1.0, np.nan, 2.0])
    value = value_and_grad(median_nan, jit=False)(x)[0]
    assert np.isnan(value) and np.isnan(np.median(x))
    assert value_and_grad(median_nan, jit=False)(np.array([3.0, 1.0, 2.0, 9.0]))[0] == 2.5


def clip_nothing(x):
    return np.sum(np.clip(x, None, None))  # E:clip


@pytest.mark.parametrize(("f", "marker", "message"), [
    (masked, "mask", "np.where"), (diff_prepend, "prepend", "np.concatenate"),
    (partial_fancy, "partial", "one per axis"), (sort_in_place, "sort", "np.sort"),
    (where_indices, "where", r"np.where\(condition, x, y\)"),
    (clip_nothing, "clip", "a lower or an upper bound")])
def test_refusals_say_what_to_write(f, marker, message):
    with pytest.raises(UnsupportedOperationError, match=message) as info:
        grad(f, jit=False)(P[0].copy())
    MARKERS.assert_points_at(info.value, marker)


def gathered_rows(x):
    return np.sum(x[[0, 2], [1, -1]][..., np.newaxis] ** 2)


@pytest.mark.numba
def test_numba_matches_cpython():
    np.testing.assert_allclose(grad(gathered_rows)(P.copy()),
                               grad(gathered_rows, jit=False)(P.copy()), rtol=1e-14)
    np.testing.assert_allclose(grad(cross_entropy)(P, LABELS),
                               grad(cross_entropy, jit=False)(P, LABELS), rtol=1e-14)
