"""Adjoint buffers that start as their first contribution (transforms/accumulate.py).

The fused code (run by the interpreter with fuse=True, and by Numba) against the unfused
code, central differences and NumPy; the structure of the generated code (no zeros, no
added temporary); and look-alikes the pass must leave alone, made from the real fused IR of
log-sum-exp with one detail changed (a second reader of the contribution, the buffer read
by the loop or viewed before, a buffer whose shape the loop does not give).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from checks import as_tuple, copies

from autodiff_compiler import grad, pipeline
from autodiff_compiler.gradcheck import numerical_grad, relative_error
from autodiff_compiler.ir.core import Op, Value, walk_ops
from autodiff_compiler.ir.types import Type
from autodiff_compiler.primitives.arrays import expand_dims_p
from autodiff_compiler.primitives.control import fused_p
from autodiff_compiler.primitives.indexing import array_add_p, zeros_like_p
from autodiff_compiler.specialize import Specializations
from autodiff_compiler.transforms.accumulate import accumulate_in_place
from benchmarks.fusion import gmm_like, kmeans, log_sum_exp

_RNG = np.random.default_rng(21)


def softmax_rows(x, y):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return np.sum(y * e / np.sum(e, axis=1, keepdims=True))


def scaled_sum(x, w):
    return np.sum(np.exp(x) * w) + np.sum(x * x)


def contributions_in_a_loop(x, c):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.exp(x * c[i]))
    return s


def fused_then_loop(x, c):
    s = log_sum_exp(x)
    for i in range(2):
        s = s + np.sum(np.exp(x * c[i]))
    return s


CASES = {
    "log_sum_exp": (log_sum_exp, (_RNG.normal(size=9),), 0),
    "log_sum_exp_2d": (log_sum_exp, (_RNG.normal(size=(4, 3)),), 0),
    "kmeans": (kmeans, (_RNG.normal(size=(6, 3)), _RNG.normal(size=(4, 3))), (0, 1)),
    "gmm_like": (gmm_like, (_RNG.normal(size=(5, 3)), _RNG.normal(size=(4, 3)),
                            _RNG.normal(size=4)), (0, 1, 2)),
    "softmax_rows": (softmax_rows, (_RNG.normal(size=(3, 5)), _RNG.normal(size=(3, 5))),
                     (0, 1)),
    "scaled_sum": (scaled_sum, (_RNG.normal(size=(4, 3)), _RNG.normal(size=(4, 3))), (0, 1)),
    "scaled_sum_broadcast": (scaled_sum, (_RNG.normal(size=(4, 1)), _RNG.normal(size=(4, 3))),
                             (0, 1)),
    "fused_then_loop": (fused_then_loop, (_RNG.normal(size=6), _RNG.normal(size=2)), (0, 1)),
    "contributions_in_a_loop": (contributions_in_a_loop,
                                (_RNG.normal(size=6), _RNG.normal(size=3)), (0, 1)),
}


def _artifact(fn, args, argnums, fuse=True, jit=False):
    spec = Specializations(fn, jit=jit)
    nums, _ = spec.argnums(argnums)
    values, types = spec.prepare(copies(args), {}, nums)
    return spec.artifact(types, nums, "grad", fuse=fuse), values


def _gradients(fn, args, argnums, fuse):
    artifact, values = _artifact(fn, args, argnums, fuse)
    return artifact.call(*values).gradients


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_equal_unfused_code_and_central_differences(name):
    fn, args, argnums = CASES[name]
    fused = _gradients(fn, args, argnums, fuse=True)
    plain = _gradients(fn, args, argnums, fuse=False)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    numeric = numerical_grad(fn, *args, argnums=argnums)
    numeric = (numeric,) if isinstance(argnums, int) else tuple(numeric)
    assert relative_error(tuple(fused), numeric) < 1e-7


def test_log_sum_exp_adjoint_is_stored_then_added_by_its_loops():
    source = _artifact(*CASES["log_sum_exp"])[0].source
    assert "np.zeros_like" not in source
    assert "z_bar = np.empty(shape)" in source  # the first contribution
    assert re.search(r"^ +z_bar\[i_\d\] \+= ", source, re.MULTILINE)  # the second, in its loop
    assert "z_bar += " not in source and source.count("np.empty(") == 2  # exp, z_bar


@pytest.mark.parametrize("name", ["scaled_sum", "scaled_sum_broadcast"])
def test_first_contribution_is_the_buffer(name):
    fn, args, argnums = CASES[name]
    artifact, _ = _artifact(fn, args, argnums)
    ops = list(walk_ops(artifact.adjoint.body))
    assert not any(op.prim is zeros_like_p and op.result.hint == "x_bar" for op in ops)
    assert "x_bar = np.empty(" in artifact.source


def test_later_contribution_is_added_by_its_loop():
    """Log-sum-exp of a matrix: the adjoint of the max adds into the buffer the adjoint of
    exp stored, in its own 2-D loop."""
    source = _artifact(*CASES["log_sum_exp_2d"])[0].source
    assert re.search(r"^ +z_bar\[i_\d, j_\d\] \+= ", source, re.MULTILINE)
    assert "z_bar += " not in source and "np.zeros_like" not in source


def test_contribution_of_the_loop_storing_the_buffer_is_added_as_before():
    """x * x: one loop stores both contributions (x_bar and another): the second is added
    after it, as before (a loop cannot add into what it stores)."""
    source = _artifact(*CASES["scaled_sum"])[0].source
    assert "x_bar = np.empty(" in source and "x_bar += mul" in source


def test_contribution_in_a_loop_keeps_its_buffer():
    """The zeros are made once, the additions run once per trip: nothing to replace."""
    artifact, _ = _artifact(*CASES["contributions_in_a_loop"])
    assert "x_bar = np.zeros_like(x)" in artifact.source


def test_float32_buffer_takes_the_contribution():
    x = _RNG.normal(size=9).astype(np.float32)
    artifact, values = _artifact(log_sum_exp, (x,), 0)
    plain, plain_values = _artifact(log_sum_exp, (x,), 0, fuse=False)
    (fused,), (expected,) = artifact.call(*values).gradients, plain.call(*plain_values).gradients
    assert fused.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(fused, expected, rtol=1e-5)
    assert "np.zeros_like" not in artifact.source and "z_bar += " not in artifact.source


@pytest.mark.numba
def test_numba_agrees_with_interpreter():
    for name in ("log_sum_exp", "log_sum_exp_2d", "softmax_rows", "scaled_sum_broadcast",
                 "fused_then_loop"):
        fn, args, argnums = CASES[name]
        compiled = grad(fn, argnums=argnums)
        python = grad(fn, argnums=argnums, jit=False)
        for a, b in zip(as_tuple(compiled(*args), argnums), as_tuple(python(*args), argnums)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
        assert "for " in compiled.source


# --- look-alikes, from the fused IR of log-sum-exp before this pass ---------------------------

@pytest.fixture
def fused_log_sum_exp(monkeypatch):
    """(the fused adjoint of log-sum-exp as the pass gets it, its first array_add, the loop
    making that contribution, the zeros_like making the buffer, the second array_add)."""
    monkeypatch.setattr(pipeline, "accumulate_in_place", lambda fn: fn)
    fn = _artifact(*CASES["log_sum_exp"])[0].adjoint
    ops = list(fn.body.ops)
    add, second = [op for op in ops if op.prim is array_add_p]
    buffer, t = add.operands
    loop = next(op for op in ops if t in op.results)
    zeros = next(op for op in ops if buffer in op.results)
    assert loop.prim is fused_p and zeros.prim is zeros_like_p
    return fn, add, loop, zeros, second


def _zeros_kept(fn) -> bool:
    return any(op.prim is zeros_like_p for op in walk_ops(accumulate_in_place(fn).body))


def _additions_kept(fn) -> int:
    return sum(op.prim is array_add_p for op in walk_ops(accumulate_in_place(fn).body))


def _reads(loop: Op, v: Value) -> None:
    """Make the fused `loop` read the array `v` (element by element)."""
    loop.operands = loop.operands + [v]
    loop.attrs = dict(loop.attrs, inputs=loop.attrs["inputs"] + ("array",))
    loop.regions[0].args = loop.regions[0].args + [Value(Type("float", 0), "element")]


def test_pass_rewrites_the_unchanged_ir(fused_log_sum_exp):
    fn = fused_log_sum_exp[0]
    before = [op.prim for op in walk_ops(fn.body)]
    assert not _zeros_kept(fn) and _additions_kept(fn) == 0
    assert [op.prim for op in walk_ops(fn.body)] == before  # its input is left as it was


def test_contribution_read_twice_is_not_the_buffer(fused_log_sum_exp):
    fn, add, *_ = fused_log_sum_exp
    returned = fn.body.ops[-1]
    returned.operands = returned.operands + [add.operands[1]]
    assert _zeros_kept(fn)


def test_buffer_read_by_the_loop_is_not_replaced(fused_log_sum_exp):
    fn, add, loop, *_ = fused_log_sum_exp
    buffer = add.operands[0]
    zeros = next(op for op in fn.body.ops if buffer in op.results)
    fn.body.ops.remove(zeros)  # made before the loop, which now reads it
    fn.body.ops.insert(fn.body.ops.index(loop), zeros)
    _reads(loop, buffer)
    assert _zeros_kept(fn)


def test_buffer_viewed_before_is_not_replaced(fused_log_sum_exp):
    fn, add, *_ = fused_log_sum_exp
    buffer = add.operands[0]
    view = Op(expand_dims_p, [buffer], [Value(Type("float", 2), "view")], [], {"axis": 0})
    fn.body.ops.insert(fn.body.ops.index(add), view)
    assert _zeros_kept(fn)


def test_buffer_of_another_shape_is_not_replaced(fused_log_sum_exp):
    """zeros_like of an array the loop does not read: its shape may be larger than the
    loop's (a (n, 1) contribution added into an (n, k) buffer)."""
    fn, _, _, zeros, _ = fused_log_sum_exp
    other = Value(Type("float", 1), "other")
    fn.body.args = fn.body.args + [other]
    zeros.operands = [other]
    assert _zeros_kept(fn)


