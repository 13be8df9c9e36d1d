"""Permutations of axes: x.T, np.transpose (with and without axes), x.transpose(...),
np.swapaxes / x.swapaxes and np.moveaxis, on arrays of rank 1 to 4.

They all lower to one primitive, transpose, whose attr `axes` is the permutation. The functions
below are the user's code; each multiplies the permuted array by a fixed random weight (of the
result's shape, or one broadcast against it), so a wrong permutation changes the answer or fails
to broadcast. Checked, in CPython (jit=False):
  - the value against NumPy's own (the plain function), the gradient against central
    differences and, for the linear ones, exactly against the weight permuted back;
  - forward mode against reverse (jvp along a random tangent == <grad, tangent>);
  - for array outputs: the tangent of a linear function is the function of the tangent,
    <f(v), w> == <v, pullback(w)>, and jacfwd == jacrev;
  - reads through views (transposes of transposes, elements and slices of a transposed view,
    reads before a write into the root) and a read after such a write (refused);
  - the lowering: one transpose op per call, with the permutation NumPy applies;
  - wrong axes and non-constant axes refused at the user's line before anything runs.
A few cases are compiled with Numba (marked numba) and compared with CPython.
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import copies
from error_checks import Markers

from autodiff_compiler import (
    UnsupportedOperationError,
    check_grad,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from autodiff_compiler.ir.core import walk_ops
from autodiff_compiler.primitives.arrays import transpose_p

SEED = 20240917
GRAD_TOL = 1e-7      # against central differences
RTOL = 1e-12         # against NumPy, and forward against reverse (rounding only)
_RNG = np.random.default_rng(SEED)


def _weights(*shape):
    """Entries of magnitude 0.5 to 1.5, of either sign: every permuted entry counts."""
    return _RNG.uniform(0.5, 1.5, shape) * _RNG.choice([-1.0, 1.0], shape)


W_4, W_3, W_2 = _weights(4), _weights(3), _weights(2)
W_43, W_34, W_41, W_44 = _weights(4, 3), _weights(3, 4), _weights(4, 1), _weights(4, 4)
W_432, W_342, W_324, W_423 = (_weights(4, 3, 2), _weights(3, 4, 2), _weights(3, 2, 4),
                              _weights(4, 2, 3))
W_243, W_234, W_131, W_21, W_23 = (_weights(2, 4, 3), _weights(2, 3, 4), _weights(1, 3, 1),
                                   _weights(2, 1), _weights(2, 3))
W_333 = _weights(3, 3, 3)
W_5432, W_5324, W_543, W_4523 = (_weights(5, 4, 3, 2), _weights(5, 3, 2, 4),
                                 _weights(5, 4, 3), _weights(4, 5, 2, 3))
W_2222 = _weights(2, 2, 2, 2)


# --- the user's code ---------------------------------------------------------------------------
# rank 1 (x: (4,)): every permutation keeps the array as it is
def r1_T(x):
    return np.sum(W_4 * x.T * x)


def r1_axes(x):
    return np.sum(W_4 * np.transpose(x, (-1,)))


def r1_moveaxis(x):
    return np.sum(W_4 * np.sin(np.moveaxis(x, 0, -1)))


# rank 2 (x: (3, 4))
def r2_T(x):
    return np.sum(W_43 * x.T)


def r2_transpose(x):
    return np.sum(W_43 * np.transpose(x) ** 2)


def r2_axes_list(x):
    return np.sum(W_43 * np.transpose(x, axes=[1, 0]))


def r2_identity(x):
    return np.sum(W_34 * np.transpose(x, (0, 1)))


def r2_swapaxes_broadcast(x):
    return np.sum(W_3 * np.swapaxes(x, 0, -1))


def r2_methods(x):
    return np.sum(W_41 * x.transpose() * np.cos(x.transpose(1, 0)))


def r2_matmul(x):
    return np.sum(W_44 * (np.transpose(x, (1, 0)) @ np.swapaxes(x, 0, 1).T))


# rank 3 (x: (2, 3, 4))
def r3_T(x):
    return np.sum(W_432 * x.T)


def r3_transpose(x):
    return np.sum(W_432 * np.transpose(x) * np.transpose(x))


def r3_axes(x):
    return np.sum(W_342 * np.transpose(x, (1, 2, 0)))


def r3_axes_negative_broadcast(x):
    return np.sum(W_2 * np.transpose(x, axes=(-2, -1, 0)))


def r3_method_args(x):
    return np.sum(W_21 * np.exp(x.transpose(2, 0, 1)))


def r3_method_tuple(x):
    return np.sum(W_43 * x.transpose((0, 2, 1)))


def r3_swapaxes(x):
    return np.sum(W_324 * np.swapaxes(x, 0, 1))


def r3_swapaxes_method_negative(x):
    return np.sum(W_131 * x.swapaxes(-1, 0) ** 3)


def r3_moveaxis(x):
    return np.sum(W_342 * np.moveaxis(x, 0, -1))


def r3_moveaxis_tuples(x):
    return np.sum(W_342 * np.moveaxis(x, (0, 1), (-1, 0)))


def r3_moveaxis_crossed(x):
    return np.sum(W_324 * np.moveaxis(x, (0, 1), (1, 0)))


# cubes (x: (3, 3, 3)): a wrong permutation broadcasts all the same
def cube_T(x):
    return np.sum(W_333 * np.transpose(x))


def cube_dot_T(x):
    return np.sum(W_333 * x.T)


def cube_axes(x):
    return np.sum(W_333 * np.transpose(x, (1, 2, 0)) ** 2)


def cube_moveaxis(x):
    return np.sum(W_333 * np.moveaxis(x, -1, 0) * x)


# rank 4 (x: (2, 3, 4, 5))
def r4_T(x):
    return np.sum(W_5432 * x.T)


def r4_axes(x):
    return np.sum(W_5324 * np.transpose(x, (3, 1, 0, 2)))


def r4_swapaxes_broadcast(x):
    return np.sum(W_543 * np.swapaxes(x, 1, -1))


def r4_moveaxis(x):
    return np.sum(W_4523 * np.tanh(np.moveaxis(x, [0, 1], [2, 3])))


def hypercube(x):  # x: (2, 2, 2, 2)
    return np.sum(W_2222 * np.sin(np.transpose(x, (1, 0, 3, 2))))


def hypercube_moveaxis(x):  # x: (2, 2, 2, 2)
    return np.sum(W_2222 * np.moveaxis(x, (1, -1), (2, 0)))


# reads through views (x: (2, 3, 4))
def view_then_sum(x):
    t = x.T
    s = np.sum(W_432 * t)
    return s * s


def view_of_views(x):
    t = np.transpose(x, (1, 2, 0))
    u = t.T
    v = np.swapaxes(u, 0, 1)
    return np.sum(W_423 * v) + np.sum(u * u.T.T * W_243)


def there_and_back(x):
    return np.sum(W_234 * np.transpose(np.transpose(x, (2, 0, 1)), (1, 2, 0)) * x)


def view_element_and_slices(x):
    t = np.moveaxis(x, 2, 0)
    return t[1, 0, 2] * np.sum(W_23 * t[3]) + np.sum(t[:, 1, :] * W_43)


def view_in_a_loop(x):
    t = np.transpose(x, (2, 0, 1))
    s = 0.0
    for i in range(t.shape[0]):
        s += np.sum(W_423[i] * t[i] ** 2)
    return s


def read_before_a_write(x):
    y = x * 1.0
    t = np.transpose(y, (1, 2, 0))
    s = np.sum(W_342 * t * t)
    y[0, 1, 2] = 5.0
    return s + np.sum(y * W_234)


def two_arguments(x, y):  # x: (2, 3, 4), y: (4, 3)
    return np.sum(np.transpose(x, (2, 1, 0)) * y[:, :, None] * W_2)


R1, R2, R3, CUBE, R4, TESSERACT = (4,), (3, 4), (2, 3, 4), (3, 3, 3), (2, 3, 4, 5), (2,) * 4
CASES = [
    (r1_T, R1), (r1_axes, R1), (r1_moveaxis, R1),
    (r2_T, R2), (r2_transpose, R2), (r2_axes_list, R2), (r2_identity, R2),
    (r2_swapaxes_broadcast, R2), (r2_methods, R2), (r2_matmul, R2),
    (r3_T, R3), (r3_transpose, R3), (r3_axes, R3), (r3_axes_negative_broadcast, R3),
    (r3_method_args, R3), (r3_method_tuple, R3), (r3_swapaxes, R3),
    (r3_swapaxes_method_negative, R3), (r3_moveaxis, R3), (r3_moveaxis_tuples, R3),
    (r3_moveaxis_crossed, R3),
    (cube_T, CUBE), (cube_dot_T, CUBE), (cube_axes, CUBE), (cube_moveaxis, CUBE),
    (r4_T, R4), (r4_axes, R4), (r4_swapaxes_broadcast, R4), (r4_moveaxis, R4),
    (hypercube, TESSERACT), (hypercube_moveaxis, TESSERACT),
    (view_then_sum, R3), (view_of_views, R3), (there_and_back, R3),
    (view_element_and_slices, R3), (view_in_a_loop, R3), (read_before_a_write, R3),
]
cases = pytest.mark.parametrize("fn, shape", CASES, ids=[f.__name__ for f, _ in CASES])


def _point(shape, seed=0):
    return np.random.default_rng(SEED + seed).uniform(-1.5, 1.5, shape)


def _close(a, b, rtol=RTOL) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.maximum(
        np.maximum(np.abs(a), np.abs(b)), 1e-300)))


@cases
def test_value_and_gradient(fn, shape):
    x = _point(shape)
    value, g = value_and_grad(fn, jit=False)(x.copy())
    assert _close(value, fn(x.copy())), f"{value} != NumPy's {fn(x.copy())}"
    assert g.shape == shape
    error = check_grad(fn, x, jit=False)
    assert error < GRAD_TOL, f"gradient off central differences by {error:.3g}"


@cases
def test_forward_matches_reverse(fn, shape):
    x, tangent = _point(shape), _point(shape, seed=1)
    g = grad(fn, jit=False)(x.copy())
    value, derivative = jvp(fn, (x.copy(),), (tangent,), jit=False)
    assert _close(value, fn(x.copy()))
    reference = float(np.sum(g * tangent))
    scale = float(np.sum(np.abs(g * tangent)))
    assert abs(derivative - reference) <= RTOL * scale, f"{derivative} != {reference}"


# the linear cases: sum(W * transpose(x, axes)) has the gradient W transposed back
LINEAR = [(r2_T, R2, (1, 0), W_43), (r2_axes_list, R2, (1, 0), W_43),
          (r2_identity, R2, (0, 1), W_34), (r3_T, R3, (2, 1, 0), W_432),
          (r3_axes, R3, (1, 2, 0), W_342), (r3_swapaxes, R3, (1, 0, 2), W_324),
          (r3_moveaxis, R3, (1, 2, 0), W_342), (r3_moveaxis_tuples, R3, (1, 2, 0), W_342),
          (r3_moveaxis_crossed, R3, (1, 0, 2), W_324), (cube_T, CUBE, (2, 1, 0), W_333),
          (cube_dot_T, CUBE, (2, 1, 0), W_333), (r4_T, R4, (3, 2, 1, 0), W_5432),
          (r4_axes, R4, (3, 1, 0, 2), W_5324),
          (hypercube_moveaxis, TESSERACT, (3, 0, 1, 2), W_2222)]


@pytest.mark.parametrize("fn, shape, axes, weight", LINEAR,
                         ids=[case[0].__name__ for case in LINEAR])
def test_gradient_is_the_weight_permuted_back(fn, shape, axes, weight):
    x = _point(shape)
    assert np.transpose(x, axes).shape == weight.shape  # the case's permutation is NumPy's
    assert _close(fn(x), np.sum(weight * np.transpose(x, axes)))
    g = grad(fn, jit=False)(x)
    np.testing.assert_allclose(g, np.transpose(weight, np.argsort(axes)), rtol=1e-14, atol=0)


def test_the_reported_case():
    """A cube's transpose used to be dropped: the wrong value, silently."""
    x = _point(CUBE)
    value, g = value_and_grad(cube_T, jit=False)(x)
    assert _close(value, float(np.sum(W_333 * x.T)))
    assert not _close(value, float(np.sum(W_333 * x)))  # the old answer is a different one
    np.testing.assert_allclose(g, W_333.T, rtol=1e-14, atol=0)


