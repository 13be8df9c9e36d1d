"""Gradients and the other callables the transforms return pickle before and after calls:
they carry f and the options, and the receiving process compiles again (or loads the cached
module). multiprocessing pools map them, with fork and with spawn (a fresh interpreter that
reads the source again)."""

import linecache
import multiprocessing
import pickle

import numpy as np
import pytest

import autodiff_compiler
from autodiff_compiler import grad, hessian, jacfwd, jacrev, value_and_grad, vjp
from autodiff_compiler.gradcheck import numerical_grad


def loss(w, x):
    r = np.sin(w * x) - 0.5
    return np.sum(r * r)


def radial(w):
    return np.sum(w * w) * np.exp(-w[0])


def two_out(w):
    return np.sin(w) * w[0]


W = np.array([0.3, -0.7, 1.1])
X = np.array([1.0, 2.0, -0.5])


def _roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_pickles_before_and_after_a_call(mode):
    g = value_and_grad(loss, argnums=(0, 1), jit=False, mode=mode)
    before = _roundtrip(g)
    value, (dw, dx) = g(W, X)
    after = _roundtrip(g)
    for h in (before, after):
        v2, (dw2, dx2) = h(W, X)
        assert v2 == value
        np.testing.assert_allclose(dw2, dw, rtol=1e-14)
        np.testing.assert_allclose(dx2, dx, rtol=1e-14)
        assert h.argnums == [0, 1] and h.with_value and h.mode == mode
    np.testing.assert_allclose(dw, numerical_grad(lambda w: loss(w, X), W), rtol=1e-7)


def test_pickle_carries_no_compiled_code():
    g = grad(loss, jit=False)
    size = len(pickle.dumps(g))
    g(W, X)
    assert len(pickle.dumps(g)) == size < 1000
    assert _roundtrip(g).specializations.artifacts == {}  # compiled again where unpickled


def test_jacobians_hessians_and_pullbacks_pickle():
    for transform in (jacfwd(two_out, jit=False), jacrev(two_out, jit=False)):
        expected = transform(W)
        np.testing.assert_allclose(_roundtrip(transform)(W), expected, rtol=1e-14)
    h = hessian(radial, jit=False)
    np.testing.assert_allclose(_roundtrip(h)(W), h(W), rtol=1e-14)
    _out, pullback = vjp(two_out, W, jit=False)
    again = _roundtrip(pullback)
    cot = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(again(cot)[0], pullback(cot)[0], rtol=1e-14)
    np.testing.assert_allclose(pullback(cot)[0], cot @ jacfwd(two_out, jit=False)(W))


def _init_cache(path):
    autodiff_compiler.set_cache_dir(path)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_maps_a_gradient_after_it_ran(method, tmp_path):
    g = grad(radial, jit=False)
    points = [W, 2 * W, -W, W + 1]
    expected = [g(w) for w in points]
    context = multiprocessing.get_context(method)
    with context.Pool(2, initializer=_init_cache, initargs=(str(tmp_path),)) as pool:
        results = pool.map(g, points)
    for r, e in zip(results, expected):
        np.testing.assert_allclose(r, e, rtol=1e-14)


@pytest.mark.numba
def test_pool_maps_a_jitted_gradient_after_it_ran(tmp_path):
    g = grad(loss)
    expected = g(W, X)
    with multiprocessing.get_context("spawn").Pool(
            2, initializer=_init_cache, initargs=(str(tmp_path),)) as pool:
        results = pool.starmap(g, [(W, X), (W, X)])
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-14)


def test_source_known_only_to_linecache_travels_with_the_pickle():
    cloudpickle = pytest.importorskip("cloudpickle")  # pickles the function by value
    name = "<cell-pickling-1>"
    text = "def cell(x):\n    return x * x * x\n"
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    namespace = {}
    exec(compile(text, name, "exec"), namespace)  # noqa: S102 - as IPython runs a cell
    g = grad(namespace["cell"], jit=False)
    assert g(2.0) == 12.0
    data = cloudpickle.dumps(g)
    del linecache.cache[name]  # as in a process that never ran the cell
    assert pickle.loads(data)(3.0) == 27.0


def test_lambda_gradient_pickles_by_value():
    cloudpickle = pytest.importorskip("cloudpickle")
    g = grad(lambda x, y: x * np.sin(y), argnums=1, jit=False)
    assert pickle.loads(cloudpickle.dumps(g))(2.0, 0.0) == 2.0


def test_function_pickled_by_value_finds_its_source_again():
    cloudpickle = pytest.importorskip("cloudpickle")
    import sys

    h = value_and_grad(radial, jit=False)
    expected = h(W)
    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)  # as Dask sends functions of __main__
    try:
        data = cloudpickle.dumps(h)
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    again = pickle.loads(data)
    assert again.fn is not radial  # a copy, whose code cloudpickle names "<dynamic-code>"
    value, dw = again(W)
    assert value == expected[0]
    np.testing.assert_allclose(dw, expected[1], rtol=1e-15)
