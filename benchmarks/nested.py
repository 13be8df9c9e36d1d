"""Nested gradients: the derivative of a trajectory whose force is grad(potential), against
the same trajectory with the force written by hand.

Run with `python -m benchmarks.nested` (`--quick` for fewer repeats). Both gradients (w.r.t.
the initial positions, 1000 steps of 8 particles) are generated and compiled by Numba; the
nested one inlines the generated code of grad(potential) into the trajectory before
differentiating it again. A second pair of rows does the same with a potential that loops
over particle pairs (its adjoint keeps a tape): grad(pair_potential) is then called, not
inlined, and differentiated by Hessian-vector products of the potential (nested.py); the
hand-written force loops over the pairs too, and is differentiated as part of the
trajectory. Medians of repeated calls after warm-up, in ms; compile times too.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import autodiff_compiler
from autodiff_compiler import grad
from benchmarks.timing import median_seconds


def potential(q, k):
    return 0.5 * k * np.sum(q * q) + np.sum(q ** 4)


force = grad(potential)


def trajectory(q0, k, n):
    q = q0
    v = np.zeros_like(q0)
    for _ in range(n):
        v = v - 0.01 * force(q, k)
        q = q + 0.01 * v
    return np.sum(q * q)


def trajectory_by_hand(q0, k, n):
    q = q0
    v = np.zeros_like(q0)
    for _ in range(n):
        v = v - 0.01 * (k * q + 4.0 * q ** 3)
        q = q + 0.01 * v
    return np.sum(q * q)


def pair_potential(q):
    """A soft repulsion summed over pairs, its terms chained (the reverse sweep reads a tape)."""
    e = 0.0
    n = q.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            r2 = (q[i] - q[j]) ** 2 + 1.0
            e = e * 0.999 + 1.0 / r2
    return e


pair_force = grad(pair_potential)


def pair_trajectory(q0, n):
    q = q0
    v = np.zeros_like(q0)
    for _ in range(n):
        v = v - 0.01 * pair_force(q)
        q = q + 0.01 * v
    return np.sum(q * q)


def pair_force_by_hand(q):
    """grad(pair_potential), written out: the reverse of the pair loop, its chain of
    factors 0.999 counted from the last pair."""
    m = q.shape[0]
    f = np.zeros_like(q)
    scale = 1.0
    for i in range(m - 1, -1, -1):
        for j in range(m - 1, i, -1):
            d = q[i] - q[j]
            r2 = d * d + 1.0
            c = -scale * 2.0 * d / (r2 * r2)
            f[i] = f[i] + c
            f[j] = f[j] - c
            scale = scale * 0.999
    return f


def pair_trajectory_by_hand(q0, n):
    q = q0
    v = np.zeros_like(q0)
    for _ in range(n):
        v = v - 0.01 * pair_force_by_hand(q)
        q = q + 0.01 * v
    return np.sum(q * q)


def timed(fn, repeats: int) -> float:
    return median_seconds(fn, repeats, warm_up=False) * 1e3

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    autodiff_compiler.set_cache_dir(tempfile.mkdtemp(prefix="adc_nested_"))
    repeats = 5 if options.quick else 30
    q0 = np.linspace(-0.5, 0.5, 8)
    print("gradient of a 1000-step trajectory w.r.t. 8 initial positions")
    results = {}
    for name, fn in (("force = grad(potential)", trajectory),
                     ("force written by hand", trajectory_by_hand)):
        g = grad(fn)
        start = time.perf_counter()
        results[name] = g(q0, 2.0, 1000)
        compile_s = time.perf_counter() - start
        ms = timed(lambda g=g: g(q0, 2.0, 1000), repeats)
        print(f"  {name:<26} {ms:>8.3f} ms per gradient   (first call {compile_s:.1f} s)")
    a, b = results.values()
    np.testing.assert_allclose(a, b, rtol=1e-12)
    print("the same with a potential looping over the pairs (200 steps)")
    results = {}
    for name, fn in (("force = grad(pair_potential)", pair_trajectory),
                     ("pair force written by hand", pair_trajectory_by_hand)):
        g = grad(fn)
        start = time.perf_counter()
        results[name] = g(q0, 200)
        compile_s = time.perf_counter() - start
        ms = timed(lambda g=g: g(q0, 200), repeats)
        print(f"  {name:<30} {ms:>8.3f} ms per gradient   (first call {compile_s:.1f} s)")
    a, b = results.values()
    np.testing.assert_allclose(a, b, rtol=1e-10)


if __name__ == "__main__":
    main()
