"""Shared by the CUDA test modules (test_cuda_device_functions.py, test_cuda_kernels.py,
test_cuda_kernel_source.py): tolerances and launch configurations, the example kernels with
their CPU equivalents (KERNELS) and the harness that runs and checks them (KernelProblem), and
the check of what generated device code calls.

Everything runs on Numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1
before numba is imported), or on a real GPU when the environment sets NUMBA_ENABLE_CUDASIM=0
(benchmarks/cuda_bench.py does). The simulator runs every thread in Python (~150 us each),
so the launches are small: a few blocks of 4 threads, some threads past the end of the data
so that the bounds checks matter.
"""

import functools
import inspect
import math
import os
import re

import numpy as np
from cuda_loop_fixtures import (  # noqa: F401  (re-exported for the tests)
    MAX_TRIP,
    SYNCED,
    block_loss,
    block_loss_cpu,
    block_loss_out,
    block_rows,
    block_rows_cpu,
    mc_steps,
    mc_steps_cpu,
    mc_steps_out,
    newton_block_sum,
    newton_block_sum_cpu,
    newton_break,
    newton_break_cpu,
    newton_break_out,
    newton_while,
    newton_while_cpu,
    newton_while_out,
    relax_2d,
    relax_2d_cpu,
    relax_2d_out,
)
from numba import cuda

from autodiff_compiler.kernels import grad_kernel

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
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
# --- per-thread loops (their tapes are the thread's cuda.local.array) -------------------------
def horner(x, c, out):
    """A per-element polynomial of degree 4 by Horner's rule, coefficients shared."""
    i = cuda.grid(1)
    if i < x.shape[0]:
        s = c[0]
        for k in range(1, 5):
            s = s * x[i] + c[k]
        out[i] = s * s


def horner_cpu(x, c, out_bar):
    total = 0.0
    for i in range(x.shape[0]):
        s = c[0]
        for k in range(1, 5):
            s = s * x[i] + c[k]
        total += out_bar[i] * s * s
    return total


def horner_out(x, c):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        s = c[0]
        for k in range(1, 5):
            s = s * x[i] + c[k]
        out[i] = s * s
    return out


def ode_per_sample(y0, p, out):
    """Eight explicit midpoint steps of y' = -p0 y + p1 sin(y) per sample."""
    i = cuda.grid(1)
    if i < y0.shape[0]:
        y = y0[i]
        for step in range(8):
            half = y + 0.05 * (-p[0] * y + p[1] * math.sin(y))
            y = y + 0.1 * (-p[0] * half + p[1] * math.sin(half))
        out[i] = y


def ode_per_sample_cpu(y0, p, out_bar):
    total = 0.0
    for i in range(y0.shape[0]):
        y = y0[i]
        for step in range(8):
            half = y + 0.05 * (-p[0] * y + p[1] * math.sin(y))
            y = y + 0.1 * (-p[0] * half + p[1] * math.sin(half))
        total += out_bar[i] * y
    return total


def ode_per_sample_out(y0, p):
    out = np.zeros(y0.shape[0])
    for i in range(y0.shape[0]):
        y = y0[i]
        for step in range(8):
            half = y + 0.05 * (-p[0] * y + p[1] * math.sin(y))
            y = y + 0.1 * (-p[0] * half + p[1] * math.sin(half))
        out[i] = y
    return out


def mc_path(z, p, out):
    """A Monte-Carlo path per thread (geometric steps driven by the normals z[i, :]) and a
    smooth payoff."""
    i = cuda.grid(1)
    if i < z.shape[0]:
        s = 1.0
        for k in range(6):
            s = s * math.exp(p[0] + p[1] * z[i, k])
        out[i] = math.log(1.0 + math.exp(s - 1.0))


def mc_path_cpu(z, p, out_bar):
    total = 0.0
    for i in range(z.shape[0]):
        s = 1.0
        for k in range(6):
            s = s * math.exp(p[0] + p[1] * z[i, k])
        total += out_bar[i] * math.log(1.0 + math.exp(s - 1.0))
    return total


def mc_path_out(z, p):
    out = np.zeros(z.shape[0])
    for i in range(z.shape[0]):
        s = 1.0
        for k in range(6):
            s = s * math.exp(p[0] + p[1] * z[i, k])
        out[i] = math.log(1.0 + math.exp(s - 1.0))
    return out


def grid_2d_params(a, p, out):
    """A 2-D grid whose every thread reads the same two parameters."""
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = p[0] * a[i, j] * a[i, j] + math.sin(p[1] * a[i, j])


def grid_2d_params_cpu(a, p, out_bar):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += out_bar[i, j] * (p[0] * a[i, j] * a[i, j] + math.sin(p[1] * a[i, j]))
    return s


