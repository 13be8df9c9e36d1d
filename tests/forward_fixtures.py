"""Helpers shared by the forward-mode test modules (test_forward.py, test_jacobians.py,
test_hessians.py): tolerances, random directions, central differences, comparisons, and the
inputs and objectives more than one of them differentiates."""

from __future__ import annotations

import math
import zlib

import numpy as np
from checks import copies

from autodiff_compiler import grad

DOT_RTOL = 1e-10      # adjoint identity: forward against reverse, rounding only
FD_RTOL = 1e-7        # against fourth-order central differences
AGREE_RTOL = 1e-10    # two exact derivative modes against each other
STENCIL = ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0))


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _is_float(a) -> bool:
    return isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _random_like(a, rng, scaled=False):
    """Random entries of a's shape; `scaled`: each entry scaled by max(1, |a|) (a step
    relative to the argument, as gradcheck uses)."""
    if isinstance(a, np.ndarray):
        v = rng.uniform(-1.0, 1.0, size=a.shape)
        return v * np.maximum(1.0, np.abs(a)) if scaled else v
    v = float(rng.uniform(-1.0, 1.0))
    return v * max(1.0, abs(a)) if scaled else v


def _zero_like(a):
    return np.zeros_like(a, dtype=np.float64) if isinstance(a, np.ndarray) else 0.0


def _nums(argnums) -> list[int]:
    return [argnums] if isinstance(argnums, int) else list(argnums)


def _leaves(value) -> list[np.ndarray]:
    """The outputs of a function (a float, an array or a tuple of those) as float arrays."""
    if isinstance(value, tuple):
        return [np.asarray(v, dtype=np.float64) for v in value]
    return [np.asarray(value, dtype=np.float64)]


def _inner(a, b) -> tuple[float, float]:
    """(sum of a * b over all leaves, sum of |a * b|: the scale of the sum)."""
    total, scale = 0.0, 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        products = np.ravel(x * y)
        total += float(np.sum(products))
        scale += float(np.sum(np.abs(products)))
    return total, scale


def _directional_fd(f, args, v, h=1e-4):
    """Fourth-order central difference of f along v (one entry per argument; v[k] is 0 for
    arguments that stay fixed). Returns a list with one array per output."""
    total = None
    for offset, weight in STENCIL:
        shifted = [a + offset * h * d if _is_float(a) else a for a, d in zip(copies(args), v)]
        out = [weight * leaf for leaf in _leaves(f(*shifted))]
        total = out if total is None else [t + o for t, o in zip(total, out)]
    return [t / (12.0 * h) for t in total]


def _fd_jacobian(f, args, k, h=1e-4):
    """Central-difference Jacobian of every output of f w.r.t. argument k: a list of arrays
    shaped out.shape + in.shape."""
    x = np.asarray(args[k], dtype=np.float64)
    columns = []
    for index in np.ndindex(x.shape):
        step = h * max(1.0, abs(float(x[index])))
        v = [_zero_like(a) if _is_float(a) else 0 for a in args]
        if isinstance(args[k], np.ndarray):
            v[k] = np.zeros_like(x)
            v[k][index] = 1.0
        else:
            v[k] = 1.0
        columns.append(_directional_fd(f, args, v, h=step))
    outs = []
    for o in range(len(columns[0])):
        stacked = np.stack([c[o] for c in columns], axis=-1)
        outs.append(stacked.reshape(stacked.shape[:-1] + x.shape))
    return outs


def _rel_error(a, b) -> float:
    a = np.concatenate([np.ravel(x) for x in _leaves(a)]) if isinstance(a, tuple) else a
    b = np.concatenate([np.ravel(x) for x in _leaves(b)]) if isinstance(b, tuple) else b
    a, b = np.ravel(np.asarray(a, dtype=np.float64)), np.ravel(np.asarray(b, dtype=np.float64))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _assert_agree(a, b, rtol=AGREE_RTOL, what=""):
    """Two results of the same structure agree: shapes equal, max|a - b| <= rtol max|b|."""
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb), what
    for x, y in zip(la, lb):
        assert x.shape == y.shape, f"{what}: shape {x.shape} != {y.shape}"
        scale = max(float(np.max(np.abs(y), initial=0.0)), 1e-300)
        diff = float(np.max(np.abs(x - y), initial=0.0))
        assert diff <= rtol * scale, f"{what}: max|diff| {diff:.3g}, max|ref| {scale:.3g}"


def _flat_gradient(fn, nums):
    """x -> the reverse-mode gradient w.r.t. nums, flattened into one vector."""
    g = grad(fn, argnums=tuple(nums), jit=False)

    def flat(*args):
        return np.concatenate([np.ravel(np.asarray(p)) for p in g(*copies(args))])

    return flat


def _full_matrix(blocks, args, nums, single: bool) -> np.ndarray:
    """A Hessian (nested tuples of blocks for several argnums) as one square matrix."""
    sizes = [int(np.size(args[k])) for k in nums]
    if single:
        return np.asarray(blocks).reshape(sizes[0], sizes[0])
    return np.block([[np.asarray(blocks[i][j]).reshape(sizes[i], sizes[j])
                      for j in range(len(nums))] for i in range(len(nums))])


def _x(n, lo=-1.0, hi=1.0):
    return np.linspace(lo, hi, n) + 0.05 * np.sin(np.arange(n))


def energy(x):
    # R^50 -> R (a scalar output: the Jacobian is the gradient)
    e = 0.0
    for i in range(len(x) - 1):
        d = x[i + 1] - x[i]
        e += d * d + 0.1 * math.cos(x[i])
    return e
