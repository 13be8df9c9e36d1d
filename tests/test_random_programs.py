"""Differential testing with randomly generated programs (tests/program_generator.py).

Each generated program f(a, b, x, n) is written to a file and imported (the compiler reads
source with inspect.getsource), then:
- its gradient w.r.t. a, b and x must match a fourth-order central difference;
- value_and_grad's value must be f's value, and x must not be mutated;
- forward mode and explicit checkpointing must give the reverse-mode gradient;
- the primal SSA, emitted back to Python (emit(lower(f))), must compute f.
A failure prints the program, its arguments and the generated code, so it can be replayed.
The explicit regression tests at the end are minimized programs that the fuzzer found.
"""

from __future__ import annotations

import math
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from program_generator import Program, load, programs

from autodiff_compiler import check_grad, grad, numerical_grad, value_and_grad
from autodiff_compiler.arguments import type_of
from autodiff_compiler.codegen.emit import emit_module
from autodiff_compiler.frontend.lower import lower_function
from autodiff_compiler.gradcheck import relative_error
from autodiff_compiler.ir.verifier import verify
from autodiff_compiler.pipeline import parse
from autodiff_compiler.transforms.cse import cse

ARGNUMS = (0, 1, 2)
GRAD_TOL = 1e-6        # a little looser than check_grad's 1e-7, to absorb conditioning
VALUE_REL = 1e-12
HUGE = 1e6            # programs whose gradient is larger than this are skipped
OTHER_STEP = 3e-4     # a second central difference, to skip ill-conditioned programs
NOISE = 1e-8          # absolute differences below this are rounding noise (zero gradients)
# other ways to compute the same gradient, compared with reverse mode without checkpoints
MODES = ({"mode": "forward"}, {"checkpoint": 2})

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

_DIR = tempfile.TemporaryDirectory(prefix="adc_random_programs_")


def _adjoint_source(f, args) -> str:
    try:
        return grad(f, argnums=ARGNUMS, jit=False).lower(*args).source
    except Exception as exc:  # noqa: BLE001  (the report must still show the program)
        return f"<could not generate the adjoint: {type(exc).__name__}: {exc}>"


def _report(program: Program, f, problem: str) -> str:
    return (f"{problem}\n\n--- program ---\n{program}\n\n--- generated adjoint ---\n"
            f"{_adjoint_source(f, program.args())}")


def _primal_value(f, args) -> float:
    """f's value, or None (the program is skipped) when it raises or is not finite."""
    try:
        value = float(f(*args))
    except (ArithmeticError, ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def _distance(u, v) -> float:
    """Largest absolute difference between two gradients (tuples of floats and arrays)."""
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q)))) for p, q in zip(u, v))


def _close(actual: float, expected: float, rel: float) -> bool:
    return abs(actual - expected) <= rel * max(abs(expected), 1e-300)


def check_program(program: Program, directory=None) -> None:
    """Gradient, value and argument safety of one program; AssertionError with a report."""
    f = load(program.source, directory or _DIR.name)
    expected = _primal_value(f, program.args())
    assume(expected is not None)
    numeric = numerical_grad(f, *program.args(), argnums=ARGNUMS)
    flat = np.concatenate([np.ravel(g) for g in numeric])
    assume(np.all(np.isfinite(flat)) and np.max(np.abs(flat)) < HUGE)
    # Well conditioned: a central difference with another step agrees (rounding in programs
    # that cancel large intermediates, or a kink crossed by the stencil, would show here).
    other = numerical_grad(f, *program.args(), argnums=ARGNUMS, step=OTHER_STEP)
    assume(_distance(numeric, other) < NOISE or relative_error(numeric, other) < GRAD_TOL / 10)

    error = check_grad(f, *program.args(), argnums=ARGNUMS, jit=False)
    if not error < GRAD_TOL:
        analytic = grad(f, argnums=ARGNUMS, jit=False)(*program.args())
        if not _distance(analytic, numeric) < NOISE:
            raise AssertionError(_report(
                program, f, f"gradient differs from central differences: relative error "
                            f"{error:.3g}\n analytic: {analytic}\n numeric:  {numeric}"))

    args = program.args()
    value, _ = value_and_grad(f, argnums=ARGNUMS, jit=False)(*args)
    if not _close(value, expected, VALUE_REL):
        raise AssertionError(_report(program, f, f"value_and_grad value {value!r} != "
                                                 f"f(...) = {expected!r}"))
    if not np.array_equal(args[2], program.x):
        raise AssertionError(_report(program, f, f"x was mutated: {args[2]} != {program.x}"))


