"""The vectorised objectives of the suite, written as a JAX user writes them with `np` in
place of `jnp`: whole-array operations, broadcasting, reductions along axes, no loops over
entries (the LSTM keeps its loop over characters: each step depends on the previous one).

The same source runs under autodiff_compiler (which reads it), NumPy, and, through
`rebound`, JAX and autograd (their NumPy namespaces bound to `np`, their `logsumexp` to
`logsumexp`): every tool differentiates the same expressions. PyTorch's versions, whose
spelling differs (`dim=`, `amin`), are in peers/torch_peer.py.
"""

from __future__ import annotations

import types

import numpy as np
from scipy.special import logsumexp


def kmeans_objective(centers, x):
    """Sum over the points of the squared distance to the nearest centre."""
    distances = np.sum((x[:, None, :] - centers[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(distances, axis=1))


def lse_objective(z):
    """log(sum(exp(z))), the maximum subtracted first."""
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def gmm_vec_objective(alphas, means, icf, x, selector, gamma, m, log_gamma_nd):
    """ADBench's GMM objective (the same definition as examples.adbench.gmm.gmm_objective).
    Q_k's strictly lower part comes from icf[:, d:] through the constant 0/1 matrix
    `selector` (ADBench's column-major order; see peers.autograd_peer.lower_selector)."""
    n = x.shape[0]
    d = x.shape[1]
    k_count = alphas.shape[0]
    log_diag = icf[:, :d]
    qdiag = np.exp(log_diag)
    sum_qs = np.sum(log_diag, axis=1)
    lower = np.reshape(icf[:, d:] @ selector, (k_count, d, d))
    centred = x[:, None, :] - means[None, :, :]                       # (n, K, d)
    qx = qdiag[None, :, :] * centred + np.einsum("kab,nkb->nka", lower, centred)
    beta = alphas[None, :] + sum_qs[None, :] - 0.5 * np.sum(qx * qx, axis=2)
    n_prime = d + m + 1
    c = n_prime * d * (np.log(gamma) - 0.5 * np.log(2.0)) - log_gamma_nd
    prior = np.sum(0.5 * gamma * gamma * (np.sum(qdiag * qdiag, axis=1)
                                          + np.sum(icf[:, d:] ** 2, axis=1)) - m * sum_qs)
    return (-0.5 * n * d * np.log(2.0 * np.pi) + np.sum(logsumexp(beta, axis=1))
            - n * logsumexp(alphas) + prior - k_count * c)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_vec_objective(main_params, extra_params, state, sequence):
    """ADBench's LSTM (examples.adbench.lstm), each step on whole rows of b entries."""
    layers = state.shape[0] // 2
    c = sequence.shape[0]
    b = sequence.shape[1]
    hidden = state[0::2].copy()
    cell = state[1::2].copy()
    total = 0.0
    for t in range(c - 1):
        x = sequence[t] * extra_params[0]
        for i in range(layers):
            weights = main_params[2 * i]
            biases = main_params[2 * i + 1]
            forget = sigmoid(x * weights[0:b] + biases[0:b])
            ingate = sigmoid(hidden[i] * weights[b:2 * b] + biases[b:2 * b])
            outgate = sigmoid(x * weights[2 * b:3 * b] + biases[2 * b:3 * b])
            change = np.tanh(hidden[i] * weights[3 * b:] + biases[3 * b:])
            new_cell = cell[i] * forget + ingate * change
            x = outgate * np.tanh(new_cell)
            cell[i] = new_cell
            hidden[i] = x
        y = x * extra_params[1] + extra_params[2]
        ynorm = y - np.log(2.0 + np.sum(np.exp(y)))
        total += np.sum(sequence[t + 1] * ynorm)
    return -total / ((c - 1) * b)


def rebound(fn, **names):
    """`fn` with the module-level names in `names` rebound (np to jax.numpy, ...), its helpers
    in this module too; the module itself is unchanged."""
    namespace = dict(fn.__globals__)
    namespace.update(names)
    for key, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == __name__:
            namespace[key] = types.FunctionType(value.__code__, namespace, value.__name__,
                                                value.__defaults__, value.__closure__)
    return namespace[fn.__name__]
