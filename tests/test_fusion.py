"""Loop fusion (transforms/fuse.py): whole-array chains as one loop nest.

The fused code is run here by the interpreter (pipeline `fuse=True` with jit=False) and
compared with the NumPy code it replaces and with NumPy itself, on shapes the types allow:
broadcasting with axes of length one, empty arrays, non-contiguous views, keepdims and
negative axes. Gradients are checked against central differences, forward mode against
reverse, and a few compiles check Numba (fused, as grad(f) runs it by default) and
grad(f, parallel=True) against the interpreter.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from checks import copies

from autodiff_compiler import grad
from autodiff_compiler.gradcheck import numerical_grad, relative_error
from autodiff_compiler.ir.core import walk_ops
from autodiff_compiler.primitives.control import for_p, fused_p
from autodiff_compiler.specialize import Specializations
from benchmarks.fusion import gmm_like, kmeans, log_sum_exp  # the benchmark's problems

# NumPy's own warnings on the empty cases (log of a sum over no terms), as the fused code's
pytestmark = pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")


def broadcast_chain(a, b):
    t = np.sin(a * b) + a ** 2 / (1.0 + b * b)
    return np.sum(np.tanh(t) * t)


def keepdims_and_negative_axes(x, y):
    s = np.sum(x * y, axis=-1, keepdims=True)
    r = np.sum(np.exp(s - x) * y, axis=-2)
    return np.sum(r * r) + np.sum(x / (1.0 + s * s))


def written_between(x):
    y = x * 2.0
    z = np.exp(y)
    y[0] = 5.0
    return np.sum(z * y) + np.sum(y * y)


def comparisons_and_where(x, y):
    t = np.where(x > y, x * y, x - y)
    return np.sum(np.maximum(t, 0.1) * np.minimum(x, y))


def gates(x, w, c):
    """An LSTM's gates: the adjoints of `x * w + c` sum to the shape of `x * w`."""
    s = 1.0 / (1.0 + np.exp(-(x * w + c)))
    return np.sum(s * np.tanh(x * w - c))


_RNG = np.random.default_rng(13)


def _normal(*shape):
    return _RNG.normal(size=shape)


# name -> (function, argument sets of one type signature each, argnums)
CASES = {
    "log_sum_exp": (log_sum_exp, [(_normal(7),), (_normal(1),)], 0),
    "kmeans": (kmeans, [(_normal(6, 3), _normal(4, 3)), (_normal(1, 2), _normal(3, 2)),
                        (_normal(5, 1), _normal(1, 1))], (0, 1)),
    "gmm_like": (gmm_like, [(_normal(5, 3), _normal(4, 3), _normal(4)),
                            (_normal(2, 1), _normal(1, 1), _normal(1))], (0, 1, 2)),
    "broadcast_chain": (broadcast_chain, [
        (_normal(3, 1, 4), _normal(1, 5, 4)), (_normal(2, 3, 1), _normal(1, 1, 1)),
        (_normal(1, 1, 4), _normal(2, 3, 4))], (0, 1)),
    "broadcast_ranks": (broadcast_chain, [(_normal(3, 4), _normal(4)), (_normal(3, 1), _normal(5)),
                                          (_normal(1, 4), _normal(1))], (0, 1)),
    "keepdims_and_negative_axes": (keepdims_and_negative_axes, [
        (_normal(3, 4), _normal(3, 4)), (_normal(1, 4), _normal(3, 1)),
        (_normal(3, 1), _normal(1, 5))], (0, 1)),
    "written_between": (written_between, [(_normal(5),)], 0),
    "comparisons_and_where": (comparisons_and_where, [(_normal(3, 4), _normal(3, 4)),
                                                      (_normal(3, 1), _normal(4))], (0, 1)),
    # x * w broadcast by c, c by x * w, and neither
    "gates": (gates, [(_normal(1), _normal(1), _normal(5)), (_normal(4), _normal(1), _normal(1)),
                      (_normal(6), _normal(6), _normal(6)),
                      (_normal(3, 1), _normal(1, 4), _normal(4))], (0, 1, 2)),
}
EMPTY = {  # the same functions on arrays with no entries
    "kmeans": (_normal(0, 3), _normal(4, 3)),
    "broadcast_chain": (_normal(0, 1, 4), _normal(1, 5, 4)),
    "broadcast_ranks": (_normal(3, 0), _normal(1)),
    "gmm_like": (_normal(5, 3), _normal(0, 3), _normal(0)),
}
VIEWS = {  # and on non-contiguous views
    "kmeans": (_normal(12, 3)[::2], _normal(3, 4).T),
    "broadcast_chain": (_normal(3, 1, 8)[..., ::2], _normal(4, 5, 1).transpose(2, 1, 0)),
    "keepdims_and_negative_axes": (_normal(4, 3).T, _normal(3, 8)[:, ::2]),
}


