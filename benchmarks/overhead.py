"""Per-call overhead: g(...) from Python against its dispatcher g.njit(...) and against the
generated adjoint called directly, for small problems where the call dominates.

Run with `python -m benchmarks.overhead` (`--quick` for fewer repeats). Each candidate is
timed in blocks of consecutive calls, the candidates taking turns block by block; the figure
is the median over blocks of the time per call, in microseconds.

    f(x) = x * x (a number)        the smallest gradient there is
    power_sum(x, 10) (10 entries)  a loop and a branch, an array gradient
    recurrence(x, a, 20)           a taped loop (160 bytes of tape)
    recurrence(x, a, 20000)        a taped loop (160 kB of tape)

g calls its dispatcher directly after its first call when the compiled code needs nothing
from the Python side (no check of arrays sharing memory; tapes up to calls.SMALL_TAPES
bytes, which each call then makes itself). "adjoint" calls the generated adjoint with
empty tapes, which it grows.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

import numpy as np


def square(x):
    return x * x


def power_sum(x, n):
    s = 0.0
    for i in range(n):
        if x[i] > 0:
            s += math.sin(x[i]) * x[i]
        else:
            s -= x[i] ** 2
    return s


def recurrence(x, a, n):
    for _ in range(n):
        x = math.sin(a * x) + 0.5 * x
    return x


def per_call(fn, args, calls: int, blocks: int) -> float:
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    import autodiff_compiler
    from autodiff_compiler import grad
    from autodiff_compiler.budget import default_budget

    autodiff_compiler.set_cache_dir(tempfile.mkdtemp(prefix="adc_overhead_"))
    calls, blocks = (2000, 5) if options.quick else (20000, 15)
    problems = [("x * x", square, (1.5,), 1),  # the last entry divides the calls per block
                ("power_sum n=10", power_sum, (np.linspace(-1, 1, 10), 10), 1),
                ("recurrence n=20 (tape)", recurrence, (0.3, 1.7, 20), 1),
                ("recurrence n=20000", recurrence, (0.3, 1.7, 20000), 500)]
    print(f"{'problem':<24} {'g(...) us':>10} {'g.njit us':>10} {'adjoint us':>11} "
          f"{'g - njit':>9}")
    for name, fn, args, fewer in problems:
        g = grad(fn)
        g(*args)
        artifact = g.specializations.last
        adjoint = artifact.compiled.dispatcher()
        tapes = [np.empty((0,) * t.ndim) for t in artifact.adjoint.tape_kinds]
        tapes += [default_budget()] if artifact.adjoint.budgeted else []  # the tape budget
        direct = (lambda *a, _d=adjoint, _t=tapes: _d(*a, *_t))
        candidates = {"g": g, "njit": g.njit, "adjoint": direct}
        for c in candidates.values():
            per_call(c, args, 200, 1)
        results = {k: [] for k in candidates}
        for _ in range(3):
            for key, c in candidates.items():
                results[key].append(per_call(c, args, max(calls // fewer, 4), blocks))
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"{name:<24} {med['g']:>10.3f} {med['njit']:>10.3f} {med['adjoint']:>11.3f} "
              f"{med['g'] - med['njit']:>9.3f}")


if __name__ == "__main__":
    main()
