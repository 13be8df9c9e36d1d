"""Logistic regression on 10^7 rows with Dask: L-BFGS-B driven by value_and_grad_sum.

The rows are generated in chunks on the workers (dask.array's random generator; each chunk
is made where it is used and kept in the workers' memory with persist), so no process holds
the whole data set, and the client never does. Each L-BFGS-B step sends one graph: the
gradient of every chunk's negative log-likelihood, summed by a tree reduction in Dask; only
the value and the 6 gradient entries come back. Each worker compiles the gradient once.

    python examples/dask_fit.py                     # 10^7 rows, a LocalCluster of 2 workers
    python examples/dask_fit.py --rows 100000       # smaller
    python examples/dask_fit.py --scheduler tcp://host:8786   # an existing cluster

Needs the `dask` extra (dask[array], distributed, scipy). Prints each step's loss and the
fitted coefficients next to the ones the data were generated with.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

TRUE_W = np.array([0.5, -1.0, 2.0, 0.0, 0.75, -0.25])  # intercept, then 5 features


def nll(w, X, y):
    """Negative log-likelihood of the rows of one chunk (a sum over them)."""
    z = X @ w[1:] + w[0]
    return np.sum(np.logaddexp(0.0, z) - y * z)


def make_data(rows: int, chunk: int, seed: int):
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.normal(size=(rows, TRUE_W.size - 1), chunks=(chunk, TRUE_W.size - 1))
    p = 1.0 / (1.0 + da.exp(-(X @ TRUE_W[1:] + TRUE_W[0])))
    y = (rng.uniform(size=rows, chunks=chunk) < p).astype(np.float64)
    return X, y


def _show(w) -> str:
    return " ".join(f"{v:+.4f}" for v in w)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", help="address of an existing Dask scheduler")
    parser.add_argument("--no-jit", action="store_true", help="run the generated code in "
                        "CPython (quick for small --rows)")
    options = parser.parse_args(argv)
    from dask.distributed import Client, LocalCluster
    from scipy.optimize import minimize

    from autodiff_compiler.dask import value_and_grad_sum

    cluster = None
    if options.scheduler:
        client = Client(options.scheduler)
    else:
        cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        X, y = make_data(options.rows, min(options.chunk, options.rows), seed=7)
        X, y = client.persist([X, y])
        print(f"{options.rows} rows in {X.numblocks[0]} chunks on "
              f"{len(client.scheduler_info()['workers'])} workers")
        objective = value_and_grad_sum(nll, jit=not options.no_jit)
        steps, last = [], {}

        def fun(w):
            value, g = objective(w, X, y)
            last[w.tobytes()] = value / options.rows
            return value / options.rows, g / options.rows

        def progress(w):
            steps.append(w.copy())
            print(f"step {len(steps):3d}  mean loss {last[w.tobytes()]:.6f}  w = {_show(w)}")

        start = time.perf_counter()
        result = minimize(fun, np.zeros(TRUE_W.size), jac=True, method="L-BFGS-B",
                          callback=progress, options={"gtol": 1e-8})
        seconds = time.perf_counter() - start
        print(f"{result.message} after {result.nit} steps, {result.nfev} evaluations, "
              f"{seconds:.1f} s")
        print(f"fitted     {_show(result.x)}")
        print(f"generating {_show(TRUE_W)}")
        return {"x": result.x, "success": result.success, "fun": result.fun}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
