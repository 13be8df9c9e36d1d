"""Ragged tapes: what taping arrays whose shape changes between iterations costs.

Run with `python -m benchmarks.ragged` (`--quick` for fewer repeats).

Substitution  forward substitution x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i], n = 400: the
              slices x[:i] go on a ragged tape. Its gradient (Numba) against the primal
              compiled by Numba from the same source.
Layout        an RNN, h = tanh(W @ h + b), 400 steps of 32 units: h keeps one shape, but the
              analysis cannot prove W @ h as long as h, so h goes on a ragged tape. Timed
              against the same derivative with h on the rows tape (the analysis overridden
              for this one measurement): the price of the conservative choice.

Times are medians over blocks of consecutive calls, the candidates of a problem taking turns
(benchmarks.spine.blocked_medians). Exit status 1 means a wrong gradient.
"""

from __future__ import annotations

import argparse
import sys
from unittest import mock

import numpy as np

from benchmarks.spine import blocked_medians


def forward_substitution(L, b):
    n = b.shape[0]
    x = np.zeros(n)
    for i in range(n):
        x[i] = (b[i] - np.dot(L[i, :i], x[:i])) / L[i, i]
    return np.sum(x * x)


def rnn(W, b, h0, steps):
    h = h0 * 1.0
    s = 0.0
    for t in range(steps):
        h = np.tanh(W @ h + b)
        s += np.sum(h * h)
    return s


def _rows_tape_everywhere():
    """The tape plan with every array assumed to keep one shape (for the comparison only)."""
    from autodiff_compiler.ad.tape import TapePlan
    return mock.patch.object(TapePlan, "shape_may_vary", lambda self, value: False)


def main(argv=None) -> int:
    import numba

    from autodiff_compiler import grad

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(argv)
    repeats, rounds = (60, 3) if opts.quick else (300, 5)
    rng = np.random.default_rng(0)
    n = 400
    L = np.tril(rng.normal(size=(n, n)) * 0.05) + np.eye(n)
    b = rng.normal(size=n)
    primal = numba.njit(forward_substitution)
    ragged = grad(forward_substitution, argnums=(0, 1))
    W, bias, h0 = rng.normal(size=(32, 32)) * 0.3, rng.normal(size=32), rng.normal(size=32)
    rnn_ragged = grad(rnn, argnums=(0, 1, 2))
    rnn_rows = grad(rnn, argnums=(0, 1, 2))
    rnn_args = (W, bias, h0, 400)
    with _rows_tape_everywhere():
        rows_result = rnn_rows(*rnn_args)  # compiled with the rows tape
    assert "push_ragged" in rnn_ragged.lower(*rnn_args).source
    assert "push_ragged" not in rnn_rows.lower(*rnn_args).source
    ok = all(np.allclose(p, q, rtol=1e-12, atol=0) for p, q in
             zip(rnn_ragged(*rnn_args), rows_result))
    problems = {
        "substitution": {"primal (njit)": lambda: primal(L, b),
                         "gradient (ragged tape)": lambda: ragged(L, b)},
        "layout": {"rnn gradient, ragged tape": lambda: rnn_ragged(*rnn_args),
                   "rnn gradient, rows tape": lambda: rnn_rows(*rnn_args)},
    }
    for name, calls in problems.items():
        print(f"{name}:")
        times = blocked_medians(calls, repeats, warmup=3, rounds=rounds)
        first = next(iter(times.values()))[0]
        for label, (median, best, _) in times.items():
            print(f"  {label:28s} median {median * 1e6:9.1f} us  min {best * 1e6:9.1f} us"
                  f"  ({median / first:.2f}x)")
    print("gradients agree" if ok else "WRONG: the two layouts give different gradients")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