def emitted_primal(f, args, optimize: bool):
    """Lower f to SSA for the types of args, emit it back to Python, import it."""
    parsed = parse(f)
    types = [type_of(v, name, False)[1] for v, name in zip(args, "abxn")]
    primal = lower_function(parsed, types)
    if optimize:
        primal = cse(primal)
    verify(primal)
    source = emit_module([primal], "test_random_programs", "0")
    g = load(source, _DIR.name, primal.name)
    for name, array in getattr(primal, "constants", {}).items():
        g.__globals__[name] = array
    return g, source


def check_emitted_primal(program: Program) -> None:
    f = load(program.source, _DIR.name)
    expected = _primal_value(f, program.args())
    assume(expected is not None)
    for optimize in (False, True):
        g, source = emitted_primal(f, program.args(), optimize)
        args = program.args()
        value = float(g(*args))
        if not _close(value, expected, VALUE_REL) or not np.array_equal(args[2], program.x):
            raise AssertionError(
                f"emit(lower(f)) {'with CSE ' if optimize else ''}computes {value!r}, "
                f"f computes {expected!r} (x after: {args[2]})\n\n--- program ---\n{program}"
                f"\n\n--- emitted primal ---\n{source}")


def check_gradient_modes(program: Program) -> None:
    """Forward mode and checkpointed reverse mode give the plain (checkpoint=None) reverse-mode
    gradient. (The default, checkpoint='auto', is checked against central differences.)"""
    f = load(program.source, _DIR.name)
    assume(_primal_value(f, program.args()) is not None)
    reverse = grad(f, argnums=ARGNUMS, jit=False, checkpoint=None)(*program.args())
    flat = np.concatenate([np.ravel(g) for g in reverse])
    assume(np.all(np.isfinite(flat)) and np.max(np.abs(flat)) < HUGE)
    for options in MODES:
        other = grad(f, argnums=ARGNUMS, jit=False, **options)(*program.args())
        if not (relative_error(other, reverse) < 1e-9 or _distance(other, reverse) < NOISE):
            source = grad(f, argnums=ARGNUMS, jit=False, **options).lower(*program.args()).source
            raise AssertionError(
                f"grad(..., {options}) differs from reverse mode: relative error "
                f"{relative_error(other, reverse):.3g}\n {options}: {other}\n reverse: {reverse}"
                f"\n\n--- program ---\n{program}\n\n--- generated code ---\n{source}")


@SETTINGS
@given(programs())
def test_gradient_of_random_program(program):
    check_program(program)


@settings(SETTINGS, max_examples=100)
@given(programs())
def test_gradient_modes_agree_on_random_program(program):
    check_gradient_modes(program)


@SETTINGS
@given(programs())
def test_emitted_primal_computes_f(program):
    check_emitted_primal(program)


def test_generator_is_diverse():
    """The generator reaches every construct it is meant to exercise."""
    import random

    from program_generator import generate

    text = "\n".join(generate(random.Random(seed)).source for seed in range(300))
    for construct in ("while ", "break", "continue", "return", "for ", "range(n - 1, -1, -1)",
                      "range(1, n)", "else:", "+=", "-=", "*=", "x.copy()", "np.zeros(n)",
                      "math.exp(", "math.log(", "math.sqrt(", "min(", "max(", "abs(",
                      " / (", ", ", " if ", "elif ", ") ** ", "np.tanh(", "float(",
                      " and math.tanh(", "range(len(x))", "0 < ", "], y"):
        assert construct in text, construct


