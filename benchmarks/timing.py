"""The timing the small benchmark scripts share: the median of consecutive calls."""

from __future__ import annotations

import statistics
import time


def median_seconds(call, repeats: int, warm_up: bool = True) -> float:
    """The median wall time of `repeats` calls of `call()` (perf_counter), after one
    untimed call unless `warm_up` is False (the first call may compile)."""
    if warm_up:
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
