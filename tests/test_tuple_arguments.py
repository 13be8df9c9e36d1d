"""Tuple and list arguments of the differentiated function (JAX's pytrees of tuples and
lists): the gradient w.r.t. one has its structure; entries are read by unpacking, constant
indices and the index of a loop that is unrolled; jvp takes tangents of the same structure.
Checked against central differences, forward against reverse, Numba against CPython."""

from __future__ import annotations

import numpy as np
import pytest

from autodiff_compiler import (
    GradientInputError,
    UnsupportedOperationError,
    grad,
    jacfwd,
    jvp,
    value_and_grad,
    vjp,
)

RNG = np.random.default_rng(12)
A, B, X = RNG.normal(size=3), RNG.normal(size=(2, 3)), RNG.normal(size=3)


def model(params, x):
    w, b, scale = params
    return np.sum(np.tanh(b @ (w * x)) ** 2) * scale + np.sum(params[0] * x)


def unrolled(params, x):
    total = 0.0
    for k in range(3):
        total = total + np.sum(params[k] * x) * (k + 1.0)
    return total + params[3] * params[3]


def nested(params, x):
    w, (u, v) = params[0], params[1]
    return np.sum(w * x) * u + v * v * np.sum(x)


def _leaves(tree):
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def _rebuild(tree, leaves):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_rebuild(item, leaves) for item in tree)
    return leaves.pop(0)


def _central(f, tree, x, h=1e-6):
    """Central differences of f(tree, x) w.r.t. every entry of tree, in tree's structure."""
    leaves = [np.array(v, dtype=float) for v in _leaves(tree)]
    grads = []
    for k, leaf in enumerate(leaves):
        g = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            plus, minus = [v.copy() for v in leaves], [v.copy() for v in leaves]
            plus[k][i] += h
            minus[k][i] -= h
            as_tree = [v if v.ndim else float(v) for v in plus]
            low = [v if v.ndim else float(v) for v in minus]
            g[i] = (f(_rebuild(tree, as_tree), x) - f(_rebuild(tree, low), x)) / (2 * h)
        grads.append(g if g.ndim else float(g))
    return _rebuild(tree, grads)


def _assert_close(got, expected, rtol=1e-6, atol=1e-8):
    assert type(got) is type(expected)
    for g, e in zip(_leaves(got), _leaves(expected), strict=True):
        assert np.shape(g) == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


CASES = [(model, (A, B, 1.5)), (model, [A, B, 1.5]), (unrolled, (A, X, A * 2, 0.7)),
         (nested, (A, (0.4, -1.3)))]


@pytest.mark.parametrize(("f", "params"), CASES)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_gradient_has_the_structure_and_matches_central_differences(f, params, mode):
    value, gradient = value_and_grad(f, jit=False, mode=mode)(params, X)
    assert value == pytest.approx(f(params, X), rel=1e-13)
    _assert_close(gradient, _central(f, params, X))


@pytest.mark.parametrize(("f", "params"), CASES)
def test_jvp_with_tuple_tangents_agrees_with_vjp(f, params):
    direction = _rebuild(params, [RNG.normal(size=np.shape(v)) if np.ndim(v) else 0.3
                                  for v in _leaves(params)])
    dx = RNG.normal(size=X.shape)
    value, tangent = jvp(f, (params, X), (direction, dx), jit=False)
    assert value == pytest.approx(f(params, X), rel=1e-13)
    out, pullback = vjp(f, params, X, jit=False)
    assert out == pytest.approx(value, rel=1e-14)
    g_params, g_x = pullback(1.0)
    assert type(g_params) is type(params)
    expected = sum(float(np.sum(np.multiply(g, d))) for g, d in
                   zip(_leaves(g_params), _leaves(direction))) + float(g_x @ dx)
    assert tangent == pytest.approx(expected, rel=1e-11)


def test_argnums_selects_the_tuple_and_other_arguments():
    g_params, g_x = grad(model, argnums=(0, 1), jit=False)((A, B, 1.5), X)
    _assert_close(g_params, _central(model, (A, B, 1.5), X))
    expected_x = _central(lambda p, x: model((A, B, 1.5), p[0]), (X,), None)[0]
    np.testing.assert_allclose(g_x, expected_x, rtol=1e-6, atol=1e-8)
    only_x = grad(model, argnums=1, jit=False)((A, B, 1.5), X)
    np.testing.assert_allclose(only_x, g_x, rtol=1e-14)


def integer_entries(params, x):
    w, n = params  # an int entry of an argument not differentiated: a constant
    return np.sum(w * x) * n


def test_int_entries_of_an_argument_not_differentiated_are_numbers():
    g = grad(integer_entries, argnums=1, jit=False)((A, 3), X)
    np.testing.assert_allclose(g, 3 * A, rtol=1e-14)
    with pytest.raises(GradientInputError, match=r"'params\[1\]': it is an int"):
        grad(integer_entries, jit=False)((A, 3), X)


def test_the_callers_tuple_and_arrays_are_untouched():
    w = A.copy()
    params = (w, B.copy(), 1.5)
    grad(model, jit=False)(params, X)
    np.testing.assert_array_equal(w, A)
    assert params[0] is w


def writes_an_entry(params, x):
    w = params[0]
    w[0] = 2.0 * w[0]  # writes into the caller's entry: compiled on a copy
    return np.sum(w * x) * params[1]


def test_an_entry_written_into_is_copied_first():
    w = A.copy()
    gradient = grad(writes_an_entry, jit=False)((w, 0.5), X)
    np.testing.assert_array_equal(w, A)
    _assert_close(gradient, _central(writes_an_entry, (A.copy(), 0.5), X))


def test_an_empty_tuple_has_an_empty_gradient():
    assert grad(lambda params, x: np.sum(x * x), jit=False)((), X) == ()


def runtime_index(params, n):
    total = 0.0
    for k in range(n):  # a run-time trip count: the tuple's index is not known
        total = total + params[k]
    return total


def test_refusals_say_what_to_write():
    with pytest.raises(UnsupportedOperationError, match="constant bounds"):
        grad(runtime_index, jit=False)((1.0, 2.0), 2)
    with pytest.raises(GradientInputError, match="is a dict"):
        grad(model, jit=False)({"w": A}, X)
    with pytest.raises(GradientInputError, match="tuple and list arguments are "
                       "differentiated by grad"):
        jacfwd(model, jit=False)((A, B, 1.5), X)
    with pytest.raises(GradientInputError, match="tangent 0 must be a tuple of 3"):
        jvp(model, ((A, B, 1.5), X), ((A, B), X), jit=False)


@pytest.mark.numba
def test_numba_matches_cpython():
    params = (A, B, 1.5)
    expected = grad(model, jit=False)(params, X)
    _assert_close(grad(model)(params, X), expected, rtol=1e-13, atol=1e-15)
    _assert_close(grad(nested)((A, (0.4, -1.3)), X),
                  grad(nested, jit=False)((A, (0.4, -1.3)), X), rtol=1e-13, atol=1e-15)
