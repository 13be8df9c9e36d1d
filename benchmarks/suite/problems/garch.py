"""GARCH(1,1) negative log-likelihood of T synthetic returns (benchmarks.control.garch_nll:
sigma2_0 = the sample variance, no mean term), gradient w.r.t. the 3 parameters
(omega, alpha, beta)."""

from __future__ import annotations

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. (omega, alpha, beta)"


def load(params) -> Data:
    from benchmarks.control import garch_data

    r, omega, alpha, beta, T = garch_data(params["T"])
    return Data(args=(r, omega, alpha, beta, T), argnums=(1, 2, 3),
                raw={"r": r, "omega": omega, "alpha": alpha, "beta": beta, "T": T},
                size="3 entries")


def objective_function():
    from benchmarks.control import garch_nll

    return garch_nll


def numba_primal():
    from benchmarks.control import njit_with_helpers

    return njit_with_helpers(objective_function())


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng)
