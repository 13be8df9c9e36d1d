"""GMM (ADBench, 1000 points): the log-likelihood with a Wishart prior, gradient w.r.t.
(alphas, means, icf). The loop-level objective is examples.adbench.gmm.gmm_objective; the prior
is added with ADBench's sign."""

from __future__ import annotations

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. (alphas, means, icf)"


def load(params) -> Data:
    from examples.adbench import data_dir
    from examples.adbench.gmm import gmm_args
    from examples.adbench.io import read_gmm

    inp = read_gmm(data_dir() / "gmm" / "1k" / f"gmm_d{params['d']}_K{params['k']}.txt")
    d, k, _n = inp.shape
    return Data(args=gmm_args(inp), argnums=(0, 1, 2), raw={"inp": inp},
                size=f"{k * (1 + d + d * (d + 1) // 2)} entries")


def objective_function():
    from examples.adbench.gmm import gmm_objective

    return gmm_objective


def numba_primal():
    """The loop-level objective compiled by Numba (its helpers too)."""
    from benchmarks.adbench import njit_tree

    return njit_tree(objective_function())


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng)