def test_hessian_through_a_permutation():
    def cubed(x):
        return np.sum(W_342 * np.transpose(x, (1, 2, 0)) ** 3)

    x = _point(R3)
    h = hessian(cubed, jit=False)(x)
    expected = np.diag(np.ravel(6.0 * np.transpose(W_342, (2, 0, 1)) * x))
    np.testing.assert_allclose(h.reshape(x.size, x.size), expected, rtol=1e-12, atol=1e-14)


def test_two_arguments():
    x, y = _point(R3), _point((4, 3), seed=2)
    value, (gx, gy) = value_and_grad(two_arguments, argnums=(0, 1), jit=False)(x, y)
    assert _close(value, two_arguments(x, y))
    assert check_grad(two_arguments, x, y, argnums=(0, 1), jit=False) < GRAD_TOL
    np.testing.assert_allclose(gx, np.transpose(y[:, :, None] * W_2, (2, 1, 0)), rtol=1e-14)
    np.testing.assert_allclose(gy, np.sum(np.transpose(x, (2, 1, 0)) * W_2, axis=-1),
                               rtol=1e-13)


# --- array outputs: linear maps ------------------------------------------------------------
def moved_and_scaled(x):
    return np.moveaxis(x, (0, 1), (-1, 0)) * W_2


def transposed_and_scaled(x):
    return x.T * W_432