# --------------------------------------------------------------------------------------------
# Minimized programs the fuzzer found (regressions). Each states the expected gradient, worked
# out by hand, and is also checked against central differences.
# --------------------------------------------------------------------------------------------


def _copy_args(args):
    return tuple(np.array(v, dtype=np.float64) if isinstance(v, list) else v for v in args)


def _check_regression(fn, args, argnums, expected_value, expected_grad):
    value, gradient = value_and_grad(fn, argnums=argnums, jit=False)(*_copy_args(args))
    source = grad(fn, argnums=argnums, jit=False).lower(*_copy_args(args)).source
    report = f"\n--- generated adjoint ---\n{source}"
    assert value == pytest.approx(expected_value, rel=1e-12), f"value {value!r}{report}"
    assert float(fn(*_copy_args(args))) == pytest.approx(expected_value, rel=1e-12)
    for got, want in zip(gradient, expected_grad):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=report)
    assert check_grad(fn, *_copy_args(args), argnums=argnums, jit=False) < 1e-7, report


# Bug 1 (codegen/emit.py, Emitter._coalesce_yield for `if`): a branch's result is written
# straight into the loop-carried variable (`s_bar = s_bar * x[0]`) before a later statement of
# the same branch reads its old value (`x_bar[0] += s_bar * s_1`). d/dx0 = s, not s * x0.
def fuzz_if_branch_product(s, x, n):
    for i in range(n):
        if i == 0:
            s *= x[0]
    return s


def test_regression_if_branch_product_in_loop():
    _check_regression(fuzz_if_branch_product, (-0.587, [-0.5], 1), (0, 1),
                      -0.587 * -0.5, (-0.5, [-0.587]))


# Bug 1, loop form: the carried adjoint of b is overwritten (`b_bar = b_bar * x_i`) while
# `x_bar[0] += b_bar * b_2` still needs the value the inner loop produced. d/dx0 = b.
def fuzz_product_before_inner_loop(a, b, x, n):
    for i in range(n):
        b *= x[0]
        for j in range(n):
            a += b
    return a


def test_regression_product_before_inner_loop():
    a, b, x0 = -1.287, -1.187, -0.887
    _check_regression(fuzz_product_before_inner_loop, (a, b, [x0], 1), (0, 1, 2),
                      a + b * x0, (1.0, x0, [b]))


# Bug 1, swap form: f = a (two swaps cancel), so d/dx0 = 0, but the adjoint of t (written into
# the carried variable) is also used as the adjoint of `t + x[0]`.
def fuzz_swap_loop_in_loop(a, b, x):
    s = b
    t = a
    for i in range(1):
        s, t = t, t + x[0]
        for j in range(2):
            s, t = t, s
    return s


def test_regression_swap_loop_in_loop():
    _check_regression(fuzz_swap_loop_in_loop, (0.413, -1.187, [-0.487]), (0, 1, 2),
                      0.413, (1.0, 0.0, [0.0]))


# Bug 1, scalar-only form (a dead `t = tanh(b)` in the inner loop changes the coalescing):
# f = a - b/2 for n = 1; the adjoint of a is overwritten by 0.5 * (adjoint of the new a).
def fuzz_rotation_with_dead_temporary(a, b, n):
    s = 0.0
    for i in range(n):
        for k in range(n):
            s += a
        b, a = a, b * 0.5
        for j in range(1):
            t = math.tanh(b)  # noqa: F841  (dead, but it is what triggers the bug)
            s -= a
    return s


def test_regression_rotation_with_dead_temporary():
    a, b = 0.513, -0.187
    _check_regression(fuzz_rotation_with_dead_temporary, (a, b, 1), (0, 1),
                      a - 0.5 * b, (1.0, -0.5))


