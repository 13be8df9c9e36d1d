"""What grad reads besides a def: lambdas, functools.partial (the remaining arguments are
differentiated), bound methods (self is not), source only in linecache; `python -c` gets a
clear error. Gradients have their arguments' dtype (float32) and form (0-d arrays)."""

import functools
import linecache
import subprocess
import sys

import numpy as np
import pytest

from autodiff_compiler import (
    AutodiffSyntaxError,
    grad,
    hessian,
    hvp,
    jacfwd,
    jvp,
    value_and_grad,
    vjp,
)
from autodiff_compiler.gradcheck import numerical_grad

# --- lambdas -------------------------------------------------------------------------------

square = lambda x: x * x * 3.0
pair = [grad(lambda x: x * 2.0, jit=False), grad(lambda x: x * x, jit=False)]
spread = grad(
    lambda x, y: x ** 3 + np.sin(y) * x,
    argnums=(0, 1), jit=False)


def test_lambdas():
    assert grad(square, jit=False)(2.0) == 12.0
    assert pair[0](3.0) == 2.0 and pair[1](3.0) == 6.0  # two on one line, told apart
    dx, dy = spread(2.0, 0.5)
    assert dx == pytest.approx(12.0 + np.sin(0.5), rel=1e-15)
    assert dy == pytest.approx(np.cos(0.5) * 2.0, rel=1e-15)
    scale = 1.5
    closure = grad(lambda w: np.sum(scale * w * w), jit=False)  # reads its closure
    np.testing.assert_allclose(closure(np.ones(3)), 3.0 * np.ones(3))


def test_lambdas_in_every_transform():
    f = lambda w: np.sin(w) * w[0]
    w = np.array([0.5, -1.0])
    jac = jacfwd(f, jit=False)(w)
    np.testing.assert_allclose(vjp(f, w, jit=False)[1](np.ones(2))[0], np.ones(2) @ jac)
    np.testing.assert_allclose(jvp(f, (w,), (np.ones(2),), jit=False)[1], jac @ np.ones(2))


def test_an_unsupported_construct_in_a_lambda_points_at_its_line():
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(lambda x: {"a": x}["a"], jit=False)  # E:dict
    assert info.value.loc.line == _line_of("# E:dict")
    assert "dict" in info.value.message


def _line_of(marker: str) -> int:
    with open(__file__) as handle:
        return next(n for n, line in enumerate(handle, 1) if marker in line and "_line_of"
                    not in line)


# --- partials ----------------------------------------------------------------------------

def model(a, x, b=2.0):
    return a * x * x + b * np.sin(x)


def test_partials_differentiate_the_remaining_arguments():
    g = grad(functools.partial(model, 3.0), jit=False)  # w.r.t. x: the first one left
    assert g(0.5) == pytest.approx(3.0 + 2.0 * np.cos(0.5), rel=1e-15)
    h = grad(functools.partial(model, b=5.0), argnums=(0, 1), jit=False)
    da, dx = h(3.0, 0.5)
    assert da == pytest.approx(0.25) and dx == pytest.approx(3.0 + 5.0 * np.cos(0.5))
    nested = grad(functools.partial(functools.partial(model, b=1.0), 2.0), jit=False)
    assert nested(0.5, b=4.0) == pytest.approx(2.0 + 4.0 * np.cos(0.5))  # call's b wins


def test_partials_in_the_jacobian_transforms():
    p = functools.partial(model, 3.0)
    assert hessian(p, jit=False)(0.5) == pytest.approx(6.0 - 2.0 * np.sin(0.5))
    _out, pullback = vjp(p, 0.5, jit=False)
    assert pullback(1.0) == (pytest.approx(3.0 + 2.0 * np.cos(0.5)),)  # one per primal left
    assert jvp(p, (0.5,), (2.0,), jit=False)[1] == pytest.approx(2 * (3.0 + 2 * np.cos(0.5)))
    assert hvp(p, (0.5,), (1.0,), jit=False) == (pytest.approx(6.0 - 2.0 * np.sin(0.5)),)


# --- bound methods -----------------------------------------------------------------------

class LeastSquares:
    def __init__(self, X, y):
        self.X, self.y = X, y

    def loss(self, w, scale=1.0):
        r = self.X @ w - self.y
        return scale * np.sum(r * r)

    def uses_self(self, w):
        return helper(self, w)


def helper(obj, w):
    return np.sum(w)


def test_bound_methods_read_self_at_each_call():
    rng = np.random.default_rng(0)
    problem = LeastSquares(rng.normal(size=(5, 3)), rng.normal(size=5))
    w = rng.normal(size=3)
    g = grad(problem.loss, jit=False)
    np.testing.assert_allclose(g(w), 2 * problem.X.T @ (problem.X @ w - problem.y))
    problem.y = np.zeros(5)  # a changed attribute is seen by the next call
    np.testing.assert_allclose(g(w, 2.0), 4 * problem.X.T @ problem.X @ w)
    value, (dw, dscale) = value_and_grad(problem.loss, argnums=(0, 1), jit=False)(w, 2.0)
    assert dscale == pytest.approx(value / 2.0)
    np.testing.assert_allclose(dw, numerical_grad(lambda v: problem.loss(v, 2.0), w),
                               rtol=1e-7)


def test_self_used_other_than_by_attribute_is_refused():
    problem = LeastSquares(np.ones((2, 2)), np.ones(2))
    with pytest.raises(AutodiffSyntaxError, match="self.<attribute>"):
        grad(problem.uses_self, jit=False)


# --- source in linecache; python -c ------------------------------------------------------

def test_source_registered_with_linecache():
    name = "<cell-callables-1>"
    text = "def cell(x):\n    y = x * x\n    return y * x\n"
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    namespace = {}
    exec(compile(text, name, "exec"), namespace)  # noqa: S102 - as IPython runs a cell
    assert grad(namespace["cell"], jit=False)(2.0) == 12.0


def test_python_dash_c_gets_a_clear_error():
    code = ("from autodiff_compiler import grad\n"
            "def f(x):\n    return x * x\n"
            "grad(f)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert run.returncode != 0
    assert "python -c" in run.stderr and "linecache" in run.stderr


# --- dtypes ------------------------------------------------------------------------------

def cube_sum(x):
    return np.sum(x * x * x)


def cube(x):
    return x * x * x


def test_float32_arguments_give_float32_gradients():
    x = np.array([0.5, -1.5, 2.0], dtype=np.float32)
    g = grad(cube_sum, jit=False)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 3 * x.astype(np.float64) ** 2, rtol=1e-7)
    s = grad(cube, jit=False)(np.float32(2.0))
    assert isinstance(s, np.float32) and s == 12.0
    mixed = grad(model, argnums=(0, 1), jit=False)(np.float32(1.0), 0.5)
    assert isinstance(mixed[0], np.float32) and type(mixed[1]) is float


def test_zero_d_arrays_give_zero_d_arrays():
    g = grad(cube, jit=False)(np.array(2.0))
    assert isinstance(g, np.ndarray) and g.shape == () and g == 12.0
    g32 = grad(cube, jit=False)(np.array(2.0, dtype=np.float32))
    assert g32.shape == () and g32.dtype == np.float32
    assert type(grad(cube, jit=False)(2.0)) is float
