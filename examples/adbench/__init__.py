"""The ADBench objectives (GMM, bundle adjustment, LSTM) written as plain loop-level Python.

Each module holds the objective as a scientist would write it for Numba (explicit loops over
array elements, small helper functions), which is what autodiff_compiler differentiates, plus
an independent vectorised NumPy implementation used to check its value.

The inputs are ADBench's (microsoft/ADBench, MIT licence), read by `examples.adbench.io` from
the data directory `data_dir()` (../shared/data/adbench relative to the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Where the ADBench inputs live: $ADBENCH_DATA, else ../shared/data/adbench next to the
    repository root. The directory may be absent (callers skip with a reason)."""
    env = os.environ.get("ADBENCH_DATA")
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data" / "adbench").resolve()


_STENCIL = ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0))


def central_difference(f, args, k: int, index, step: float = 1e-4) -> float:
    """d f(*args) / d args[k][index] by the fourth-order central difference, the stencil of
    autodiff_compiler.numerical_grad, but for one entry (a full finite-difference gradient of
    the larger ADBench cases is too slow). f must return a float."""
    base = args[k]
    h = step * max(1.0, abs(float(base[index])))
    total = 0.0
    for offset, weight in _STENCIL:
        moved = np.array(base, dtype=np.float64, copy=True)
        moved[index] += offset * h
        changed = list(args)
        changed[k] = moved
        total += weight * float(f(*changed))
    return total / (12.0 * h)


def entry_errors(analytic: np.ndarray, numeric: np.ndarray, floor: float) -> np.ndarray:
    """Per-entry relative error |a - n| / max(|a|, |n|, floor); `floor` keeps entries that are
    zero up to rounding from dividing by nothing."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return np.abs(analytic - numeric) / scale


def random_indices(shape, count: int, rng) -> list[tuple]:
    """`count` distinct random multi-indices into an array of `shape` (all if fewer)."""
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(count, size), replace=False)
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in np.sort(flat)]
