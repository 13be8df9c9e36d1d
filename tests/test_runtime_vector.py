"""The vectorisable element functions of fused loops (autodiff_compiler/runtime_vector.py).

vector_exp compiled by Numba against np.exp: within one ulp on normal results (and one unit
of the last place on subnormal ones), exactly at 0, -0, +-inf, NaN and where the result
overflows or underflows; a loop of it is SIMD code with no call to exp. reassociable_add
vectorises a sum loop, and reorders that addition only: a sum with += in the same function
keeps its order. array_max and array_min (vectorised loops of llvm.maximum/minimum) give
np.max and np.min on every layout, NaN and empty arrays included.
"""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest

from autodiff_compiler.runtime_vector import (
    EXP_OVERFLOW,
    EXP_UNDERFLOW,
    array_max,
    array_min,
    reassociable_add,
    vector_exp,
)
from autodiff_compiler.specialize import Specializations

SMALLEST_NORMAL = np.finfo(np.float64).tiny


@numba.njit
def _exp_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = vector_exp(x[i])


@numba.njit
def _sum_exp(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = reassociable_add(total, vector_exp(x[i]))
    return total


@numba.njit
def _reassociable_and_sequential_sums(x):
    """x summed with reassociable_add and, in the same function, in order with +=, as a
    user's loop is (reassociation of the whole function would reorder that one too)."""
    total = 0.0
    for i in range(x.shape[0]):
        total = reassociable_add(total, x[i])
    in_order = 0.0
    for i in range(x.shape[0]):
        in_order += x[i]
    return total, in_order


def _compiled_exp(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _exp_loop(x, out)
    return out


def _near(value, count=64):
    """`count` floats either side of `value`, adjacent."""
    up, down = [value], [value]
    for _ in range(count):
        up.append(np.nextafter(up[-1], np.inf))
        down.append(np.nextafter(down[-1], -np.inf))
    return np.array(down[::-1] + up[1:])


def _inputs():
    rng = np.random.default_rng(13)
    return np.concatenate([
        np.linspace(-746.0, 710.0, 400_001),  # the whole range, overflow and underflow
        np.linspace(-745.2, -708.3, 100_001),  # subnormal results
        rng.uniform(-1.0, 1.0, 100_000), rng.uniform(-0.35, 0.35, 100_000),  # |r| small
        rng.uniform(-746.0, 710.0, 100_000),
        np.log(2.0) * np.arange(-1080, 1030) / 2.0,  # halfway points of the rounding of k
        _near(EXP_OVERFLOW), _near(EXP_UNDERFLOW), _near(-708.3964185322641),  # boundaries
        [1e-300, -1e-300, 5e-324, -5e-324, 1e-20, -1e-20, 1e300, -1e300, 1e308, -1e308],
    ])


@pytest.mark.numba
def test_exp_within_one_ulp_of_numpy():
    x = _inputs()
    with np.errstate(over="ignore", under="ignore"):
        expected = np.exp(x)
    got = _compiled_exp(x)
    normal = np.isfinite(expected) & (expected >= SMALLEST_NORMAL)
    ulps = np.abs(got[normal] - expected[normal]) / np.spacing(expected[normal])
    assert ulps.max() <= 1.0
    assert np.mean(ulps == 0.0) > 0.85  # mostly the correctly rounded value (89%)
    subnormal = (expected < SMALLEST_NORMAL) & (expected > 0.0)
    assert subnormal.sum() > 1000
    assert np.abs(got[subnormal] - expected[subnormal]).max() <= 5e-324
    rest = ~normal & ~subnormal  # inf and 0: exactly
    assert rest.sum() > 100
    np.testing.assert_array_equal(got[rest], expected[rest])


@pytest.mark.numba
def test_exp_special_values_exactly():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 710.0, -746.0])
    got = _compiled_exp(x)
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    np.testing.assert_array_equal(got, expected)  # NaN where NumPy gives NaN
    assert not np.signbit(got[3])  # exp(-inf) is +0