def swapped_4d(x):
    return np.swapaxes(x, 0, -1) * W_2


OUTPUTS = [(moved_and_scaled, R3), (transposed_and_scaled, R3), (swapped_4d, R4)]
outputs = pytest.mark.parametrize("fn, shape", OUTPUTS, ids=[f.__name__ for f, _ in OUTPUTS])


@outputs
def test_array_output_forward_and_reverse(fn, shape):
    x, v = _point(shape), _point(shape, seed=1)
    out, tangent = jvp(fn, (x,), (v,), jit=False)
    np.testing.assert_array_equal(out, fn(x))
    np.testing.assert_allclose(tangent, fn(v), rtol=1e-15, atol=0)  # linear: f' v = f(v)
    value, pullback = vjp(fn, x, jit=False)
    np.testing.assert_array_equal(value, fn(x))
    w = _point(out.shape, seed=2)
    (back,) = pullback(w)
    assert back.shape == shape
    left, right = float(np.sum(fn(v) * w)), float(np.sum(v * back))
    assert abs(left - right) <= RTOL * float(np.sum(np.abs(fn(v) * w)))


@pytest.mark.parametrize("fn, shape", OUTPUTS[:2], ids=[f.__name__ for f, _ in OUTPUTS[:2]])
def test_jacfwd_matches_jacrev(fn, shape):
    x = _point(shape)
    forward, reverse = jacfwd(fn, jit=False)(x), jacrev(fn, jit=False)(x)
    assert forward.shape == fn(x).shape + shape
    np.testing.assert_allclose(forward, reverse, rtol=1e-15, atol=0)
    flat = forward.reshape(fn(x).size, x.size)
    v = _point(shape, seed=3)
    np.testing.assert_allclose(flat @ v.ravel(), fn(v).ravel(), rtol=1e-13)


