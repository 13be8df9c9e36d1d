"""Data-parallel gradients on Dask (autodiff_compiler.dask) against the single-process
value_and_grad, on a LocalCluster of 2 worker processes: least squares and a GARCH panel,
argnums tuples, numbers and arrays broadcast, chunks of unequal size, one chunk, an empty
chunk, Hessian-vector products, errors before any work is sent, one compile per worker,
and a worker killed in the middle of a call."""

import math
import os
import signal
import sys
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from autodiff_compiler import (
    GradientInputError,
    UnsupportedOperationError,
    hessian,
    value_and_grad,
)
from autodiff_compiler.dask import grad_sum, hvp_sum, value_and_grad_sum


def least_squares(w, X, y, scale):
    r = X @ w - y
    return scale * np.sum(r * r)


def garch_panel(params, R):
    """Negative log-likelihood of GARCH(1,1) for each row of R, an independent series."""
    omega, alpha, beta = params[0], params[1], params[2]
    total = 0.0
    for i in range(R.shape[0]):
        h = omega / (1.0 - alpha - beta)
        for t in range(R.shape[1]):
            r = R[i, t]
            total += math.log(h) + r * r / h
            h = omega + alpha * r * r + beta * h
    return 0.5 * total


def centered(w, X, mu):
    d = X - mu
    return np.sum(np.exp(-d * d) * w)


def returns_array(w, X):
    return X @ w


RNG = np.random.default_rng(11)
X = RNG.normal(size=(230, 4))
Y = RNG.normal(size=230)
W = RNG.normal(size=4)
R = 0.1 * RNG.normal(size=(60, 30))
PARAMS = np.array([0.01, 0.1, 0.8])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        local_directory=str(tmp_path_factory.mktemp("dask_worker")))
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("dask_cache"))


