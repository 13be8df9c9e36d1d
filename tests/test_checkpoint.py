"""Checkpointed loops give the same gradients as fully taped ones, with smaller tapes."""

import math

import numpy as np
import pytest

from autodiff_compiler import grad, value_and_grad


def lorenz96_rhs(y, forcing, dy):
    n = len(y)
    for i in range(n):
        dy[i] = (y[(i + 1) % n] - y[i - 2]) * y[i - 1] - y[i] + forcing


def rk4_energy(y0, forcing, dt, steps):
    n = len(y0)
    y = y0.copy()
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    tmp = np.zeros(n)
    for _ in range(steps):
        lorenz96_rhs(y, forcing, k1)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * dt * k1[i]
        lorenz96_rhs(tmp, forcing, k2)
        for i in range(n):
            y[i] = y[i] + dt * k2[i]
    e = 0.0
    for i in range(n):
        e += y[i] * y[i]
    return e


def scalar_recurrence(a, x0, n):
    x = x0
    for i in range(n):
        if i % 3 == 0:
            x = a * x + math.sin(x)
        else:
            x = x - 0.1 * math.tanh(a * x)
    return x


def while_inside(a, n):
    s = 0.0
    for i in range(n):
        t = a + 0.01 * i
        while t > 0.1:
            t = t * 0.5
        s += t * t
    return s


Y0 = np.linspace(-1.0, 1.0, 8) + 8.0
CASES = [
    (rk4_energy, (Y0, 8.0, 0.01, 25), (0, 1)),
    (scalar_recurrence, (0.7, 0.3, 40), (0, 1)),
    (while_inside, (0.9, 12), 0),
]


@pytest.mark.parametrize("every", [1, 2, 7, 100, "sqrt"])
@pytest.mark.parametrize("fn, args, argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_checkpointed_gradient_equals_taped(fn, args, argnums, every):
    taped = value_and_grad(fn, argnums=argnums, jit=False)(*args)
    checkpointed = value_and_grad(fn, argnums=argnums, jit=False, checkpoint=every)(*args)
    assert checkpointed[0] == taped[0]
    many = isinstance(argnums, tuple)
    for a, b in zip(checkpointed[1] if many else [checkpointed[1]],
                    taped[1] if many else [taped[1]]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_checkpointing_shrinks_the_tape():
    taped = grad(scalar_recurrence, argnums=(0, 1), jit=False).lower(0.7, 0.3, 10000).source
    checkpointed = grad(scalar_recurrence, argnums=(0, 1), jit=False,
                        checkpoint="sqrt").lower(0.7, 0.3, 10000).source
    assert "np.empty(n_i" in taped  # a tape the length of the loop
    assert "checkpoint_x" in checkpointed and "np.empty(every" in checkpointed




def test_bad_checkpoint_argument():
    from autodiff_compiler import GradientInputError

    with pytest.raises(GradientInputError):
        grad(scalar_recurrence, checkpoint=0)
    with pytest.raises(GradientInputError):
        grad(scalar_recurrence, checkpoint="often")


@pytest.mark.numba
def test_checkpointed_numba_matches_python():
    args = (Y0, 8.0, 0.01, 25)
    compiled = grad(rk4_energy, argnums=(0, 1), checkpoint="sqrt")(*args)
    python = grad(rk4_energy, argnums=(0, 1), jit=False)(*args)
    np.testing.assert_allclose(compiled[0], python[0], rtol=1e-12)
    assert compiled[1] == pytest.approx(python[1], rel=1e-12)