# --- the lowering --------------------------------------------------------------------------
def _transposes(fn, x) -> list:
    primal = value_and_grad(fn, jit=False).lower(x).primal
    return [op.attrs.get("axes") for op in walk_ops(primal.body) if op.prim is transpose_p]


@pytest.mark.parametrize("fn, shape, expected", [
    (r2_T, R2, [None]), (r2_axes_list, R2, [None]), (r2_identity, R2, []),
    (r1_T, R1, []), (r1_moveaxis, R1, []),
    (r3_T, R3, [None]), (r3_axes, R3, [(1, 2, 0)]), (r3_swapaxes, R3, [(1, 0, 2)]),
    (r3_swapaxes_method_negative, R3, [None]), (r3_method_tuple, R3, [(0, 2, 1)]),
    (r3_moveaxis_tuples, R3, [(1, 2, 0)]), (r3_moveaxis_crossed, R3, [(1, 0, 2)]),
    (r4_moveaxis, R4, [(2, 3, 0, 1)]), (hypercube_moveaxis, TESSERACT, [(3, 0, 1, 2)]),
], ids=lambda p: getattr(p, "__name__", None))
def test_one_transpose_op_with_numpys_permutation(fn, shape, expected):
    """None: the reversal of all axes (x.T); an identity permutation makes no op."""
    assert _transposes(fn, _point(shape)) == expected