# Bug 2 (transforms/cse.py): the read y[0] inside the loop is merged with the read before the
# loop, although the loop writes y[0]: the primal (and value_and_grad's value) compute
# 2 * x0 instead of 4 * x0 for n = 2, and the gradient is 2 instead of 4.
def fuzz_read_before_loop_that_writes(x, n):
    y = x.copy()
    s = y[0]  # noqa: F841  (dead, but it is what CSE merges the loop's read with)
    for i in range(n):
        y[0] = 2.0 * y[0]
    return y[0]


def test_regression_read_before_loop_that_writes():
    _check_regression(fuzz_read_before_loop_that_writes, ([0.413], 2), (0,),
                      4 * 0.413, ([4.0],))


def test_regression_read_before_loop_that_writes_emitted_primal():
    args = (np.array([0.413]), 2)
    g, source = emitted_primal(fuzz_read_before_loop_that_writes, args, optimize=True)
    assert g(np.array([0.413]), 2) == pytest.approx(4 * 0.413), source


# Bug 3 (checkpointing, ad/reverse.py): a checkpointed loop's segments are recomputed in the
# reverse sweep, but an array element the loop reads was overwritten after the loop
# (`y[0] = 2.0`); the recomputation reads 2.0 instead of x0. Expected 1 - tanh(x0)^2.
# With checkpoint='auto' (the default) a loop with an inner loop is checkpointed, so the
# default grad is wrong too (second function).
def fuzz_checkpoint_array_written_after_loop(x, n):
    y = x.copy()
    s = 0.0
    for i in range(n):
        s = math.tanh(y[0])
    y[0] = 2.0
    return s


def fuzz_auto_checkpoint_array_written_after_loop(x, n):
    y = x.copy()
    s = 0.0
    for i in range(n):
        for j in range(n):
            s = s * 0.5 + math.tanh(y[j])
    y[0] = 2.0
    return s


def test_regression_checkpoint_array_written_after_loop():
    x0 = -1.087
    for checkpoint in (1, "sqrt"):
        g = grad(fuzz_checkpoint_array_written_after_loop, jit=False, checkpoint=checkpoint)
        got = g(np.array([x0]), 1)
        np.testing.assert_allclose(got, [1.0 - math.tanh(x0) ** 2], rtol=1e-12,
                                   err_msg=f"checkpoint={checkpoint}\n{g.source}")


def test_regression_auto_checkpoint_array_written_after_loop():
    x = np.array([-1.087, 0.5, 0.3])
    fn = fuzz_auto_checkpoint_array_written_after_loop
    plain = grad(fn, jit=False, checkpoint=None)(x.copy(), 3)
    g = grad(fn, jit=False)
    np.testing.assert_allclose(g(x.copy(), 3), plain, rtol=1e-12, err_msg=g.source)
    assert check_grad(fn, x.copy(), 3, jit=False) < 1e-7


# Bug 4 (checkpointing): a loop nested in an `if` at the top level makes the compiler fail
# its own IR verifier ("sub: operand %n_steps:i64 used before definition"), with an explicit
# checkpoint and, when the loop has an inner loop, with the default checkpoint='auto'.
def fuzz_checkpoint_loop_in_branch(a, n):
    if n > 0:
        for i in range(n):
            a *= a
    return a


def fuzz_auto_checkpoint_loop_in_branch(a, n):
    if n > 0:
        for i in range(n):
            for j in range(n):
                a = math.sin(a)
    return a


def test_regression_checkpoint_loop_in_branch():
    g = grad(fuzz_checkpoint_loop_in_branch, jit=False, checkpoint=1)
    assert g(0.9, 3) == pytest.approx(8 * 0.9 ** 7, rel=1e-12)


def test_regression_auto_checkpoint_loop_in_branch():
    assert check_grad(fuzz_auto_checkpoint_loop_in_branch, 0.9, 2, jit=False) < 1e-7
