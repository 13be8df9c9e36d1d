"""The one pipeline (autodiff_compiler.pipeline.compile): each mode runs only its own transform
and says how its generated function's arguments and results split (Layout).

* jacrev, vjp and grad accept code that forward mode cannot take (an array made inside a
  loop, written with an active value), against central differences and the closed form;
  they compile the primal and the adjoint and never call the forward transform.
* Every (target, mode) has the layout of the function it generates, and a Layout splits
  results by kind (and refuses results of the wrong count).
* The device gradient wrapper is built as a Python AST; compile(load=False) writes nothing.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
from cuda_fixtures import scaled
from forward_fixtures import FD_RTOL, _fd_jacobian, _rel_error

from autodiff_compiler import grad, jacrev, pipeline, vjp
from autodiff_compiler.ir.types import F64, I64, Type
from autodiff_compiler.jacobians import specializer
from autodiff_compiler.pipeline import Layout, Results, gradient_wrapper, parse

ARRAY = Type("float", 1)


def eye_rows(x):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(n):
        e = np.eye(n)
        e[i, i] = x[i] * x[i]
        out[i] = np.sum(e * x[i])
    return out


def eye_rows_sum(x):
    return np.sum(eye_rows(x))


def eye_rows_jacobian(x):
    """d out / d x in closed form: out[i] = (n - 1) x[i] + x[i]**3."""
    return np.diag((len(x) - 1) + 3.0 * x ** 2)


X = np.array([0.5, 1.5, -2.0, 0.25])


def _no_forward_mode(*args, **kwargs):
    raise AssertionError("the forward transform was called")


def test_jacrev_of_a_fresh_array_written_in_a_loop(monkeypatch):
    monkeypatch.setattr(pipeline, "forward_mode", _no_forward_mode)
    jacobian = jacrev(eye_rows, jit=False)(X)
    np.testing.assert_allclose(jacobian, eye_rows_jacobian(X), rtol=1e-13)
    assert _rel_error(jacobian, _fd_jacobian(eye_rows, (X,), 0)[0]) < FD_RTOL


def test_vjp_of_a_fresh_array_written_in_a_loop(monkeypatch):
    monkeypatch.setattr(pipeline, "forward_mode", _no_forward_mode)
    w = np.array([1.0, -2.0, 0.5, 3.0])
    value, pullback = vjp(eye_rows, X, jit=False)
    np.testing.assert_allclose(value, (len(X) - 1) * X + X ** 3, rtol=1e-13)
    (cotangent,) = pullback(w)
    np.testing.assert_allclose(cotangent, w @ eye_rows_jacobian(X), rtol=1e-13)


def test_grad_of_the_sum_of_the_fresh_array(monkeypatch):
    monkeypatch.setattr(pipeline, "forward_mode", _no_forward_mode)
    np.testing.assert_allclose(grad(eye_rows_sum, jit=False)(X),
                               np.diag(eye_rows_jacobian(X)), rtol=1e-13)


def test_jacrev_and_vjp_compile_the_primal_and_the_adjoint_only():
    spec = specializer(eye_rows, False)
    jacrev(eye_rows, jit=False)(X)
    vjp(eye_rows, X, jit=False)
    assert {key[2] for key in spec.artifacts} == {"primal", "vjp"}  # (types, argnums, mode, ...)


@pytest.mark.numba
def test_jacrev_of_a_fresh_array_compiled_with_numba():
    np.testing.assert_allclose(jacrev(eye_rows)(X), jacrev(eye_rows, jit=False)(X),
                               rtol=1e-14)
    _, pullback = vjp(eye_rows, X)
    np.testing.assert_allclose(pullback(np.ones(4))[0], np.diag(eye_rows_jacobian(X)),
                               rtol=1e-13)


# --- layouts ----------------------------------------------------------------------------------

def two_outputs(x, y, n):
    s = 0.0
    z = np.zeros(n)
    for i in range(n):
        s += np.sin(x[i]) * y
        z[i] = x[i] * s
    return s, z


def scalar(x, y, n):
    s = 0.0
    for i in range(n):
        s += np.sin(x[i]) * y
    return s


CPU_LAYOUTS = [
    (two_outputs, "primal", [], {"outputs": 2}),
    (two_outputs, "vjp", [0, 1], {"seeds": 2, "outputs": 2, "gradients": 2}),
    (two_outputs, "jvp", [0, 1], {"seeds": 2, "outputs": 2, "output_tangents": 2}),
    (scalar, "grad", [0, 1], {"outputs": 1, "gradients": 2}),
    (scalar, "jvp", [1], {"seeds": 1, "outputs": 1, "output_tangents": 1}),
    (scalar, "hvp", [0, 1], {"seeds": 2, "outputs": 1, "gradients": 2, "output_tangents": 1,
                             "gradient_tangents": 2}),
]


@pytest.mark.parametrize("fn, mode, argnums, counts", CPU_LAYOUTS,
                         ids=[f"{c[0].__name__}-{c[1]}" for c in CPU_LAYOUTS])
def test_cpu_layouts(fn, mode, argnums, counts):
    artifact = pipeline.compile(parse(fn), [ARRAY, F64, I64], argnums, mode, load=False)
    tapes = len(artifact.adjoint.tape_kinds)
    budget = int(artifact.adjoint.budgeted)  # the tape budget: an argument where tapes are made
    assert artifact.layout == Layout(3, tapes=tapes, budget=budget, **counts)
    assert len(artifact.adjoint.params) == artifact.layout.arguments
    assert len(artifact.adjoint.body.ops[-1].operands) == artifact.layout.results
    assert tapes == 0 or mode in ("grad", "vjp")  # only reverse sweeps keep their tapes
    assert artifact.path is None and artifact.compiled is None  # nothing written or loaded


def test_a_layout_splits_results_by_kind():
    layout = Layout(2, seeds=2, outputs=1, gradients=2, output_tangents=1,
                    gradient_tangents=2)
    results = layout.split((1.0, 2.0, 3.0, 4.0, 5.0, 6.0))
    assert results == Results([1.0], [2.0, 3.0], [4.0], [5.0, 6.0])
    assert Layout(1, outputs=1).split(np.ones(3)).outputs[0].shape == (3,)
    with pytest.raises(RuntimeError, match="returned 2 values"):
        Layout(1, outputs=1, gradients=2).split((1.0, 2.0))


def test_grad_results_come_from_the_layout():
    artifact = pipeline.compile(parse(scalar), [ARRAY, F64, I64], [0, 1], "grad", jit=False)
    x = np.linspace(0.1, 0.9, 5)
    results = artifact.call(x, 2.0, 5)
    assert results.outputs == [pytest.approx(scalar(x, 2.0, 5))]
    np.testing.assert_allclose(results.gradients[0], 2.0 * np.cos(x))
    assert results.gradients[1] == pytest.approx(np.sum(np.sin(x)))


@pytest.mark.parametrize("mode, counts", [("vjp", {"seeds": 1, "receivers": 1}),
                                          ("jvp", {"seeds": 1, "receivers": 1})])
def test_kernel_layouts(mode, counts):
    artifact = pipeline.compile(parse(scaled), [ARRAY, F64, ARRAY], [0], mode, "kernel",
                                load=False)
    assert artifact.layout == Layout(3, **counts)
    assert artifact.name == {"vjp": "scaled_adjoint", "jvp": "scaled_tangent"}[mode]


def test_device_layouts():
    types = [F64, F64, I64]
    grad_fn = pipeline.compile(parse(scalar_device), types, [0, 1], "grad", "device",
                               load=False)
    assert grad_fn.layout == Layout(3, gradients=2)
    assert grad_fn.name == "scalar_device_grad" and grad_fn.adjoint.name == "scalar_device_jvp"
    assert "def scalar_device_grad(x, y, n):" in grad_fn.source
    tangent = pipeline.compile(parse(scalar_device), types, [0], "jvp", "device", load=False)
    assert tangent.layout == Layout(3, seeds=1, outputs=1, output_tangents=1)


def scalar_device(x, y, n: int):
    s = 0.0
    for k in range(n):
        s += np.sin(x * k) * y
    return s


def test_unknown_modes_are_refused():
    with pytest.raises(ValueError, match="'hvp' for target 'kernel'"):
        pipeline.compile(parse(scaled), [ARRAY, F64, ARRAY], [0], "hvp", "kernel", load=False)


# --- the device gradient wrapper ---------------------------------------------------------------

def test_the_gradient_wrapper_is_built_as_an_ast():
    source = gradient_wrapper("f_grad", "f_jvp", ["x", "y"], 2, single=False)
    assert source == ("def f_grad(x, y):\n"
                      "    value, d0 = f_jvp(x, y, 1.0, 0.0)\n"
                      "    value, d1 = f_jvp(x, y, 0.0, 1.0)\n"
                      "    return (d0, d1)\n")
    single = gradient_wrapper("f_grad", "f_jvp", ["x", "n"], 1, single=True)
    assert single.endswith("    return d0\n")
    namespace = {"f_jvp": lambda x, y, dx, dy: (x * y, y * dx + x * dy)}
    exec(compile(ast.parse(source), "<wrapper>", "exec"), namespace)  # noqa: S102
    assert namespace["f_grad"](2.0, 3.0) == (3.0, 2.0)

