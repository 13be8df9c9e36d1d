"""LSTM (ADBench), written vectorised: problems.vectorised.lstm_vec_objective, each step on
whole rows (the loop over characters stays: every step needs the previous one). The same
objective and gradient as problems/lstm.py, whose implementations the other tools run
(already vectorised, PEERS_AS). The primal timed is Numba's compilation of the same source."""

from __future__ import annotations

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. (main_params, extra_params)"
PEERS_AS = "lstm"


def load(params) -> Data:
    from benchmarks.suite.problems import lstm

    return lstm.load(params)


def objective_function():
    from benchmarks.suite.problems.vectorised import lstm_vec_objective

    return lstm_vec_objective


def numba_primal():
    from benchmarks.adbench import njit_tree

    return njit_tree(objective_function())


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng, step=1e-3)
