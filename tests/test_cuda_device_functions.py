"""The CUDA target: gradients and tangents of scalar device functions.

* `grad(f, argnums, target="cuda")` (a device function) against the CPU gradient
  (`grad(f, argnums, jit=False)`) and central differences, on scalar functions with loops,
  branches, early returns, a while loop, helpers and math functions; `device_jvp` too;
  argnums checked as by grad, int annotations given as strings.
* The generated device functions call nothing but math functions and each other.

Everything runs on Numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1
before numba is imported), or on a real GPU when the environment sets NUMBA_ENABLE_CUDASIM=0
(benchmarks/cuda_bench.py does). The simulator runs every thread in Python (~150 us each),
so the launches are small: a few blocks of 4 threads, some threads past the end of the data
so that the bounds checks matter.
"""

# No `from __future__ import annotations` here: see test_int_annotation_as_a_string.

import functools
import inspect
import math

import numpy as np
import pytest
from cuda_fixtures import ATOL, FD_TOL, RTOL, _bodies, _check_calls, config1
from numba import cuda

from autodiff_compiler import GradientInputError, grad, jvp, numerical_grad
from autodiff_compiler.gradcheck import relative_error
from autodiff_compiler.kernels import device_grad, device_jvp

# ============================================================================================
# Device-function gradients of scalar functions
# ============================================================================================


def loop_branch(x, y, n: int):
    s = 0.0
    for k in range(n):
        if x * k > 1.0:
            s += math.sin(x * k) * y
        elif k % 2 == 0:
            s -= x * x * y
        else:
            s += math.exp(-x * y) / (1.0 + k)
    return s


def transcendental(x, y):
    r = math.sqrt(x * x + y * y)
    return math.log1p(r) * math.tanh(x) + math.atan2(y, x) + math.cosh(0.3 * y) * x ** 3 \
        + math.pow(abs(y) + 1.0, 1.5) - math.exp(-x) * math.cos(y)


def early_return(x, y):
    if x < -0.5:
        return -x * y
    t = max(x, y) * min(x, 2.0 * y)
    if t > 1.0:
        return math.log(t) + y
    return t * t - abs(x - y)


def newton_sqrt(x, y):
    a = x * x + 0.5
    z = a
    while abs(z * z - a) > 1e-12 * a:
        z = 0.5 * (z + a / z)
    return z * y + z


def _softplus(z):
    if z > 20.0:
        return z
    return math.log(1.0 + math.exp(z))


def with_helper(x, y):
    return _softplus(x * y) - _softplus(-x) * y


def nested_loops(x, y, n: int):
    s = x
    for k in range(n):
        t = 0.0
        for m in range(k + 1):
            t += math.sin(s * m + y)
        s = s * 0.5 + t * 0.1
    return s * y


FLOAT_CASES = [transcendental, early_return, newton_sqrt, with_helper]
INT_CASES = [loop_branch, nested_loops]

# points (x, y): both branches of every function are taken somewhere among them
POINTS = np.array([[0.7, 1.3], [-0.8, 0.4], [1.9, -0.6], [0.35, 2.2], [2.5, 0.9]])


@functools.cache
def _runner(g, nargs: int, pairs: bool):
    """A kernel evaluating device function g at every point: g(x, y) or g(x, y, n)."""
    if nargs == 2 and pairs:
        @cuda.jit
        def run2(points, n, out):
            i = cuda.grid(1)
            if i < points.shape[0]:
                d = g(points[i, 0], points[i, 1])
                out[i, 0] = d[0]
                out[i, 1] = d[1]
        return run2
    if nargs == 3 and pairs:
        @cuda.jit
        def run3(points, n, out):
            i = cuda.grid(1)
            if i < points.shape[0]:
                d = g(points[i, 0], points[i, 1], n)
                out[i, 0] = d[0]
                out[i, 1] = d[1]
        return run3
    if nargs == 2:
        @cuda.jit
        def run2_single(points, n, out):
            i = cuda.grid(1)
            if i < points.shape[0]:
                out[i, 0] = g(points[i, 0], points[i, 1])
        return run2_single

    @cuda.jit
    def run3_single(points, n, out):
        i = cuda.grid(1)
        if i < points.shape[0]:
            out[i, 0] = g(points[i, 0], points[i, 1], n)
    return run3_single


