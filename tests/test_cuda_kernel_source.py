"""The CUDA target: the source of generated kernels, and the kernels it refuses.

* Which updates of the adjoint arrays are atomic: exclusive elements plain `+=`, shared
  parameters, neighbour reads and gathers cuda.atomic.add.
* The generated kernels call nothing from numba.cuda but cuda.grid and cuda.atomic.add, and
  nothing else but math functions and the generated device code itself.
* Every refusal (shared memory, syncthreads, the user's own atomics, cuda.threadIdx, arrays
  both read and written, outputs written twice, loops that need a tape, scalar wrt, writes
  into local arrays, returning a value, unknown wrt names, int argnums): its exception type,
  and that it points at the offending line (marked `# E:<name>` below).

Everything runs on Numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1
before numba is imported), or on a real GPU when the environment sets NUMBA_ENABLE_CUDASIM=0
(benchmarks/cuda_bench.py does). The simulator runs every thread in Python (~150 us each),
so the launches are small: a few blocks of 4 threads, some threads past the end of the data
so that the bounds checks matter.
"""

# ruff: noqa: F841

import math
import re
from pathlib import Path

import numpy as np
import pytest
from cuda_fixtures import KERNELS, KernelProblem, _check_calls, config1, scaled
from numba import cuda

from autodiff_compiler import (
    AutodiffSyntaxError,
    GradientInputError,
    UnsupportedOperationError,
)
from autodiff_compiler.kernels import grad_kernel, tangent_kernel

THIS_FILE = Path(__file__).resolve()
_LINES = THIS_FILE.read_text().splitlines()


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
def test_exclusive_elements_are_plain_adds_shared_parameters_summed_per_block(name):
    """x_bar[i] is the thread's own: a plain add. Parameters every thread reads, at fixed
    positions, are summed in the thread, then over the block (gpu.block_add: one atomic per
    block and entry), after the bounds check so that every thread of the block takes part."""
    source = _adjoint_source(name)
    atomic_x, plain_x = _updates(source, "x_bar")
    assert atomic_x == [] and plain_x == ["i"], source
    assert _updates(source, "params_bar") == ([], []), source
    summed = re.findall(r"^    gpu\.block_add\(block_scratch, block_sums\[\d+\], params_bar, (\d+)\)$",
                        source,
                        flags=re.MULTILINE)
    assert sorted(summed) == [str(k) for k in range(len(summed))] and len(summed) >= 2, source
    assert source.count("gpu.block_add") == len(summed)  # all at the kernel's top level


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

@pytest.mark.parametrize("name", list(KERNELS))
def test_generated_kernels_use_only_grid_atomics_and_math(name):
    problem = KernelProblem(name)
    adjoint = grad_kernel(problem.kernel, wrt=problem.wrt, max_trip=problem.max_trip)
    for derivative in (adjoint, tangent_kernel(problem.kernel, wrt=problem.wrt)):
        _check_calls(derivative.source(*problem.args))


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
        # a tape of no constant size: a thread's cuda.local.array cannot hold it
        for k in range(x.shape[0]):  # E:needs_tape
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
    (uses_shared_keyword, "shared_keyword", UnsupportedOperationError, "shared memory"),
    (uses_syncthreads, "syncthreads", UnsupportedOperationError, "syncthreads"),
    (uses_atomics, "atomics", UnsupportedOperationError, "atomics"),
    (uses_thread_idx, "thread_idx", UnsupportedOperationError, "cuda.grid"),
    (grid_3d, "grid_3d", AutodiffSyntaxError, "cuda.grid takes the constant 1 or 2"),
    (read_and_written, "read_and_written", UnsupportedOperationError, "both read and written"),
    (written_twice, "written_twice", UnsupportedOperationError, "more than once"),
    (written_in_loop, "written_in_loop", UnsupportedOperationError, "more than once"),
    (needs_tape, "needs_tape", UnsupportedOperationError, "max_trip=N"),
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
