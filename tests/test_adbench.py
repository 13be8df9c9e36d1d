"""The ADBench objectives (examples/adbench): GMM, bundle adjustment and LSTM.

Values against independent vectorised NumPy implementations (relative 1e-12); derivatives
against central differences, per entry (relative 1e-6; entries below 1e-4 of the largest are
compared at that scale), in full on tiny synthetic cases and on random entries of the ADBench
inputs. The tests that need the ADBench data skip when ../shared/data/adbench (relative to the
repository root) is absent. The CPython runs (jit=False) are fast; one test per objective
compiles with Numba (marker `numba`).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:        # `examples` is a package at the repository root
    sys.path.insert(0, str(ROOT))

from autodiff_compiler import (
    check_grad,
    jacrev,
    numerical_grad,
    value_and_grad,
)
from examples.adbench import ba as ba_mod
from examples.adbench import (
    central_difference,
    data_dir,
    entry_errors,
    random_indices,
)
from examples.adbench import gmm as gmm_mod
from examples.adbench import lstm as lstm_mod
from examples.adbench.io import (
    BAInput,
    read_ba,
    read_gmm,
    read_lstm,
)

DATA = data_dir()
needs_data = pytest.mark.skipif(not DATA.is_dir(),
                                reason=f"ADBench data directory {DATA} not found")
VALUE_RTOL = 1e-12
ENTRY_RTOL = 1e-6
FLOOR = 1e-4


def assert_entries(ours, numeric, what: str, scale=None):
    """Per-entry relative error <= ENTRY_RTOL; entries below FLOOR * scale (default: the
    largest |numeric|) are compared at that scale."""
    ours, numeric = np.asarray(ours, dtype=float), np.asarray(numeric, dtype=float)
    scale = float(np.max(np.abs(numeric))) if scale is None else scale
    floor = FLOOR * max(scale, 1e-300)
    errors = entry_errors(ours, numeric, floor)
    worst = int(np.argmax(errors))
    assert errors.flat[worst] <= ENTRY_RTOL, (
        f"{what}: entry {np.unravel_index(worst, errors.shape)} ours {ours.flat[worst]!r} "
        f"central difference {numeric.flat[worst]!r} (relative error {errors.flat[worst]:.2e})")


def largest(arrays) -> float:
    return max(float(np.max(np.abs(a))) for a in arrays)


def check_random_entries(grads, f, args, argnums, count, seed, step=1e-4):
    rng = np.random.default_rng(seed)
    scale = largest(grads)
    for g, k in zip(grads, argnums):
        idx = random_indices(g.shape, count, rng)
        ours = np.array([g[i] for i in idx])
        numeric = np.array([central_difference(f, args, k, i, step) for i in idx])
        assert_entries(ours, numeric, f"argument {k}, entries {idx}", scale)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


# --- readers -----------------------------------------------------------------------------------

@needs_data
def test_readers_shapes():
    g = read_gmm(DATA / "gmm" / "1k" / "gmm_d10_K25.txt")
    assert g.shape == (10, 25, 1000) and g.icf.shape == (25, 55)
    assert (g.gamma, g.m) == (1.0, 0)
    b = read_ba(DATA / "ba" / "ba1_n49_m7776_p31843.txt")
    assert b.cams.shape == (49, 11) and b.points.shape == (7776, 3)
    assert b.features.shape == (31843, 2) and b.weights.shape == (31843,)
    assert b.obs[31842].tolist() == [31842 % 49, 31842 % 7776]
    lstm = read_lstm(DATA / "lstm" / "lstm_l2_c1024.txt")
    assert lstm.shape == (2, 1024, 14)
    assert lstm.main_params.shape == (4, 56) and lstm.state.shape == (4, 14)


# --- GMM ---------------------------------------------------------------------------------------

def synthetic_gmm(d=3, k=2, n=4, gamma=1.3, m=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=k), rng.normal(size=(k, d)),
            rng.normal(scale=0.5, size=(k, d * (d + 1) // 2)), rng.normal(size=(n, d)),
            gamma, m)


def test_gmm_lower_index_is_column_major():
    d = 4
    order = [(r, c) for c in range(d) for r in range(c + 1, d)]
    assert [gmm_mod.lower_index(r, c, d) for r, c in order] == list(range(len(order)))
    icf = np.arange(1.0, 2 * (d + d * (d - 1) // 2) + 1).reshape(2, -1)
    q = gmm_mod.unpack_q(icf, d)
    for r, c in order:
        assert q[1, r, c] == icf[1, d + gmm_mod.lower_index(r, c, d)]


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 5), (3, 2, 4), (4, 3, 2)])
def test_gmm_synthetic_full_check(shape):
    d, k, n = shape
    alphas, means, icf, x, gamma, m = synthetic_gmm(d, k, n, seed=d * 10 + k)
    args = (alphas, means, icf, x, gamma, float(m), gmm_mod.wishart_log_gamma(d, m))
    value, grads = value_and_grad(gmm_mod.gmm_objective, argnums=(0, 1, 2), jit=False)(*args)
    assert rel(value, gmm_mod.gmm_objective_numpy(alphas, means, icf, x, gamma, m)) \
        <= VALUE_RTOL
    assert check_grad(gmm_mod.gmm_objective, *args, argnums=(0, 1, 2)) < 1e-8
    numeric = numerical_grad(gmm_mod.gmm_objective, *args, argnums=(0, 1, 2))
    for name, ours, num in zip(("alphas", "means", "icf"), grads, numeric):
        assert_entries(ours, num, name, largest(numeric))


@needs_data
def test_gmm_test_file():
    inp = read_gmm(DATA / "gmm" / "test.txt")
    args = gmm_mod.gmm_args(inp)
    value, grads = value_and_grad(gmm_mod.gmm_objective, argnums=(0, 1, 2), jit=False)(*args)
    assert rel(value, gmm_mod.gmm_objective_numpy(inp.alphas, inp.means, inp.icf, inp.x,
                                                  inp.gamma, inp.m)) <= VALUE_RTOL
    d, k, _ = inp.shape
    assert sum(g.size for g in grads) == k * (1 + d + d * (d + 1) // 2)
    numeric = numerical_grad(gmm_mod.gmm_objective, *args, argnums=(0, 1, 2))
    for name, ours, num in zip(("alphas", "means", "icf"), grads, numeric):
        assert_entries(ours, num, name, largest(numeric))


@needs_data
def test_gmm_1k_d2_k5_random_entries():
    inp = read_gmm(DATA / "gmm" / "1k" / "gmm_d2_K5.txt")
    args = gmm_mod.gmm_args(inp)
    value, grads = value_and_grad(gmm_mod.gmm_objective, argnums=(0, 1, 2), jit=False)(*args)
    assert rel(value, gmm_mod.gmm_objective_numpy(inp.alphas, inp.means, inp.icf, inp.x,
                                                  inp.gamma, inp.m)) <= VALUE_RTOL
    check_random_entries(grads, gmm_mod.gmm_objective, args, (0, 1, 2), 3, seed=1)


# --- BA ----------------------------------------------------------------------------------------

def synthetic_ba(p=6, n=2, m=3, zero_rotation=False, seed=0) -> BAInput:
    """A camera looking down +z at points in front of it (ADBench's test camera scaled)."""
    rng = np.random.default_rng(seed)
    cams = np.empty((n, 11))
    cams[:, 0:3] = 0.0 if zero_rotation else rng.normal(scale=0.3, size=(n, 3))
    cams[:, 3:6] = rng.normal(scale=0.5, size=(n, 3))
    cams[:, 6] = rng.uniform(200.0, 400.0, n)
    cams[:, 7:9] = rng.normal(scale=5.0, size=(n, 2))
    cams[:, 9:11] = rng.normal(scale=0.05, size=(n, 2))
    points = np.column_stack([rng.normal(size=(m, 2)), rng.uniform(4.0, 8.0, m)])
    j = np.arange(p)
    return BAInput(cams, points, rng.uniform(0.3, 1.2, p), rng.normal(scale=50.0, size=(p, 2)),
                   np.stack([j % n, j % m], axis=1))


def numerical_dense_jacobian(inp: BAInput) -> np.ndarray:
    """Central differences of all 3p residuals w.r.t. all 11n + 3m + p parameters."""
    n, m, p = inp.cams.shape[0], inp.points.shape[0], inp.weights.shape[0]
    params = np.concatenate([inp.cams.ravel(), inp.points.ravel(), inp.weights])

    def residuals(theta):
        cams = theta[:11 * n].reshape(n, 11)
        pts = theta[11 * n:11 * n + 3 * m].reshape(m, 3)
        w = theta[11 * n + 3 * m:]
        reproj, w_err = ba_mod.ba_residuals_numpy(cams, pts, w, inp.features, inp.obs)
        return np.concatenate([reproj.ravel(), w_err])

    out = np.empty((3 * p, params.size))
    for i in range(params.size):
        h = 1e-4 * max(1.0, abs(params[i]))
        total = 0.0
        for offset, weight in ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0)):
            moved = params.copy()
            moved[i] += offset * h
            total = total + weight * residuals(moved)
        out[:, i] = total / (12.0 * h)
    return out


