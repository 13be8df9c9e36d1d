"""Hessians (forward over reverse) of larger objectives, and grad(mode="forward") on them.

* hessian against the central-difference Jacobian of the reverse-mode gradient, and
  symmetric, on Rosenbrock (n = 100), a Gaussian-mixture log-sum-exp objective, an RK4
  integrator loss, products and whole-array operations; the exact Rosenbrock Hessian;
* hvp against central differences of the reverse gradient, and hvp == hessian @ v;
* grad(mode="forward") == grad() (reverse) on those objectives.

Everything runs the generated source in CPython (jit=False) except the tests marked numba,
which compile with Numba and compare with CPython.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from checks import copies
from forward_fixtures import (
    _assert_agree,
    _directional_fd,
    _fd_jacobian,
    _flat_gradient,
    _full_matrix,
    _is_float,
    _nums,
    _random_like,
    _rel_error,
    _rng,
    _x,
    energy,
)

from autodiff_compiler import grad, hessian, hvp

# --------------------------------------------------------------------------------------------
# 1. Hessians: forward over reverse
# --------------------------------------------------------------------------------------------


def rosenbrock(x):
    total = 0.0
    for i in range(len(x) - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        total += 100.0 * a * a + b * b
    return total


def gmm_nll(mu, log_w, data):
    # negative log-likelihood of a 1-D Gaussian mixture (unit variances), log-sum-exp in loops
    k_count = len(mu)
    m = log_w[0]
    for k in range(1, k_count):
        m = max(m, log_w[k])
    z = 0.0
    for k in range(k_count):
        z += math.exp(log_w[k] - m)
    log_z = m + math.log(z)
    total = 0.0
    for i in range(len(data)):
        best = -1e300
        for k in range(k_count):
            d = data[i] - mu[k]
            best = max(best, log_w[k] - 0.5 * d * d)
        s = 0.0
        for k in range(k_count):
            d = data[i] - mu[k]
            s += math.exp(log_w[k] - 0.5 * d * d - best)
        total += best + math.log(s) - log_z
    return -total


def oscillator_rhs(y, p, t, dy):
    # damped, driven oscillator x'' = -p0 x - p1 x' + p2 cos(t), written into dy
    dy[0] = y[1]
    dy[1] = -p[0] * y[0] - p[1] * y[1] + p[2] * math.cos(t)


def rk4_loss(p, y0, h, steps):
    # RK4 integration with every stage written into an array; loss against sin(t)
    y = y0.copy()
    k1 = np.zeros(2)
    k2 = np.zeros(2)
    k3 = np.zeros(2)
    k4 = np.zeros(2)
    tmp = np.zeros(2)
    loss = 0.0
    t = 0.0
    for s in range(steps):
        oscillator_rhs(y, p, t, k1)
        for i in range(2):
            tmp[i] = y[i] + 0.5 * h * k1[i]
        oscillator_rhs(tmp, p, t + 0.5 * h, k2)
        for i in range(2):
            tmp[i] = y[i] + 0.5 * h * k2[i]
        oscillator_rhs(tmp, p, t + 0.5 * h, k3)
        for i in range(2):
            tmp[i] = y[i] + h * k3[i]
        oscillator_rhs(tmp, p, t + h, k4)
        for i in range(2):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        t += h
        r = y[0] - math.sin(t)
        loss += h * r * r
    return loss


def whole_array_energy(x, a):
    y = np.tanh(a @ x)
    m = np.max(y)
    return np.log(np.sum(np.exp(y - m))) + m + 0.5 * np.linalg.norm(x) ** 2 \
        + np.prod(np.cos(x) + 2.0) + np.sum(np.linalg.solve(a @ a.T + 3.0 * np.eye(3), y) * y)


def products(x):
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 3), axis=1) ** 2)


GMM_MU = np.array([-1.0, 0.5, 2.0])
GMM_LOG_W = np.array([0.2, -0.3, 0.5])
GMM_DATA = np.linspace(-2.0, 3.0, 9) + 0.1 * np.cos(np.arange(9))
RK4_P = np.array([1.5, 0.3, 0.8])
RK4_Y0 = np.array([0.4, -0.2])

# (id, function, args, argnums for the Hessian)
HESSIAN_CASES = [
    ("rosenbrock_100", rosenbrock, (_x(100, -1.2, 1.3),), 0),
    ("gmm_mu", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA), 0),
    ("gmm_mu_log_w", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA), (0, 1)),
    ("rk4_p", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40), 0),
    ("rk4_p_y0_h", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40), (0, 1, 2)),
    ("products_with_a_zero", products, (np.array([0.5, 0.0, -1.2, 0.8, 1.5, -0.7]),), 0),
    ("products", products, (_x(6, 0.3, 1.4),), 0),
    ("whole_array_x", whole_array_energy, (_x(4), np.sin(np.arange(12.0)).reshape(3, 4)), 0),
    ("whole_array_x_a", whole_array_energy, (_x(4), np.sin(np.arange(12.0)).reshape(3, 4)),
     (0, 1)),
]
hessian_cases = pytest.mark.parametrize("name, fn, args, argnums", HESSIAN_CASES,
                                        ids=[c[0] for c in HESSIAN_CASES])


def _fd_hessian(fn, args, nums) -> np.ndarray:
    """Central-difference Jacobian of the reverse-mode gradient (one row per input entry)."""
    flat_grad = _flat_gradient(fn, nums)
    columns = [_fd_jacobian(flat_grad, args, k)[0] for k in nums]
    return np.concatenate([c.reshape(c.shape[0], -1) for c in columns], axis=1)


@hessian_cases
def test_hessian_matches_differences_of_the_gradient(name, fn, args, argnums):
    nums = _nums(argnums)
    single = isinstance(argnums, int)
    h = hessian(fn, argnums=argnums, jit=False)(*copies(args))
    if single:
        assert np.shape(h) == np.shape(args[nums[0]]) * 2
    else:
        assert isinstance(h, tuple) and len(h) == len(nums)
        for i, row in enumerate(h):
            assert isinstance(row, tuple) and len(row) == len(nums)
            for j, block in enumerate(row):
                assert np.shape(block) == np.shape(args[nums[i]]) + np.shape(args[nums[j]])
    full = _full_matrix(h, args, nums, single)
    numeric = _fd_hessian(fn, copies(args), nums)
    error = _rel_error(full, numeric)
    assert error < 1e-6, f"{name}: relative error {error:.3g}"
    asym = float(np.max(np.abs(full - full.T)))
    assert asym <= 1e-10 * float(np.max(np.abs(full))), f"{name}: asymmetry {asym:.3g}"


# (id, function, args): hvp w.r.t. every float argument
HVP_CASES = [
    ("rosenbrock_100", rosenbrock, (_x(100, -1.2, 1.3),)),
    ("gmm", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA)),
    ("rk4", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40)),
]
hvp_cases = pytest.mark.parametrize("name, fn, args", HVP_CASES, ids=[c[0] for c in HVP_CASES])


def _hvp_setup(name, args):
    rng = _rng(name + "/hvp")
    floats = [k for k, a in enumerate(args) if _is_float(a)]
    v = [_random_like(a, rng) if _is_float(a) else 0 for a in args]
    return floats, v


@hvp_cases
def test_hvp_matches_differences_of_the_gradient(name, fn, args):
    floats, v = _hvp_setup(name, args)
    products = hvp(fn, copies(args), v, jit=False)
    assert len(products) == len(args)
    numeric = _directional_fd(_flat_gradient(fn, floats), copies(args), v)[0]
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    for k, p in enumerate(products):
        assert (p is None) == (k not in floats)
        if k in floats:
            assert np.shape(p) == np.shape(args[k])
    error = _rel_error(ours, numeric)
    assert error < 1e-6, f"{name}: relative error {error:.3g}"


@hvp_cases
def test_hvp_equals_hessian_times_v(name, fn, args):
    floats, v = _hvp_setup(name, args)
    products = hvp(fn, copies(args), v, jit=False)
    single = len(floats) == 1
    h = hessian(fn, argnums=floats[0] if single else tuple(floats), jit=False)(*copies(args))
    full = _full_matrix(h, args, floats, single)
    vec = np.concatenate([np.ravel(v[k]) for k in floats])
    ours = np.concatenate([np.ravel(products[k]) for k in floats])
    _assert_agree(ours, full @ vec, rtol=1e-10, what=name)


def test_rosenbrock_hessian_is_tridiagonal_and_exact():
    # the analytic Hessian of the loop-written Rosenbrock function
    x = _x(100, -1.2, 1.3)
    h = hessian(rosenbrock, jit=False)(x)
    exact = np.zeros((100, 100))
    for i in range(99):
        exact[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        exact[i, i + 1] += -400.0 * x[i]
        exact[i + 1, i] += -400.0 * x[i]
        exact[i + 1, i + 1] += 200.0
    np.testing.assert_allclose(h, exact, rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------------------------
# 2. grad(mode="forward") on functions beyond the corpus
# --------------------------------------------------------------------------------------------

FORWARD_GRAD_CASES = [
    ("rosenbrock_100", rosenbrock, (_x(100, -1.2, 1.3),), 0),
    ("energy_50", energy, (_x(50, -2.0, 2.0),), 0),
    ("gmm", gmm_nll, (GMM_MU, GMM_LOG_W, GMM_DATA), (0, 1, 2)),
    ("rk4", rk4_loss, (RK4_P, RK4_Y0, 0.1, 40), (0, 1, 2)),
]


@pytest.mark.parametrize("name, fn, args, argnums", FORWARD_GRAD_CASES,
                         ids=[c[0] for c in FORWARD_GRAD_CASES])
def test_forward_grad_on_larger_functions(name, fn, args, argnums):
    forward = grad(fn, argnums=argnums, mode="forward", jit=False)(*copies(args))
    reverse = grad(fn, argnums=argnums, jit=False)(*copies(args))
    _assert_agree(forward, reverse, what=name)


# --------------------------------------------------------------------------------------------
# 3. Numba-compiled against CPython
# --------------------------------------------------------------------------------------------


@pytest.mark.numba
@pytest.mark.parametrize("name, fn, args, argnums", [HESSIAN_CASES[0], HESSIAN_CASES[3]],
                         ids=[HESSIAN_CASES[0][0], HESSIAN_CASES[3][0]])
def test_numba_hessian_and_hvp_match_python(name, fn, args, argnums):
    nb = hessian(fn, argnums=argnums, jit=True)(*copies(args))
    py = hessian(fn, argnums=argnums, jit=False)(*copies(args))
    _assert_agree(nb, py, rtol=1e-12, what=name)
    floats, v = _hvp_setup(name, args)
    hv_py = hvp(fn, copies(args), v, jit=False)
    hv_nb = hvp(fn, copies(args), v, jit=True)
    _assert_agree(tuple(hv_nb[k] for k in floats), tuple(hv_py[k] for k in floats),
                  rtol=1e-12, what=name)


def _trace_times_energy(a):
    return np.trace(a) * np.sum(a * a) + np.trace(a @ a)


def test_hessian_through_np_trace():
    """The adjoint of np.trace builds an identity of the operand's shape (a constant):
    forward over reverse gives it no tangent instead of refusing it."""
    a = np.random.default_rng(9).uniform(-1, 1, (3, 3))
    h = hessian(_trace_times_energy, jit=False)(a.copy()).reshape(9, 9)
    step, columns = 1e-5, []
    for k in range(9):
        e = np.zeros(9)
        e[k] = step
        up = grad(_trace_times_energy, jit=False)(a + e.reshape(3, 3))
        down = grad(_trace_times_energy, jit=False)(a - e.reshape(3, 3))
        columns.append(((up - down) / (2 * step)).ravel())
    np.testing.assert_allclose(h, np.array(columns).T, rtol=1e-7, atol=1e-8)
