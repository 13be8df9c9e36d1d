"""The CUDA target: device-function gradients, adjoint kernels and tangent kernels.

Everything here runs on Numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1
before numba is imported), or on a real GPU when the environment sets NUMBA_ENABLE_CUDASIM=0
(benchmarks/cuda_bench.py does). The simulator runs every thread in Python (~150 us each),
so the launches are small: a few blocks of 4 threads, some threads past the end of the data
so that the bounds checks matter.

* `grad(f, argnums, target="cuda")` (a device function) against the CPU gradient
  (`grad(f, argnums, jit=False)`) and central differences, on scalar functions with loops,
  branches, early returns, a while loop, helpers and math functions; `device_jvp` too.
* `grad_kernel`: the adjoint kernel, launched with random output cotangents w, against the
  CPU gradient of the equivalent scalar function sum_i w[i] * out[i] (written as a plain
  loop over i) and against central differences of that sum computed by launching the
  primal kernel: a per-sample loss with shared parameters (atomics), an elementwise kernel
  (exclusive writes: no atomics for x_bar[i]), a 2-D grid kernel, a periodic stencil (x[i-1],
  x[i], x[i+1]), a kernel calling a device function with branches inside a loop, a gather
  through an index array with repeated indices, a kernel with two outputs.
* `tangent_kernel` against `jvp` of the CPU function returning the output array, and the
  dot-product identity <tangent(v), w> == <v, adjoint(w)> between the two kernels.
* Every refusal (shared memory, syncthreads, the user's own atomics, cuda.threadIdx, arrays
  both read and written, outputs written twice, loops that need a tape, scalar wrt, writes
  into local arrays, returning a value, unknown wrt names, int argnums): its exception type,
  and that it points at the offending line (marked `# E:<name>` below).
* The generated kernels call nothing from numba.cuda but cuda.grid and cuda.atomic.add, and
  nothing else but math functions and the generated device code itself.
"""

# ruff: noqa: F841

# No `from __future__ import annotations` here: see test_int_annotation_as_a_string.

import functools
import inspect
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from numba import cuda

from autodiff_compiler import (
    AutodiffSyntaxError,
    GradientInputError,
    UnsupportedOperationError,
    grad,
    jvp,
    numerical_grad,
)
from autodiff_compiler.gradcheck import relative_error
from autodiff_compiler.kernels import device_grad, device_jvp, grad_kernel, tangent_kernel

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
THIS_FILE = Path(__file__).resolve()
_LINES = THIS_FILE.read_text().splitlines()
THREADS = 4
# GPU results against CPU ones: the simulator computes exactly what CPython does (up to the
# order of atomic additions); a GPU's libdevice functions and fused multiply-adds differ from
# the CPU's by an ulp or so per operation
RTOL = 1e-12 if SIMULATOR else 1e-10
ATOL = 1e-14 if SIMULATOR else 1e-12
CPU_TOL = 1e-11 if SIMULATOR else 1e-10  # normwise, kernel adjoints against the CPU
FD_TOL = 1e-7  # against fourth-order central differences (the bar of check_grad)


def config1(n: int) -> tuple[int, int]:
    """(blocks, threads) covering n elements, with some threads past the end."""
    return (n + THREADS) // THREADS, THREADS


