"""RK4 Lorenz-96 (N = 40, F = 8, dt = 0.01): loss = sum of squares of the final state,
gradient w.r.t. (y0, F). The loop-level objective is benchmarks.control.rk4_lorenz96 with its
helper lorenz96_rhs writing the right-hand side into an array.

The system is chaotic (largest Lyapunov exponent about 1.7): over 5000 steps (t = 50) rounding
differences between two correct implementations grow by ~e^85, so their values and gradients
no longer agree at all; accuracy is therefore compared at 200 steps (Instance.check), where
fourth-order central differences (step 1e-5) still agree with the adjoint to ~1e-9 (at 500
steps they are off by several per cent)."""

from __future__ import annotations

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. (y0, F)"


def load(params) -> Data:
    from benchmarks.control import lorenz_data

    y0, F, dt, nsteps = lorenz_data(params["nsteps"])
    return Data(args=(y0, F, dt, nsteps), argnums=(0, 1),
                raw={"y0": y0, "F": F, "dt": dt, "nsteps": nsteps},
                size=f"{y0.shape[0] + 1} entries")


def objective_function():
    from benchmarks.control import rk4_lorenz96

    return rk4_lorenz96


def numba_primal():
    from benchmarks.control import lorenz96_rhs, njit_with_helpers

    return njit_with_helpers(objective_function(), lorenz96_rhs)


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng, step=1e-5)
