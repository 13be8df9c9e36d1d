"""Loop fusion on whole-array objectives: ours fused and unfused against the Numba primal and
plain NumPy, side by side in one run.

    NUMBA_NUM_THREADS=1 python -m benchmarks.fusion [--repeats N] [--parallel]

Problems (as JAX users write them, np for jnp): log-sum-exp (n = 1.28e6, gradient w.r.t.
z), k-means (k = 100, n = 1e4, d = 16, gradient w.r.t. the centres) and a GMM-like
broadcast-reduce (n = 1000, K = 25, d = 10, gradient w.r.t. the means and weights). For each:
the primal in NumPy and under numba.njit, our gradient with the NumPy code of each operation
(fuse=False) and fused (the default), and with --parallel our fused gradient compiled with
grad(f, parallel=True) (run once with NUMBA_NUM_THREADS=1 and once with 2 to compare).
Times are medians of `--repeats` calls after a warm-up call (compiles excluded); fused and
unfused gradients are checked to agree.
"""

from __future__ import annotations

import argparse
import os

import numba
import numpy as np

from autodiff_compiler.specialize import Specializations
from benchmarks.timing import median_seconds


def log_sum_exp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def kmeans(x, c):
    return np.sum(np.min(np.sum((x[:, None, :] - c[None, :, :]) ** 2, axis=2), axis=1))


def gmm_like(x, mu, w):
    d = x[:, None, :] - mu[None, :, :]
    q = np.sum(d * d, axis=2)
    return np.sum(np.log(np.sum(np.exp(w[None, :] - 0.5 * q), axis=1)))


def problems():
    rng = np.random.default_rng(0)
    yield "log-sum-exp n=1.28e6", log_sum_exp, (rng.normal(size=1_280_000),), (0,)
    yield ("k-means k=100 n=1e4 d=16", kmeans,
           (rng.normal(size=(10_000, 16)), rng.normal(size=(100, 16))), (1,))
    yield ("GMM-like n=1000 K=25 d=10", gmm_like,
           (rng.normal(size=(1000, 10)), rng.normal(size=(25, 10)), rng.normal(size=25)),
           (1, 2))


def median_time(call, repeats: int) -> float:
    return median_seconds(call, repeats)

def numba_primal(fn, args, options) -> float:
    """The primal under numba.njit (nan where Numba refuses it: np.min with an axis)."""
    primal = numba.njit(fn)
    try:
        primal(*args)
    except numba.core.errors.TypingError:
        return float("nan")
    return median_time(lambda: primal(*args), options.repeats)


def gradient(fn, args, nums, fuse: bool, parallel: bool = False):
    """A callable running our gradient (fused or not), and its gradients."""
    spec = Specializations(fn, jit=True, parallel=parallel)
    values, types = spec.prepare(args, {}, list(nums))
    artifact = spec.artifact(types, list(nums), "grad", fuse=fuse)
    return (lambda: artifact.run(*values)), artifact.call(*values).gradients


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--parallel", action="store_true")
    options = parser.parse_args(argv)
    threads = os.environ.get("NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS))
    print(f"medians of {options.repeats} calls, ms; NUMBA_NUM_THREADS={threads}")
    header = f"{'problem':28} {'NumPy':>8} {'Numba':>8} {'unfused':>8} {'fused':>8}"
    print(header + (f" {'parallel':>8}" if options.parallel else ""))
    for name, fn, args, nums in problems():
        row = [median_time(lambda fn=fn, args=args: fn(*args), options.repeats),
               numba_primal(fn, args, options)]
        results = []
        for fuse in (False, True):
            run, grads = gradient(fn, args, nums, fuse)
            row.append(median_time(run, options.repeats))
            results.append(grads)
        if options.parallel:
            run, grads = gradient(fn, args, nums, True, parallel=True)
            row.append(median_time(run, options.repeats))
            results.append(grads)
        for other in results[1:]:
            for a, b in zip(results[0], other):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        print(f"{name:28} " + " ".join(f"{1e3 * t:8.2f}" for t in row))


if __name__ == "__main__":
    main()