def ba_values_match(inp: BAInput):
    p = inp.weights.shape[0]
    reproj, w_err = np.zeros((p, 2)), np.zeros(p)
    ba_mod.ba_objective(inp.cams, inp.points, inp.weights, inp.features, inp.obs, reproj,
                        w_err)
    ref_reproj, ref_w = ba_mod.ba_residuals_numpy(inp.cams, inp.points, inp.weights,
                                                  inp.features, inp.obs)
    assert np.max(np.abs(reproj - ref_reproj)) <= VALUE_RTOL * np.max(np.abs(ref_reproj))
    assert np.max(np.abs(w_err - ref_w)) <= VALUE_RTOL
    obs_cams, obs_points = ba_mod.gather(inp)
    gathered = ba_mod.ba_residuals_gathered(obs_cams, obs_points, inp.weights, inp.features)
    assert np.array_equal(gathered, reproj)


def ba_full_check(inp: BAInput):
    """jacrev blocks, grad-sweep blocks, vjp blocks and the assembled sparse Jacobian."""
    ba_values_match(inp)
    by_jacrev = ba_mod.blocks_by_jacrev(inp, jit=False)
    for j in range(inp.weights.shape[0]):
        assert_entries(by_jacrev[j], ba_mod.block_numerical(inp, j), f"block {j}")
    jacobian = ba_mod.BAJacobian(inp, jit=False)
    vals = jacobian()
    p = inp.weights.shape[0]
    np.testing.assert_allclose(vals[:30 * p].reshape(p, 2, 15), by_jacrev, rtol=1e-13,
                               atol=1e-13 * np.max(np.abs(by_jacrev)))
    np.testing.assert_allclose(ba_mod.blocks_by_vjp(inp, jit=False), by_jacrev, rtol=1e-13,
                               atol=1e-13 * np.max(np.abs(by_jacrev)))
    dense = ba_mod.dense_from_coo(jacobian.rows, jacobian.cols, vals, jacobian.shape)
    assert_entries(dense, numerical_dense_jacobian(inp), "dense Jacobian")


