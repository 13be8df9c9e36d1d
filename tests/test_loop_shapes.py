"""Loop shapes that change the generated code: descending loops (emitted as a loop counting
up that derives its index), tapes of nested loops (allocated once at their full size when
every trip count is known before the outer loop, grown on demand otherwise) and reverse
loops whose iterations are independent (run first to last, ad.order), reading the tape of
their own body in push order."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from autodiff_compiler import check_grad, grad, jvp, value_and_grad
from autodiff_compiler.codegen import emit
from autodiff_compiler.ir.core import Const, walk_ops

TOL = 1e-7
X = np.linspace(-0.9, 1.1, 9)


def descending(x, n):
    s = 0.0
    for i in range(n - 1, -1, -1):
        s = s * 0.5 + math.sin(x[i]) * x[i]
    return s


def descending_stride(x, n):
    s = 0.0
    for i in range(n - 1, 0, -3):
        s = s * 0.7 + x[i] * x[i - 1]
    return s


def descending_to_var(x, lo, hi):
    s = 1.0
    for i in range(hi, lo, -2):
        s = s * math.cos(x[i]) + x[i]
    return s


def strided_ascending(x, n):
    s = 0.0
    for i in range(1, n, 3):  # its reverse steps by -3
        s = math.tanh(s + x[i] * x[i - 1])
    return s


def invariant_nest(x, n, m):
    s = 0.0
    for i in range(n):
        for j in range(1, m):
            s = math.sin(s) + x[i] * x[j]
    return s


def triangular_nest(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s = math.sin(s) + x[i] * x[j]
    return s


def bound_made_in_loop(x, n):
    s = 0.0
    for i in range(n):
        m = n - 2
        for j in range(m):
            s = math.sin(s) + x[i] * x[j]
    return s


def nest_with_branch(x, n):
    s = 0.0
    for i in range(n):
        for j in range(n):
            for k in range(2):
                if x[j] > 0.0:
                    s = math.sin(s) * x[k] + x[i]
    return s


def nest_under_while(x, n):
    s = 0.0
    i = 0
    while i < n:
        for j in range(n):
            s = math.sin(s) + x[i] * x[j]
        i += 1
    return s


def weighted_sums(x, a, n):
    s = 0.0
    for k in range(3):
        for i in range(n):
            s += a * math.sin(x[i]) * x[i]
        s = s * 0.5
    return s


def nested_sums(x, y, n):
    s = 0.0
    for i in range(n):
        for j in range(i, n):
            s += x[i] * y[j] * y[i]
    return s


def mirrored_reads(x, n):
    b = x * 2.0
    s = 0.0
    for i in range(n):
        s += b[i] * b[n - 1 - i] * x[i]
    return s


def last_write_wins(x, n):
    a = np.zeros(2)
    for i in range(n):
        a[0] = x[i] * (i + 1.0)
        a[1] += a[0] * x[i]
    return a[0] + a[1]


def chained(x, n):
    s = 0.5
    for i in range(n):
        s = s * math.cos(x[i]) + x[i]
    return s


def cyclic_rhs(y, c, dy):
    n = y.shape[0]
    for i in range(n):
        dy[i] = (y[(i + 1) % n] - y[i - 2]) * y[i - 1] - y[i] + c


def midpoint_steps(y0, c, dt, nsteps):  # a stencil's reverse reads its tape, k_bar[i] private
    n = y0.shape[0]
    y = y0.copy()
    k = np.empty(n)
    mid = np.empty(n)
    for step in range(nsteps):
        cyclic_rhs(y, c, k)
        for i in range(n):
            mid[i] = y[i] + 0.5 * dt * k[i]
        cyclic_rhs(mid, c, k)
        for i in range(n):
            y[i] += dt * k[i]
    s = 0.0
    for i in range(n):
        s += y[i] * y[i]
    return s


def running_product(x, n):  # a_bar[i] is read and a_bar[i - 1] added into: in order
    a = np.ones(n)
    for i in range(1, n):
        a[i] = a[i - 1] * math.sin(x[i]) + x[i]
    s = 0.0
    for i in range(n):
        s += a[i] * a[i]
    return s


def branchy_steps(y0, nsteps):  # the branches record tapes of their own: in order
    n = y0.shape[0]
    y = y0.copy()
    k = np.empty(n)
    for step in range(nsteps):
        for i in range(n):
            if y[i] > 0.0:
                k[i] = math.sin(y[i - 1]) * y[i]
            else:
                k[i] = y[(i + 1) % n] * y[i]
        for i in range(n):
            y[i] += 0.1 * k[i]
    s = 0.0
    for i in range(n):
        s += y[i] * y[i]
    return s


def row_steps(Y0, nsteps):  # the inner loops run forwards (rows of K_bar private to i)
    Y = Y0.copy()
    m, n = Y.shape
    K = np.empty((m, n))
    for step in range(nsteps):
        for i in range(m):
            for j in range(n):
                K[i, j] = Y[i, j - 1] * Y[i, (j + 1) % n]
        for i in range(m):
            for j in range(n):
                Y[i, j] += 0.1 * K[i, j]
    s = 0.0
    for i in range(m):
        for j in range(n):
            s += Y[i, j] * Y[i, j]
    return s


ORDER_CASES = [(weighted_sums, (X, 0.7, 9), (0, 1), True), (nested_sums, (X, X[::-1], 9), (0, 1), True),
               (mirrored_reads, (X, 9), 0, True), (last_write_wins, (X, 9), 0, False),
               (chained, (X, 9), 0, False), (midpoint_steps, (X, 0.3, 0.1, 4), (0, 1), True),
               (running_product, (X, 9), 0, False), (branchy_steps, (X, 3), 0, False)]
TAPE_ORDER_CASES = [(midpoint_steps, (X, 0.3, 0.1, 4), (0, 1), 2),
                    (row_steps, (X[:8].reshape(2, 4), 3), 0, 1)]


@pytest.mark.parametrize("fn, args, argnums, forwards", ORDER_CASES,
                         ids=[c[0].__name__ for c in ORDER_CASES])
def test_reverse_loops_with_independent_iterations_run_forwards(fn, args, argnums, forwards):
    source = grad(fn, argnums=argnums, jit=False).lower(*args).source
    reverse = source[source.index("# reverse sweep"):]
    assert ("_back in range" not in reverse) == forwards, reverse
    value, _ = value_and_grad(fn, argnums=argnums, jit=False)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-14)
    assert check_grad(fn, *args, argnums=argnums) < TOL


@pytest.mark.parametrize("fn, args, argnums, loops", TAPE_ORDER_CASES,
                         ids=[c[0].__name__ for c in TAPE_ORDER_CASES])
def test_forward_reverse_loops_read_their_tape_in_push_order(fn, args, argnums, loops):
    """The counter steps back over the run before the loop and again after it, and each
    iteration reads at the counter and advances it; forward mode agrees (dot-product test)."""
    source = grad(fn, argnums=argnums, jit=False).lower(*args).source
    reverse = source[source.index("# reverse sweep"):]
    steps = re.findall(r"^( +)(k_\w+) -= (n_\w+)$", reverse, re.MULTILINE)
    assert len(steps) == 2 * loops and len(set(steps)) == loops, reverse
    for indent, counter, _ in set(steps):
        assert f"\n{indent}    {counter} += 1\n{indent}{counter} -= n_" in reverse, reverse
    assert check_grad(fn, *args, argnums=argnums) < TOL
    rng = np.random.default_rng(3)
    tangents = [rng.normal(size=np.shape(a)) if k in np.atleast_1d(argnums) else 0.0
                for k, a in enumerate(args)]
    gradient = grad(fn, argnums=argnums, jit=False)(*args)
    gradient = gradient if isinstance(argnums, tuple) else (gradient,)
    _, directional = jvp(fn, args, tangents, jit=False)
    dot = sum(float(np.sum(g * tangents[k])) for g, k in zip(gradient, np.atleast_1d(argnums)))
    assert abs(dot - directional) <= 1e-10 * max(1.0, abs(directional))


def test_shapes_of_arrays_written_later_are_read_again_not_taped():
    """`n = y.shape[0]` in the helper, `y` written later in the loop: writes never change a
    shape, so the reverse sweep reads it again instead of taping n (no int tape)."""
    source = grad(midpoint_steps, argnums=(0, 1), jit=False).lower(X, 0.3, 0.1, 4).source
    assert "y0_1.shape[0]" in source[source.index("# reverse sweep"):]
    assert "np.int64" not in source


CASES = [(descending, (X, 9)), (descending, (X, 0)), (descending_stride, (X, 9)),
         (descending_stride, (X, 2)), (descending_to_var, (X, 1, 8)),
         (descending_to_var, (X, 8, 1)), (strided_ascending, (X, 9)),
         (strided_ascending, (X, 8)), (invariant_nest, (X, 4, 5)), (invariant_nest, (X, 3, 0)),
         (triangular_nest, (X, 6)), (bound_made_in_loop, (X, 5)), (nest_with_branch, (X, 4)),
         (nest_under_while, (X, 4))]


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{c[0].__name__}-{c[1][1:]}" for c in CASES])
def test_values_and_gradients(fn, args):
    value, _ = value_and_grad(fn, jit=False)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-14)
    assert check_grad(fn, *args) < TOL


def test_descending_loops_count_up():
    source = grad(descending, jit=False).lower(X, 9).source
    code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    assert not any(", -1)" in line for line in code)
    assert "    for i_back in range(sub + 1):" in code and "        i = sub - i_back" in code
    source = grad(descending_stride, jit=False).lower(X, 9).source
    assert "for i_back in range((sub + 2) // 3):" in source
    assert "i = sub - 3 * i_back" in source


def test_tapes_of_an_invariant_nest_are_allocated_once():
    source = grad(invariant_nest, jit=False).lower(X, 4, 5).source
    assert "rt.grow" not in source
    for fn, args in [(triangular_nest, (X, 6)), (bound_made_in_loop, (X, 5)),
                     (nest_under_while, (X, 4))]:
        assert "rt.grow" in grad(fn, jit=False).lower(*args).source, fn.__name__


def test_reused_tapes_follow_the_sizes_of_each_call():
    g = grad(invariant_nest, jit=False)
    for n, m in [(2, 3), (5, 6), (1, 2), (4, 5)]:
        expected = grad(invariant_nest, jit=False)(X, n, m)
        np.testing.assert_array_equal(g(X, n, m), expected)


def test_descending_start_read_once_where_the_body_assigns_its_variables(monkeypatch):
    monkeypatch.setattr(emit.Emitter, "_assigned_in", lambda self, body, value: True)
    for fn, args in CASES[:8]:
        source = grad(fn, jit=False).lower(*args).source
        assert check_grad(fn, *args) < TOL, source


def test_a_start_variable_assigned_in_the_body_is_detected():
    fn = grad(invariant_nest, jit=False).lower(X, 4, 5).adjoint
    emitter = emit.Emitter(fn)
    emitter.prepare()
    loop = next(op for op in walk_ops(fn.body) if op.prim.name == "for"
                and isinstance(op.operands[2], Const) and op.operands[2].value < 0
                and not isinstance(op.operands[0], Const))
    start, body = loop.operands[0], loop.regions[0]
    assert not emitter._assigned_in(body, start)
    name = next(emitter.namer.names[r] for r in emitter._reads([start])
                if r in emitter.namer.names)
    emitter.namer.alias(body.ops[0].results[0], name)
    assert emitter._assigned_in(body, start)


@pytest.mark.numba
@pytest.mark.parametrize("fn, args", CASES[:9], ids=[c[0].__name__ for c in CASES[:9]])
def test_compiled_matches_interpreted(fn, args):
    compiled = grad(fn, jit=True)(*args)
    np.testing.assert_allclose(compiled, grad(fn, jit=False)(*args), rtol=1e-13, atol=1e-15)


@pytest.mark.numba
def test_compiled_tape_in_push_order_matches_interpreted():
    for fn, args, argnums, _ in TAPE_ORDER_CASES[:1]:
        g = grad(fn, argnums=argnums, jit=True)
        for call_args in [args, (X[::-1] * 0.5,) + args[1:3] + (7,), args]:  # tapes reused
            compiled = g(*call_args)
            interpreted = grad(fn, argnums=argnums, jit=False)(*call_args)
            for a, b in zip(compiled, interpreted):
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
