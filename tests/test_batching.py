"""vmap against a Python loop over the batch: per-sample gradients, tuples of results,
batch axes other than 0, arguments passed whole, the compiled loop (serial and prange) and
the Python one for callables without a dispatcher."""

import pickle

import numpy as np
import pytest

from autodiff_compiler import GradientInputError, grad, jacfwd, value_and_grad, vmap


def loss(w, x, y):
    r = np.dot(x, w) - y
    return r * r + 0.1 * np.sum(w * w)


def features(w, x):
    return np.tanh(x * w)


RNG = np.random.default_rng(3)
N, D = 7, 4
X = RNG.normal(size=(N, D))
Y = RNG.normal(size=N)
W = RNG.normal(size=D)


def loop(f, w, X, y):
    return [f(w, X[i], y[i]) for i in range(X.shape[0])]


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_per_sample_gradients_match_a_python_loop(jit):
    g = grad(loss, jit=jit)
    batched = vmap(g, in_axes=(None, 0, 0))(W, X, Y)
    np.testing.assert_allclose(batched, np.stack(loop(g, W, X, Y)), rtol=1e-14)
    assert batched.shape == (N, D)
    manual = 2 * (X @ W - Y)[:, None] * X + 0.2 * W
    np.testing.assert_allclose(batched, manual, rtol=1e-12)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_tuples_of_results_and_axes(jit):
    vg = value_and_grad(loss, argnums=(0, 1, 2), jit=jit)
    value, (dw, dx, dy) = vmap(vg, in_axes=(None, 1, 0), out_axes=0)(W, X.T.copy(), Y)
    expected = loop(vg, W, X, Y)
    np.testing.assert_allclose(value, [e[0] for e in expected], rtol=1e-14)
    np.testing.assert_allclose(dw, [e[1][0] for e in expected], rtol=1e-14)
    np.testing.assert_allclose(dx, [e[1][1] for e in expected], rtol=1e-14)
    np.testing.assert_allclose(dy, [e[1][2] for e in expected], rtol=1e-14)
    moved = vmap(grad(loss, jit=jit), in_axes=(None, 0, 0), out_axes=1)(W, X, Y)
    assert moved.shape == (D, N)


@pytest.mark.numba
def test_prange_loop_gives_the_serial_results():
    g = grad(loss)
    serial = vmap(g, in_axes=(None, 0, 0))(W, X, Y)
    threaded = vmap(g, in_axes=(None, 0, 0), parallel=True)(W, X, Y)
    np.testing.assert_array_equal(threaded, serial)


def test_callables_without_a_dispatcher_are_looped_in_python():
    jac = jacfwd(features, jit=False)
    batched = vmap(jac, in_axes=(None, 0))(W, X)
    np.testing.assert_allclose(batched, np.stack([jac(W, x) for x in X]), rtol=1e-14)
    plain = vmap(features, in_axes=(0, None))(X, W)
    np.testing.assert_allclose(plain, np.tanh(X * W))


def test_vmap_pickles_and_refuses_bad_axes():
    v = vmap(grad(loss, jit=False), in_axes=(None, 0, 0))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(v))(W, X, Y), v(W, X, Y))
    with pytest.raises(GradientInputError, match="different sizes"):
        v(W, X, Y[:3])
    with pytest.raises(GradientInputError, match="entries"):
        vmap(grad(loss, jit=False), in_axes=(None, 0))(W, X, Y)
    with pytest.raises(GradientInputError, match="empty"):
        v(W, X[:0], Y[:0])