@pytest.mark.numba
def test_exp_of_integers_and_float32_as_numpy():
    @numba.njit
    def of(x):
        return vector_exp(x)

    assert of(3) == pytest.approx(np.exp(3.0), rel=2.3e-16)
    small = of(np.float32(1.5))
    assert small == np.exp(np.float32(1.5))  # rounded to float32, as NumPy


def test_interpreter_spelling_is_numpy():
    x = np.linspace(-5, 5, 11)
    np.testing.assert_array_equal(vector_exp(x), np.exp(x))
    assert reassociable_add(1.5, 2) == 3.5


def _vector_lanes(dispatcher) -> bool:
    return re.search(r"<\d+ x double>", dispatcher.inspect_llvm(dispatcher.signatures[0])) \
        is not None


@pytest.mark.numba
def test_loops_vectorise_without_exp_calls():
    x = np.linspace(-3, 3, 1001)
    _compiled_exp(x)
    llvm = _exp_loop.inspect_llvm(_exp_loop.signatures[0])
    assert _vector_lanes(_exp_loop)
    assert not re.search(r"call .*@(llvm\.exp|exp)\b", llvm)
    total = _sum_exp(x)
    assert total == pytest.approx(np.sum(np.exp(x)), rel=1e-14)
    assert _vector_lanes(_sum_exp)


@pytest.mark.numba
def test_reassociation_stays_on_the_sum():
    x = np.concatenate([[1.0], np.full(100_000, 1e-16)])
    total, in_order = _reassociable_and_sequential_sums(x)
    assert 1.0 + 5e-12 < total < 1.0 + 1.001e-11  # lanes but the first keep the small terms
    assert in_order == 1.0  # each 1e-16 added to 1.0 alone rounds away, in order


@numba.njit
def _extremes(x):
    return array_max(x), array_min(x)


@pytest.mark.numba
def test_array_max_min_as_numpy():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(40, 30))
    with_nan = z.copy()
    with_nan[3, 7] = np.nan
    cases = [z, z[:, 0], z[::3, 0], z.T, z.ravel()[::-2], np.arange(7), np.array(2.5),
             np.array([-np.inf, np.inf]), with_nan, with_nan.ravel(), with_nan[:, 7]]
    for x in cases:
        np.testing.assert_array_equal(_extremes(x), (np.max(x), np.min(x)))
        assert (array_max(x), array_min(x)) == pytest.approx((np.max(x), np.min(x)),
                                                               nan_ok=True)
    for empty in (np.empty(0), np.empty((0, 3))):
        with pytest.raises(ValueError, match="zero-size array"):
            _extremes(empty)
    assert _vector_lanes(_extremes)


def _fused_source(fn, args, argnums):
    spec = Specializations(fn, jit=False)
    _, types = spec.prepare(args, {}, list(argnums))
    source = spec.artifact(types, list(argnums), "grad", fuse=True).source
    return "\n".join(line for line in source.splitlines() if not line.strip().startswith("#"))


def _log_sum_exp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def _broadcast_exp(x, w):
    return np.sum(np.log(np.sum(np.exp(w[None, :] - x), axis=1)))


def test_vector_exp_only_in_loops_reading_arrays_directly():
    """A loop over one array (LLVM vectorises it) spells exp as rt.vector_exp; one reading
    broadcast views (strides LLVM does not know: a scalar loop, where libm's exp is
    faster) keeps np.exp. Sums go through rt.reassociable_add in both."""
    z = np.linspace(-1.0, 1.0, 5)
    direct = _fused_source(_log_sum_exp, (z,), (0,))
    assert "rt.vector_exp(" in direct and "np.exp(" not in direct
    assert "rt.array_max(z)" in direct
    viewed = _fused_source(_broadcast_exp, (np.ones((3, 4)), np.ones(4)), (0, 1))
    assert "np.exp(" in viewed and "rt.vector_exp(" not in viewed
    assert "np.broadcast_to(" in viewed and "rt.reassociable_add(" in viewed
