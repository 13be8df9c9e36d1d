"""GMM (ADBench, 1000 points), written vectorised: problems.vectorised.gmm_vec_objective, the
same objective and gradient as problems/gmm.py. The other tools run their GMM of gmm.py
(already vectorised, PEERS_AS); only ours differentiates the vectorised source. Numba cannot
compile it (np.einsum, scipy's logsumexp), so the primal timed is NumPy's."""

from __future__ import annotations

from benchmarks.suite.problems import Data, sample_by_differences

GRAD_LABEL = "gradient w.r.t. (alphas, means, icf)"
PEERS_AS = "gmm"


def load(params) -> Data:
    from benchmarks.suite.peers.autograd_peer import lower_selector
    from benchmarks.suite.problems import gmm

    data = gmm.load(params)
    alphas, means, icf, x, gamma, m, log_gamma_nd = data.args
    data.args = (alphas, means, icf, x, lower_selector(means.shape[1]), gamma, m, log_gamma_nd)
    return data


def objective_function():
    from benchmarks.suite.problems.vectorised import gmm_vec_objective

    return gmm_vec_objective


def numba_primal():
    """The primal the suite times for ours and differences for the reference: NumPy's."""
    return objective_function()


def reference_sample(data: Data, count: int, rng):
    return sample_by_differences(numba_primal(), data, count, rng)