def _nums(argnums):
    return (argnums,) if isinstance(argnums, int) else argnums


def _run(fn, args, argnums, fuse, mode="grad", tangents=(), parallel=False):
    """(results of one call, the derived function) of fn's code, fused or not, run by the
    interpreter."""
    spec = Specializations(fn, jit=False, parallel=parallel)
    nums, _ = spec.argnums(argnums)
    values, types = spec.prepare(copies(args), {}, nums)
    artifact = spec.artifact(types, nums, mode, fuse=fuse)
    return artifact.call(*values, *tangents), artifact.adjoint


def _fused_ops(fn_ir) -> int:
    return sum(op.prim is fused_p for op in walk_ops(fn_ir.body))


def _all_argument_sets():
    for name, (fn, sets, argnums) in CASES.items():
        for k, args in enumerate(sets):
            yield pytest.param(fn, args, argnums, id=f"{name}-{k}")
        for table, label in ((EMPTY, "empty"), (VIEWS, "views")):
            if name in table:
                yield pytest.param(fn, table[name], argnums, id=f"{name}-{label}")


@pytest.mark.parametrize("fn, args, argnums", list(_all_argument_sets()))
def test_fused_equals_unfused_and_numpy(fn, args, argnums):
    fused, code = _run(fn, args, argnums, fuse=True)
    plain, _ = _run(fn, args, argnums, fuse=False)
    assert _fused_ops(code) >= 1
    expected = fn(*copies(args))
    np.testing.assert_allclose(fused.outputs[0], expected, rtol=1e-12, atol=1e-12)
    for a, b in zip(fused.gradients, plain.gradients):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_gradient_matches_central_differences(name):
    fn, sets, argnums = CASES[name]
    args = sets[0]
    fused, _ = _run(fn, args, argnums, fuse=True)
    numeric = numerical_grad(lambda *a: fn(*copies(a)), *args, argnums=argnums)
    numeric = (numeric,) if isinstance(argnums, int) else numeric
    assert relative_error(tuple(fused.gradients), tuple(numeric)) < 1e-7


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_forward_mode_agrees_with_reverse(name):
    fn, sets, argnums = CASES[name]
    args = sets[0]
    rng = np.random.default_rng(5)
    tangents = [rng.normal(size=np.shape(args[k])) for k in _nums(argnums)]
    forward, code = _run(fn, args, argnums, fuse=True, mode="jvp", tangents=tangents)
    plain, _ = _run(fn, args, argnums, fuse=False, mode="jvp", tangents=tangents)
    reverse, _ = _run(fn, args, argnums, fuse=True)
    assert _fused_ops(code) >= 1
    dot = sum(float(np.sum(g * t)) for g, t in zip(reverse.gradients, tangents))
    directional = forward.output_tangents[0]
    assert abs(dot - directional) <= 1e-10 * max(1.0, abs(directional))
    assert abs(directional - plain.output_tangents[0]) <= 1e-11 * max(1.0, abs(directional))


