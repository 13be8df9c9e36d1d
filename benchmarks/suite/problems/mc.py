"""Monte-Carlo Greeks: the price of a European call under geometric Brownian motion,
estimated over `paths` paths of `steps` time steps each from a pre-generated matrix of standard
normals (fixed seed), differentiated w.r.t. (S0, sigma): the pathwise delta and vega.

Every tool computes the same arithmetic: each step multiplies the path by
exp((r - sigma^2 / 2) dt + sigma sqrt(dt) Z[p, t]), the payoff max(S_T - K, 0) is discounted
and averaged. (Summing the exponents first would need one exp per path instead of one per
step; no tool is given that shortcut.)"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "(delta, vega) = gradient w.r.t. (S0, sigma)"
S0, SIGMA, RATE, MATURITY, STRIKE = 100.0, 0.2, 0.03, 1.0, 100.0


def mc_call_price(S0, sigma, r, T, K, Z):
    """Loop-level Monte-Carlo price of a European call (what autodiff_compiler differentiates)."""
    npaths = Z.shape[0]
    nsteps = Z.shape[1]
    dt = T / nsteps
    drift = (r - 0.5 * sigma * sigma) * dt
    vol = sigma * math.sqrt(dt)
    total = 0.0
    for p in range(npaths):
        s = S0
        for t in range(nsteps):
            s = s * math.exp(drift + vol * Z[p, t])
        total += max(s - K, 0.0)
    return math.exp(-r * T) * total / npaths


def load(params) -> Data:
    Z = np.random.default_rng(5).standard_normal((params["paths"], params["steps"]))
    args = (S0, SIGMA, RATE, MATURITY, STRIKE, Z)
    return Data(args=args, argnums=(0, 1),
                raw={"S0": S0, "sigma": SIGMA, "r": RATE, "T": MATURITY, "K": STRIKE, "Z": Z},
                size="2 entries")


def objective_function():
    return mc_call_price


def numba_primal():
    from benchmarks.control import njit_with_helpers

    return njit_with_helpers(mc_call_price)


def reference_sample(data: Data, count: int, rng):
    """Step 1e-5 relative: wider steps cross the payoff's kink on some paths (1e-4 is off by
    ~1e-5 relative at 2000 paths), narrower ones lose digits to rounding."""
    return sample_by_differences(numba_primal(), data, count, rng, step=1e-5)
