"""What loop adjoints record: a reverse loop run inside its own forward loop (fused, its
carried adjoints constant) reads the values of the same iteration instead of a tape, and a
cheap value whose recomputation would load two taped inputs is taped itself (one tape)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autodiff_compiler import check_grad, grad

TOL = 1e-7
X = np.linspace(-0.9, 1.1, 9)


def expensive_terms(x, y, n):
    total = 0.0
    for i in range(n):
        r = math.sqrt(x[i] * x[i] + y[i] * y[i] + 1.0)
        if r > 1.2:
            c = math.cos(r) / r
        else:
            c = math.sin(r) * x[i]
        total += c * y[i] + x[i] * r
    return total


def inactive_carry(x, n):
    total = 0.0
    phase = 0.25
    for i in range(n):
        total += x[i] * math.sin(phase) + math.exp(x[i]) * math.cos(phase)
        phase = phase * 1.5 + 0.1
    return total


def stencil_steps(x, nsteps):
    n = x.shape[0]
    y = x.copy()
    d = np.empty(n)
    for step in range(nsteps):
        for i in range(n):
            d[i] = (y[(i + 1) % n] - y[i - 2]) * y[i - 1] - y[i]
        for i in range(n):
            y[i] += 0.01 * d[i]
    s = 0.0
    for i in range(n):
        s += y[i] * y[i]
    return s


CASES = [(expensive_terms, (X, X[::-1].copy(), 9), (0, 1)), (inactive_carry, (X, 9), 0),
         (stencil_steps, (X, 4), 0)]


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradients_match_central_differences(fn, args, argnums):
    assert check_grad(fn, *args, argnums=argnums) < TOL


@pytest.mark.parametrize("fn, args", [(expensive_terms, (X, X, 9)), (inactive_carry, (X, 9))])
def test_a_fused_reverse_reads_its_iteration_not_a_tape(fn, args):
    source = grad(fn, jit=False).lower(*args).source
    assert "tape_" not in source, source
    assert "# reverse sweep" not in source    # one loop: forward and reverse together


def loop_code(source: str) -> str:
    return "\n".join(line for line in source.split("\n    for i in range(")[1].splitlines()
                     if not line.lstrip().startswith("#"))


def test_a_fused_reverse_shares_the_forward_calls():
    source = grad(inactive_carry, jit=False).lower(X, 9).source
    # the reverse reads sin(phase), cos(phase), exp(x[i]) of its iteration (CSE): no new calls
    for call in ("math.sin", "math.cos", "math.exp"):
        assert loop_code(source).count(call) == 1, source


def test_a_fused_reverse_branch_reuses_the_forward_branch():
    source = grad(expensive_terms, argnums=(0, 1), jit=False).lower(X, X, 9).source
    # cos(r) / r of the forward `if r > 1.2` is yielded to the reverse `if` on that condition
    assert loop_code(source).count("math.cos(r) / r") == 1, source
    assert loop_code(source).count("if gt:") == 2, source


def test_a_difference_of_two_overwritten_reads_is_taped_once():
    source = grad(stencil_steps, jit=False).lower(X, 4).source
    pushes = [line.strip() for line in source.splitlines() if "tape_" in line
              and "] = " in line and "np.empty" not in line]
    # the reverse of (a - b) * c reads a - b and c: two doubles per element, not a, b and c
    assert len(pushes) == 2, pushes
    assert any("= sub" in line for line in pushes), pushes


@pytest.mark.numba
@pytest.mark.parametrize("fn, args, argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_compiled_matches_interpreted(fn, args, argnums):
    compiled = grad(fn, argnums=argnums, jit=True)(*args)
    interpreted = grad(fn, argnums=argnums, jit=False)(*args)
    for ours, ref in zip(np.atleast_1d(compiled) if argnums == 0 else compiled,
                         np.atleast_1d(interpreted) if argnums == 0 else interpreted):
        np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-15)
