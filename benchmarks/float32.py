"""float32 against float64: value_and_grad of the same objectives, compiled with Numba.

Run with `python -m benchmarks.float32` (`--quick` for fewer repeats). Two objectives: a
Gaussian-mixture-like log-sum-exp over 10^5 x 16 points (whole-array code: fused loops, no
BLAS) and an RK4 loop with a tape (scalar code, 2000 steps of a 64-entry state). Medians of
repeated calls after warm-up, in ms, both dtypes in one run, with the largest difference of
the float32 gradient from the float64 one relative to its largest entry.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from benchmarks.timing import median_seconds


def mixture(c, x):
    d = x[:, None, :] - c[None, :, :]
    e = np.exp(-0.5 * np.sum(d * d, axis=2))
    return -np.sum(np.log(np.sum(e, axis=1) + 1e-3))


def rk4(y, n):
    h = 0.01
    for _ in range(n):
        k1 = np.sin(y) - 0.5 * y
        k2 = np.sin(y + 0.5 * h * k1) - 0.5 * (y + 0.5 * h * k1)
        k3 = np.sin(y + 0.5 * h * k2) - 0.5 * (y + 0.5 * h * k2)
        k4 = np.sin(y + h * k3) - 0.5 * (y + h * k3)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(y * y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    import autodiff_compiler
    from autodiff_compiler import value_and_grad

    autodiff_compiler.set_cache_dir(tempfile.mkdtemp(prefix="adc_float32_"))
    repeats = 5 if options.quick else 20
    rng = np.random.default_rng(0)
    cases = {"mixture, 10^5 x 16 points, 8 centres": (
                 mixture, (rng.normal(size=(8, 16)), rng.normal(size=(100_000, 16)))),
             "RK4 loop, 2000 steps of 64 entries": (rk4, (rng.normal(size=64), 2000))}
    print(f"{'objective':40s} {'float64 ms':>11s} {'float32 ms':>11s} {'ratio':>6s} "
          f"{'max rel diff':>13s}")
    for name, (f, args) in cases.items():
        g = value_and_grad(f)
        args32 = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args)
        _, d64 = g(*args)
        _, d32 = g(*args32)
        assert d32.dtype == np.float32
        difference = float(np.max(np.abs(d32 - d64)) / np.max(np.abs(d64)))
        t64, t32 = (median_seconds(lambda g=g, a=a: g(*a), repeats) * 1e3
                    for a in (args, args32))
        print(f"{name:40s} {t64:11.2f} {t32:11.2f} {t64 / t32:6.2f} {difference:13.2e}")


if __name__ == "__main__":
    main()