def test_two_d_code_reads_as_x_T():
    code = _code(r2_matmul, R2)
    assert "x.T" in code and "np.transpose" not in code, code
    code = _code(r3_axes, R3)
    assert "np.transpose(x, (1, 2, 0))" in code, code
    assert "(2, 0, 1)" in code, code  # the adjoint: the inverse permutation


def _code(fn, shape) -> str:
    """The generated gradient's source, without its comments (which quote the user's)."""
    vg = value_and_grad(fn, jit=False)
    vg(_point(shape))
    return "\n".join(line for line in vg.source.splitlines()
                     if not line.lstrip().startswith("#"))


def test_a_permuted_array_is_a_view():
    """As NumPy's: the compiler treats transposes as sharing memory with their operand."""
    x = np.zeros(R4)
    for view in (x.T, np.transpose(x, (3, 1, 0, 2)), np.swapaxes(x, 1, -1),
                 np.moveaxis(x, [0, 1], [2, 3])):
        assert np.shares_memory(view, x)
    assert transpose_p.view is True


# --- Numba against CPython -------------------------------------------------------------------
JIT_CASES = [(r3_axes, R3), (r4_moveaxis, R4), (view_of_views, R3), (r2_matmul, R2)]


@pytest.mark.numba
@pytest.mark.parametrize("fn, shape", JIT_CASES, ids=[f.__name__ for f, _ in JIT_CASES])
def test_numba_matches_cpython(fn, shape):
    x, v = _point(shape), _point(shape, seed=1)
    value, g = value_and_grad(fn, jit=False)(copies([x])[0])
    jit_value, jit_g = value_and_grad(fn, jit=True)(copies([x])[0])
    assert _close(jit_value, value) and _close(jit_g, g)
    out, dot = jvp(fn, (x,), (v,), jit=False)
    jit_out, jit_dot = jvp(fn, (x,), (v,), jit=True)
    assert _close(jit_out, out) and _close(jit_dot, dot)
    assert _close(jit_value, fn(x))


@pytest.mark.numba
def test_numba_array_output():
    x, v = _point(R3), _point(R3, seed=1)
    out, tangent = jvp(moved_and_scaled, (x,), (v,), jit=True)
    np.testing.assert_allclose(out, moved_and_scaled(x), rtol=1e-15)
    np.testing.assert_allclose(tangent, moved_and_scaled(v), rtol=1e-15)
    _, pullback = vjp(moved_and_scaled, x, jit=True)
    w = _point(out.shape, seed=2)
    np.testing.assert_allclose(pullback(w)[0], np.moveaxis(w * W_2, (-1, 0), (0, 1)),
                               rtol=1e-15)


# --- refused: wrong axes, axes not known when compiling, a view read after a write ---------
MARKERS = Markers(__file__)


def wrong_count(x):
    return np.sum(np.transpose(x, (1, 0)))  # E:count