def _close(a, b, rtol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def test_least_squares_with_argnums_and_broadcast_values(client, cache):
    Xd, yd = da.from_array(X, chunks=(50, 4)), da.from_array(Y, chunks=50)
    saved = (X.copy(), Y.copy(), W.copy())
    value, (dw, dscale) = value_and_grad_sum(least_squares, argnums=(0, 3), jit=False,
                                             cache_dir=cache)(W, Xd, yd, 0.5)
    v2, (dw2, ds2) = value_and_grad(least_squares, argnums=(0, 3), jit=False)(W, X, Y, 0.5)
    _close(value, v2)
    _close(dw, dw2)
    _close(dscale, ds2)
    assert isinstance(value, float) and isinstance(dw, np.ndarray)
    for before, after in zip(saved, (X, Y, W)):  # the client's arrays are not modified
        np.testing.assert_array_equal(before, after)
    _close(grad_sum(least_squares, jit=False, cache_dir=cache)(W, Xd, yd, 0.5), dw2)


def test_garch_panel_and_chunk_shapes(client, cache):
    expected = value_and_grad(garch_panel, jit=False)(PARAMS, R)
    transform = value_and_grad_sum(garch_panel, jit=False, cache_dir=cache)
    for chunks in [(7, 13, 0, 25, 15), (60,), 8]:  # unequal, with an empty one; one; equal
        Rd = da.from_array(R, chunks=(chunks, 10))  # columns chunked too: rejoined per row
        value, g = transform(PARAMS, Rd)
        _close(value, expected[0])
        _close(g, expected[1])


def test_broadcast_array_and_hvp(client, cache):
    mu = np.array([0.1, -0.2, 0.3, 0.0])
    Xd = da.from_array(X, chunks=(60, 4))
    w = np.abs(W)
    expected = value_and_grad(centered, argnums=(0, 2), jit=False)(w, X, mu)
    value, (dw, dmu) = value_and_grad_sum(centered, argnums=(0, 2), jit=False,
                                          cache_dir=cache)(w, Xd, mu)
    _close(value, expected[0])
    _close(dw, expected[1][0])
    _close(dmu, expected[1][1])
    v = np.array([1.0, -1.0, 0.5, 2.0])
    Xd2, yd2 = da.from_array(X, chunks=(50, 4)), da.from_array(Y, chunks=50)
    product = hvp_sum(least_squares, jit=False, cache_dir=cache)(W, Xd2, yd2, 1.0,
                                                                 tangents=v)
    _close(product, hessian(least_squares, jit=False)(W, X, Y, 1.0) @ v)


def test_errors_before_any_work_is_sent(client, cache):
    Xd = da.from_array(X, chunks=(50, 4))
    transform = value_and_grad_sum(least_squares, jit=False, cache_dir=cache)
    with pytest.raises(GradientInputError, match="chunked differently"):
        transform(W, Xd, da.from_array(Y, chunks=40), 1.0)
    with pytest.raises(UnsupportedOperationError, match="returns one float"):
        value_and_grad_sum(returns_array, jit=False)(W, Xd)
    with pytest.raises(GradientInputError, match="int"):
        value_and_grad_sum(least_squares, argnums=1, jit=False)(
            W, da.from_array(np.ones((10, 4), dtype=np.int64), chunks=5), Y[:10], 1.0)
    with pytest.raises(GradientInputError, match="no Dask array"):
        transform(W, X, Y, 1.0)


def _worker_state(token):
    from autodiff_compiler.dask import _WORKER

    spec = _WORKER.get(token)
    return None if spec is None else len(spec.artifacts)


@pytest.mark.numba
def test_each_worker_compiles_once(client, cache):
    transform = value_and_grad_sum(least_squares, cache_dir=cache)
    Xd, yd = da.from_array(X, chunks=(10, 4)), da.from_array(Y, chunks=10)  # 23 chunks
    for _ in range(2):
        value, g = transform(W, Xd, yd, 1.0)
    expected = value_and_grad(least_squares, jit=False)(W, X, Y, 1.0)
    _close(value, expected[0])
    _close(g, expected[1])
    counts = client.run(_worker_state, transform.operation.token)
    assert set(counts.values()) <= {1, None} and 1 in counts.values()


def _chunks_held(dask_scheduler):
    return sum(1 for ts in dask_scheduler.tasks.values()
               if str(ts.key).startswith("_apply") and ts.state == "memory")


def test_a_worker_killed_mid_run_changes_nothing(client, cache):
    R_big = 0.1 * np.random.default_rng(5).normal(size=(1200, 100))
    transform = value_and_grad_sum(garch_panel, jit=False, cache_dir=cache)
    graph = transform.graph([PARAMS, da.from_array(R_big, chunks=(10, 100))])  # 120 chunks
    future = client.compute(graph)
    deadline = time.monotonic() + 60
    while client.run_on_scheduler(_chunks_held) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not future.done(), "the run ended before a worker could be killed"
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)  # its chunks' results are lost: Dask computes them again
    total = future.result(timeout=120)
    assert victim not in client.run(os.getpid).values()  # the nanny started a new process
    value, g = client.compute(graph).result()  # the same graph, nothing killed
    _close(total[0], value)
    _close(total[1], g)
    few = value_and_grad(garch_panel, jit=False)(PARAMS, R_big[:50])
    value, g = transform(PARAMS, da.from_array(R_big[:50], chunks=(10, 100)))
    _close(value, few[0])
    _close(g, few[1])


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"autodiff_compiler\[dask\]"):
        value_and_grad_sum(least_squares)(W, X, Y, 1.0)


def test_the_example_fits_on_an_existing_cluster(client, capsys):
    from examples import dask_fit

    result = dask_fit.main(["--rows", "20000", "--chunk", "4000", "--no-jit",
                            "--scheduler", client.scheduler.address])
    assert result["success"]
    np.testing.assert_allclose(result["x"], dask_fit.TRUE_W, atol=0.15)
    out = capsys.readouterr().out
    assert "20000 rows in 5 chunks on 2 workers" in out and "fitted" in out