def _on_device(g, nargs: int, pairs: bool, n: int = 0) -> np.ndarray:
    out = np.zeros((len(POINTS), 2 if pairs else 1))
    _runner(g, nargs, pairs)[config1(len(POINTS))](POINTS, n, out)
    return out


@pytest.mark.parametrize("f", FLOAT_CASES + INT_CASES, ids=lambda f: f.__name__)
def test_device_grad_matches_cpu_and_central_differences(f):
    nargs = len(inspect.signature(f).parameters)
    extra = (5,) if nargs == 3 else ()
    g = grad(f, argnums=(0, 1), target="cuda")
    assert "def " in g.autodiff_source
    got = _on_device(g, nargs, pairs=True, n=extra[0] if extra else 0)
    cpu = grad(f, argnums=(0, 1), jit=False)
    for point, row in zip(POINTS, got):
        args = (float(point[0]), float(point[1])) + extra
        expected = cpu(*args)
        np.testing.assert_allclose(row, expected, rtol=RTOL, atol=ATOL)
        numeric = numerical_grad(f, *args, argnums=(0, 1))
        assert relative_error(tuple(row), numeric) < FD_TOL, (f.__name__, point)


@pytest.mark.parametrize("f", [transcendental, loop_branch], ids=lambda f: f.__name__)
def test_device_grad_single_argnum_returns_a_number(f):
    nargs = len(inspect.signature(f).parameters)
    extra = (4,) if nargs == 3 else ()
    g = grad(f, argnums=1, target="cuda")
    got = _on_device(g, nargs, pairs=False, n=extra[0] if extra else 0)[:, 0]
    cpu = grad(f, argnums=1, jit=False)
    expected = [cpu(float(p[0]), float(p[1]), *extra) for p in POINTS]
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_grad_target_cuda_is_device_grad():
    g = device_grad(transcendental, (0, 1))
    h = grad(transcendental, argnums=(0, 1), target="cuda")
    np.testing.assert_array_equal(_on_device(g, 2, True), _on_device(h, 2, True))
    assert "def transcendental_grad(" in h.autodiff_source


def test_device_jvp_value_and_directional_derivative():
    jf = device_jvp(transcendental)
    direction = (0.3, -1.1)

    @cuda.jit
    def run(points, out):
        i = cuda.grid(1)
        if i < points.shape[0]:
            value, derivative = jf(points[i, 0], points[i, 1], 0.3, -1.1)
            out[i, 0] = value
            out[i, 1] = derivative

    out = np.zeros((len(POINTS), 2))
    run[config1(len(POINTS))](POINTS, out)
    for point, (value, derivative) in zip(POINTS, out):
        value_cpu, derivative_cpu = jvp(transcendental, tuple(point), direction, jit=False)
        assert value == pytest.approx(value_cpu, rel=RTOL)
        assert derivative == pytest.approx(derivative_cpu, rel=RTOL)


def test_int_annotation_as_a_string(tmp_path, monkeypatch):
    (tmp_path / "future_module.py").write_text(
        "from __future__ import annotations\n"
        "import math\n\n\n"
        "def repeat_sin(x, n: int):\n"
        "    s = 0.0\n"
        "    for k in range(n):\n"
        "        s += math.sin(x * k)\n"
        "    return s\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from future_module import repeat_sin

    g = grad(repeat_sin, argnums=0, target="cuda")
    assert "range(n)" in g.autodiff_source


@pytest.mark.parametrize("argnums", [(0, 0), 5, ()], ids=["twice", "out_of_range", "empty"])
def test_device_grad_validates_argnums_like_grad(argnums):
    with pytest.raises(GradientInputError):
        grad(transcendental, argnums=argnums, jit=False)
    with pytest.raises(GradientInputError):
        grad(transcendental, argnums=argnums, target="cuda")


def test_device_grad_of_an_int_argument_is_refused():
    with pytest.raises(GradientInputError, match="int"):
        grad(loop_branch, argnums=2, target="cuda")


@pytest.mark.parametrize("f", FLOAT_CASES + INT_CASES, ids=lambda f: f.__name__)
def test_generated_device_functions_use_only_math(f):
    _check_calls(grad(f, argnums=(0, 1), target="cuda").autodiff_source)
    assert "cuda." not in _bodies(device_jvp(f, (0,)).autodiff_source)