def repeated(x):
    return np.sum(np.transpose(x, (0, 1, 1)))  # E:repeat


def out_of_range(x):
    return np.sum(np.transpose(x, axes=(0, 1, 3)))  # E:range


def negative_out_of_range(x):
    return np.sum(x.transpose(-4, 0, 1))  # E:negative


def method_of_wrong_count(x):
    return np.sum(x.transpose(1, 0))  # E:method_count


def swap_out_of_range(x):
    return np.sum(np.swapaxes(x, 0, 3))  # E:swap


def swap_of_one_axis(x):
    return np.sum(np.swapaxes(x, 0))  # E:swap_one


def move_of_unequal_counts(x):
    return np.sum(np.moveaxis(x, (0, 1), 2))  # E:move_count


def move_repeated(x):
    return np.sum(np.moveaxis(x, (0, 0), (1, 2)))  # E:move_repeat


def move_out_of_range(x):
    return np.sum(np.moveaxis(x, 0, -4))  # E:move_range


def axes_from_an_argument(x, k):
    return np.sum(np.swapaxes(x, 0, k))  # E:argument


def axes_from_a_shape(x):
    k = x.shape[0] - 2
    return np.sum(np.transpose(x, (k, 1, 2)))  # E:shape


def float_axes(x):
    return np.sum(np.transpose(x, (0.0, 1, 2)))  # E:float


def keyword_of_another_function(x):
    return np.sum(np.swapaxes(x, 0, axes=2))  # E:keyword


def unknown_keyword(x):
    return np.sum(np.transpose(x, order=(0, 2, 1)))  # E:order


def method_keyword(x):
    return np.sum(x.transpose(axes=(0, 2, 1)))  # E:method_keyword


REFUSED = [
    (wrong_count, "count", "don't match", "np.transpose"),
    (repeated, "repeat", "repeated axis", "np.transpose"),
    (out_of_range, "range", "axis 3 is out of bounds", "np.transpose"),
    (negative_out_of_range, "negative", "axis -4 is out of bounds", "x.transpose"),
    (method_of_wrong_count, "method_count", "don't match", "x.transpose"),
    (swap_out_of_range, "swap", "axis 3 is out of bounds", "np.swapaxes"),
    (swap_of_one_axis, "swap_one", "takes the array and axis1 and axis2", "np.swapaxes"),
    (move_of_unequal_counts, "move_count", "as many axes", "np.moveaxis"),
    (move_repeated, "move_repeat", "repeated axis", "np.moveaxis"),
    (move_out_of_range, "move_range", "axis -4 is out of bounds", "np.moveaxis"),
    (axes_from_an_argument, "argument", "must be an integer constant", "np.swapaxes"),
    (axes_from_a_shape, "shape", "must be integer constants", "np.transpose"),
    (float_axes, "float", "must be integer constants", "np.transpose"),
    (keyword_of_another_function, "keyword", "keyword 'axes'", "2"),
    (method_keyword, "method_keyword", "takes no keyword arguments", "x.transpose"),
]


@pytest.mark.parametrize("fn, marker, message, token", REFUSED,
                         ids=[r[1] for r in REFUSED])
def test_refused_at_the_users_line(fn, marker, message, token):
    args = (_point(R3), 1) if fn is axes_from_an_argument else (_point(R3),)
    saved = copies(args)
    g = grad(fn, jit=False)
    with pytest.raises(UnsupportedOperationError, match=message) as info:
        g(*args)
    MARKERS.assert_points_at(info.value, marker, token)
    with pytest.raises(UnsupportedOperationError, match=message):
        jvp(fn, args, tuple(np.ones_like(a) if np.ndim(a) else 0 for a in args), jit=False)
    np.testing.assert_array_equal(args[0], saved[0])  # nothing ran


def test_unknown_keyword_refused_at_the_call():
    with pytest.raises(UnsupportedOperationError, match="keyword 'order'") as info:
        grad(unknown_keyword, jit=False)(np.ones((2, 3, 4)))
    MARKERS.assert_points_at(info.value, "order", "(0, 2, 1)")
