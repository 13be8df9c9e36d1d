"""g.njit: the gradient as a Numba dispatcher with g's signature and results, callable from
the user's own @njit code (tapes handled inside); g itself calls it when nothing is left
for the Python side to do."""

import math

import numba
import numpy as np
import pytest

from autodiff_compiler import UnsupportedOperationError, grad, value_and_grad

pytestmark = pytest.mark.numba


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def recurrence(x, a, n):  # a tape: the reverse sweep reads every step's value
    for _ in range(n):
        x = math.sin(a * x) + 0.5 * x
    return x


def test_dispatcher_gives_g_results():
    x = np.array([-1.2, 1.0, 0.5, 2.0])
    g = value_and_grad(rosenbrock)
    value, dx = g.njit(x)
    v2, d2 = g(x)
    assert value == v2
    np.testing.assert_array_equal(dx, d2)
    r = grad(recurrence, argnums=(0, 1))
    np.testing.assert_array_equal(r.njit(0.3, 1.7, 50), r(0.3, 1.7, 50))
    assert r.njit(0.3, 1.7, 50)[0] != 0.0


def test_gradient_descent_written_in_njit():
    g = grad(rosenbrock).njit

    @numba.njit
    def descend(x, steps, lr):
        for _ in range(steps):
            x = x - lr * g(x)
        return x

    start = np.array([-1.2, 1.0])
    end = descend(start, 20000, 1e-3)
    x = start.copy()
    for _ in range(200):
        x = x - 1e-3 * grad(rosenbrock)(x)
    np.testing.assert_allclose(descend(start, 200, 1e-3), x, rtol=1e-12)
    np.testing.assert_allclose(end, [1.0, 1.0], atol=0.05)


def test_tapes_are_grown_inside_from_njit_code():
    r = grad(recurrence).njit

    @numba.njit
    def total(n):
        s = 0.0
        for k in range(1, n):
            s += r(0.3, 1.7, k * 10)
        return s

    expected = sum(grad(recurrence)(0.3, 1.7, k * 10) for k in range(1, 6))
    assert total(6) == pytest.approx(expected, rel=1e-14)


def test_g_calls_the_dispatcher_after_its_first_call():
    g = grad(rosenbrock)
    x = np.array([0.5, 0.25, 1.0])
    first = g(x)
    assert g._direct is not None
    np.testing.assert_array_equal(g(x), first)
    with pytest.raises(UnsupportedOperationError, match="pass np.array"):
        g(list(x))  # a list is a structure of values (as JAX's pytrees), on the checked path


def test_small_tapes_are_made_by_each_call_large_ones_reused():
    small = grad(recurrence, argnums=(0, 1))
    first = small(0.3, 1.7, 20)  # 160 bytes of tape: the dispatcher makes its own
    assert small._direct
    assert small(0.3, 1.7, 20) == first == small.njit(0.3, 1.7, 20)
    assert small(0.3, 1.7, 2000) == small.njit(0.3, 1.7, 2000) != first
    large = grad(recurrence, argnums=(0, 1))
    first = large(0.3, 1.7, 200_000)  # 1.6 MB: a Plan hands it to the next call
    assert not large._direct and large._plans
    assert large(0.3, 1.7, 200_000) == first == large.njit(0.3, 1.7, 200_000)
    assert large(0.3, 1.7, 20) == small(0.3, 1.7, 20)


def test_unsupported_argument_types_are_refused_when_typed():
    g = grad(rosenbrock)
    with pytest.raises(numba.core.errors.TypingError, match="float32"):
        g.njit(np.ones(3, dtype=np.float32))
    assert g(np.ones(3, dtype=np.float32)).dtype == np.float32  # g converts
    with pytest.raises(numba.core.errors.TypingError, match="differentiate"):
        grad(recurrence, argnums=2).njit(0.3, 1.7, 5)


def test_the_dispatcher_reuses_the_adjoint_compiled_for_calls_from_python():
    # the jitted call passes the tape budget as an int64, as calls from Python do: a literal
    # would make Numba compile the whole adjoint a second time (a second call as slow as
    # the first)
    g = grad(recurrence, argnums=(0, 1))
    g(0.3, 1.1, 20)
    adjoint = g.specializations.last.compiled.dispatcher()
    assert g.njit(0.3, 1.1, 20) == g(0.3, 1.1, 20)
    assert len(adjoint.signatures) == 1
