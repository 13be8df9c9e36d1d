"""GMM (ADBench d=10 K=25, the loop version of examples/adbench/gmm.py): our gradient against
a hand-written Numba adjoint of the same loops, the floor for what generated code could reach.

Run with `python -m benchmarks.gmm_floor` (`--quick` for fewer repeats). Without the ADBench
data (examples.adbench.data_dir) it prints SKIP and exits 0. Prints medians (and minima) of
the Numba objective, our value_and_grad and the hand-written adjoint, timed in turns in one
process (benchmarks.spine.blocked_medians), with the load average; exit status 1 when the
hand-written gradient differs from ours.

The hand-written adjoint keeps the objective's loops (the triangular product row by row,
logsumexp over K) and does by hand what the compiler does not: each point's reverse runs
right after its forward (no tape beyond one point's values), x_i - mu_k is computed once per
(i, k) instead of in every inner iteration, the adjoint of that row is added up in a local
array, and the packed index is updated as the loop goes (as transforms/strength.py does).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

from benchmarks.spine import blocked_medians


def gmm_hand_adjoint(alphas, means, icf, x, gamma, m, log_gamma_nd):
    """(value, alphas_bar, means_bar, icf_bar) of examples.adbench.gmm.gmm_objective."""
    n, d = x.shape
    k_count = alphas.shape[0]
    qdiag = np.exp(icf[:, :d])
    sum_qs = np.zeros(k_count)
    for k in range(k_count):
        for j in range(d):
            sum_qs[k] += icf[k, j]
    alphas_bar = np.zeros(k_count)
    means_bar = np.zeros((k_count, d))
    icf_bar = np.zeros_like(icf)
    qdiag_bar = np.zeros((k_count, d))
    sum_qs_bar = np.zeros(k_count)
    centred = np.empty((k_count, d))
    rows = np.empty((k_count, d))        # Q_k (x_i - mu_k), one point at a time
    beta = np.empty(k_count)
    centred_bar = np.empty(d)
    slse = 0.0
    for i in range(n):
        for k in range(k_count):
            for c in range(d):
                centred[k, c] = x[i, c] - means[k, c]
            total = 0.0
            for r in range(d):
                v = qdiag[k, r] * centred[k, r]
                pos = d + r - 1                      # l_k's entry (r, 0), column-major
                for c in range(r):
                    v += icf[k, pos] * centred[k, c]
                    pos += d - c - 2
                rows[k, r] = v
                total += v * v
            beta[k] = alphas[k] + sum_qs[k] - 0.5 * total
        top = beta[0]
        for k in range(1, k_count):
            top = max(top, beta[k])
        s = 0.0
        for k in range(k_count):
            beta[k] = math.exp(beta[k] - top)
            s += beta[k]
        slse += math.log(s) + top
        for k in range(k_count):
            w = beta[k] / s                          # d logsumexp / d beta_k
            alphas_bar[k] += w
            sum_qs_bar[k] += w
            for c in range(d):
                centred_bar[c] = 0.0
            for r in range(d):
                v_bar = -w * rows[k, r]
                pos = d + r - 1
                for c in range(r):
                    icf_bar[k, pos] += v_bar * centred[k, c]
                    centred_bar[c] += v_bar * icf[k, pos]
                    pos += d - c - 2
                qdiag_bar[k, r] += v_bar * centred[k, r]
                centred_bar[r] += v_bar * qdiag[k, r]
            for c in range(d):
                means_bar[k, c] -= centred_bar[c]
    top = alphas[0]
    for k in range(1, k_count):
        top = max(top, alphas[k])
    s = 0.0
    for k in range(k_count):
        s += math.exp(alphas[k] - top)
    lse_alphas = math.log(s) + top
    for k in range(k_count):
        alphas_bar[k] -= n * math.exp(alphas[k] - top) / s
    icf_size = d * (d + 1) // 2
    c_const = (d + m + 1.0) * d * (math.log(gamma) - 0.5 * math.log(2.0)) - log_gamma_nd
    prior = 0.0
    for k in range(k_count):
        frobenius = 0.0
        for j in range(d):
            frobenius += qdiag[k, j] * qdiag[k, j]
            qdiag_bar[k, j] += gamma * gamma * qdiag[k, j]
        for j in range(d, icf_size):
            frobenius += icf[k, j] * icf[k, j]
            icf_bar[k, j] += gamma * gamma * icf[k, j]
        prior += 0.5 * gamma * gamma * frobenius - m * sum_qs[k]
        sum_qs_bar[k] -= m
        for j in range(d):
            icf_bar[k, j] += sum_qs_bar[k] + qdiag_bar[k, j] * qdiag[k, j]
    value = -n * d * 0.5 * math.log(2.0 * math.pi) + slse - n * lse_alphas + prior \
        - k_count * c_const
    return value, alphas_bar, means_bar, icf_bar


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    options = parser.parse_args(argv)
    import numba

    from autodiff_compiler import value_and_grad
    from benchmarks.adbench import njit_tree
    from examples.adbench import data_dir
    from examples.adbench.gmm import gmm_args, gmm_objective
    from examples.adbench.io import read_gmm

    path = data_dir() / "gmm" / "1k" / "gmm_d10_K25.txt"
    if not path.exists():
        print(f"SKIP: {path} not found")
        return 0
    args = gmm_args(read_gmm(path))
    primal = njit_tree(gmm_objective)
    ours = value_and_grad(gmm_objective, argnums=(0, 1, 2), jit=True)
    hand = numba.njit(gmm_hand_adjoint)
    value, grads = ours(*args)
    by_hand = hand(*args)
    scale = max(float(np.max(np.abs(g))) for g in grads)
    agree = abs(by_hand[0] - value) <= 1e-10 * abs(value) and all(
        np.allclose(h, g, rtol=1e-9, atol=1e-12 * scale) for h, g in zip(by_hand[1:], grads))
    repeats = 60 if options.quick else 300
    times = blocked_medians({"objective (Numba)": lambda: primal(*args),
                             "ours (value_and_grad)": lambda: ours(*args),
                             "hand-written adjoint": lambda: hand(*args)},
                            repeats, warmup=3, rounds=6)
    print(f"GMM d=10 K=25 N=1000, load average {os.getloadavg()[0]:.2f}")
    for name, (median, fastest, _) in times.items():
        print(f"  {name:24s} median {median * 1e3:7.3f} ms   min {fastest * 1e3:7.3f} ms")
    print("  hand-written gradient agrees with ours" if agree else "  WRONG: gradients differ")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
