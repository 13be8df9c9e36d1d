"""Forward mode on every function of the corpus: jvp, vjp, grad(mode="forward"), hvp, hessian.

On every function of tests/corpus.py, tests/regressions.py and the array-writing cases of
tests/test_arrays_and_calls.py:
* the dot-product test (the adjoint identity): for random v (a tangent of every float
  argument) and w (a cotangent of the output), <jvp(x; v), w> == <v, vjp(x; w)> to 1e-10
  relative: forward mode against reverse mode, with no finite-difference error;
* jvp against a fourth-order central difference of f along v (differentiated args only);
* grad(mode="forward") == grad() (reverse);
* hvp against central differences of the reverse gradient along v, and hessian @ v == hvp
  with a symmetric hessian (all float arguments).
Besides, the smallest shapes of patterns that once went wrong in forward mode.
Jacobians (jacfwd, jacrev) are tested in test_jacobians.py, Hessians of larger objectives in
test_hessians.py; the helpers shared with those are in forward_fixtures.py.

Operations a mode rejects with UnsupportedOperationError by design are strict xfails (see
UNSUPPORTED). Everything runs the generated source in CPython (jit=False).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from corpus import CORPUS
from forward_fixtures import (
    AGREE_RTOL,
    DOT_RTOL,
    FD_RTOL,
    _assert_agree,
    _directional_fd,
    _flat_gradient,
    _full_matrix,
    _inner,
    _is_float,
    _leaves,
    _nums,
    _random_like,
    _rng,
    _zero_like,
)
from regressions import CASES as REGRESSIONS
from test_arrays_and_calls import CASES as ARRAY_CASES

from autodiff_compiler import (
    UnsupportedOperationError,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    vjp,
)

# --------------------------------------------------------------------------------------------
# 1. Every corpus and regression function: the dot-product test and jvp against differences
# --------------------------------------------------------------------------------------------

ALL_CASES = ([("corpus-" + c.id, c) for c in CORPUS]
             + [("regression-" + c.id, c) for c in REGRESSIONS]
             + [("arrays-" + c.id, c) for c in ARRAY_CASES])

# Operations that raise UnsupportedOperationError in one mode, by design for now: the test
# expects the error (strict xfail), so supporting them later turns the test into a failure
# that asks for the entry to be removed.
UNSUPPORTED: dict[str, set[str]] = {}


def _cases_for(kind: str | None = None):
    expected = UNSUPPORTED.get(kind, set())
    marks = pytest.mark.xfail(raises=UnsupportedOperationError, strict=True,
                              reason="not supported in this mode yet")
    return pytest.mark.parametrize("name, case", [
        pytest.param(n, c, id=n, marks=marks if n in expected else ()) for n, c in ALL_CASES])


every_case = _cases_for()


def _fd_direction(name, case, args, rng):
    """A random direction on the differentiated arguments (zero elsewhere)."""
    nums = _nums(case.argnums)
    v = [_random_like(a, rng, scaled=True) if k in nums else _zero_like(a) if _is_float(a)
         else 0 for k, a in enumerate(args)]
    return _off_discontinuities(case, args, v)


def _off_discontinuities(case, args, v):
    if case.fn.__name__ == "warp_1552_argmax":
        # The function skips the entries with c[p, q] == 0.0 exactly: moving them moves it
        # across that discontinuity, so central differences along v keep them fixed.
        v[0] = np.where(args[0] == 0.0, 0.0, v[0])
    return v


@every_case
def test_dot_product_identity(name, case):
    rng = _rng(name)
    args = case.fresh_args()
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    out, out_dot = jvp(case.fn, args, v, jit=False)
    value, pullback = vjp(case.fn, *case.fresh_args(), jit=False)
    w = _random_like(out, rng) if isinstance(out, np.ndarray) else float(rng.normal())
    bars = pullback(w)
    assert len(bars) == len(args)
    for a, bar in zip(args, bars):
        assert (bar is None) == (not _is_float(a))
    lhs, lhs_scale = _inner(out_dot, w)
    rhs, rhs_scale = _inner(tuple(b for b in bars if b is not None),
                            tuple(d for d, a in zip(v, args) if _is_float(a)))
    scale = max(lhs_scale, rhs_scale, 1e-300)
    assert abs(lhs - rhs) <= DOT_RTOL * scale, (
        f"{name}: <jvp, w> = {lhs!r}, <v, vjp> = {rhs!r}, rel {abs(lhs - rhs) / scale:.3g}")
    expected = case.fn(*case.fresh_args())
    assert out == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


@every_case
def test_jvp_matches_central_differences(name, case):
    rng = _rng(name + "/fd")
    args = case.fresh_args()
    v = _fd_direction(name, case, args, rng)
    out, out_dot = jvp(case.fn, args, v, jit=False)
    numeric = _directional_fd(case.fn, case.fresh_args(), v)[0]
    error = abs(out_dot - float(numeric))
    # rounding floor of the difference quotient: ~eps |f| / h
    floor = 1e-10 * max(1.0, abs(out))
    assert error <= FD_RTOL * (abs(out_dot) + abs(float(numeric))) + floor, (
        f"{name}: jvp {out_dot!r}, central differences {float(numeric)!r}")
    for before, after in zip(case.fresh_args(), args):   # arguments untouched
        np.testing.assert_array_equal(after, before)


@_cases_for("forward_grad")
def test_forward_grad_equals_reverse_grad(name, case):
    args = case.fresh_args()
    forward = grad(case.fn, argnums=case.argnums, mode="forward", jit=False)(*args)
    reverse = grad(case.fn, argnums=case.argnums, jit=False)(*case.fresh_args())
    if isinstance(case.argnums, tuple):
        assert isinstance(forward, tuple) and len(forward) == len(case.argnums)
    for f_part, r_part in zip(_leaves(forward), _leaves(reverse)):
        np.testing.assert_allclose(f_part, r_part, rtol=AGREE_RTOL, atol=1e-13,
                                   err_msg=name)
    for part, k in zip(forward if isinstance(forward, tuple) else (forward,),
                       _nums(case.argnums)):
        if isinstance(args[k], np.ndarray):
            assert isinstance(part, np.ndarray) and part.shape == args[k].shape
        else:
            assert isinstance(part, float)


@_cases_for("hvp")
def test_hvp_matches_differences_of_the_gradient_everywhere(name, case):
    # forward over reverse, one direction, against central differences of the gradient
    rng = _rng(name + "/hvp")
    args = case.fresh_args()
    floats = [k for k, a in enumerate(args) if _is_float(a)]
    v = _off_discontinuities(case, args, [_random_like(a, rng) if _is_float(a) else 0
                                          for a in args])
    products = hvp(case.fn, args, v, jit=False)
    for k, p in enumerate(products):
        assert (p is None) == (k not in floats)
        if k in floats:
            assert np.shape(p) == np.shape(args[k])
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    numeric = _directional_fd(_flat_gradient(case.fn, floats), case.fresh_args(), v)[0]
    error = np.abs(ours - numeric)
    bound = 1e-6 * (np.abs(ours) + np.abs(numeric)) + 1e-8 * max(1.0, np.max(np.abs(ours)))
    assert np.all(error <= bound), f"{name}: hvp {ours}, differences {numeric}"
    for before, after in zip(case.fresh_args(), args):   # arguments untouched
        np.testing.assert_array_equal(after, before)


@_cases_for("hessian")
def test_hessian_times_v_is_hvp_everywhere(name, case):
    # forward over reverse along unit directions against a random direction; symmetry
    rng = _rng(name + "/hessian")
    args = case.fresh_args()
    floats = [k for k, a in enumerate(args) if _is_float(a)]
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    h = hessian(case.fn, argnums=tuple(floats), jit=False)(*args)
    full = _full_matrix(h, args, floats, single=False)
    products = hvp(case.fn, case.fresh_args(), v, jit=False)
    vec = np.concatenate([np.ravel(v[k]) for k in floats])
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    _assert_agree(full @ vec, ours, rtol=1e-10, what=name)
    scale = max(float(np.max(np.abs(full))), 1e-300)
    assert float(np.max(np.abs(full - full.T))) <= 1e-10 * scale, f"{name}: not symmetric"


# --------------------------------------------------------------------------------------------
# 2. Small shapes that isolate one mechanism each (the smallest failing form of a pattern)
# --------------------------------------------------------------------------------------------


def swap_first_two(x):
    # an array element read into a name, then that element overwritten while the name lives
    y = x.copy()
    t = y[0]
    y[0] = y[1]
    y[1] = t
    return y[0] * 2.0 + y[1]


def read_then_overwrite(x):
    a = x[0]
    x[0] = 3.0 * a
    return a * x[0]


def copy_then_write(x, y0):
    # y is a copy of an argument that is not differentiated, made active by element writes
    y = y0.copy()
    for i in range(len(y)):
        y[i] = y[i] * x
    return y[0] + y[1]


def sin_chain(x):
    # a loop-carried float that reverse mode tapes
    s = 0.0
    for i in range(len(x)):
        s = math.sin(s + x[i])
    return s


@pytest.mark.parametrize("fn, expected", [(swap_first_two, [1.0, 2.0]),
                                          (read_then_overwrite, [12.0, 0.0])],
                         ids=["swap_first_two", "read_then_overwrite"])
def test_tangent_of_an_element_read_survives_a_later_write(fn, expected):
    x = np.array([2.0, 5.0])
    np.testing.assert_allclose(grad(fn, jit=False)(x.copy()), expected, rtol=1e-15)
    np.testing.assert_allclose(jvp(fn, (x.copy(),), (np.eye(2)[0],), jit=False)[1],
                               expected[0], rtol=1e-15)
    np.testing.assert_allclose(jacfwd(fn, jit=False)(x.copy()), expected, rtol=1e-15)
    np.testing.assert_allclose(grad(fn, mode="forward", jit=False)(x.copy()), expected,
                               rtol=1e-15)


def test_forward_mode_through_a_copy_of_an_undifferentiated_argument():
    y0 = np.array([2.0, 3.0])
    assert grad(copy_then_write, jit=False)(1.5, y0) == 5.0
    assert jacrev(copy_then_write, jit=False)(1.5, y0) == 5.0
    assert jacfwd(copy_then_write, jit=False)(1.5, y0) == 5.0
    assert grad(copy_then_write, mode="forward", jit=False)(1.5, y0) == 5.0


def test_hessian_through_a_taped_loop_carried_value():
    x = np.array([0.3, -0.2, 0.5])
    h = hessian(sin_chain, jit=False)(x)
    columns = [hvp(sin_chain, (x,), (e,), jit=False)[0] for e in np.eye(3)]
    np.testing.assert_allclose(h, np.array(columns).T, rtol=1e-12, atol=1e-14)


def test_vjp_of_a_function_that_writes_its_argument():
    # the pullback differentiates at the values passed in, and leaves them untouched
    x = np.array([2.0, 5.0])
    value, pullback = vjp(read_then_overwrite, x, jit=False)
    assert value == 12.0
    np.testing.assert_array_equal(x, [2.0, 5.0])
    np.testing.assert_allclose(pullback(1.0)[0], [12.0, 0.0], rtol=1e-15)