def test_buffer_of_another_precision_is_not_replaced(fused_log_sum_exp):
    fn, _, _, zeros, _ = fused_log_sum_exp
    zeros.results[0].type = Type("float", 1, 32)
    assert _zeros_kept(fn)


def _second_loop(fn, second: Op) -> Op:
    return next(op for op in fn.body.ops if second.operands[1] in op.results)


def test_later_contribution_read_twice_is_added_as_before(fused_log_sum_exp):
    fn, *_, second = fused_log_sum_exp
    returned = fn.body.ops[-1]
    returned.operands = returned.operands + [second.operands[1]]
    assert _additions_kept(fn) == 1 and not _zeros_kept(fn)


def test_buffer_read_by_the_later_loop_is_added_as_before(fused_log_sum_exp):
    fn, *_, second = fused_log_sum_exp
    _reads(_second_loop(fn, second), second.operands[0])
    assert _additions_kept(fn) == 1


def test_buffer_viewed_between_loop_and_addition_is_added_as_before(fused_log_sum_exp):
    fn, *_, second = fused_log_sum_exp
    view = Op(expand_dims_p, [second.operands[0]], [Value(Type("float", 2), "view")], [],
              {"axis": 0})
    fn.body.ops.insert(fn.body.ops.index(second), view)
    assert _additions_kept(fn) == 1 and not _zeros_kept(fn)


def test_later_loop_of_unproved_shape_is_added_as_before(fused_log_sum_exp):
    """The second loop reads another array, not the one the buffer's shape comes from: its
    shape may be smaller than the buffer's (broadcast by the addition)."""
    fn, _, _, zeros, second = fused_log_sum_exp
    loop = _second_loop(fn, second)
    other = Value(Type("float", 1), "other")
    fn.body.args = fn.body.args + [other]
    loop.operands = [other if v is zeros.operands[0] else v for v in loop.operands]
    assert _additions_kept(fn) == 1 and not _zeros_kept(fn)


@pytest.mark.numba
def test_numba_parallel_loop_adds_into_the_buffer():
    """prange over the rows of the loop that adds into z_bar: each row its own entries."""
    fn, (z,), argnums = CASES["log_sum_exp_2d"]
    parallel = grad(fn, argnums=argnums, parallel=True)
    np.testing.assert_allclose(parallel(z), grad(fn, argnums=argnums, jit=False)(z),
                               rtol=1e-12, atol=1e-13)
    assert re.search(r"^ +z_bar\[i_\d, j_\d\] \+= ", parallel.source, re.MULTILINE)
    assert "rt.prange" in parallel.source