@needs_data
def test_ba_test_file():
    inp = read_ba(DATA / "ba" / "test.txt")
    ba_full_check(inp)


@pytest.mark.parametrize("zero_rotation", [False, True], ids=["rotation", "zero-rotation"])
def test_ba_synthetic(zero_rotation):
    """Several cameras and points shared by observations; with zero_rotation every camera
    takes the first-order branch of the Rodrigues formula."""
    ba_full_check(synthetic_ba(zero_rotation=zero_rotation, seed=int(zero_rotation)))


def test_ba_jacobian_pattern():
    inp = synthetic_ba(p=5, n=2, m=3)
    jac = ba_mod.BAJacobian(inp, jit=False)
    assert jac.shape == (15, 2 * 11 + 3 * 3 + 5)
    assert jac.rows.size == 30 * 5 + 5
    # observation 4 uses camera 0 and point 1
    first = 30 * 4
    assert jac.rows[first:first + 15].tolist() == [8] * 15
    assert jac.cols[first:first + 11].tolist() == list(range(11))
    assert jac.cols[first + 11:first + 15].tolist() == [22 + 3, 22 + 4, 22 + 5, 31 + 4]


# --- LSTM --------------------------------------------------------------------------------------

def synthetic_lstm(layers=2, c=5, b=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(2 * layers, 4 * b)), rng.normal(size=(3, b)),
            rng.normal(size=(2 * layers, b)), rng.uniform(size=(c, b)))


