"""Tape budgets: how long a refusal, a size and an "auto" checkpointed call take.

Run with `python -m benchmarks.tape_budget` (`--quick` for fewer repeats). For a scalar
recurrence (one float64 taped per step), each line is the median over repeats, compiled code
(Numba) unless it says CPython:

    refuse 10^9 steps       g(x, 10**9) with max_tape_bytes=10**6: TapeMemoryError before
                            the 8 GB tape is allocated (the loop never runs)
    tape_bytes 10^9 steps   g.tape_bytes(x, 10**9), sized without running the loop
    full tape / auto        g(x, n) for n = 10**6 with the full tape (8 MB), and with
                            checkpoint="auto" under a 100 KB budget (checkpointed every
                            sqrt(n) steps: one more forward sweep)
"""

from __future__ import annotations

import argparse
import statistics
import time

from autodiff_compiler import TapeMemoryError, grad
from benchmarks.timing import median_seconds


def recurrence(x, n):
    s = 0.0
    for i in range(n):
        s = s * x + 1.0
    return s


def _median(call, repeats: int) -> float:
    return median_seconds(call, repeats, warm_up=False)

def _refused(g, n):
    def call():
        try:
            g(0.999, n)
        except TapeMemoryError:
            return
        raise AssertionError("not refused")

    return call


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tape_budget",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 21")
    repeats = 5 if parser.parse_args(argv).quick else 21
    n = 10 ** 6
    rows = []
    for jit in (True, False):
        mode = "Numba" if jit else "CPython"
        small = grad(recurrence, jit=jit, max_tape_bytes=10 ** 6)
        small(0.999, 10)  # compiled
        rows.append((f"refuse 10^9 steps ({mode})", _median(_refused(small, 10 ** 9), repeats)))
        rows.append((f"tape_bytes 10^9 steps ({mode})",
                     _median(lambda g=small: g.tape_bytes(0.999, 10 ** 9), repeats)))
    full = grad(recurrence)
    auto = grad(recurrence, checkpoint="auto", max_tape_bytes=10 ** 5)
    assert abs(full(0.999, n) - auto(0.999, n)) <= 1e-9 * abs(full(0.999, n))
    timed = {"full tape": full, "auto, 100 KB budget": auto}
    totals = {name: [] for name in timed}
    for _ in range(repeats):  # the two take turns
        for name, g in timed.items():
            start = time.perf_counter()
            g(0.999, n)
            totals[name].append(time.perf_counter() - start)
    rows += [(f"{name}, 10^6 steps (Numba)", statistics.median(t)) for name, t in totals.items()]
    for name, seconds in rows:
        print(f"{name:40s} {seconds * 1e3:10.3f} ms")


if __name__ == "__main__":
    main()
