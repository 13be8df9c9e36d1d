"""Python as numeric code is written: what runs (beyond the spec table's cases in
tests/primitive_specs.py), what it does at run time (assert, print), and what is refused,
at the user's line, with what to write instead.

The functions below (and in tests/python_forms_cases.py) are the user's code; a refused line
carries an `# E:<name>` marker.
"""

from __future__ import annotations

import numpy as np
import pytest
from error_checks import Markers
from python_forms_cases import _weights, checked, objective

from autodiff_compiler import (
    UnsupportedOperationError,
    check_grad,
    grad,
    jvp,
    value_and_grad,
)

MARKERS = Markers(__file__)


X = np.array([0.3, 0.7, 1.1, -0.4])


def test_objective_value_gradient_and_tangent():
    value, gradient = value_and_grad(objective, jit=False)(X.copy())
    assert value == pytest.approx(objective(X.copy()), rel=1e-14)
    assert check_grad(objective, X.copy()) < 1e-8
    direction = np.array([0.5, -1.0, 2.0, 0.25])
    _, tangent = jvp(objective, (X.copy(),), (direction,), jit=False)
    assert tangent == pytest.approx(float(gradient @ direction), rel=1e-12)


@pytest.mark.numba
def test_objective_with_numba_matches_cpython(capsys):
    value, gradient = value_and_grad(objective, jit=False)(X.copy())
    jit_value, jit_gradient = value_and_grad(objective, jit=True)(X.copy())
    assert jit_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(jit_gradient, gradient, rtol=1e-13)


def printing(x):
    print("x0 is", x[0])
    total = np.sum(x * x)
    print(total)  # a value the result depends on: it has a tangent, print has none
    return total


def test_print_runs_once_in_reverse_and_forward_mode(capsys):
    expected = f"x0 is {X[0]}\n{np.sum(X * X)}\n"
    g = grad(printing, jit=False)(X.copy())
    assert capsys.readouterr().out == expected
    _, tangent = jvp(printing, (X.copy(),), (np.ones(4),), jit=False)
    assert capsys.readouterr().out == expected
    assert tangent == pytest.approx(float(np.sum(g)), rel=1e-14)


def test_assert_is_checked_when_the_code_runs():
    g = grad(checked, jit=False)
    np.testing.assert_allclose(g(np.array([1.0, 2.0])), [1.0, 0.5])
    with pytest.raises(AssertionError, match="x must be positive"):
        g(np.array([1.0, -2.0]))
    with pytest.raises(AssertionError, match="x must be positive"):
        jvp(checked, (np.array([1.0, -2.0]),), (np.ones(2),), jit=False)


def unequal_split(x):
    a, b = np.split(x, 2)
    return np.sum(a * b)


def test_split_into_unequal_parts_fails_as_numpy_does():
    with pytest.raises(AssertionError, match="equal division"):
        grad(unequal_split, jit=False)(np.ones(5))


# --- refused at the user's line ---------------------------------------------------------------

def inner_grad(x):
    return grad(np.sin)(x) * x  # E:inner_grad


def runtime_append(x, n):
    rows = []
    for i in range(n):  # E:runtime_append
        rows.append(x * i)
    return np.sum(np.stack(rows))


def runtime_comprehension(x, n):
    return np.sum(np.stack([x * i for i in range(n)]))  # E:runtime_comprehension


def list_times(x):
    values = [0.0] * 3  # E:list_times
    return np.sum(values) * x


def unknown_keyword(x):
    return _weights(x, d=2.0)  # E:unknown_keyword


def append_in_while(x):
    rows = []
    while len(rows) < 3:  # E:append_in_while
        rows.append(x)
    return np.sum(np.stack(rows))


def string_to_helper(x):
    return _weights(x, "twice")  # E:string_to_helper


def full_svd(x):
    return np.sum(np.linalg.svd(x)[0])  # E:full_svd


def eigenvalues(x):
    return np.sum(np.linalg.eigvals(x))  # E:eigenvalues


def squeeze_all(x):
    return np.sum(np.squeeze(x))  # E:squeeze_all


REFUSED = [
    (string_to_helper, (1.5,), "string_to_helper", '"twice"', "a string"),
    (full_svd, (np.eye(3),), "full_svd", "np.linalg.svd", "full_matrices=False"),
    (eigenvalues, (np.eye(3),), "eigenvalues", "np.linalg.eigvals", "no derivative rule"),
    (squeeze_all, (np.ones((3, 1)),), "squeeze_all", "np.squeeze", "axis="),
    (inner_grad, (1.5,), "inner_grad", "np.sin", "takes a Python function"),
    (runtime_append, (X, 3), "runtime_append", "for", "constant bounds"),
    (runtime_comprehension, (X, 3), "runtime_comprehension", "np.stack", "fill an"),
    (list_times, (1.5,), "list_times", "[0.0] * 3", "np.zeros"),
    (unknown_keyword, (1.5,), "unknown_keyword", "2.0", "'d'"),
    (append_in_while, (1.5,), "append_in_while", "while", "fill an array"),
]


@pytest.mark.parametrize("fn, args, marker, token, words", REFUSED,
                         ids=[case[2] for case in REFUSED])
def test_refused_at_the_users_line(fn, args, marker, token, words):
    with pytest.raises(Exception) as info:
        grad(fn, jit=False)(*args)
    assert isinstance(info.value, (UnsupportedOperationError, SyntaxError))
    MARKERS.assert_points_at(info.value, marker, token)
    assert words in info.value.message
