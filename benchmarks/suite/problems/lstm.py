"""LSTM (ADBench): the diagonal LSTM language-model loss, gradient w.r.t. (main_params,
extra_params). The loop-level objective is examples.adbench.lstm.lstm_objective, which updates
its `state` argument in place: the primal here runs on a copy of it every call (the copy is
part of the timed objective, as the gradient copies written arguments on entry too)."""

from __future__ import annotations

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. (main_params, extra_params)"


def load(params) -> Data:
    from examples.adbench import data_dir
    from examples.adbench.io import read_lstm

    inp = read_lstm(data_dir() / "lstm" / params["file"])
    layers, _, b = inp.shape
    return Data(args=(inp.main_params, inp.extra_params, inp.state, inp.sequence),
                argnums=(0, 1), raw={"inp": inp}, size=f"{8 * layers * b + 3 * b} entries")


def objective_function():
    from examples.adbench.lstm import lstm_objective

    return lstm_objective


def numba_primal():
    from benchmarks.adbench import njit_tree

    jitted = njit_tree(objective_function())

    def primal(main, extra, state, sequence):
        return jitted(main, extra, state.copy(), sequence)

    return primal


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng, step=1e-3)
