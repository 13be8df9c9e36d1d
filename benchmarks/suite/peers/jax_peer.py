"""JAX, float64 (jax_enable_x64), everything under `jax.jit`, written as a JAX user would:
vectorised where the problem allows it (GMM, BA), `lax.scan` for recurrences (LSTM over
characters, RK4 steps, GARCH variances, MC steps with all paths at once). Derivatives by
`jax.value_and_grad`; BA by `jax.vmap(jax.jacrev(residual of one observation))`
(jacrev: about 25 ms against 43 ms for jacfwd on ba1 here). These are also the reference
values of the suite."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.suite.peers import Impl, Unsupported, as_arrays

NAME = "jax"


def version() -> str:
    import jax
    import jaxlib

    return f"jax {jax.__version__} (jaxlib {jaxlib.__version__})"


def _setup():
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


def _ready(out):
    import jax

    return jax.block_until_ready(out)


def _impl(objective_fn, args, argnums, note=""):
    """jit(objective) and jit(value_and_grad(objective)) on args."""
    jax = _setup()

    def make_objective():
        f = jax.jit(objective_fn)
        return lambda: _ready(f(*args))

    def make_gradient():
        g = jax.jit(jax.value_and_grad(objective_fn, argnums=argnums))
        return lambda: _ready(g(*args))

    return Impl(objective=make_objective, gradient=make_gradient,
                to_numpy=lambda out: as_arrays(out[1]), note=note)


# --- GMM ---------------------------------------------------------------------------------------

def gmm(data) -> Impl:
    jax = _setup()
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    from examples.adbench.gmm import wishart_log_gamma

    inp = data.raw["inp"]
    d, k_count, n = inp.shape
    gamma, m = float(inp.gamma), float(inp.m)
    cols, rows = np.triu_indices(d, 1)    # lower part of Q_k, column-major (as in unpack_q)
    n_prime = d + m + 1
    c = n_prime * d * (math.log(gamma) - 0.5 * math.log(2.0)) - wishart_log_gamma(d, m)
    x = jnp.asarray(inp.x)

    def objective(alphas, means, icf):
        qdiag = jnp.exp(icf[:, :d])
        sum_qs = jnp.sum(icf[:, :d], axis=1)
        lower = jnp.zeros((k_count, d, d)).at[:, rows, cols].set(icf[:, d:])
        centred = x[:, None, :] - means[None, :, :]                       # (N, K, D)
        qx = qdiag[None] * centred + jnp.einsum("kab,nkb->nka", lower, centred)
        beta = alphas[None, :] + sum_qs[None, :] - 0.5 * jnp.sum(qx * qx, axis=2)
        prior = jnp.sum(0.5 * gamma * gamma * (jnp.sum(qdiag * qdiag, axis=1)
                                               + jnp.sum(icf[:, d:] ** 2, axis=1))
                        - m * sum_qs)
        return (-0.5 * n * d * math.log(2.0 * math.pi) + jnp.sum(logsumexp(beta, axis=1))
                - n * logsumexp(alphas) + prior - k_count * c)

    args = tuple(jnp.asarray(a) for a in (inp.alphas, inp.means, inp.icf))
    del jax
    return _impl(objective, args, (0, 1, 2))


# --- BA ------------------------------------------------------------------------------------

def ba_residual_one(jnp, cam, point, w, feat):
    """The 2 reprojection residuals of one observation (JAX)."""
    rot, centre = cam[0:3], cam[3:6]
    xc = point - centre
    sqtheta = jnp.sum(rot * rot)
    nonzero = sqtheta != 0.0
    theta = jnp.sqrt(jnp.where(nonzero, sqtheta, 1.0))
    axis = rot / theta
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    general = (xc * cos + jnp.cross(axis, xc) * sin + axis * jnp.dot(axis, xc) * (1.0 - cos))
    small = xc + jnp.cross(rot, xc)
    rotated = jnp.where(nonzero, general, small)
    proj = rotated[:2] / rotated[2]
    rsq = jnp.sum(proj * proj)
    distortion = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq
    return w * (proj * distortion * cam[6] + cam[7:9] - feat)


def ba(data) -> Impl:
    jax = _setup()
    import jax.numpy as jnp

    inp = data.raw["inp"]
    cam_idx, pt_idx = jnp.asarray(inp.obs[:, 0]), jnp.asarray(inp.obs[:, 1])

    def one(cam, point, w, feat):
        return ba_residual_one(jnp, cam, point, w, feat)

    block = jax.vmap(jax.jacrev(one, argnums=(0, 1, 2)))
    residuals = jax.vmap(one)

    @jax.jit
    def objective(cams, points, weights, feats):
        return residuals(cams[cam_idx], points[pt_idx], weights, feats), 1.0 - weights * weights

    @jax.jit
    def jacobian(cams, points, weights, feats):
        d_cam, d_pt, d_w = block(cams[cam_idx], points[pt_idx], weights, feats)
        blocks = jnp.concatenate([d_cam, d_pt, d_w[:, :, None]], axis=2)    # (p, 2, 15)
        w_diag = jax.vmap(jax.grad(lambda w: 1.0 - w * w))(weights)
        return blocks, w_diag

    args = tuple(jnp.asarray(a) for a in (inp.cams, inp.points, inp.weights, inp.features))
    return Impl(objective=lambda: (lambda: _ready(objective(*args))),
                gradient=lambda: (lambda: _ready(jacobian(*args))),
                to_numpy=as_arrays, note="vmap(jacrev) of one observation's residual")


# --- LSTM ------------------------------------------------------------------------------------

def lstm(data) -> Impl:
    jax = _setup()
    import jax.numpy as jnp
    from jax import lax

    inp = data.raw["inp"]
    layers, c, b = inp.shape
    sigmoid = jax.nn.sigmoid

    def objective(main_params, extra_params, state, sequence):
        weights = main_params[0::2].reshape(layers, 4, b)
        biases = main_params[1::2].reshape(layers, 4, b)

        def step(carry, xs):
            hidden, cell = carry
            x_t, target = xs
            x = x_t * extra_params[0]
            new_h, new_c = [], []
            for i in range(layers):
                wt, bs = weights[i], biases[i]
                forget = sigmoid(x * wt[0] + bs[0])
                ingate = sigmoid(hidden[i] * wt[1] + bs[1])
                outgate = sigmoid(x * wt[2] + bs[2])
                change = jnp.tanh(hidden[i] * wt[3] + bs[3])
                ci = cell[i] * forget + ingate * change
                x = outgate * jnp.tanh(ci)
                new_h.append(x)
                new_c.append(ci)
            y = x * extra_params[1] + extra_params[2]
            ynorm = y - jnp.log(2.0 + jnp.sum(jnp.exp(y)))
            return (jnp.stack(new_h), jnp.stack(new_c)), jnp.sum(target * ynorm)

        _, terms = lax.scan(step, (state[0::2], state[1::2]), (sequence[:-1], sequence[1:]))
        return -jnp.sum(terms) / ((c - 1) * b)

    args = tuple(jnp.asarray(a) for a in (inp.main_params, inp.extra_params, inp.state,
                                          inp.sequence))
    return _impl(objective, args, (0, 1), note="lax.scan over characters")


# --- RK4 Lorenz-96 -----------------------------------------------------------------------------

def ode(data) -> Impl:
    _setup()
    import jax.numpy as jnp
    from jax import lax

    raw = data.raw
    dt, nsteps = raw["dt"], raw["nsteps"]

    def objective(y0, F):
        def rhs(y):
            return (jnp.roll(y, -1) - jnp.roll(y, 2)) * jnp.roll(y, 1) - y + F

        def step(y, _):
            k1 = rhs(y)
            k2 = rhs(y + 0.5 * dt * k1)
            k3 = rhs(y + 0.5 * dt * k2)
            k4 = rhs(y + dt * k3)
            return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), None

        y, _ = lax.scan(step, y0, None, length=nsteps)
        return jnp.sum(y * y)

    return _impl(objective, (jnp.asarray(raw["y0"]), jnp.float64(raw["F"])), (0, 1),
                 note="lax.scan over steps")


# --- GARCH -------------------------------------------------------------------------------------

def garch(data) -> Impl:
    _setup()
    import jax.numpy as jnp
    from jax import lax

    raw = data.raw
    r = jnp.asarray(raw["r"])
    T = raw["T"]

    def objective(omega, alpha, beta):
        r2 = r * r
        sigma2_0 = jnp.sum(r2) / T

        def step(sigma2, r2_t):
            return omega + alpha * r2_t + beta * sigma2, sigma2

        _, sigma2 = lax.scan(step, sigma2_0, r2)
        return jnp.sum(0.5 * (math.log(2.0 * math.pi) + jnp.log(sigma2) + r2 / sigma2))

    args = tuple(jnp.float64(raw[k]) for k in ("omega", "alpha", "beta"))
    return _impl(objective, args, (0, 1, 2), note="lax.scan for the variances")


# --- Monte-Carlo Greeks ------------------------------------------------------------------------

def mc(data) -> Impl:
    """`lax.scan` over the steps, each advancing all paths: its gradient took about half the
    time of `jnp.prod(jnp.exp(drift + vol * Z), axis=1)` (the fully vectorised form) here."""
    _setup()
    import jax.numpy as jnp
    from jax import lax

    raw = data.raw
    z_steps = jnp.asarray(raw["Z"].T)          # (steps, paths): scan over the leading axis
    r, T, K = raw["r"], raw["T"], raw["K"]
    npaths, nsteps = raw["Z"].shape

    def objective(S0, sigma):
        dt = T / nsteps
        drift = (r - 0.5 * sigma * sigma) * dt
        vol = sigma * math.sqrt(dt)

        def step(s, z):
            return s * jnp.exp(drift + vol * z), None

        s_final, _ = lax.scan(step, jnp.full(npaths, S0), z_steps)
        return math.exp(-r * T) * jnp.mean(jnp.maximum(s_final - K, 0.0))

    return _impl(objective, (jnp.float64(raw["S0"]), jnp.float64(raw["sigma"])), (0, 1),
                 note="lax.scan over steps, vectorised over paths")


# --- the vectorised problems: the same source as ours, jax.numpy bound to np ---------------

def vectorised(family: str):
    def build(data) -> Impl:
        _setup()
        import jax.numpy as jnp
        from jax.scipy.special import logsumexp

        from benchmarks.suite.problems import family as problem_family
        from benchmarks.suite.problems.vectorised import rebound

        objective = rebound(problem_family(family).objective_function(), np=jnp,
                            logsumexp=logsumexp)
        args = tuple(jnp.asarray(a) for a in data.args)
        return _impl(objective, args, data.argnums, note="problems/vectorised.py on jax.numpy")
    return build


BUILDERS = {"gmm": gmm, "ba": ba, "lstm": lstm, "ode": ode, "garch": garch, "mc": mc,
            "kmeans": vectorised("kmeans"), "lse": vectorised("lse")}


def build(family: str, data) -> Impl:
    if family not in BUILDERS:
        raise Unsupported(f"no JAX implementation of {family}")
    return BUILDERS[family](data)
