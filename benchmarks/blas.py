"""python -m benchmarks.blas [--quick]: the runtime's products, their own loops against
Numba's np.dot (SciPy's BLAS), single-threaded, for tiny to benchmark-sized shapes and for
Fortran-ordered (a transpose) and strided (a slice) operands; the sizes from which BLAS wins
are the thresholds in autodiff_compiler/runtime.py (BLAS_MIN_MATRIX, BLAS_MIN_VECTOR,
BLAS_MIN_INNER).

Each figure is the median over 7 blocks of consecutive calls from Python (each block long
enough to take about 20 ms), the dispatcher's call overhead (about a microsecond) included
in both columns. Run with OPENBLAS_NUM_THREADS=1 (set here before NumPy is imported)."""

from __future__ import annotations

import os
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np


def per_call(fn, args, blocks: int) -> float:
    fn(*args)
    count = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(count):
            fn(*args)
        if time.perf_counter() - t0 > 0.02 or count > 1 << 20:
            break
        count *= 4
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(count):
            fn(*args)
        times.append((time.perf_counter() - t0) / count)
    return float(np.median(times))


def cases(rng, quick: bool):
    from autodiff_compiler import runtime as rt

    cubes = (2, 4, 8, 12, 16, 24, 32, 64) if quick else (2, 4, 8, 12, 16, 24, 32, 64, 128, 256)
    for n in cubes:
        a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        yield f"dot22 {n}x{n} @ {n}x{n}", rt.dot22_loops, (a, b)
        if n in (8, 64):
            yield f"dot22 {n}: a.T (Fortran order)", rt.dot22_loops, (a.T, b)
            wide = rng.standard_normal((n, 2 * n))
            yield f"dot22 {n}: a[:, ::2] (strided)", rt.dot22_loops, (wide[:, ::2], b)
    # the GMM selector product, a k-means-like distance product, a tall one
    for m, k, n in ((25, 45, 100), (1000, 16, 100), (100, 1000, 16)):
        yield (f"dot22 {m}x{k} @ {k}x{n}", rt.dot22_loops,
               (rng.standard_normal((m, k)), rng.standard_normal((k, n))))
    for m, k in ((4, 4), (14, 14), (16, 16), (24, 24), (32, 32), (64, 64), (1000, 10), (1000, 100)):
        a, x = rng.standard_normal((m, k)), rng.standard_normal(k)
        yield f"dot21 {m}x{k} @ {k}", rt.dot21_loops, (a, x)
        yield f"dot12 {k} @ {k}x{m} (a.T)", rt.dot12_loops, (x, a.T)
    for n in (8, 32, 64, 128, 256, 1000, 100_000):
        yield f"dot11 {n}", rt.dot11_loops, (rng.standard_normal(n), rng.standard_normal(n))


def main(argv=None) -> int:
    from autodiff_compiler import runtime as rt

    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    blocks = 3 if quick else 7
    rng = np.random.default_rng(0)
    print(f"{'product':34} {'loops us':>10} {'BLAS us':>10} {'loops/BLAS':>11}  chosen")
    for name, loops, args in cases(rng, quick):
        t_loops = per_call(loops, args, blocks)
        t_blas = per_call(rt.blas_dot, args, blocks)
        if not np.allclose(loops(*args), rt.blas_dot(*args), rtol=1e-12, atol=1e-12):
            raise SystemExit(f"{name}: the loops and BLAS disagree")
        helper = getattr(rt, loops.__name__.removesuffix("_loops"))
        chosen = "BLAS" if _uses_blas(rt, helper, args) else "loops"
        print(f"{name:34} {1e6 * t_loops:10.2f} {1e6 * t_blas:10.2f} "
              f"{t_loops / t_blas:11.2f}  {chosen}", flush=True)
    return 0


def _uses_blas(rt, helper, args) -> bool:
    a, b = args
    if helper is rt.dot22:
        return a.shape[0] * a.shape[1] * b.shape[1] >= rt.BLAS_MIN_MATRIX
    if helper is rt.dot21:
        return a.size >= rt.BLAS_MIN_VECTOR
    if helper is rt.dot12:
        return b.size >= rt.BLAS_MIN_VECTOR
    return a.shape[0] >= rt.BLAS_MIN_INNER


if __name__ == "__main__":
    sys.exit(main())
