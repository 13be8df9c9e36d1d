"""PyTorch (eager, float64, one thread), written as a PyTorch user would: vectorised tensor
code where the problem allows it (GMM, BA, MC), Python loops for recurrences (LSTM over
characters, RK4 steps, GARCH variances). Derivatives by `loss.backward()`; BA by
`torch.func.vmap(torch.func.jacrev(residual of one observation))`."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.suite.peers import Impl, Unsupported

NAME = "torch"


def version() -> str:
    import torch

    return f"torch {torch.__version__}"


def _torch():
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:      # already set in this process
        pass
    return torch


def _to_numpy(parts):
    return [p.detach().numpy().astype(np.float64) for p in parts]


def _impl(objective_fn, leaves: list, note=""):
    """objective_fn(*leaves) -> scalar tensor; the derivative w.r.t. all leaves by backward()."""
    torch = _torch()

    def make_objective():
        def call():
            with torch.no_grad():
                return objective_fn(*leaves)
        return call

    def make_gradient():
        def call():
            for leaf in leaves:
                leaf.grad = None
            loss = objective_fn(*leaves)
            loss.backward()
            return [leaf.grad for leaf in leaves]
        return call

    return Impl(objective=make_objective, gradient=make_gradient, to_numpy=_to_numpy, note=note)


def _leaf(torch, value):
    return torch.tensor(np.asarray(value, dtype=np.float64), requires_grad=True)


# --- GMM ---------------------------------------------------------------------------------------

def gmm(data) -> Impl:
    torch = _torch()
    from examples.adbench.gmm import wishart_log_gamma

    inp = data.raw["inp"]
    d, k_count, n = inp.shape
    gamma, m = float(inp.gamma), float(inp.m)
    cols, rows = np.triu_indices(d, 1)
    rows, cols = torch.as_tensor(rows), torch.as_tensor(cols)
    c = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2.0)) - wishart_log_gamma(d, m)
    x = torch.as_tensor(inp.x)

    def objective(alphas, means, icf):
        qdiag = torch.exp(icf[:, :d])
        sum_qs = torch.sum(icf[:, :d], dim=1)
        lower = torch.zeros((k_count, d, d), dtype=torch.float64)
        lower[:, rows, cols] = icf[:, d:]
        centred = x[:, None, :] - means[None, :, :]
        qx = qdiag[None] * centred + torch.einsum("kab,nkb->nka", lower, centred)
        beta = alphas[None, :] + sum_qs[None, :] - 0.5 * torch.sum(qx * qx, dim=2)
        prior = torch.sum(0.5 * gamma * gamma * (torch.sum(qdiag * qdiag, dim=1)
                                                 + torch.sum(icf[:, d:] ** 2, dim=1))
                          - m * sum_qs)
        return (-0.5 * n * d * math.log(2.0 * math.pi)
                + torch.sum(torch.logsumexp(beta, dim=1))
                - n * torch.logsumexp(alphas, dim=0) + prior - k_count * c)

    leaves = [_leaf(torch, a) for a in (inp.alphas, inp.means, inp.icf)]
    return _impl(objective, leaves)


# --- BA ------------------------------------------------------------------------------------

def ba(data) -> Impl:
    torch = _torch()
    from torch.func import jacrev, vmap

    inp = data.raw["inp"]
    cam_idx = torch.as_tensor(inp.obs[:, 0])
    pt_idx = torch.as_tensor(inp.obs[:, 1])

    def one(cam, point, w, feat):
        rot, centre = cam[0:3], cam[3:6]
        xc = point - centre
        sqtheta = torch.sum(rot * rot)
        nonzero = sqtheta != 0.0
        theta = torch.sqrt(torch.where(nonzero, sqtheta, torch.ones_like(sqtheta)))
        axis = rot / theta
        cos, sin = torch.cos(theta), torch.sin(theta)
        general = (xc * cos + torch.linalg.cross(axis, xc) * sin
                   + axis * torch.dot(axis, xc) * (1.0 - cos))
        small = xc + torch.linalg.cross(rot, xc)
        rotated = torch.where(nonzero, general, small)
        proj = rotated[:2] / rotated[2]
        rsq = torch.sum(proj * proj)
        distortion = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq
        return w * (proj * distortion * cam[6] + cam[7:9] - feat)

    cams, points = torch.as_tensor(inp.cams), torch.as_tensor(inp.points)
    weights, feats = torch.as_tensor(inp.weights), torch.as_tensor(inp.features)
    block = vmap(jacrev(one, argnums=(0, 1, 2)))
    residuals = vmap(one)

    def make_objective():
        def call():
            with torch.no_grad():
                return residuals(cams[cam_idx], points[pt_idx], weights, feats), \
                    1.0 - weights * weights
        return call

    def make_gradient():
        def call():
            d_cam, d_pt, d_w = block(cams[cam_idx], points[pt_idx], weights, feats)
            blocks = torch.cat([d_cam, d_pt, d_w[:, :, None]], dim=2)
            w_diag = vmap(torch.func.grad(lambda w: 1.0 - w * w))(weights)
            return blocks, w_diag
        return call

    return Impl(objective=make_objective, gradient=make_gradient, to_numpy=_to_numpy,
                note="torch.func.vmap(jacrev) of one observation's residual")


# --- LSTM ------------------------------------------------------------------------------------

def lstm(data) -> Impl:
    torch = _torch()
    inp = data.raw["inp"]
    layers, c, b = inp.shape
    state = torch.as_tensor(inp.state)
    sequence = torch.as_tensor(inp.sequence)

    def objective(main_params, extra_params):
        weights = main_params[0::2].reshape(layers, 4, b)
        biases = main_params[1::2].reshape(layers, 4, b)
        hidden = [state[2 * i] for i in range(layers)]
        cell = [state[2 * i + 1] for i in range(layers)]
        total = 0.0
        for t in range(c - 1):
            x = sequence[t] * extra_params[0]
            for i in range(layers):
                wt, bs = weights[i], biases[i]
                forget = torch.sigmoid(x * wt[0] + bs[0])
                ingate = torch.sigmoid(hidden[i] * wt[1] + bs[1])
                outgate = torch.sigmoid(x * wt[2] + bs[2])
                change = torch.tanh(hidden[i] * wt[3] + bs[3])
                cell[i] = cell[i] * forget + ingate * change
                hidden[i] = outgate * torch.tanh(cell[i])
                x = hidden[i]
            y = x * extra_params[1] + extra_params[2]
            ynorm = y - torch.log(2.0 + torch.sum(torch.exp(y)))
            total = total + torch.dot(sequence[t + 1], ynorm)
        return -total / ((c - 1) * b)

    leaves = [_leaf(torch, inp.main_params), _leaf(torch, inp.extra_params)]
    return _impl(objective, leaves, note="Python loop over characters")


# --- RK4 Lorenz-96 -----------------------------------------------------------------------------

def ode(data) -> Impl:
    torch = _torch()
    raw = data.raw
    dt, nsteps = raw["dt"], raw["nsteps"]

    def objective(y0, F):
        def rhs(y):
            return (torch.roll(y, -1) - torch.roll(y, 2)) * torch.roll(y, 1) - y + F

        y = y0
        for _ in range(nsteps):
            k1 = rhs(y)
            k2 = rhs(y + 0.5 * dt * k1)
            k3 = rhs(y + 0.5 * dt * k2)
            k4 = rhs(y + dt * k3)
            y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return torch.sum(y * y)

    return _impl(objective, [_leaf(torch, raw["y0"]), _leaf(torch, raw["F"])],
                 note="Python loop over steps")


# --- GARCH -------------------------------------------------------------------------------------

def garch(data) -> Impl:
    torch = _torch()
    raw = data.raw
    r = torch.as_tensor(raw["r"])
    T = raw["T"]
    r2 = r * r
    r2_list = [float(v) for v in raw["r"] ** 2]     # Python floats: the loop indexes no tensor

    def objective(omega, alpha, beta):
        sigma2 = torch.sum(r2) / T
        variances = []
        for t in range(T):
            variances.append(sigma2)
            sigma2 = omega + alpha * r2_list[t] + beta * sigma2
        s2 = torch.stack(variances)
        return torch.sum(0.5 * (math.log(2.0 * math.pi) + torch.log(s2) + r2 / s2))

    leaves = [_leaf(torch, raw[k]) for k in ("omega", "alpha", "beta")]
    return _impl(objective, leaves, note="Python loop for the variances, vectorised likelihood")


# --- Monte-Carlo Greeks ------------------------------------------------------------------------

def mc(data) -> Impl:
    torch = _torch()
    raw = data.raw
    Z = torch.as_tensor(raw["Z"])
    r, T, K = raw["r"], raw["T"], raw["K"]
    nsteps = raw["Z"].shape[1]

    def objective(S0, sigma):
        dt = T / nsteps
        drift = (r - 0.5 * sigma * sigma) * dt
        vol = sigma * math.sqrt(dt)
        s_final = S0 * torch.prod(torch.exp(drift + vol * Z), dim=1)
        return math.exp(-r * T) * torch.mean(torch.clamp(s_final - K, min=0.0))

    return _impl(objective, [_leaf(torch, raw["S0"]), _leaf(torch, raw["sigma"])],
                 note="vectorised over paths and steps")


# --- the vectorised problems (problems/vectorised.py in torch's spelling) --------------------

def kmeans(data) -> Impl:
    torch = _torch()
    x = torch.as_tensor(data.args[1])

    def objective(centers):
        distances = torch.sum((x[:, None, :] - centers[None, :, :]) ** 2, dim=2)
        return torch.sum(torch.amin(distances, dim=1))

    return _impl(objective, [_leaf(torch, data.args[0])])


def lse(data) -> Impl:
    torch = _torch()

    def objective(z):
        m = torch.max(z)
        return m + torch.log(torch.sum(torch.exp(z - m)))

    return _impl(objective, [_leaf(torch, data.args[0])])


BUILDERS = {"gmm": gmm, "ba": ba, "lstm": lstm, "ode": ode, "garch": garch, "mc": mc,
            "kmeans": kmeans, "lse": lse}


def build(family: str, data) -> Impl:
    if family not in BUILDERS:
        raise Unsupported(f"no PyTorch implementation of {family}")
    return BUILDERS[family](data)