@pytest.mark.parametrize("name", ["kmeans", "gmm_like", "keepdims_and_negative_axes"])
def test_parallel_loop_nests_compute_the_same(name):
    # the prange loops (run as ranges here), over an axis no result is summed over in part
    fn, sets, argnums = CASES[name]
    for args in sets:
        parallel, code = _run(fn, args, argnums, fuse=True, parallel=True)
        plain, _ = _run(fn, args, argnums, fuse=False)
        for a, b in zip(parallel.gradients, plain.gradients):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
        axes = [op.attrs.get("parallel") for op in walk_ops(code.body) if op.prim is fused_p]
        assert any(axis is not None for axis in axes)


def test_parallel_loops_write_distinct_entries():
    # k-means' gradient w.r.t. the centres sums over the points: its loop runs over centres
    fn, sets, _ = CASES["kmeans"]
    _, code = _run(fn, sets[0], 1, fuse=True, parallel=True)
    for op in walk_ops(code.body):
        if op.prim is fused_p and "parallel" in op.attrs:
            axis = op.attrs["parallel"]
            for kind, *axes in op.attrs["outputs"]:
                assert kind == "store" or axis not in axes[0] \
                    or len(axes[0]) == op.attrs["ndim"]


def test_broadcast_shapes_that_numpy_refuses_are_refused():
    with pytest.raises(ValueError, match="broadcast"):
        _run(broadcast_chain, (_normal(3, 4), _normal(5)), (0, 1), fuse=True)


def test_adjoint_recomputes_cheap_values_instead_of_storing_them():
    # x - c (n*k*d values) is neither stored by the primal nor read back by the adjoint
    _, code = _run(kmeans, CASES["kmeans"][1][0], (0, 1), fuse=True)
    source = _source(kmeans, CASES["kmeans"][1][0], (0, 1))
    assert not re.search(r"^ *(sub|pow_1) = np\.empty", source, re.MULTILINE)
    assert "np.ones_like" not in source  # the adjoint of the sum over axis 2 is not made
    assert _fused_ops(code) >= 3


def test_adjoint_reads_the_shape_of_a_product_from_its_factors():
    # sum_to_shape(g, x * w) reads a view of the shape of x and w broadcast together
    # (transforms/shape_sources.py): the reverse sweep computes no product x * w, neither as
    # NumPy code nor in a loop, and the forward sweep stores only exp and tanh
    source = _source(gates, CASES["gates"][1][0], (0, 1, 2))
    reverse = re.sub(r"#.*", "", source[source.index("# reverse sweep"):])  # no comments
    assert "np.broadcast_to(0.0, rt.broadcast_shapes(x.shape, w.shape))" in source
    assert source[:source.index("# reverse sweep")].count("np.empty") == 2
    assert not re.search(r"\bx\w* \* w\b|\bx_b\w*\[\w+\] \* w_b", reverse)


def test_log_sum_exp_is_one_loop_per_pass():
    source = _source(log_sum_exp, (_normal(7),), 0)
    assert source.count("for ") == 4  # exp, its sum; their adjoint; two for the max
    assert "np.full_like" not in source


def _source(fn, args, argnums) -> str:
    spec = Specializations(fn, jit=False)
    nums, _ = spec.argnums(argnums)
    _, types = spec.prepare(copies(args), {}, nums)
    return spec.artifact(types, nums, "grad", fuse=True).source


def test_interpreter_keeps_numpy_code():
    fn, sets, argnums = CASES["gmm_like"]
    g = grad(fn, argnums=argnums, jit=False)
    g(*sets[0])
    assert "for " not in g.source


def test_parallel_needs_jit():
    with pytest.raises(Exception, match="parallel=True needs jit=True"):
        grad(kmeans, parallel=True, jit=False)


