"""Tape memory: the bytes of the reverse sweep's tapes are known (or bounded) before they are
allocated, `g.tape_bytes(*args)` reports them without running the loops, and a call whose
tapes would pass the budget (`max_tape_bytes=`) raises TapeMemoryError at the loop's line
before allocating, or with checkpoint="auto" checkpoints its loop instead."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from test_checkpoint import rk4_energy

from autodiff_compiler import (
    GradientInputError,
    TapeMemoryError,
    grad,
    hessian,
    jacrev,
    value_and_grad,
    vjp,
)
from autodiff_compiler.budget import available_memory, default_budget

JIT = [False, pytest.param(True, marks=pytest.mark.numba)]


def long_recurrence(x, n):
    s = 0.0
    for i in range(n):
        s = s * x + 1.0
    return s


def array_recurrence(x, n):
    y = np.zeros(3)
    for i in range(n):
        y = y * x + 1.0
    return np.sum(y)


def nested(x, n, m):
    s = 0.0
    v = np.ones(4)
    for i in range(n):
        for j in range(m):
            s = s * x + 1.0
            v = v * s
    return s + np.sum(v)


def two_loops(x, n):
    s = 0.0
    for i in range(n):
        s = s * x + 1.0
    t = s
    for i in range(n):
        t = t * x + s
    return t


def halving(x, tol):
    s = 1.0
    while s > tol:
        s = s * x
    return s


def bound_from_a_loop(x, n):
    m = 0
    for i in range(n):
        m = m + 2
    s = 0.0
    for j in range(m):
        s = s * x + 1.0
    return s


def _line(fn, text: str) -> int:
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


# --- refusal before allocating -------------------------------------------------------------

@pytest.mark.parametrize("fn, jit", [
    (long_recurrence, False), (array_recurrence, False),
    pytest.param(long_recurrence, True, marks=pytest.mark.numba),
])
def test_a_billion_step_tape_is_refused_before_allocating(fn, jit):
    g = grad(fn, jit=jit, max_tape_bytes=10 ** 6)
    g(0.5, 10)  # compiled, within the budget
    g(0.5, 10)  # and the dispatcher later calls go to (calls.py), compiled
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(TapeMemoryError) as caught:
        g(0.5, 10 ** 9)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10 ** 6  # NumPy's allocations are traced: no tape was made
    error = caught.value
    row = 8 if fn is long_recurrence else 24
    assert error.needed == 10 ** 9 * row and error.budget == 10 ** 6
    assert error.kind == "counted" and error.loc.line == _line(fn, "for i in range(n)")
    text = str(error)
    assert f"{10 ** 9 * row:,} bytes" in text and "1,000,000 bytes" in text
    assert 'checkpoint="auto"' in text and "max_tape_bytes=" in text


def test_the_error_points_at_the_loop_with_a_caret():
    g = grad(long_recurrence, jit=False, max_tape_bytes=100)
    with pytest.raises(MemoryError) as caught:
        g(0.5, 1000)
    first, source, caret = str(caught.value).splitlines()
    line = _line(long_recurrence, "for i in range(n)")
    assert first.startswith(f"{__file__}:{line}:5: the tapes of this loop would take 8,000 "
                            "bytes, more than the tape budget of 100 bytes")
    assert source.strip() == "for i in range(n):"
    assert caret.index("^") == source.index("for")
    assert str(caught.traceback[-1].path) == __file__  # no frame of ours, nor generated


@pytest.mark.numba
def test_the_error_is_the_same_with_numba():
    def error(jit):
        with pytest.raises(TapeMemoryError) as caught:
            grad(array_recurrence, jit=jit, max_tape_bytes=1000)(0.5, 100)  # at the first push
        return caught

    plain, compiled = error(False), error(True)
    assert str(plain.value) == str(compiled.value)
    assert str(compiled.traceback[-1].path) == __file__


def test_the_budget_counts_every_tape_of_the_call():
    g = grad(two_loops, jit=False, max_tape_bytes=1000)
    assert g(0.5, 60) == pytest.approx(grad(two_loops, jit=False)(0.5, 60))  # 960 bytes
    with pytest.raises(TapeMemoryError) as caught:
        g(0.5, 100)  # 800 bytes, then 800 more for the second loop
    assert caught.value.needed == 1600
    assert caught.value.loc.line == _line(two_loops, "t = s") + 1


@pytest.mark.parametrize("jit", JIT)
def test_a_while_loop_tape_is_refused_when_it_grows_past_the_budget(jit):
    g = grad(halving, jit=jit, max_tape_bytes=4000)
    expected = grad(halving, jit=False)(0.5, 1e-30)
    assert g(0.5, 1e-30) == pytest.approx(expected)  # 100 steps: 1,024 bytes
    with pytest.raises(TapeMemoryError) as caught:
        g(0.9, 1e-300)  # about 6,500 steps: the tape grows past 4,000 bytes
    error = caught.value
    assert error.kind == "grows" and error.loc.line == _line(halving, "while s > tol")
    assert error.needed > 4000 and "not to `while` loops" in str(error)
    with pytest.raises(TapeMemoryError):  # checkpointing does not apply to while loops
        grad(halving, jit=jit, max_tape_bytes=4000, checkpoint="auto")(0.9, 1e-300)


@pytest.mark.parametrize("make", [
    lambda f, budget: (lambda x, n: vjp(f, x, n, jit=False, max_tape_bytes=budget)[1](1.0)),
    lambda f, budget: (lambda x, n: jacrev(f, jit=False, max_tape_bytes=budget)(x, n)),
    lambda f, budget: value_and_grad(f, jit=False, max_tape_bytes=budget),
], ids=["vjp", "jacrev", "value_and_grad"])
def test_every_reverse_transform_takes_the_budget(make):
    assert make(long_recurrence, 10 ** 4)(0.5, 100) is not None
    with pytest.raises(TapeMemoryError):
        make(long_recurrence, 10 ** 4)(0.5, 10 ** 6)


@pytest.mark.parametrize("bad", [-1, 1.5e9, True, "1GB"])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(GradientInputError, match="max_tape_bytes"):
        grad(long_recurrence, max_tape_bytes=bad)


def test_the_default_budget_is_half_of_the_available_memory():
    available = available_memory()
    assert available is not None and available > 0
    assert 0 < default_budget() < available  # read once, when first asked
    g = grad(long_recurrence, jit=False)
    assert g(0.5, 1000) == pytest.approx(grad(long_recurrence, jit=False)(0.5, 1000))
    with pytest.raises(TapeMemoryError) as caught:
        g(0.5, 10 ** 13)  # 80 TB
    assert caught.value.budget == default_budget()


# --- checkpoint="auto" ----------------------------------------------------------------------

def test_auto_checkpoints_when_the_full_tape_does_not_fit(jit=False):
    y0 = np.array([0.3, -0.2, 0.5, 0.1, 0.7])
    args = (y0, 8.0, 0.01, 400)
    full = grad(rk4_energy, jit=jit).tape_bytes(*args)
    assert full > 20000
    g = grad(rk4_energy, jit=jit, checkpoint="auto", max_tape_bytes=full // 2)
    expected = grad(rk4_energy, jit=jit)(*args)
    np.testing.assert_allclose(g(*args), expected, rtol=1e-12, atol=1e-14)
    assert g(*args) is not None
    policies = {key[-1] for key in g.specializations.artifacts}
    assert policies == {None, "sqrt"}  # the full-tape code refused, the checkpointed one ran
    with pytest.raises(TapeMemoryError) as caught:
        grad(rk4_energy, jit=jit, max_tape_bytes=full // 2)(*args)
    assert caught.value.kind == "counted"


def test_auto_keeps_the_full_tape_when_it_fits():
    g = grad(long_recurrence, jit=False, checkpoint="auto", max_tape_bytes=10 ** 4)
    assert g(0.5, 100) == pytest.approx(grad(long_recurrence, jit=False)(0.5, 100))
    assert {key[-1] for key in g.specializations.artifacts} == {None}


def test_auto_refuses_when_even_checkpointing_does_not_fit():
    g = grad(long_recurrence, jit=False, checkpoint="auto", max_tape_bytes=10 ** 4)
    start = time.perf_counter()
    with pytest.raises(TapeMemoryError) as caught:
        g(0.5, 10 ** 9)  # sqrt(10^9) steps of tape and as many checkpoints: 505 KB
    assert time.perf_counter() - start < 1.0
    assert caught.value.kind == "checkpointed" and caught.value.needed > 10 ** 4
    assert "already checkpointed" in str(caught.value)


def test_a_billion_steps_are_sized_and_refused_at_once():
    g = grad(long_recurrence, jit=False, checkpoint="auto", max_tape_bytes=10 ** 6)
    assert g.tape_bytes(0.5, 10 ** 9) == 8 * 10 ** 9  # the full tape: over the budget
    start = time.perf_counter()
    with pytest.raises(TapeMemoryError):
        grad(long_recurrence, jit=False, max_tape_bytes=10 ** 6)(0.5, 10 ** 9)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("jit", JIT)
def test_auto_checkpoints_within_a_small_budget(jit):
    # 10^5 steps: a full tape of 800,000 bytes; checkpointed, two arrays of about sqrt(n)
    small = grad(long_recurrence, jit=jit, checkpoint="auto", max_tape_bytes=6000)
    assert small(0.999, 10 ** 5) == pytest.approx(
        grad(long_recurrence, jit=jit)(0.999, 10 ** 5), rel=1e-12)
    assert {key[-1] for key in small.specializations.artifacts} == {None, "sqrt"}


# --- tape_bytes -----------------------------------------------------------------------------

def _returned_tape_bytes(g, *args) -> int:
    g(*args)
    (artifact,) = g.specializations.artifacts.values()
    return sum(t.nbytes for t in artifact.tapes)


@pytest.mark.parametrize("fn, args, jit", [
    (long_recurrence, (0.5, 1000), False),
    (array_recurrence, (0.5, 77), False),
    (nested, (0.5, 7, 5), False),
    (two_loops, (0.5, 33), False),
    pytest.param(nested, (0.5, 7, 5), True, marks=pytest.mark.numba),
], ids=["scalar", "array", "nested", "two_loops", "nested-numba"])
def test_tape_bytes_equals_the_tapes_the_call_allocates(fn, args, jit):
    predicted = grad(fn, jit=jit).tape_bytes(*args)
    assert predicted.bounded
    assert predicted == _returned_tape_bytes(grad(fn, jit=jit), *args) > 0


@pytest.mark.parametrize("checkpoint", ["sqrt", 7])
@pytest.mark.parametrize("fn", [long_recurrence, two_loops, array_recurrence])
def test_tape_bytes_of_checkpointed_code_counts_tapes_and_checkpoints(fn, checkpoint):
    g = grad(fn, jit=False, checkpoint=checkpoint)
    report = g.lower(0.5, 100).tape()
    assert {r.kept for r in report.rows} == {"per iteration", "per segment"}
    size = g.tape_bytes(0.5, 100)
    assert size.bounded and size == report.nbytes


def test_growing_tapes_of_a_nest_count_their_first_capacity():
    args = (np.array([0.3, -0.2, 0.5, 0.1]), 8.0, 0.01, 25)  # inner bounds made in the loop
    size = grad(rk4_energy, jit=False).tape_bytes(*args)
    assert size.growing == (_line(rk4_energy, "for _ in range(steps)"),)
    assert 0 < size <= _returned_tape_bytes(grad(rk4_energy, jit=False), *args)


def test_tape_bytes_does_not_run_the_loops():
    g = grad(nested, jit=False)
    g.lower(0.5, 2, 2)
    start = time.perf_counter()
    size = g.tape_bytes(0.5, 10 ** 5, 10 ** 5)
    assert time.perf_counter() - start < 0.5
    assert size == 10 ** 10 * (8 + 32)


def test_tape_bytes_lists_growing_and_unknown_tapes():
    grows = grad(halving, jit=False).tape_bytes(0.5, 1e-30)
    assert grows.growing == (_line(halving, "while s > tol"),) and not grows.bounded
    assert grows == 64 * 8  # the first capacity
    unknown = grad(bound_from_a_loop, jit=False).tape_bytes(0.5, 10)
    assert unknown.unknown == (_line(bound_from_a_loop, "for j in range(m)"),)
    assert "sized at run time" in repr(unknown)
    assert grad(long_recurrence, mode="forward").tape_bytes(0.5, 10) == 0


def test_show_states_the_total_and_the_budget(tmp_path, capsys):
    from autodiff_compiler.cli import main

    path = tmp_path / "loop.py"
    path.write_text("def f(x: float, n: int = 10):\n    s = 0.0\n    for i in range(n):\n"
                    "        s = s * x + 1.0\n    return s\n")
    assert main(["show", f"{path}:f", "--args", "(0.5, 10**12)"]) == 0
    out = capsys.readouterr().out
    assert "#   total 8,000,000,000,000 bytes taped per call, computed before running" in out
    assert f"#   tape budget {default_budget():,} bytes" in out
    assert "#   over the budget: the call raises TapeMemoryError before allocating" in out
    assert all(line.startswith("#") for line in out[out.index("# tape:"):].splitlines())


def test_a_gradient_making_tapes_in_a_branch_is_differentiated_again():
    # its budget checks stay in its own code, which the outer derivative calls (nested.py)
    def inner(x, flag):
        s = 1.0
        if flag > 0:
            while s > 1e-3:
                s = s * x
        return s

    inner_grad = grad(inner, jit=False)

    def outer(x, flag):
        return inner_grad(x, flag) * x

    h = 1e-5
    expected = (outer(0.5 + h, 1) - outer(0.5 - h, 1)) / (2 * h)
    assert grad(outer, jit=False)(0.5, 1) == pytest.approx(expected, rel=1e-7)


def test_the_budget_travels_with_pickles():
    import pickle

    g = pickle.loads(pickle.dumps(grad(long_recurrence, jit=False, max_tape_bytes=100)))
    with pytest.raises(TapeMemoryError):
        g(0.5, 100)
    assert pickle.loads(pickle.dumps(jacrev(long_recurrence, max_tape_bytes=7))).max_tape_bytes == 7
    size = pickle.loads(pickle.dumps(grad(halving, jit=False).tape_bytes(0.5, 1e-9)))
    assert size == 512 and size.growing == (_line(halving, "while s > tol"),)


def two_parameters(x, n):
    y = x * 1.0
    for i in range(n):
        y = np.sin(y) * 0.9 + x
    return np.sum(y * y)


def halving_pair(x, tol):
    s = 1.0
    k = 0.0
    while s > tol:
        s = s * x[0]
        k = k + s * x[1]
    return k


@pytest.mark.parametrize("fn", [two_parameters, halving_pair])
def test_hessian_takes_the_budget_with_its_tangent_tapes(fn, jit=False):
    x = np.array([0.5, 0.3])
    small, big = ((x, 20), (x, 10 ** 9)) if fn is two_parameters else (
        (x, 1e-6), (np.array([0.99999, 0.3]), 1e-300))
    expected = hessian(fn, jit=jit)(*small)
    np.testing.assert_allclose(hessian(fn, jit=jit, max_tape_bytes=10 ** 5)(*small), expected,
                               rtol=1e-13)
    start = time.perf_counter()
    with pytest.raises(TapeMemoryError) as caught:
        hessian(fn, jit=jit, max_tape_bytes=10 ** 5)(*big)
    assert time.perf_counter() - start < 1.0 or fn is halving_pair  # that one runs to grow
    loop = "for i in range(n)" if fn is two_parameters else "while s > tol"
    assert caught.value.loc.line == _line(fn, loop)
    if fn is two_parameters:  # refused at the first row of y (2 entries), before its tangent's
        assert caught.value.needed == 10 ** 9 * 16
    else:  # the tapes of s and k and their tangents grow together, past 10^5 bytes
        assert caught.value.kind == "grows"