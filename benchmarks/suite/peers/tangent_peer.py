"""tangent-ad (the maintained fork of Google's Tangent: source-to-source reverse mode of
NumPy-style Python, run by CPython). The functions below are what tangent reads: plain NumPy,
vectorised where the problem allows it (GMM, BA), loops where there is a recurrence (LSTM over
characters, RK4 steps, GARCH, MC steps; tangent differentiates `for` loops). Derivatives by
`tangent.grad(f, wrt=..., preserve_result=True)` (value and gradient, like the other tools);
the source transformation happens in the first call's time. BA: two seeded gradients of
sum(cotangent * residuals) w.r.t. the gathered rows (tangent has no vmap).

np.prod(..., axis=1) is not used for MC: its adjoint in tangent-ad 0.4.0 fails to broadcast
(ValueError: operands could not be broadcast together with shapes (2000,252) (2000,)), so the
paths are advanced step by step in a loop, as in the loop-level objective."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.suite.peers import Impl, Unsupported, as_arrays

try:
    # Module level on purpose: tangent desugars list.append into `tangent.list_append` and
    # resolves that name in the differentiated function's globals (GradientNotFoundError for
    # "None" otherwise).
    import tangent
except ImportError:
    tangent = None

NAME = "tangent"


def version() -> str:
    from importlib.metadata import version as dist_version

    if tangent is None:
        raise ImportError("tangent-ad is not installed")
    return f"tangent-ad {dist_version('tangent-ad')}"


def _impl(objective_fn, args, wrt, note=""):
    def make_gradient():
        g = tangent.grad(objective_fn, wrt=wrt, preserve_result=True, verbose=0)
        return lambda: g(*args)

    return Impl(objective=lambda: (lambda: objective_fn(*args)), gradient=make_gradient,
                to_numpy=lambda out: as_arrays(out[:-1]), note=note)


# --- the functions tangent differentiates -------------------------------------------------------

def gmm_objective(alphas, means, icf, x, sel, d, k_count, n, gamma, m, c):
    qdiag = np.exp(icf[:, :d])
    sum_qs = np.sum(icf[:, :d], axis=1)
    lower = np.reshape(np.dot(icf[:, d:], sel), (k_count, d, d))
    centred = np.expand_dims(x, 1) - np.expand_dims(means, 0)
    qx = np.expand_dims(qdiag, 0) * centred + np.einsum("kab,nkb->nka", lower, centred)
    beta = np.expand_dims(alphas + sum_qs, 0) - 0.5 * np.sum(qx * qx, axis=2)
    mx = np.max(beta, axis=1, keepdims=True)
    slse = np.sum(np.log(np.sum(np.exp(beta - mx), axis=1)) + mx[:, 0])
    amx = np.max(alphas)
    lse_alphas = np.log(np.sum(np.exp(alphas - amx))) + amx
    prior = np.sum(0.5 * gamma * gamma * (np.sum(qdiag * qdiag, axis=1)
                                          + np.sum(icf[:, d:] * icf[:, d:], axis=1))
                   - m * sum_qs)
    return -0.5 * n * d * np.log(2.0 * np.pi) + slse - n * lse_alphas + prior - k_count * c


def ba_seeded(obs_cams, obs_points, w, feats, cot):
    """sum over observations of cot . residual (cot (p, 2)): its gradient is one row of every
    2 x 15 block."""
    r0 = obs_cams[:, 0]
    r1 = obs_cams[:, 1]
    r2 = obs_cams[:, 2]
    x0 = obs_points[:, 0] - obs_cams[:, 3]
    x1 = obs_points[:, 1] - obs_cams[:, 4]
    x2 = obs_points[:, 2] - obs_cams[:, 5]
    sqtheta = r0 * r0 + r1 * r1 + r2 * r2
    nonzero = sqtheta != 0.0
    theta = np.sqrt(np.where(nonzero, sqtheta, 1.0))
    w0 = r0 / theta
    w1 = r1 / theta
    w2 = r2 / theta
    cos = np.cos(theta)
    sin = np.sin(theta)
    tmp = (w0 * x0 + w1 * x1 + w2 * x2) * (1.0 - cos)
    y0 = np.where(nonzero, x0 * cos + (w1 * x2 - w2 * x1) * sin + w0 * tmp,
                  x0 + (r1 * x2 - r2 * x1))
    y1 = np.where(nonzero, x1 * cos + (w2 * x0 - w0 * x2) * sin + w1 * tmp,
                  x1 + (r2 * x0 - r0 * x2))
    y2 = np.where(nonzero, x2 * cos + (w0 * x1 - w1 * x0) * sin + w2 * tmp,
                  x2 + (r0 * x1 - r1 * x0))
    px = y0 / y2
    py = y1 / y2
    rsq = px * px + py * py
    distortion = 1.0 + obs_cams[:, 9] * rsq + obs_cams[:, 10] * rsq * rsq
    u = px * distortion * obs_cams[:, 6] + obs_cams[:, 7]
    v = py * distortion * obs_cams[:, 6] + obs_cams[:, 8]
    return np.sum(cot[:, 0] * w * (u - feats[:, 0]) + cot[:, 1] * w * (v - feats[:, 1]))


def ba_weight_errors(w):
    return np.sum(1.0 - w * w)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_objective(main_params, extra_params, state, sequence, layers, c, b):
    hidden = state[0::2]
    cell = state[1::2]
    total = 0.0
    for t in range(c - 1):
        x = sequence[t] * extra_params[0]
        new_h = []
        new_c = []
        for i in range(layers):
            wt = main_params[2 * i]
            bs = main_params[2 * i + 1]
            forget = sigmoid(x * wt[:b] + bs[:b])
            ingate = sigmoid(hidden[i] * wt[b:2 * b] + bs[b:2 * b])
            outgate = sigmoid(x * wt[2 * b:3 * b] + bs[2 * b:3 * b])
            change = np.tanh(hidden[i] * wt[3 * b:] + bs[3 * b:])
            ci = cell[i] * forget + ingate * change
            x = outgate * np.tanh(ci)
            new_h.append(x)
            new_c.append(ci)
        hidden = np.stack(new_h)
        cell = np.stack(new_c)
        y = x * extra_params[1] + extra_params[2]
        ynorm = y - np.log(2.0 + np.sum(np.exp(y)))
        total = total + np.dot(sequence[t + 1], ynorm)
    return -total / ((c - 1) * b)


def lorenz96_rhs(y, F):
    return (np.roll(y, -1) - np.roll(y, 2)) * np.roll(y, 1) - y + F


def rk4_lorenz96(y0, F, dt, nsteps):
    y = y0
    for _ in range(nsteps):
        k1 = lorenz96_rhs(y, F)
        k2 = lorenz96_rhs(y + 0.5 * dt * k1, F)
        k3 = lorenz96_rhs(y + 0.5 * dt * k2, F)
        k4 = lorenz96_rhs(y + dt * k3, F)
        y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(y * y)


def garch_nll(omega, alpha, beta, r2, T):
    sigma2 = np.sum(r2) / T
    nll = 0.0
    for t in range(T):
        nll = nll + 0.5 * (np.log(2.0 * np.pi) + np.log(sigma2) + r2[t] / sigma2)
        sigma2 = omega + alpha * r2[t] + beta * sigma2
    return nll


def mc_call_price(S0, sigma, r, T, K, Z, nsteps):
    dt = T / nsteps
    drift = (r - 0.5 * sigma * sigma) * dt
    vol = sigma * np.sqrt(dt)
    s = S0 * np.ones(Z.shape[0])
    for t in range(nsteps):
        s = s * np.exp(drift + vol * Z[:, t])
    return np.exp(-r * T) * np.mean(np.maximum(s - K, 0.0))


# --- builders ------------------------------------------------------------------------------------

def gmm(data) -> Impl:
    from benchmarks.suite.peers.autograd_peer import lower_selector
    from examples.adbench.gmm import wishart_log_gamma

    inp = data.raw["inp"]
    d, k_count, n = inp.shape
    gamma, m = float(inp.gamma), float(inp.m)
    c = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2.0)) - wishart_log_gamma(d, m)
    args = (inp.alphas, inp.means, inp.icf, inp.x, lower_selector(d), d, k_count, n, gamma, m,
            c)
    return _impl(gmm_objective, args, (0, 1, 2))


def ba(data) -> Impl:
    inp = data.raw["inp"]
    p = inp.weights.shape[0]
    cot = [np.zeros((p, 2)), np.zeros((p, 2))]
    cot[0][:, 0] = 1.0
    cot[1][:, 1] = 1.0

    def make_objective():
        from benchmarks.suite.peers.autograd_peer import ba_residuals_vectorised

        def call():
            obs_cams, obs_points = inp.cams[inp.obs[:, 0]], inp.points[inp.obs[:, 1]]
            return (ba_residuals_vectorised(np, obs_cams, obs_points, inp.weights,
                                            inp.features), 1.0 - inp.weights ** 2)
        return call

    def make_gradient():
        block_grad = tangent.grad(ba_seeded, wrt=(0, 1, 2))
        weight_grad = tangent.grad(ba_weight_errors)

        def call():
            obs_cams, obs_points = inp.cams[inp.obs[:, 0]], inp.points[inp.obs[:, 1]]
            blocks = np.empty((p, 2, 15))
            for r in range(2):
                g_cam, g_pt, g_w = block_grad(obs_cams, obs_points, inp.weights, inp.features,
                                              cot[r])
                blocks[:, r, :11] = g_cam
                blocks[:, r, 11:14] = g_pt
                blocks[:, r, 14] = g_w
            return blocks, weight_grad(inp.weights)
        return call

    return Impl(objective=make_objective, gradient=make_gradient, to_numpy=as_arrays,
                note="2 seeded gradients of the batched residual")


def lstm(data) -> Impl:
    inp = data.raw["inp"]
    layers, c, b = inp.shape
    args = (inp.main_params, inp.extra_params, inp.state, inp.sequence, layers, c, b)
    return _impl(lstm_objective, args, (0, 1), note="loop over characters")


def ode(data) -> Impl:
    raw = data.raw
    return _impl(rk4_lorenz96, (raw["y0"], raw["F"], raw["dt"], raw["nsteps"]), (0, 1),
                 note="loop over steps")


def garch(data) -> Impl:
    raw = data.raw
    args = (raw["omega"], raw["alpha"], raw["beta"], raw["r"] ** 2, raw["T"])
    return _impl(garch_nll, args, (0, 1, 2), note="scalar loop")


def mc(data) -> Impl:
    raw = data.raw
    args = (raw["S0"], raw["sigma"], raw["r"], raw["T"], raw["K"], raw["Z"],
            raw["Z"].shape[1])
    return _impl(mc_call_price, args, (0, 1), note="loop over steps, vectorised over paths")


BUILDERS = {"gmm": gmm, "ba": ba, "lstm": lstm, "ode": ode, "garch": garch, "mc": mc}


def build(family: str, data) -> Impl:
    if family not in BUILDERS:
        raise Unsupported(f"no tangent implementation of {family}")
    return BUILDERS[family](data)
