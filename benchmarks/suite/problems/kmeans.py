"""k-means objective (vectorised): the sum over n points of the squared distance to the nearest
of k centres in d dimensions, gradient w.r.t. the centres. Random data (a fixed seed), the
points and centres standard normal. The objective is problems.vectorised.kmeans_objective;
Numba cannot compile it (np.min along an axis), so the primal timed is NumPy's."""

from __future__ import annotations

import numpy as np

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. the centres"


def load(params) -> Data:
    rng = np.random.default_rng(20261207)
    k, n, d = params["k"], params["n"], params["d"]
    centers = rng.standard_normal((k, d))
    x = rng.standard_normal((n, d))
    return Data(args=(centers, x), argnums=(0,), raw={}, size=f"{k * d} entries")


def objective_function():
    from benchmarks.suite.problems.vectorised import kmeans_objective

    return kmeans_objective


def numba_primal():
    """The primal the suite times for ours and differences for the reference: NumPy's."""
    return objective_function()


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng)