def config2(shape) -> tuple[tuple[int, int], tuple[int, int]]:
    return ((shape[0] + 2) // 2, (shape[1] + 2) // 2), (2, 2)


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


# ============================================================================================
# Kernels, their CPU equivalents (sum_i w[i] * out[i] as a loop over i), outputs on the CPU
# ============================================================================================


def per_sample_loss(x, y, params, loss):
    i = cuda.grid(1)
    if i < x.shape[0]:
        h = math.tanh(params[0] * x[i] + params[1])
        r = params[2] * h + params[3] * x[i] - y[i]
        loss[i] = 0.5 * r * r


def per_sample_loss_cpu(x, y, params, loss_bar):
    s = 0.0
    for i in range(x.shape[0]):
        h = math.tanh(params[0] * x[i] + params[1])
        r = params[2] * h + params[3] * x[i] - y[i]
        s += loss_bar[i] * (0.5 * r * r)
    return s


def per_sample_loss_out(x, y, params):
    loss = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        h = math.tanh(params[0] * x[i] + params[1])
        r = params[2] * h + params[3] * x[i] - y[i]
        loss[i] = 0.5 * r * r
    return loss


def elementwise(x, params, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = params[0] * math.sin(x[i]) * math.exp(-params[1] * x[i] * x[i]) + x[i] ** 3


def elementwise_cpu(x, params, out_bar):
    s = 0.0
    for i in range(x.shape[0]):
        s += out_bar[i] * (params[0] * math.sin(x[i]) * math.exp(-params[1] * x[i] * x[i])
                           + x[i] ** 3)
    return s


def elementwise_out(x, params):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = params[0] * math.sin(x[i]) * math.exp(-params[1] * x[i] * x[i]) + x[i] ** 3
    return out


def grid_2d(a, b, c, out):
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = a[i, j] * b[j] + math.tanh(a[i, j] * c[i]) - c[i] * b[j] ** 2


def grid_2d_cpu(a, b, c, out_bar):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += out_bar[i, j] * (a[i, j] * b[j] + math.tanh(a[i, j] * c[i]) - c[i] * b[j] ** 2)
    return s


def grid_2d_out(a, b, c):
    out = np.zeros((a.shape[0], a.shape[1]))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = a[i, j] * b[j] + math.tanh(a[i, j] * c[i]) - c[i] * b[j] ** 2
    return out


def heat_step(u, coef, out):
    """One explicit step of u_t = u_xx - u^3 on a periodic grid."""
    i = cuda.grid(1)
    n = u.shape[0]
    if i < n:
        left = u[(i + n - 1) % n]
        right = u[(i + 1) % n]
        out[i] = u[i] + coef[0] * (left - 2.0 * u[i] + right) - coef[1] * u[i] ** 3


def heat_step_cpu(u, coef, out_bar):
    n = u.shape[0]
    s = 0.0
    for i in range(n):
        left = u[(i + n - 1) % n]
        right = u[(i + 1) % n]
        s += out_bar[i] * (u[i] + coef[0] * (left - 2.0 * u[i] + right) - coef[1] * u[i] ** 3)
    return s


def heat_step_out(u, coef):
    n = u.shape[0]
    out = np.zeros(n)
    for i in range(n):
        left = u[(i + n - 1) % n]
        right = u[(i + 1) % n]
        out[i] = u[i] + coef[0] * (left - 2.0 * u[i] + right) - coef[1] * u[i] ** 3
    return out


@cuda.jit(device=True)
def leaky(z, slope):
    if z > 0.0:
        return z
    elif z > -1.0:
        return slope * z
    return slope * (math.exp(z + 1.0) - 2.0)


@cuda.jit(device=True)
def squash(z):
    return z / math.sqrt(1.0 + z * z)


def plain_helper(z, c):  # not a device function: fine in a differentiated kernel (inlined)
    if z * c > 0.5:
        return math.log(z * c + 0.5)
    return z * c * squash(z)


def calls_device_fn(x, w, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        s = 0.0
        for k in range(w.shape[0]):
            s += leaky(w[k] * x[i] + 0.25 * k, 0.1)
        out[i] = squash(s)


def calls_device_fn_cpu(x, w, out_bar):
    total = 0.0
    for i in range(x.shape[0]):
        s = 0.0
        for k in range(w.shape[0]):
            s += leaky(w[k] * x[i] + 0.25 * k, 0.1)
        total += out_bar[i] * squash(s)
    return total


def calls_device_fn_out(x, w):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        s = 0.0
        for k in range(w.shape[0]):
            s += leaky(w[k] * x[i] + 0.25 * k, 0.1)
        out[i] = squash(s)
    return out


def calls_plain_helper(x, p, out):
    """A primal a GPU cannot run (plain Python helper), but its derivative kernels can."""
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = plain_helper(x[i], p[0]) + plain_helper(p[1], x[i])


def calls_plain_helper_cpu(x, p, out_bar):
    s = 0.0
    for i in range(x.shape[0]):
        s += out_bar[i] * (plain_helper(x[i], p[0]) + plain_helper(p[1], x[i]))
    return s


def calls_plain_helper_out(x, p):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = plain_helper(x[i], p[0]) + plain_helper(p[1], x[i])
    return out


def test_kernel_calling_a_plain_python_helper():
    rng = _rng(4)
    x, p, w = rng.uniform(-1.5, 1.5, 6), np.array([0.8, -1.1]), rng.standard_normal(6)
    out, x_bar, p_bar = np.zeros(6), np.zeros(6), np.zeros(2)
    grad_kernel(calls_plain_helper, wrt=("x", "p"))[config1(6)](x, p, out, w, x_bar, p_bar)
    expected = grad(calls_plain_helper_cpu, argnums=(0, 1), jit=False)(x, p, w)
    assert relative_error((x_bar, p_bar), expected) < CPU_TOL
    value = calls_plain_helper_out(x, p)
    np.testing.assert_allclose(out, value, rtol=RTOL, atol=ATOL)
    numeric = numerical_grad(calls_plain_helper_cpu, x, p, w, argnums=(0, 1))
    assert relative_error((x_bar, p_bar), numeric) < FD_TOL
    v, out_dot = rng.standard_normal(6), np.zeros(6)
    tangent_kernel(calls_plain_helper, wrt=("x",))[config1(6)](x, p, out, v, out_dot)
    _, expected_dot = jvp(calls_plain_helper_out, (x, p), (v, np.zeros(2)), jit=False)
    np.testing.assert_allclose(out_dot, expected_dot, rtol=RTOL, atol=ATOL)


def gather(x, idx, out):
    i = cuda.grid(1)
    if i < idx.shape[0]:
        v = x[idx[i]]
        out[i] = v * math.sin(v) + x[i % x.shape[0]]


def gather_cpu(x, idx, out_bar):
    s = 0.0
    for i in range(idx.shape[0]):
        v = x[idx[i]]
        s += out_bar[i] * (v * math.sin(v) + x[i % x.shape[0]])
    return s


def two_outputs(x, p, a, b):
    i = cuda.grid(1)
    if i < x.shape[0]:
        a[i] = math.sin(x[i] * p[0])
        b[i] = math.cos(x[i]) * x[i] + p[1] * a.shape[0]


def two_outputs_cpu(x, p, a_bar, b_bar):
    s = 0.0
    for i in range(x.shape[0]):
        s += a_bar[i] * math.sin(x[i] * p[0])
        s += b_bar[i] * (math.cos(x[i]) * x[i] + p[1] * x.shape[0])
    return s


def _rng(seed):
    return np.random.default_rng(seed)


# name -> (kernel, cpu sum, cpu outputs or None, make args, output names, wrt, config)
KERNELS = {
    "per_sample_loss": (
        per_sample_loss, per_sample_loss_cpu, per_sample_loss_out,
        lambda r: [r.uniform(-1, 1, 7), r.uniform(-1, 1, 7), r.uniform(0.3, 1.2, 4),
                   np.zeros(7)],
        ("loss",), ("x", "params"), config1(7)),
    "elementwise": (
        elementwise, elementwise_cpu, elementwise_out,
        lambda r: [r.uniform(-1.5, 1.5, 6), r.uniform(0.2, 1.0, 2), np.zeros(6)],
        ("out",), ("x", "params"), config1(6)),
    "grid_2d": (
        grid_2d, grid_2d_cpu, grid_2d_out,
        lambda r: [r.uniform(-1, 1, (3, 4)), r.uniform(-1, 1, 4), r.uniform(-1, 1, 3),
                   np.zeros((3, 4))],
        ("out",), ("a", "b", "c"), config2((3, 4))),
    "heat_step": (
        heat_step, heat_step_cpu, heat_step_out,
        lambda r: [r.uniform(-1, 1, 7), np.array([0.2, 0.05]), np.zeros(7)],
        ("out",), ("u", "coef"), config1(7)),
    "calls_device_fn": (
        calls_device_fn, calls_device_fn_cpu, calls_device_fn_out,
        lambda r: [r.uniform(-2, 2, 6), r.uniform(-1.5, 1.5, 3), np.zeros(6)],
        ("out",), ("x", "w"), config1(6)),
    "gather": (
        gather, gather_cpu, None,
        lambda r: [r.uniform(-2, 2, 5), np.array([0, 3, 3, 1, 0, 3, 4, 2]), np.zeros(8)],
        ("out",), ("x",), config1(8)),
    "two_outputs": (
        two_outputs, two_outputs_cpu, None,
        lambda r: [r.uniform(-2, 2, 6), np.array([0.7, -0.4]), np.zeros(6), np.zeros(6)],
        ("a", "b"), ("x", "p"), config1(6)),
}


@functools.cache
def _primal(kernel):
    return cuda.jit(kernel)


class KernelProblem:
    """A kernel, arguments, random cotangents; the adjoint run and the references."""

    def __init__(self, name: str, seed: int = 0):
        (self.kernel, self.cpu, self.cpu_out, make, self.outputs, self.wrt,
         self.config) = KERNELS[name]
        rng = _rng(seed)
        self.args = make(rng)
        self.names = list(inspect.signature(self.kernel).parameters)
        self.out_pos = [self.names.index(o) for o in self.outputs]
        self.in_pos = [k for k in range(len(self.names)) if k not in self.out_pos]
        self.cots = [rng.standard_normal(self.args[k].shape) for k in self.out_pos]
        # positions of the wrt arguments among the CPU function's arguments (inputs, cots)
        self.cpu_argnums = tuple(self.in_pos.index(self.names.index(w)) for w in self.wrt)

    def inputs(self):
        return [self.args[k] for k in self.in_pos]

    def kernel_args(self, inputs):
        """The kernel's arguments: `inputs` and fresh zero outputs."""
        args, it = [], iter(inputs)
        for k, a in enumerate(self.args):
            args.append(np.zeros_like(a) if k in self.out_pos else next(it).copy())
        return args

    def primal(self, *inputs):
        args = self.kernel_args(inputs)
        _primal(self.kernel)[self.config](*args)
        return [args[k] for k in self.out_pos]

    def weighted(self, *inputs):
        return sum(float(np.sum(w * o)) for w, o in zip(self.cots, self.primal(*inputs)))

    def adjoint(self, adj=None, repeat: int = 1):
        adj = adj or grad_kernel(self.kernel, wrt=self.wrt)
        args = self.kernel_args(self.inputs())
        bars = [np.zeros_like(self.args[self.names.index(w)]) for w in self.wrt]
        for _ in range(repeat):
            adj[self.config](*args, *[c.copy() for c in self.cots], *bars)
        return args, bars


@pytest.mark.parametrize("name", list(KERNELS))
def test_adjoint_kernel_matches_cpu_gradient_and_central_differences(name):
    problem = KernelProblem(name)
    args, bars = problem.adjoint()
    # the adjoint kernel runs the primal too: its outputs are the primal's
    for k, expected in zip(problem.out_pos, problem.primal(*problem.inputs())):
        np.testing.assert_allclose(args[k], expected, rtol=1e-14, atol=1e-15)
    cpu = grad(problem.cpu, argnums=problem.cpu_argnums, jit=False)(
        *problem.inputs(), *problem.cots)
    for w, got, expected in zip(problem.wrt, bars, cpu):
        assert relative_error((got,), (expected,)) < CPU_TOL, (w, got, expected)
    numeric = numerical_grad(problem.weighted, *problem.inputs(),
                             argnums=problem.cpu_argnums)
    assert relative_error(bars, numeric) < FD_TOL


def test_adjoint_kernel_accumulates_into_the_adjoint_arrays():
    problem = KernelProblem("per_sample_loss", seed=3)
    _, once = problem.adjoint()
    _, twice = problem.adjoint(repeat=2)
    for a, b in zip(once, twice):
        np.testing.assert_allclose(b, 2.0 * a, rtol=1e-13)


def test_adjoint_kernel_on_a_second_signature():
    """int32 indices get their own specialisation."""
    adj = grad_kernel(gather, wrt=("x",))
    x = np.linspace(-1, 1, 5)
    for idx in (np.array([0, 3, 3, 1], dtype=np.int64), np.array([4, 4, 0, 2], np.int32)):
        out, out_bar, x_bar = np.zeros(4), np.ones(4), np.zeros(5)
        adj[config1(4)](x, idx, out, out_bar, x_bar)
        expected = grad(gather_cpu, argnums=0, jit=False)(x, idx.astype(np.int64), out_bar)
        np.testing.assert_allclose(x_bar, expected, rtol=RTOL, atol=ATOL)


# --- which updates are atomic ---------------------------------------------------------------


def _adjoint_source(name: str) -> str:
    problem = KernelProblem(name)
    return grad_kernel(problem.kernel, wrt=problem.wrt).source(*problem.args)


def _updates(source: str, bar: str) -> tuple[list[str], list[str]]:
    """(atomic updates, plain `+=` updates) of adjoint array `bar` in `source`."""
    atomic = re.findall(rf"cuda\.atomic\.add\({bar}, ([^,]+),", source)
    plain = re.findall(rf"^\s*{bar}\[([^\]]+)\] \+=", source, flags=re.MULTILINE)
    return atomic, plain


@pytest.mark.parametrize("name", ["per_sample_loss", "elementwise"])
def test_exclusive_elements_are_plain_adds_shared_parameters_atomic(name):
    source = _adjoint_source(name)
    atomic_x, plain_x = _updates(source, "x_bar")
    assert atomic_x == [] and plain_x == ["i"], source
    atomic_p, plain_p = _updates(source, "params_bar")
    assert sorted(atomic_p) == [str(k) for k in range(len(atomic_p))] and len(atomic_p) >= 2
    assert plain_p == [], source


def test_neighbour_reads_are_atomic():
    atomic, _ = _updates(_adjoint_source("heat_step"), "u_bar")
    assert len(atomic) >= 2  # u[(i + n - 1) % n] and u[(i + 1) % n]
    atomic, _ = _updates(_adjoint_source("gather"), "x_bar")
    assert len(atomic) == 2  # x[idx[i]] and x[i % n]


def test_own_element_of_an_array_neighbours_also_read_is_atomic():
    _, plain = _updates(_adjoint_source("heat_step"), "u_bar")
    assert plain == []


def test_grid_2d_shared_rows_and_columns_are_atomic():
    source = _adjoint_source("grid_2d")
    for bar in ("b_bar", "c_bar"):
        atomic, plain = _updates(source, bar)
        assert atomic and not plain, source


# --- what the generated kernels call --------------------------------------------------------

_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_BUILTINS = {"range", "min", "max", "abs", "float", "int", "bool", "len"}
# np.sign (the derivative of abs) on a scalar: in numba-cuda's ufunc table, like math.*
_NUMPY_SCALAR = {"np.sign"}
_KEYWORDS = {"return", "if", "elif", "while", "in", "and", "or", "not", "else"}


def _bodies(source: str) -> str:
    """The generated function definitions (not the module's imports), without comments."""
    start = source.index("\ndef ")
    return re.sub(r"#.*$", "", source[start:], flags=re.MULTILINE)


def _check_calls(source: str, allowed_names=()) -> None:
    body = _bodies(source)
    defined = set(re.findall(r"^def (\w+)\(", body, flags=re.MULTILINE)) | set(allowed_names)
    for name in _CALL.findall(body):
        if name in defined or name in _BUILTINS | _KEYWORDS or \
                name in ("cuda.grid", "cuda.atomic.add"):
            continue
        if name in _NUMPY_SCALAR:
            continue
        assert name.startswith("math.") and name.count(".") == 1, (name, source)
    assert "rt." not in body, source  # no runtime helpers (array work) in device code
    assert not re.search(r"\bnp\.(?!sign\()", body), source


@pytest.mark.parametrize("name", list(KERNELS))
def test_generated_kernels_use_only_grid_atomics_and_math(name):
    problem = KernelProblem(name)
    for maker in (grad_kernel, tangent_kernel):
        _check_calls(maker(problem.kernel, wrt=problem.wrt).source(*problem.args))


@pytest.mark.parametrize("f", FLOAT_CASES + INT_CASES, ids=lambda f: f.__name__)
def test_generated_device_functions_use_only_math(f):
    _check_calls(grad(f, argnums=(0, 1), target="cuda").autodiff_source)
    assert "cuda." not in _bodies(device_jvp(f, (0,)).autodiff_source)


# --- tangent kernels ------------------------------------------------------------------------


def _tangent_run(problem: KernelProblem, directions):
    tan = tangent_kernel(problem.kernel, wrt=problem.wrt)
    args = problem.kernel_args(problem.inputs())
    dots = [np.zeros_like(problem.args[k]) for k in problem.out_pos]
    tan[problem.config](*args, *directions, *dots)
    return dots


@pytest.mark.parametrize("name", [n for n in KERNELS if KERNELS[n][2] is not None])
def test_tangent_kernel_matches_cpu_jvp(name):
    problem = KernelProblem(name, seed=1)
    rng = _rng(11)
    directions = [rng.standard_normal(problem.args[problem.names.index(w)].shape)
                  for w in problem.wrt]
    (out_dot,) = _tangent_run(problem, directions)
    tangents = [np.zeros(np.shape(a)) for a in problem.inputs()]
    for w, d in zip(problem.wrt, directions):
        tangents[problem.in_pos.index(problem.names.index(w))] = d
    value, expected = jvp(problem.cpu_out, tuple(problem.inputs()), tuple(tangents), jit=False)
    np.testing.assert_allclose(out_dot, expected, rtol=RTOL, atol=ATOL)
    (out,) = problem.primal(*problem.inputs())
    np.testing.assert_allclose(out, value, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(KERNELS))
def test_tangent_and_adjoint_kernels_satisfy_the_dot_product_identity(name):
    problem = KernelProblem(name, seed=2)
    rng = _rng(12)
    directions = [rng.standard_normal(problem.args[problem.names.index(w)].shape)
                  for w in problem.wrt]
    dots = _tangent_run(problem, directions)
    _, bars = problem.adjoint()
    forward = sum(float(np.sum(w * d)) for w, d in zip(problem.cots, dots))
    reverse = sum(float(np.sum(v * b)) for v, b in zip(directions, bars))
    assert forward == pytest.approx(reverse, rel=RTOL, abs=ATOL)


def tape_loop(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        s = x[i]
        for k in range(3):
            s = math.sin(s) * x[i]
        out[i] = s


def test_tangent_kernel_of_a_loop_the_adjoint_refuses():
    """Forward mode needs no tape: a loop carrying a nonlinear state is fine."""
    x = np.linspace(-1, 1, 5)
    out, out_dot, v = np.zeros(5), np.zeros(5), np.linspace(0.5, 1.5, 5)
    tangent_kernel(tape_loop, wrt=("x",))[config1(5)](x, out, v, out_dot)

    def cpu(x):
        out = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            s = x[i]
            for k in range(3):
                s = math.sin(s) * x[i]
            out[i] = s
        return out

    value, expected = jvp(cpu, (x,), (v,), jit=False)
    np.testing.assert_allclose(out, value, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out_dot, expected, rtol=RTOL, atol=ATOL)


def scaled(x, a, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = a * x[i] * x[i]


def test_tangent_kernel_wrt_a_scalar_argument():
    x = np.linspace(-1, 1, 5)
    out, out_dot = np.zeros(5), np.zeros(5)
    tangent_kernel(scaled, wrt=("a",))[config1(5)](x, 1.5, out, 1.0, out_dot)
    np.testing.assert_allclose(out, 1.5 * x * x, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out_dot, x * x, rtol=RTOL, atol=ATOL)


# ============================================================================================
# Refusals: the exception type, and where it points (the line marked # E:<name>)
# ============================================================================================

f64 = np.float64


def uses_shared(x, out):
    i = cuda.grid(1)
    buf = cuda.shared.array(32, f64)  # E:shared
    if i < x.shape[0]:
        out[i] = x[i]


def uses_shared_keyword(x, out):
    i = cuda.grid(1)
    buf = cuda.shared.array(32, dtype=f64)  # E:shared_keyword
    if i < x.shape[0]:
        out[i] = x[i]


def uses_syncthreads(x, out):
    i = cuda.grid(1)
    cuda.syncthreads()  # E:syncthreads
    if i < x.shape[0]:
        out[i] = x[i]


def uses_atomics(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        cuda.atomic.add(out, 0, x[i])  # E:atomics


def uses_thread_idx(x, out):
    i = cuda.threadIdx.x + cuda.blockIdx.x * cuda.blockDim.x  # E:thread_idx
    if i < x.shape[0]:
        out[i] = x[i]


def grid_3d(x, out):
    i = cuda.grid(3)  # E:grid_3d
    out[i] = x[i]


def read_and_written(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = out[i] + x[i]  # E:read_and_written


def written_twice(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = x[i]  # E:written_twice
        out[i] = 2.0 * x[i]


def written_in_loop(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        for k in range(2):
            out[i] = x[i] * k  # E:written_in_loop


def needs_tape(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        s = x[i]
        for k in range(3):  # E:needs_tape
            s = math.sin(s) * x[i]
        out[i] = s


def writes_local_array(x, out):
    i = cuda.grid(1)
    tmp = np.zeros(3)
    if i < x.shape[0]:
        tmp[0] = x[i]  # E:local_array
        out[i] = tmp[0]


def returns_a_value(x, out):  # E:returns
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = x[i]
    return 1.0


def branch_writes(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        if x[i] > 0.0:
            out[i] = x[i] * x[i]
        else:
            out[i] = -x[i]


def marker_line(name: str) -> int:
    hits = [k + 1 for k, text in enumerate(_LINES) if text.rstrip().endswith(f"# E:{name}")]
    assert len(hits) == 1, f"marker E:{name} found on lines {hits}"
    return hits[0]


def assert_points_at(err, name: str) -> None:
    text = str(err)
    head = text.splitlines()[0]
    assert head.startswith(f"{THIS_FILE}:{marker_line(name)}:"), text
    assert f"# E:{name}" in text, text


X4, OUT4 = np.linspace(-1, 1, 4), np.zeros(4)

REFUSALS = [
    # (kernel, marker, exception, words in the message)
    (uses_shared, "shared", UnsupportedOperationError, "shared memory"),
    (uses_shared_keyword, "shared_keyword", AutodiffSyntaxError, "keyword"),
    (uses_syncthreads, "syncthreads", UnsupportedOperationError, "syncthreads"),
    (uses_atomics, "atomics", UnsupportedOperationError, "atomics"),
    (uses_thread_idx, "thread_idx", UnsupportedOperationError, "cuda.grid"),
    (grid_3d, "grid_3d", AutodiffSyntaxError, "cuda.grid takes the constant 1 or 2"),
    (read_and_written, "read_and_written", UnsupportedOperationError, "both read and written"),
    (written_twice, "written_twice", UnsupportedOperationError, "more than once"),
    (written_in_loop, "written_in_loop", UnsupportedOperationError, "more than once"),
    (needs_tape, "needs_tape", UnsupportedOperationError, "needs a tape"),
    (writes_local_array, "local_array", UnsupportedOperationError, "only into its array"),
    (returns_a_value, "returns", AutodiffSyntaxError, "returns nothing"),
]


@pytest.mark.parametrize("maker", [grad_kernel, tangent_kernel], ids=lambda m: m.__name__)
@pytest.mark.parametrize("kernel, marker, error, words", REFUSALS,
                         ids=[r[1] for r in REFUSALS])
def test_refusals_point_at_the_line(kernel, marker, error, words, maker):
    if kernel is needs_tape and maker is tangent_kernel:
        pytest.skip("forward mode needs no tape (test_tangent_kernel_of_a_loop...)")
    with pytest.raises(error, match=re.escape(words)) as info:
        maker(kernel, wrt=("x",)).source(X4, OUT4)
    if kernel is not needs_tape:  # where that one points: test_needs_tape_points_at_the_loop
        assert_points_at(info.value, marker)
    # the launcher refuses the same way, before running anything
    with pytest.raises(error):
        maker(kernel, wrt=("x",))[1, 4](X4, OUT4, np.ones(4), np.zeros(4))


def test_needs_tape_points_at_the_loop():
    with pytest.raises(UnsupportedOperationError) as info:
        grad_kernel(needs_tape, wrt=("x",)).source(X4, OUT4)
    assert_points_at(info.value, "needs_tape")


def test_one_write_in_each_branch_is_one_write():
    x = np.linspace(-1, 1, 5)
    out, x_bar = np.zeros(5), np.zeros(5)
    grad_kernel(branch_writes, wrt=("x",))[config1(5)](x, out, np.ones(5), x_bar)
    np.testing.assert_allclose(x_bar, np.where(x > 0, 2 * x, -1.0))


def test_scalar_wrt_is_refused_for_adjoints():
    with pytest.raises(UnsupportedOperationError, match="'a' is not one") as info:
        grad_kernel(scaled, wrt=("a",)).source(X4, 2.0, OUT4)
    assert "1-element array" in str(info.value)


def test_outputs_cannot_be_differentiated_against():
    with pytest.raises(UnsupportedOperationError, match="'out'"):
        grad_kernel(scaled, wrt=("out",)).source(X4, 2.0, OUT4)


@pytest.mark.parametrize("maker", [grad_kernel, tangent_kernel], ids=lambda m: m.__name__)
def test_unknown_wrt_name_is_refused_at_once(maker):
    with pytest.raises(GradientInputError, match="no argument 'y'"):
        maker(scaled, wrt=("y",))


def test_non_float_arguments_are_refused():
    with pytest.raises(GradientInputError, match="unsupported kernel argument"):
        grad_kernel(scaled, wrt=("x",)).source(X4, "two", OUT4)


@pytest.mark.skipif(SIMULATOR, reason="a race needs a real GPU and many threads")
def test_stencil_adjoint_on_many_threads():
    """Neighbouring threads add into the same elements: on a GPU the result must still be
    exact up to rounding (this is where a non-atomic update of a shared element shows)."""
    n = 1 << 20
    rng = _rng(5)
    u, coef, w = rng.uniform(-1, 1, n), np.array([0.2, 0.05]), rng.standard_normal(n)
    u_bar, coef_bar = np.zeros(n), np.zeros(2)
    adj = grad_kernel(heat_step, wrt=("u", "coef"))
    for _ in range(5):
        u_bar[:], coef_bar[:] = 0.0, 0.0
        adj[(n + 255) // 256, 256](u, coef, np.zeros(n), w, u_bar, coef_bar)
        a = w * coef[0]
        expected = w * (1.0 - 2.0 * coef[0] - 3.0 * coef[1] * u * u) + np.roll(a, 1) \
            + np.roll(a, -1)
        np.testing.assert_allclose(u_bar, expected, rtol=1e-10, atol=1e-12)
