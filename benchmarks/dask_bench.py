"""Data-parallel gradients on Dask: rows per second for 1 and 2 workers against the
single-process value_and_grad on the same data, and the overhead of one call.

Run with `python -m benchmarks.dask_bench` (`--rows N`, default 4*10^6; `--quick` for
fewer repeats). The loss is the logistic negative log-likelihood of examples/dask_fit.py
(5 features and an intercept); the data are persisted in the workers' memory first, chunks
of 10^6 rows (`--chunk`). Each figure is the median of repeated calls after a warm-up call (which
compiles: once per worker). Overhead: a call on 16 chunks of 10 rows, where the arithmetic
is negligible (scheduling a graph of 16 + 3 tasks, serialising arguments and results).
Needs the `dask` extra.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from benchmarks.timing import median_seconds
from examples.dask_fit import TRUE_W, nll


def _nothing(*args):
    return 0


def timed(fn, repeats: int) -> float:
    return median_seconds(fn, repeats)

def measure(workers, X, y, w, expected, chunk, cache, repeats):
    """(rows/s, (overhead of a tiny call, of an empty graph)) on a LocalCluster."""
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    from autodiff_compiler.dask import value_and_grad_sum

    d = X.shape[1]
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        Xd = client.persist(da.from_array(X, chunks=(chunk, d)))
        yd = client.persist(da.from_array(y, chunks=chunk))
        objective = value_and_grad_sum(nll, cache_dir=cache)
        value, g = objective(w, Xd, yd)
        np.testing.assert_allclose(value, expected[0], rtol=1e-10)
        np.testing.assert_allclose(g, expected[1], rtol=1e-9)
        rate = X.shape[0] / timed(lambda: objective(w, Xd, yd), repeats)
        Xs = client.persist(da.from_array(X[:160], chunks=(10, d)))
        ys = client.persist(da.from_array(y[:160], chunks=10))
        empty = [dask.delayed(_nothing, pure=False)(i) for i in range(16)]
        tree = [dask.delayed(_nothing)(*empty[i:i + 8]) for i in (0, 8)]
        ours = timed(lambda: objective(w, Xs, ys), repeats * 3)
        bare = timed(lambda: dask.compute(dask.delayed(_nothing)(*tree)), repeats * 3)
    return rate, (ours, bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    import autodiff_compiler
    from autodiff_compiler import value_and_grad

    cache = tempfile.mkdtemp(prefix="adc_dask_")
    autodiff_compiler.set_cache_dir(cache)
    repeats = 3 if options.quick else 10
    rng = np.random.default_rng(0)
    n, d = options.rows, TRUE_W.size - 1
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ TRUE_W[1:] + TRUE_W[0])))).astype(float)
    w = 0.1 * np.ones(TRUE_W.size)
    single = value_and_grad(nll)
    expected = single(w, X, y)
    rows = {"single process value_and_grad": n / timed(lambda: single(w, X, y), repeats)}
    overhead = {}
    for workers in (1, 2):
        rows[f"Dask, {workers} worker(s)"], overhead[workers] = measure(
            workers, X, y, w, expected, options.chunk, cache, repeats)
    print(f"logistic NLL value and gradient, {n} rows x {d + 1} parameters")
    for name, rate in rows.items():
        print(f"  {name:<34} {rate / 1e6:>8.2f} M rows/s")
    for workers, (ours, bare) in overhead.items():
        print(f"  overhead per call, {workers} worker(s), 16 tiny chunks: {ours * 1e3:.1f} ms "
              f"(a Dask graph of 19 empty tasks: {bare * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
