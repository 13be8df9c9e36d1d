"""Adjoint buffers that start as their first contribution (transforms/accumulate.py).

The fused code (run by the interpreter with fuse=True, and by Numba) against the unfused
code, central differences and NumPy; the structure of the generated code (no zeros, no
added temporary); and look-alikes the pass must leave alone, made from the real fused IR of
log-sum-exp with one detail changed (a second reader of the contribution, the buffer read
by the loop or viewed before, a buffer whose shape the loop does not give).
"""

from __future__ import annotations

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


CASES = {
    "log_sum_exp": (log_sum_exp, (_RNG.normal(size=9),), 0),
    "kmeans": (kmeans, (_RNG.normal(size=(6, 3)), _RNG.normal(size=(4, 3))), (0, 1)),
    "gmm_like": (gmm_like, (_RNG.normal(size=(5, 3)), _RNG.normal(size=(4, 3)),
                            _RNG.normal(size=4)), (0, 1, 2)),
    "softmax_rows": (softmax_rows, (_RNG.normal(size=(3, 5)), _RNG.normal(size=(3, 5))),
                     (0, 1)),
    "scaled_sum": (scaled_sum, (_RNG.normal(size=(4, 3)), _RNG.normal(size=(4, 3))), (0, 1)),
    "scaled_sum_broadcast": (scaled_sum, (_RNG.normal(size=(4, 1)), _RNG.normal(size=(4, 3))),
                             (0, 1)),
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


def test_log_sum_exp_adjoint_is_stored_by_its_loop():
    source = _artifact(*CASES["log_sum_exp"])[0].source
    assert "np.zeros_like" not in source
    assert "z_bar = np.empty(shape)" in source
    assert source.count("z_bar += ") == 1  # the second contribution, added as before


@pytest.mark.parametrize("name", ["scaled_sum", "scaled_sum_broadcast"])
def test_first_contribution_is_the_buffer(name):
    fn, args, argnums = CASES[name]
    artifact, _ = _artifact(fn, args, argnums)
    ops = list(walk_ops(artifact.adjoint.body))
    assert not any(op.prim is zeros_like_p and op.result.hint == "x_bar" for op in ops)
    assert "x_bar = np.empty(" in artifact.source


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
    assert "np.zeros_like" not in artifact.source


@pytest.mark.numba
def test_numba_agrees_with_interpreter():
    for name in ("log_sum_exp", "softmax_rows", "scaled_sum_broadcast"):
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
    making that contribution, the zeros_like making the buffer)."""
    monkeypatch.setattr(pipeline, "accumulate_in_place", lambda fn: fn)
    fn = _artifact(*CASES["log_sum_exp"])[0].adjoint
    ops = list(fn.body.ops)
    add = next(op for op in ops if op.prim is array_add_p)
    buffer, t = add.operands
    loop = next(op for op in ops if t in op.results)
    zeros = next(op for op in ops if buffer in op.results)
    assert loop.prim is fused_p and zeros.prim is zeros_like_p
    return fn, add, loop, zeros


def _zeros_kept(fn) -> bool:
    return any(op.prim is zeros_like_p for op in walk_ops(accumulate_in_place(fn).body))


def test_pass_rewrites_the_unchanged_ir(fused_log_sum_exp):
    fn = fused_log_sum_exp[0]
    before = [op.prim for op in walk_ops(fn.body)]
    assert not _zeros_kept(fn)
    assert [op.prim for op in walk_ops(fn.body)] == before  # its input is left as it was


def test_contribution_read_twice_is_not_the_buffer(fused_log_sum_exp):
    fn, add, _, _ = fused_log_sum_exp
    returned = fn.body.ops[-1]
    returned.operands = returned.operands + [add.operands[1]]
    assert _zeros_kept(fn)


def test_buffer_read_by_the_loop_is_not_replaced(fused_log_sum_exp):
    fn, add, loop, _ = fused_log_sum_exp
    buffer = add.operands[0]
    zeros = next(op for op in fn.body.ops if buffer in op.results)
    fn.body.ops.remove(zeros)  # made before the loop, which now reads it
    fn.body.ops.insert(fn.body.ops.index(loop), zeros)
    loop.operands = loop.operands + [buffer]
    loop.attrs = dict(loop.attrs, inputs=loop.attrs["inputs"] + ("array",))
    loop.regions[0].args = loop.regions[0].args + [Value(Type("float", 0), "element")]
    assert _zeros_kept(fn)


def test_buffer_viewed_before_is_not_replaced(fused_log_sum_exp):
    fn, add, _, _ = fused_log_sum_exp
    buffer = add.operands[0]
    view = Op(expand_dims_p, [buffer], [Value(Type("float", 2), "view")], [], {"axis": 0})
    fn.body.ops.insert(fn.body.ops.index(add), view)
    assert _zeros_kept(fn)


def test_buffer_of_another_shape_is_not_replaced(fused_log_sum_exp):
    """zeros_like of an array the loop does not read: its shape may be larger than the
    loop's (a (n, 1) contribution added into an (n, k) buffer)."""
    fn, _, _, zeros = fused_log_sum_exp
    other = Value(Type("float", 1), "other")
    fn.body.args = fn.body.args + [other]
    zeros.operands = [other]
    assert _zeros_kept(fn)


def test_buffer_of_another_precision_is_not_replaced(fused_log_sum_exp):
    fn, _, _, zeros = fused_log_sum_exp
    zeros.results[0].type = Type("float", 1, 32)
    assert _zeros_kept(fn)
