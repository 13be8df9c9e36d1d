"""CUDA kernels that sum over the block in shared memory (cuda.shared.array, a halving tree
with cuda.syncthreads, one cuda.atomic.add per block): frontend.block_reductions makes the
tree one `block_sum`, whose adjoint broadcasts the output's cotangent to every thread.

The gradients of the kernels of cuda_fixtures.py (block_loss, block_rows: a 2-D grid with an
exact-size tree, newton_block_sum: a while loop before the tree) are checked against the CPU
and central differences with the other kernels (test_cuda_kernels.py). Here: the launch's
check of the block shape the tree needs, the variants that are not the pattern (still
refused at the shared array's line), the generated code, atomic against block-summed
parameter adjoints, and that the rewrite leaves the parsed function alone.

Everything runs on Numba's CUDA simulator (tests/conftest.py), small launches.
"""


import inspect
import math

import numpy as np
import pytest
from cuda_fixtures import KernelProblem
from cuda_loop_fixtures import block_loss, block_rows
from numba import cuda, float32, float64

from autodiff_compiler import GradientInputError, UnsupportedOperationError, pipeline
from autodiff_compiler.frontend.block_reductions import rewrite_block_reductions
from autodiff_compiler.kernels import grad_kernel, tangent_kernel


def _line_of(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


X6, P2 = np.linspace(-1.0, 1.0, 6), np.array([1.3, 0.2])


@pytest.mark.parametrize("threads", [3, 16, (4, 2), (2, 2, 1)])
@pytest.mark.parametrize("maker", [grad_kernel, tangent_kernel], ids=lambda m: m.__name__)
def test_a_block_the_tree_does_not_sum_is_refused_before_the_launch(maker, threads):
    derivative = maker(block_loss, wrt=("x",))
    total = np.zeros(1)
    with pytest.raises(GradientInputError, match="a power of two up to 8") as info:
        derivative[2, threads](X6, P2, total, np.ones(1), np.zeros(6))
    assert f":{_line_of(block_loss, 'buf[t] = v')}:" in str(info.value).splitlines()[0]
    assert total[0] == 0.0  # nothing ran


def test_a_tree_with_a_constant_stride_needs_blocks_of_its_size():
    problem = KernelProblem("block_rows")
    adjoint = grad_kernel(block_rows, wrt=problem.wrt)
    with pytest.raises(GradientInputError, match="exactly 4"):
        adjoint[(1, 4), (2, 1)](*problem.args, np.ones(2), np.ones((3, 2)),
                               np.zeros((3, 2)), np.zeros(2))


def test_the_adjoint_broadcasts_the_cotangent_and_sums_the_output_per_block():
    problem = KernelProblem("block_loss")
    source = grad_kernel(block_loss, wrt=problem.wrt).source(*problem.args)
    assert "v_bar = total_bar[0]" in source, source
    assert "gpu.block_add(sum_scratch, v, total, 0)" in source
    assert "total_bar[0] =" not in source and "cuda.atomic.add(total" not in source
    assert "syncthreads" not in source and "threadIdx" not in source


def test_atomic_and_block_summed_parameter_adjoints_agree_with_a_block_sum():
    problem = KernelProblem("block_loss")
    _, summed = problem.adjoint()
    _, atomic = problem.adjoint(grad_kernel(block_loss, wrt=problem.wrt, block_sums=False))
    for a, b in zip(atomic, summed):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_the_rewrite_does_not_change_the_parsed_function():
    parsed = pipeline.parse(block_loss)
    before = len(parsed.node.body)
    rewritten = rewrite_block_reductions(parsed)
    assert len(parsed.node.body) == before
    assert len(rewritten.node.body) == before - 6  # buf, t and the 5 statements -> 1


# --- not the pattern: refused at the shared array, as before -------------------------------

def no_barrier_in_the_tree(x, total):
    buf = cuda.shared.array(8, float64)  # E
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < x.shape[0]:
        v = x[i] * x[i]
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])


def buffer_read_elsewhere(x, total, out):
    buf = cuda.shared.array(8, float64)  # E
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < x.shape[0]:
        v = x[i] * x[i]
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])
    if i < x.shape[0]:
        out[i] = buf[0] * x[i]


def single_precision(x, total):
    buf = cuda.shared.array(8, float32)  # E
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < x.shape[0]:
        v = x[i] * x[i]
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])


def whole_block_stride(x, total):
    buf = cuda.shared.array(8, float64)  # E
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < x.shape[0]:
        v = math.exp(x[i])
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])


@pytest.mark.parametrize("kernel", [no_barrier_in_the_tree, buffer_read_elsewhere,
                                    single_precision, whole_block_stride],
                         ids=lambda k: k.__name__)
def test_other_uses_of_shared_memory_are_refused_at_their_line(kernel):
    args = [X6, np.zeros(1)] + ([np.zeros(6)] if kernel is buffer_read_elsewhere else [])
    with pytest.raises(UnsupportedOperationError, match="block sum of the form") as info:
        grad_kernel(kernel, wrt=("x",)).source(*args)
    head = str(info.value).splitlines()[0]
    assert f":{_line_of(kernel, '# E')}:" in head, info.value