def grid_2d_params_out(a, p):
    out = np.zeros(a.shape)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = p[0] * a[i, j] * a[i, j] + math.sin(p[1] * a[i, j])
    return out


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
    "grid_2d_params": (  # blocks of 3 x 2 threads (not a power of two), a ragged edge
        grid_2d_params, grid_2d_params_cpu, grid_2d_params_out,
        lambda r: [r.uniform(-1, 1, (5, 3)), np.array([0.6, 1.3]), np.zeros((5, 3))],
        ("out",), ("a", "p"), ((2, 2), (3, 2))),
    "horner": (
        horner, horner_cpu, horner_out,
        lambda r: [r.uniform(-1, 1, 6), r.uniform(-1, 1, 5), np.zeros(6)],
        ("out",), ("x", "c"), config1(6)),
    "ode_per_sample": (
        ode_per_sample, ode_per_sample_cpu, ode_per_sample_out,
        lambda r: [r.uniform(-1, 1, 5), np.array([0.8, 0.5]), np.zeros(5)],
        ("out",), ("y0", "p"), config1(5)),
    "mc_path": (
        mc_path, mc_path_cpu, mc_path_out,
        lambda r: [r.standard_normal((5, 6)), np.array([0.02, 0.2]), np.zeros(5)],
        ("out",), ("z", "p"), config1(5)),
    "newton_while": (  # blocks of 3 threads: 7 elements leave a ragged last block
        newton_while, newton_while_cpu, newton_while_out,
        lambda r: [r.uniform(0.5, 3.0, 7), np.array([1.5, 0.7]), np.zeros(7)],
        ("out",), ("a", "p"), (3, 3)),
    "newton_break": (
        newton_break, newton_break_cpu, newton_break_out,
        lambda r: [r.uniform(-1.0, 1.0, 5), np.array([0.6, 0.0]), np.zeros(5)],
        ("out",), ("a", "p"), (2, 3)),
    "mc_steps": (
        mc_steps, mc_steps_cpu, mc_steps_out,
        lambda r: [r.standard_normal((7, 8)), np.array([0, 3, 8, 5, 1, 8, 2]),
                   np.array([0.02, 0.2]), np.zeros(7)],
        ("out",), ("z", "p"), (3, 3)),
    "relax_2d": (  # blocks of 3 x 2 threads over 4 x 3 elements
        relax_2d, relax_2d_cpu, relax_2d_out,
        lambda r: [r.uniform(-1, 1, (4, 3)), np.array([1.2, 0.3]), np.array([4]),
                   np.zeros((4, 3))],
        ("out",), ("a", "p"), ((2, 2), (3, 2))),
    "block_loss": (  # 6 elements, blocks of 4 (the last block partly past the data)
        block_loss, block_loss_cpu, block_loss_out,
        lambda r: [r.uniform(-1.5, 1.5, 6), np.array([1.3, 0.2]), np.zeros(1)],
        ("total",), ("x", "p"), (2, 4)),
    "block_rows": (
        block_rows, block_rows_cpu, None,
        lambda r: [r.uniform(-1, 1, (3, 2)), np.array([0.9, -0.3]), np.zeros(2),
                   np.zeros((3, 2))],
        ("sums", "out"), ("a", "p"), ((1, 2), (4, 1))),
    "newton_block_sum": (
        newton_block_sum, newton_block_sum_cpu, None,
        lambda r: [r.uniform(0.5, 3.0, 5), np.array([1.5, 0.7]), np.zeros(1)],
        ("total",), ("a", "p"), (2, 4)),
}


@functools.cache
def _primal(kernel):
    return cuda.jit(kernel)


class KernelProblem:
    """A kernel, arguments, random cotangents; the adjoint run and the references."""

    def __init__(self, name: str, seed: int = 0):
        (self.kernel, self.cpu, self.cpu_out, make, self.outputs, self.wrt,
         self.config) = KERNELS[name]
        self.max_trip = MAX_TRIP.get(name)
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
        adj = adj or grad_kernel(self.kernel, wrt=self.wrt, max_trip=self.max_trip)
        args = self.kernel_args(self.inputs())
        bars = [np.zeros_like(self.args[self.names.index(w)]) for w in self.wrt]
        for _ in range(repeat):
            adj[self.config](*args, *[c.copy() for c in self.cots], *bars)
        return args, bars


# a kernel with a scalar argument: a tangent w.r.t. it is fine, an adjoint refused
def scaled(x, a, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = a * x[i] * x[i]


# --- what generated code may call -----------------------------------------------------------

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
                name in ("cuda.grid", "cuda.atomic.add", "cuda.local.array", "gpu.block_add",
                         "cuda.shared.array"):
            continue
        if name in _NUMPY_SCALAR:
            continue
        assert name.startswith("math.") and name.count(".") == 1, (name, source)
    assert "rt." not in body, source  # no runtime helpers (array work) in device code
    # NumPy only for np.sign and the element types of thread-local tapes
    local_types = r"(float64|int64|bool_)\)$"
    assert not re.search(r"\bnp\.(?!sign\(|" + local_types + ")", body, re.MULTILINE), source
