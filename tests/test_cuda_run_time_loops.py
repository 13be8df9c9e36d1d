"""CUDA adjoint kernels with loops whose trip count is known at run time only: a `while`
(Newton's iteration to a tolerance), a `for` with a tolerance `break`, `range(steps[i])` (a
Monte-Carlo path of its own length), a while around a constant loop on a 2-D grid. Their
tapes are the thread's `cuda.local.array` of `grad_kernel(..., max_trip=N)` iterations.

The gradients themselves are checked against the CPU gradient of the same per-thread code
(a loop running the threads in turn) and central differences with the other kernels of
cuda_fixtures.KERNELS (test_cuda_kernels.py); here: the bound's run-time check (a thread
that runs longer raises TapeOverflowError naming the loop, and writes nothing past its
tape: the simulator would raise IndexError), the refusal without a bound, the option's
validation, the tape sizes in the generated source, atomic against block-summed parameter
adjoints.

Everything runs on Numba's CUDA simulator (tests/conftest.py), small launches.
"""

import numpy as np
import pytest
from cuda_fixtures import CPU_TOL, KernelProblem
from cuda_loop_fixtures import mc_steps, mc_steps_cpu, newton_break, newton_while, relax_2d
from numba import cuda

from autodiff_compiler import GradientInputError, UnsupportedOperationError, grad
from autodiff_compiler.errors import TapeOverflowError
from autodiff_compiler.gradcheck import relative_error
from autodiff_compiler.kernels import grad_kernel


def _line_of(fn, text: str) -> int:
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def _mc_launch(adjoint, steps, seed=0):
    rng = np.random.default_rng(seed)
    z, p, w = rng.standard_normal((7, 8)), np.array([0.02, 0.2]), rng.standard_normal(7)
    z_bar, p_bar = np.zeros_like(z), np.zeros(2)
    adjoint[3, 3](z, steps, p, np.zeros(7), w, z_bar, p_bar)
    return (z, steps, p, w), (z_bar, p_bar)


def test_a_thread_past_max_trip_raises_after_the_launch_naming_the_loop():
    adjoint = grad_kernel(mc_steps, wrt=("z", "p"), max_trip=4)
    with pytest.raises(TapeOverflowError, match="max_trip=4") as info:
        _mc_launch(adjoint, np.array([0, 3, 8, 5, 1, 4, 2]))
    head = str(info.value).splitlines()[0]
    assert f":{_line_of(mc_steps, 'for k in range(steps[i])')}:" in head, info.value
    assert "for k in range(steps[i]):" in str(info.value)
    # the flag is cleared: the next launch within the bound runs and is right (4 == max_trip)
    args, bars = _mc_launch(adjoint, np.array([0, 3, 4, 4, 1, 4, 2]))
    expected = grad(mc_steps_cpu, argnums=(0, 2), jit=False)(*args)
    assert relative_error(bars, expected) < CPU_TOL


def test_newton_past_max_trip_raises():
    adjoint = grad_kernel(newton_while, wrt=("a", "p"), max_trip=2)
    a = np.linspace(0.5, 3.0, 5)
    with pytest.raises(TapeOverflowError, match="pass a larger max_trip"):
        adjoint[2, 3](a, np.array([1.5, 0.7]), np.zeros(5), np.ones(5), np.zeros(5),
                      np.zeros(2))


@pytest.mark.parametrize("kernel, text", [(newton_while, "while abs(r) > 1e-12:"),
                                          (mc_steps, "for k in range(steps[i]):")])
def test_without_max_trip_the_loop_is_refused_at_its_line(kernel, text):
    problem = KernelProblem(kernel.__name__)
    with pytest.raises(UnsupportedOperationError, match=r"max_trip=N") as info:
        grad_kernel(kernel, wrt=problem.wrt).source(*problem.args)
    assert f":{_line_of(kernel, text)}:" in str(info.value).splitlines()[0]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_max_trip_must_be_a_positive_int(bad):
    with pytest.raises(GradientInputError, match="positive int"):
        grad_kernel(mc_steps, wrt=("z",), max_trip=bad)


def test_tape_sizes_bounds_and_checks_in_the_source():
    problem = KernelProblem("relax_2d")
    source = grad_kernel(relax_2d, wrt=problem.wrt, max_trip=5).source(*problem.args)
    # the constant inner loop's body runs at most 2 * max_trip times per thread
    assert "tape_v = cuda.local.array(10, np.float64)" in source, source
    assert "tape_v[min(k_while, 9)] = v" in source and "tape_v[min(k_while, 9)]\n" in source
    assert "if k_while > 10:" in source and "tape_overflow[0] = " in source
    assert source.count("def relax_2d_adjoint(a, p, m, out, out_bar, a_bar, p_bar, "
                        "tape_overflow):") == 1
    # constant bounds: exact sizes, no clamps, no flag (max_trip is not needed, nor used)
    horner = KernelProblem("horner")
    source = grad_kernel(horner.kernel, wrt=horner.wrt, max_trip=5).source(*horner.args)
    assert "cuda.local.array(4, np.float64)" in source
    assert "min(" not in source and "tape_overflow" not in source


@pytest.mark.parametrize("name", ["newton_while", "relax_2d"])
def test_atomic_and_block_summed_adjoints_agree_with_run_time_loops(name):
    problem = KernelProblem(name)
    _, summed = problem.adjoint()
    atomic_adjoint = grad_kernel(problem.kernel, wrt=problem.wrt, block_sums=False,
                                 max_trip=problem.max_trip)
    _, atomic = problem.adjoint(atomic_adjoint)
    for a, b in zip(atomic, summed):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def counted_while(x, out):
    """A hand-written while with a counter below a constant, and a tolerance."""
    i = cuda.grid(1)
    if i < x.shape[0]:
        s = x[i]
        k = 1
        while k < 12 and abs(s) > 1e-3:
            s = 0.5 * s * (1.0 + x[i] * s)
            k += 2
        out[i] = s


def counted_while_cpu(x, out_bar):
    total = 0.0
    for i in range(x.shape[0]):
        s = x[i]
        k = 1
        while k < 12 and abs(s) > 1e-3:
            s = 0.5 * s * (1.0 + x[i] * s)
            k += 2
        total += out_bar[i] * s
    return total


def test_loops_left_by_break_or_with_a_constant_counter_bound_need_no_max_trip():
    """range(40) left by `break` runs at most 40 times; `while k < 12 and ...` with k from 1
    by 2 at most 6: exact tapes, no clamps, no flag."""
    problem = KernelProblem("newton_break")
    source = grad_kernel(newton_break, wrt=problem.wrt).source(*problem.args)
    assert "tape_x = cuda.local.array(40, np.float64)" in source, source
    assert "min(" not in source and "tape_overflow" not in source
    x, w = np.linspace(-0.9, 0.95, 7), np.linspace(0.5, 1.5, 7)
    adjoint = grad_kernel(counted_while, wrt=("x",))
    source = adjoint.source(x, np.zeros(7))
    assert "cuda.local.array(6, np.float64)" in source and "tape_overflow" not in source
    x_bar = np.zeros(7)
    adjoint[3, 3](x, np.zeros(7), w, x_bar)
    expected = grad(counted_while_cpu, argnums=0, jit=False)(x, w)
    assert relative_error((x_bar,), (expected,)) < CPU_TOL