@pytest.mark.numba
def test_numba_fused_agrees_with_interpreter():
    """One compile per layout: C-contiguous arguments of several shapes, then views."""
    fn, sets, argnums = CASES["gmm_like"]
    compiled = grad(fn, argnums=argnums)
    python = grad(fn, argnums=argnums, jit=False)
    for args in sets + [EMPTY["gmm_like"]]:
        for a, b in zip(compiled(*args), python(*args)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    assert "for " in compiled.source


@pytest.mark.numba
def test_numba_sums_to_the_broadcast_shape_of_the_factors():
    """rt.sum_to_shape1 of a view of rt.broadcast_shapes(...), one compile for the 1-D sets."""
    fn, sets, argnums = CASES["gates"]
    compiled = grad(fn, argnums=argnums)
    python = grad(fn, argnums=argnums, jit=False)
    for args in sets[:3]:
        for a, b in zip(compiled(*args), python(*args)):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.numba
def test_numba_broadcast_shapes_is_numpys():
    """rt.broadcast_shapes (unrolled for the ranks at hand) against np.broadcast_shapes:
    ranks that differ, lengths one and zero, and shapes NumPy refuses."""
    import numba

    from autodiff_compiler import runtime as rt

    @numba.njit
    def shapes(a, b, c):
        return rt.broadcast_shapes(a.shape, b.shape, c.shape)

    for dims in [((3, 1), (4,), (2, 1, 1)), ((0, 1), (4,), (1, 1, 1)), ((5,), (1,), (5,)),
                 ((2, 3), (2, 3), (1, 1))]:
        arrays = [np.zeros(d) for d in dims]
        assert shapes(*arrays) == np.broadcast_shapes(*dims)
    for dims in [((3,), (4,), (1,)), ((0,), (2,), (1,))]:
        with pytest.raises(ValueError, match="cannot be broadcast"):
            np.broadcast_shapes(*dims)
        with pytest.raises(ValueError, match="cannot be broadcast"):
            shapes(*[np.zeros(d) for d in dims])


@pytest.mark.numba
def test_parallel_equals_serial():
    fn, sets, argnums = CASES["kmeans"]
    parallel = grad(fn, argnums=argnums, parallel=True)
    serial = grad(fn, argnums=argnums, jit=False)
    for args in sets + [(_normal(40, 3), _normal(7, 3)), EMPTY["kmeans"]]:
        for a, b in zip(parallel(*args), serial(*args)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    assert "rt.prange" in parallel.source


def row_norms(X):
    s = 0.0
    for i in range(X.shape[0]):
        s += math.sqrt(X[i, 0] ** 2 + X[i, 1] ** 2)
    return s


def neighbours(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += x[i] * x[i + 1]
    return s


def _parallel_loops(fn, args) -> tuple[list, list]:
    """(gradients, the parallel marks of its counted loops) with parallel=True."""
    results, code = _run(fn, args, 0, fuse=True, parallel=True)
    marks = [bool(op.attrs.get("parallel")) for op in walk_ops(code.body) if op.prim is for_p]
    return results.gradients, marks


def test_loops_that_sum_and_write_their_own_rows_run_in_parallel():
    X = _normal(6, 2)
    gradients, marks = _parallel_loops(row_norms, (X,))
    assert marks and all(marks)  # the primal's sum and the reverse loop's rows X_bar[i]
    serial, _ = _run(row_norms, (X,), 0, fuse=True)
    np.testing.assert_allclose(gradients[0], serial.gradients[0], rtol=1e-13)
    np.testing.assert_allclose(gradients[0], X / np.sqrt(np.sum(X * X, axis=1))[:, None])


def test_loops_that_write_other_iterations_rows_stay_serial():
    x = _normal(5)
    gradients, marks = _parallel_loops(neighbours, (x,))
    assert marks and not all(marks)  # the reverse loop adds into x_bar[i] and x_bar[i + 1]
    expected = np.zeros(5)
    expected[:-1] += x[1:]
    expected[1:] += x[:-1]
    np.testing.assert_allclose(gradients[0], expected)


@pytest.mark.numba
def test_parallel_loop_with_a_sum_equals_serial():
    X = _normal(101, 2)
    parallel = grad(row_norms, parallel=True)
    np.testing.assert_allclose(parallel(X), grad(row_norms, jit=False)(X), rtol=1e-12)
    assert "rt.prange" in parallel.source
