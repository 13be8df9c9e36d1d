"""log-sum-exp of n standard normal numbers (vectorised, the maximum subtracted first), gradient
w.r.t. all of them. The objective is problems.vectorised.lse_objective; the primal timed is
NumPy's (Numba compiles it too, but NumPy is what the JAX-style source runs on)."""

from __future__ import annotations

import numpy as np

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. z"


def load(params) -> Data:
    z = np.random.default_rng(20261207).standard_normal(params["n"])
    return Data(args=(z,), argnums=(0,), raw={}, size=f"{params['n']} entries")


def objective_function():
    from benchmarks.suite.problems.vectorised import lse_objective

    return lse_objective


def numba_primal():
    """The primal the suite times for ours and differences for the reference: NumPy's."""
    return objective_function()


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng)