def lstm_loss(main, extra, state, sequence):
    """The loss on a copy of the state (lstm_objective updates it in place)."""
    return lstm_mod.lstm_objective(main, extra, state.copy(), sequence)


@pytest.mark.parametrize("shape", [(1, 2, 1), (2, 5, 3), (3, 4, 2)])
def test_lstm_synthetic_full_check(shape):
    args = synthetic_lstm(*shape, seed=sum(shape))
    state = args[2].copy()
    value, grads = value_and_grad(lstm_mod.lstm_objective, argnums=(0, 1), jit=False)(*args)
    assert np.array_equal(args[2], state), "the caller's state was changed"
    assert rel(value, lstm_mod.lstm_objective_numpy(*args)) <= VALUE_RTOL
    numeric = numerical_grad(lstm_loss, *args, argnums=(0, 1, 2))
    for name, ours, num in zip(("main", "extra"), grads, numeric):
        assert_entries(ours, num, name, largest(numeric))
    # not an ADBench output, but the state's gradient works too
    d_state = value_and_grad(lstm_mod.lstm_objective, argnums=2, jit=False)(*args)[1]
    assert_entries(d_state, numeric[2], "state")


@needs_data
def test_lstm_l2_c1024():
    inp = read_lstm(DATA / "lstm" / "lstm_l2_c1024.txt")
    args = (inp.main_params, inp.extra_params, inp.state, inp.sequence)
    state = inp.state.copy()
    value, grads = value_and_grad(lstm_mod.lstm_objective, argnums=(0, 1), jit=False)(*args)
    assert np.array_equal(inp.state, state)
    assert rel(value, lstm_mod.lstm_objective_numpy(*args)) <= VALUE_RTOL
    layers, _, b = inp.shape
    assert grads[0].size + grads[1].size == 8 * layers * b + 3 * b
    # the loss sums ~14000 terms: a larger step keeps rounding out of the differences
    check_random_entries(grads, lstm_loss, args, (0, 1), 3, seed=2, step=1e-3)


# --- compiled with Numba -----------------------------------------------------------------------

def _same(a, b, rtol=1e-12):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * max(np.max(np.abs(y)), 1e-300))


@pytest.mark.numba
@needs_data
def test_gmm_numba():
    inp = read_gmm(DATA / "gmm" / "1k" / "gmm_d2_K5.txt")
    args = gmm_mod.gmm_args(inp)
    jitted = value_and_grad(gmm_mod.gmm_objective, argnums=(0, 1, 2), jit=True)(*args)
    plain = value_and_grad(gmm_mod.gmm_objective, argnums=(0, 1, 2), jit=False)(*args)
    assert rel(jitted[0], plain[0]) <= VALUE_RTOL
    _same(jitted[1], plain[1])
    check_random_entries(jitted[1], gmm_mod.gmm_objective, args, (0, 1, 2), 2, seed=3)


@pytest.mark.numba
@needs_data
def test_ba_numba():
    inp = read_ba(DATA / "ba" / "test.txt")
    jitted = ba_mod.BAJacobian(inp, jit=True)()
    plain = ba_mod.BAJacobian(inp, jit=False)()
    _same([jitted], [plain])
    _same([ba_mod.blocks_by_vjp(inp, jit=True)], [jitted[:300].reshape(10, 2, 15)])
    c, q = inp.obs[3]
    block = jacrev(ba_mod.ba_observation, argnums=(0, 1, 2), jit=True)(
        inp.cams[c:c + 1], inp.points[q:q + 1], float(inp.weights[3]), inp.features[3])
    assert_entries(np.concatenate([block[0][:, 0, :], block[1][:, 0, :], block[2][:, None]],
                                  axis=1), ba_mod.block_numerical(inp, 3), "block 3")


@pytest.mark.numba
@needs_data
def test_lstm_numba():
    inp = read_lstm(DATA / "lstm" / "lstm_l2_c1024.txt")
    args = (inp.main_params, inp.extra_params, inp.state, inp.sequence)
    jitted = value_and_grad(lstm_mod.lstm_objective, argnums=(0, 1), jit=True)(*args)
    plain = value_and_grad(lstm_mod.lstm_objective, argnums=(0, 1), jit=False)(*args)
    assert rel(jitted[0], plain[0]) <= VALUE_RTOL
    _same(jitted[1], plain[1])
    assert math.isfinite(jitted[0])
