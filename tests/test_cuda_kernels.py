"""The CUDA target: adjoint kernels and tangent kernels against the CPU.

* `grad_kernel`: the adjoint kernel, launched with random output cotangents w, against the
  CPU gradient of the equivalent scalar function sum_i w[i] * out[i] (written as a plain
  loop over i) and against central differences of that sum computed by launching the
  primal kernel: a per-sample loss with shared parameters (atomics), an elementwise kernel
  (exclusive writes: no atomics for x_bar[i]), a 2-D grid kernel, a periodic stencil (x[i-1],
  x[i], x[i+1]), a kernel calling a device function with branches inside a loop, a gather
  through an index array with repeated indices, a kernel with two outputs, a kernel calling
  a plain Python helper (the kernels are in cuda_fixtures.py), per-thread loops with constant
  or run-time trip counts and block sums in shared memory (cuda_loop_fixtures.py); on a real
  GPU, a stencil adjoint on many threads.
* `tangent_kernel` against `jvp` of the CPU function returning the output array, and the
  dot-product identity <tangent(v), w> == <v, adjoint(w)> between the two kernels.

Everything runs on Numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1
before numba is imported), or on a real GPU when the environment sets NUMBA_ENABLE_CUDASIM=0
(benchmarks/cuda_bench.py does). The simulator runs every thread in Python (~150 us each),
so the launches are small: a few blocks of 4 threads, some threads past the end of the data
so that the bounds checks matter.
"""

import math

import numpy as np
import pytest
from cuda_fixtures import (
    ATOL,
    CPU_TOL,
    FD_TOL,
    KERNELS,
    RTOL,
    SIMULATOR,
    SYNCED,
    KernelProblem,
    _rng,
    calls_plain_helper,
    calls_plain_helper_cpu,
    calls_plain_helper_out,
    config1,
    gather,
    gather_cpu,
    heat_step,
    scaled,
)
from numba import cuda

from autodiff_compiler import grad, jvp, numerical_grad
from autodiff_compiler.gradcheck import relative_error
from autodiff_compiler.kernels import grad_kernel, tangent_kernel

# ============================================================================================
# Adjoint kernels
# ============================================================================================


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
    if name in SYNCED:
        value = problem.cpu(*problem.inputs(), *problem.cots)
        assert problem.weighted(*problem.inputs()) == pytest.approx(value, rel=RTOL)
        numeric = numerical_grad(problem.cpu, *problem.inputs(), *problem.cots,
                                 argnums=problem.cpu_argnums)
    else:
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


def test_tangent_kernel_wrt_a_scalar_argument():
    x = np.linspace(-1, 1, 5)
    out, out_dot = np.zeros(5), np.zeros(5)
    tangent_kernel(scaled, wrt=("a",))[config1(5)](x, 1.5, out, 1.0, out_dot)
    np.testing.assert_allclose(out, 1.5 * x * x, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out_dot, x * x, rtol=RTOL, atol=ATOL)


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


@pytest.mark.parametrize("threads", [1, 3, 4, 7, 16])
def test_block_sums_add_each_blocks_total_once(threads):
    """gpu.block_add: every thread's value, summed over its block, added once per block
    (blocks of any size, the last one partly past the data)."""
    from autodiff_compiler.cuda_runtime import MAX_THREADS, block_add
    from autodiff_compiler.primitives.gpu import BLOCK_THREADS

    assert BLOCK_THREADS == MAX_THREADS

    def sums(x, out):
        i = cuda.grid(1)
        v = x[i] if i < x.shape[0] else 0.0
        shared = cuda.shared.array(MAX_THREADS, np.float64)
        block_add(shared, v, out, 0)
        block_add(shared, 2.0 * v * v, out, 1)

    x = np.arange(1.0, 12.0)
    out = np.zeros(2)
    cuda.jit(sums)[(x.size + threads - 1) // threads, threads](x, out)
    np.testing.assert_allclose(out, [np.sum(x), 2.0 * np.sum(x * x)], rtol=1e-14)


@pytest.mark.parametrize("name", ["per_sample_loss", "grid_2d_params", "horner"])
def test_atomic_and_block_summed_parameter_adjoints_agree(name):
    """The adjoint with one atomic add per thread (block_sums=False) and with block sums
    give the same gradient (up to the order of the additions)."""
    problem = KernelProblem(name)
    _, summed = problem.adjoint()
    _, atomic = problem.adjoint(grad_kernel(problem.kernel, wrt=problem.wrt, block_sums=False))
    for a, b in zip(atomic, summed):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    source = grad_kernel(problem.kernel, wrt=problem.wrt, block_sums=False).source(*problem.args)
    assert "gpu.block_add" not in source and "cuda.atomic.add" in source
