"""autograd (HIPS), NumPy-style code on `autograd.numpy`: vectorised where the problem allows
it (GMM, BA, MC), Python loops for recurrences (LSTM over characters, RK4 steps, GARCH
variances). Derivatives by `autograd.value_and_grad`; BA by two vector-Jacobian products of the
batched residual w.r.t. the gathered camera and point rows (`autograd.make_vjp`, cotangent
selecting residual 0, then 1, of every observation: observations are independent once
gathered, and autograd has no vmap)."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.suite.peers import Impl, Unsupported, as_arrays

NAME = "autograd"


def version() -> str:
    from importlib.metadata import version as dist_version

    import autograd  # noqa: F401  (ImportError when not installed)

    return f"autograd {dist_version('autograd')}"


def _impl(objective_fn, args, argnums, note=""):
    from autograd import value_and_grad

    def make_gradient():
        g = value_and_grad(objective_fn, argnum=list(argnums))
        return lambda: g(*args)

    return Impl(objective=lambda: (lambda: objective_fn(*args)), gradient=make_gradient,
                to_numpy=lambda out: as_arrays(out[1]), note=note)


def _logsumexp(anp, a, axis=None):
    mx = anp.max(a, axis=axis, keepdims=True)
    out = anp.log(anp.sum(anp.exp(a - mx), axis=axis, keepdims=True)) + mx
    return anp.squeeze(out, axis=axis) if axis is not None else anp.squeeze(out)


def lower_selector(d: int) -> np.ndarray:
    """(d(d-1)/2, d*d) 0/1 matrix mapping l_k (strictly lower part of Q_k, column-major) to the
    flattened (row-major) Q_k: index assignment is not differentiable in autograd or tangent,
    a product with a constant matrix is."""
    cols, rows = np.triu_indices(d, 1)
    sel = np.zeros((cols.shape[0], d * d))
    sel[np.arange(cols.shape[0]), rows * d + cols] = 1.0
    return sel


# --- GMM ---------------------------------------------------------------------------------------

def gmm(data) -> Impl:
    import autograd.numpy as anp

    from examples.adbench.gmm import wishart_log_gamma

    inp = data.raw["inp"]
    d, k_count, n = inp.shape
    gamma, m = float(inp.gamma), float(inp.m)
    c = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2.0)) - wishart_log_gamma(d, m)
    sel = lower_selector(d)
    x = inp.x

    def objective(alphas, means, icf):
        qdiag = anp.exp(icf[:, :d])
        sum_qs = anp.sum(icf[:, :d], axis=1)
        lower = anp.reshape(anp.dot(icf[:, d:], sel), (k_count, d, d))
        centred = x[:, None, :] - means[None, :, :]
        qx = qdiag[None] * centred + anp.einsum("kab,nkb->nka", lower, centred)
        beta = alphas[None, :] + sum_qs[None, :] - 0.5 * anp.sum(qx * qx, axis=2)
        prior = anp.sum(0.5 * gamma * gamma * (anp.sum(qdiag * qdiag, axis=1)
                                               + anp.sum(icf[:, d:] ** 2, axis=1))
                        - m * sum_qs)
        return (-0.5 * n * d * math.log(2.0 * math.pi) + anp.sum(_logsumexp(anp, beta, 1))
                - n * _logsumexp(anp, alphas) + prior - k_count * c)

    return _impl(objective, (inp.alphas, inp.means, inp.icf), (0, 1, 2))


# --- BA ------------------------------------------------------------------------------------

def ba_residuals_vectorised(anp, obs_cams, obs_points, w, feats):
    """(p, 2) residuals from per-observation camera and point rows, column by column (works
    for autograd.numpy and for plain NumPy)."""
    r0, r1, r2 = obs_cams[:, 0], obs_cams[:, 1], obs_cams[:, 2]
    x0 = obs_points[:, 0] - obs_cams[:, 3]
    x1 = obs_points[:, 1] - obs_cams[:, 4]
    x2 = obs_points[:, 2] - obs_cams[:, 5]
    sqtheta = r0 * r0 + r1 * r1 + r2 * r2
    nonzero = sqtheta != 0.0
    theta = anp.sqrt(anp.where(nonzero, sqtheta, 1.0))
    w0, w1, w2 = r0 / theta, r1 / theta, r2 / theta
    cos, sin = anp.cos(theta), anp.sin(theta)
    tmp = (w0 * x0 + w1 * x1 + w2 * x2) * (1.0 - cos)
    y0 = anp.where(nonzero, x0 * cos + (w1 * x2 - w2 * x1) * sin + w0 * tmp,
                   x0 + (r1 * x2 - r2 * x1))
    y1 = anp.where(nonzero, x1 * cos + (w2 * x0 - w0 * x2) * sin + w1 * tmp,
                   x1 + (r2 * x0 - r0 * x2))
    y2 = anp.where(nonzero, x2 * cos + (w0 * x1 - w1 * x0) * sin + w2 * tmp,
                   x2 + (r0 * x1 - r1 * x0))
    px, py = y0 / y2, y1 / y2
    rsq = px * px + py * py
    distortion = 1.0 + obs_cams[:, 9] * rsq + obs_cams[:, 10] * rsq * rsq
    u = px * distortion * obs_cams[:, 6] + obs_cams[:, 7]
    v = py * distortion * obs_cams[:, 6] + obs_cams[:, 8]
    return anp.stack([w * (u - feats[:, 0]), w * (v - feats[:, 1])], axis=1)


def ba(data) -> Impl:
    import autograd.numpy as anp
    from autograd import elementwise_grad, make_vjp

    inp = data.raw["inp"]
    p = inp.weights.shape[0]
    cot = [np.zeros((p, 2)), np.zeros((p, 2))]
    cot[0][:, 0] = 1.0
    cot[1][:, 1] = 1.0

    def residuals(obs_cams, obs_points, w):
        return ba_residuals_vectorised(anp, obs_cams, obs_points, w, inp.features)

    def make_objective():
        def call():
            obs_cams, obs_points = inp.cams[inp.obs[:, 0]], inp.points[inp.obs[:, 1]]
            return residuals(obs_cams, obs_points, inp.weights), 1.0 - inp.weights ** 2
        return call

    def make_gradient():
        vjp = make_vjp(residuals, argnum=(0, 1, 2))
        w_grad = elementwise_grad(lambda w: 1.0 - w * w)

        def call():
            obs_cams, obs_points = inp.cams[inp.obs[:, 0]], inp.points[inp.obs[:, 1]]
            pullback, _ = vjp(obs_cams, obs_points, inp.weights)
            blocks = np.empty((p, 2, 15))
            for r in range(2):
                g_cam, g_pt, g_w = pullback(cot[r])
                blocks[:, r, :11] = g_cam
                blocks[:, r, 11:14] = g_pt
                blocks[:, r, 14] = g_w
            return blocks, w_grad(inp.weights)
        return call

    return Impl(objective=make_objective, gradient=make_gradient, to_numpy=as_arrays,
                note="2 VJPs of the batched residual (make_vjp)")


# --- LSTM ------------------------------------------------------------------------------------

def lstm(data) -> Impl:
    import autograd.numpy as anp

    inp = data.raw["inp"]
    layers, c, b = inp.shape
    state, sequence = inp.state, inp.sequence

    def sigmoid(v):
        return 1.0 / (1.0 + anp.exp(-v))

    def objective(main_params, extra_params):
        hidden = [state[2 * i] for i in range(layers)]
        cell = [state[2 * i + 1] for i in range(layers)]
        total = 0.0
        for t in range(c - 1):
            x = sequence[t] * extra_params[0]
            for i in range(layers):
                wt, bs = main_params[2 * i], main_params[2 * i + 1]
                forget = sigmoid(x * wt[:b] + bs[:b])
                ingate = sigmoid(hidden[i] * wt[b:2 * b] + bs[b:2 * b])
                outgate = sigmoid(x * wt[2 * b:3 * b] + bs[2 * b:3 * b])
                change = anp.tanh(hidden[i] * wt[3 * b:] + bs[3 * b:])
                cell[i] = cell[i] * forget + ingate * change
                hidden[i] = outgate * anp.tanh(cell[i])
                x = hidden[i]
            y = x * extra_params[1] + extra_params[2]
            ynorm = y - anp.log(2.0 + anp.sum(anp.exp(y)))
            total = total + anp.dot(sequence[t + 1], ynorm)
        return -total / ((c - 1) * b)

    return _impl(objective, (inp.main_params, inp.extra_params), (0, 1),
                 note="Python loop over characters")


# --- RK4 Lorenz-96 -----------------------------------------------------------------------------

def ode(data) -> Impl:
    import autograd.numpy as anp

    raw = data.raw
    dt, nsteps = raw["dt"], raw["nsteps"]

    def objective(y0, F):
        def rhs(y):
            return (anp.roll(y, -1) - anp.roll(y, 2)) * anp.roll(y, 1) - y + F

        y = y0
        for _ in range(nsteps):
            k1 = rhs(y)
            k2 = rhs(y + 0.5 * dt * k1)
            k3 = rhs(y + 0.5 * dt * k2)
            k4 = rhs(y + dt * k3)
            y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return anp.sum(y * y)

    return _impl(objective, (raw["y0"], raw["F"]), (0, 1), note="Python loop over steps")


# --- GARCH -------------------------------------------------------------------------------------

def garch(data) -> Impl:
    import autograd.numpy as anp

    raw = data.raw
    r, T = raw["r"], raw["T"]
    r2 = r * r
    r2_list = [float(v) for v in r2]

    def objective(omega, alpha, beta):
        sigma2 = anp.sum(r2) / T
        variances = []
        for t in range(T):
            variances.append(sigma2)
            sigma2 = omega + alpha * r2_list[t] + beta * sigma2
        s2 = anp.array(variances)
        return anp.sum(0.5 * (math.log(2.0 * math.pi) + anp.log(s2) + r2 / s2))

    return _impl(objective, (raw["omega"], raw["alpha"], raw["beta"]), (0, 1, 2),
                 note="Python loop for the variances, vectorised likelihood")


# --- Monte-Carlo Greeks ------------------------------------------------------------------------

def mc(data) -> Impl:
    import autograd.numpy as anp

    raw = data.raw
    Z = raw["Z"]
    r, T, K = raw["r"], raw["T"], raw["K"]
    nsteps = Z.shape[1]

    def objective(S0, sigma):
        dt = T / nsteps
        drift = (r - 0.5 * sigma * sigma) * dt
        vol = sigma * math.sqrt(dt)
        s_final = S0 * anp.prod(anp.exp(drift + vol * Z), axis=1)
        return math.exp(-r * T) * anp.mean(anp.maximum(s_final - K, 0.0))

    return _impl(objective, (raw["S0"], raw["sigma"]), (0, 1),
                 note="vectorised over paths and steps")


# --- the vectorised problems: the same source as ours, autograd.numpy bound to np -----------

def vectorised(family: str):
    def build(data) -> Impl:
        import autograd.numpy as anp
        import autograd.scipy.special

        from benchmarks.suite.problems import family as problem_family
        from benchmarks.suite.problems.vectorised import rebound

        objective = rebound(problem_family(family).objective_function(), np=anp,
                            logsumexp=autograd.scipy.special.logsumexp)
        return _impl(objective, data.args, data.argnums,
                     note="problems/vectorised.py on autograd.numpy")
    return build


BUILDERS = {"gmm": gmm, "ba": ba, "lstm": lstm, "ode": ode, "garch": garch, "mc": mc,
            "kmeans": vectorised("kmeans"), "lse": vectorised("lse")}


def build(family: str, data) -> Impl:
    if family not in BUILDERS:
        raise Unsupported(f"no autograd implementation of {family}")
    return BUILDERS[family](data)
