"""ADBench GMM: log-likelihood of a Gaussian mixture with a Wishart prior on the precisions.

Parameters: alphas (K), means (K, D), icf (K, D(D+1)/2). Row k of icf holds q_k (D log-diagonal
entries of the inverse Cholesky factor Q_k) and then l_k, the strictly lower part of Q_k filled
column by column. With x_i (N points of dimension D):

    beta_ik = alpha_k + sum_j q_kj - 0.5 ||Q_k (x_i - mu_k)||^2
    f = -N D/2 log(2 pi) + sum_i logsumexp_k(beta_ik) - N logsumexp(alpha)
        + sum_k [0.5 gamma^2 (||exp(q_k)||^2 + ||l_k||^2) - m sum_j q_kj] - K C
    C = n' D (log(gamma) - 0.5 log(2)) - multigammaln(0.5 n', D),  n' = D + m + 1

The prior is added with ADBench's sign (GradBench flips it). The gradient w.r.t.
(alphas, means, icf) has K (1 + D + D(D+1)/2) entries.

`gmm_objective` is the loop-level function that autodiff_compiler differentiates;
`gmm_objective_numpy` is an independent vectorised implementation to check its value.

math.lgamma has no derivative rule in autodiff_compiler and is refused inside a differentiated
function even where its argument is a constant, so multigammaln(0.5 n', D) is computed outside
(`wishart_log_gamma`) and passed in as the float argument `log_gamma_nd`.
"""

from __future__ import annotations

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


def wishart_log_gamma(d: int, m: float) -> float:
    """multigammaln(0.5 n', d) with n' = d + m + 1 (constant in the parameters)."""
    a = 0.5 * (d + m + 1)
    out = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        out += math.lgamma(a + 0.5 * (1 - j))
    return out


# --- the loop-level objective (what autodiff_compiler differentiates) ------------------------

def logsumexp(v, n):
    """log(sum(exp(v[:n]))) with the maximum subtracted first."""
    mx = v[0]
    for k in range(1, n):
        mx = max(mx, v[k])
    s = 0.0
    for k in range(n):
        s += math.exp(v[k] - mx)
    return math.log(s) + mx


def lower_index(row, col, d):
    """Position in l_k of Q_k[row, col] (row > col): strictly lower part, column-major."""
    return col * d - col * (col + 1) // 2 + row - col - 1


def mahalanobis_sq(icf, qdiag, means, x, i, k, d):
    """||Q_k (x_i - mu_k)||^2, one row of Q_k at a time."""
    total = 0.0
    for r in range(d):
        v = qdiag[k, r] * (x[i, r] - means[k, r])
        for c in range(r):
            v += icf[k, d + lower_index(r, c, d)] * (x[i, c] - means[k, c])
        total += v * v
    return total


def log_wishart_prior(icf, qdiag, sum_qs, gamma, m, log_gamma_nd, d, k_count):
    icf_size = d * (d + 1) // 2
    n_prime = d + m + 1.0
    c = n_prime * d * (math.log(gamma) - 0.5 * math.log(2.0)) - log_gamma_nd
    out = 0.0
    for k in range(k_count):
        frobenius = 0.0
        for j in range(d):
            frobenius += qdiag[k, j] * qdiag[k, j]
        for j in range(d, icf_size):
            frobenius += icf[k, j] * icf[k, j]
        out += 0.5 * gamma * gamma * frobenius - m * sum_qs[k]
    return out - k_count * c


def gmm_objective(alphas, means, icf, x, gamma, m, log_gamma_nd):
    """ADBench's GMM objective; gamma, m: the Wishart prior; log_gamma_nd: wishart_log_gamma."""
    n = x.shape[0]
    d = x.shape[1]
    k_count = alphas.shape[0]
    qdiag = np.zeros((k_count, d))
    sum_qs = np.zeros(k_count)
    main_term = np.zeros(k_count)
    for k in range(k_count):
        s = 0.0
        for j in range(d):
            qdiag[k, j] = math.exp(icf[k, j])
            s += icf[k, j]
        sum_qs[k] = s
    slse = 0.0
    for i in range(n):
        for k in range(k_count):
            main_term[k] = alphas[k] + sum_qs[k] - 0.5 * mahalanobis_sq(
                icf, qdiag, means, x, i, k, d)
        slse += logsumexp(main_term, k_count)
    constant = -n * d * 0.5 * LOG_2PI
    lse_alphas = logsumexp(alphas, k_count)
    prior = log_wishart_prior(icf, qdiag, sum_qs, gamma, m, log_gamma_nd, d, k_count)
    return constant + slse - n * lse_alphas + prior


def gmm_args(inp) -> tuple:
    """The arguments of gmm_objective for a GMMInput."""
    d = inp.means.shape[1]
    return (inp.alphas, inp.means, inp.icf, inp.x, float(inp.gamma), float(inp.m),
            wishart_log_gamma(d, inp.m))


# --- an independent vectorised NumPy implementation (for checking values) --------------------

def _np_logsumexp(a, axis=None):
    mx = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - mx), axis=axis, keepdims=True)) + mx
    return np.squeeze(out, axis=axis) if axis is not None else float(out.ravel()[0])


def unpack_q(icf: np.ndarray, d: int) -> np.ndarray:
    """(K, D, D) lower-triangular Q_k: diagonal exp(q_k), below it l_k column-major."""
    k_count = icf.shape[0]
    q = np.zeros((k_count, d, d))
    diag = np.arange(d)
    q[:, diag, diag] = np.exp(icf[:, :d])
    cols, rows = np.triu_indices(d, 1)   # (col, row) pairs in column-major order of the lower
    q[:, rows, cols] = icf[:, d:]
    return q


def gmm_objective_numpy(alphas, means, icf, x, gamma, m):
    n, d = x.shape
    k_count = alphas.shape[0]
    q = unpack_q(icf, d)
    sum_qs = icf[:, :d].sum(axis=1)
    centred = x[:, None, :] - means[None, :, :]            # (N, K, D)
    qx = np.einsum("kab,nkb->nka", q, centred)
    beta = alphas[None, :] + sum_qs[None, :] - 0.5 * np.sum(qx * qx, axis=2)
    n_prime = d + m + 1
    mgammaln = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * n_prime + 0.5 * (1 - j)) for j in range(1, d + 1))
    c = n_prime * d * (math.log(gamma) - 0.5 * math.log(2.0)) - mgammaln
    prior = np.sum(0.5 * gamma ** 2 * (np.sum(np.exp(2 * icf[:, :d]), axis=1)
                                        + np.sum(icf[:, d:] ** 2, axis=1)) - m * sum_qs)
    return float(-0.5 * n * d * math.log(2 * math.pi) + np.sum(_np_logsumexp(beta, axis=1))
                 - n * _np_logsumexp(alphas) + prior - k_count * c)
