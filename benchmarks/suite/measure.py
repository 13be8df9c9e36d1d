"""Timing protocol, time caps and the accuracy measure of the suite."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# One thread everywhere: set in the environment of every worker before it imports anything.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


@dataclass(frozen=True)
class Protocol:
    """How many calls are timed. After the first call (compile + run, reported separately)
    and a second call that estimates the steady time, objective and derivative are timed
    together by benchmarks.spine.blocked_medians: `warmup` untimed calls then the timed ones,
    in `rounds` rounds, as many calls as fit in `budget` seconds (between `min_calls` and
    `max_calls`). A derivative slower than `slow` seconds is timed on `slow_calls` calls after
    the estimating one, which counts as a sample too (none after it beyond `very_slow` s).
    `cap`: seconds allowed for one call (first calls included); beyond it the tool is reported
    as over the cap."""

    budget: float
    min_calls: int
    max_calls: int
    warmup: int
    rounds: int
    slow: float
    slow_calls: int
    very_slow: float
    cap: float
    label: str


FULL = Protocol(budget=3.0, min_calls=5, max_calls=40, warmup=1, rounds=2, slow=1.0,
                slow_calls=1, very_slow=10.0, cap=60.0, label="full")
QUICK = Protocol(budget=0.6, min_calls=3, max_calls=10, warmup=1, rounds=1, slow=0.3,
                 slow_calls=0, very_slow=10.0, cap=20.0, label="quick")


class OverCap(Exception):
    pass


@contextmanager
def time_cap(seconds: float, what: str):
    """Raise OverCap in the main thread when the block runs longer than `seconds` (checked
    between Python bytecodes: a long native call is interrupted when it returns; the parent
    process kills a worker that overruns by far)."""
    def handler(signum, frame):
        raise OverCap(f"{what} took longer than the {seconds:.0f} s cap")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def steady_times(objective, gradient, t_obj: float, t_grad: float, proto: Protocol) -> dict:
    """Medians (and minima, call counts) of the objective and the derivative in steady state.
    t_obj, t_grad: the times of one call each after the first (estimates; samples too when the
    derivative is slow)."""
    from benchmarks.spine import blocked_medians

    if t_grad > proto.slow:
        obj_samples, grad_samples = [t_obj], [t_grad]
        for _ in range(proto.slow_calls if t_grad <= proto.very_slow else 0):
            obj_samples.append(timed(objective)[0])
            grad_samples.append(timed(gradient)[0])
        return {"objective": (float(np.median(obj_samples)), min(obj_samples),
                              len(obj_samples)),
                "gradient": (float(np.median(grad_samples)), min(grad_samples),
                             len(grad_samples))}
    per_call = t_obj + t_grad
    calls = int(proto.budget / max(per_call, 1e-9))
    calls = max(proto.min_calls, min(proto.max_calls, calls))
    times = blocked_medians({"objective": objective, "gradient": gradient}, calls,
                            proto.warmup, proto.rounds)
    return {name: (med, best, calls) for name, (med, best, _) in times.items()}


def rho(x, y) -> float:
    """The largest |x - y| / max(1, |x| + |y|) over the entries (ADBench's measure)."""
    x = np.ravel(np.asarray(x, dtype=np.float64))
    y = np.ravel(np.asarray(y, dtype=np.float64))
    if x.shape != y.shape:
        return float("inf")
    if x.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.abs(x - y) / np.maximum(1.0, np.abs(x) + np.abs(y))
    r = np.where(np.isnan(r), np.inf, r)
    return float(np.max(r))


def worker_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(THREAD_ENV)
    env.update(extra or {})
    return env
