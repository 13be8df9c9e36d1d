"""Bundle adjustment (ADBench): the sparse Jacobian of the reprojection and weight residuals.

Every tool returns the same COO values (examples.adbench.ba.sparsity / coo_values): the
(p, 2, 15) blocks d reproj_err[j] / d (camera 11, point 3, weight 1 of observation j), then the
p entries d w_err[j] / d w[j]. The objective timed is ADBench's: all residuals from the
parameters (examples.adbench.ba.ba_objective, writing its output arrays)."""

from __future__ import annotations

import numpy as np

from benchmarks.suite.problems import Data

GRAD_LABEL = "sparse Jacobian values (p 2x15 blocks + p weight entries)"


def load(params) -> Data:
    from examples.adbench import data_dir
    from examples.adbench.io import read_ba

    inp = read_ba(data_dir() / "ba" / params["file"])
    p = inp.weights.shape[0]
    args = (inp.cams, inp.points, inp.weights, inp.features, inp.obs, np.zeros((p, 2)),
            np.zeros(p))
    return Data(args=args, argnums=(), raw={"inp": inp}, size=f"{31 * p} nonzeros",
                shapes=[(p, 2, 15), (p,)])


def objective_function():
    from examples.adbench.ba import ba_objective

    return ba_objective


def numba_primal():
    from benchmarks.adbench import njit_tree

    return njit_tree(objective_function())


def reference_sample(data: Data, count: int, rng):
    """Whole 2 x 15 blocks of a few random observations by fourth-order central differences
    (examples.adbench.ba.block_numerical), and their weight entries (-2 w, exact)."""
    from examples.adbench.ba import block_numerical

    inp = data.raw["inp"]
    p = inp.weights.shape[0]
    flat, values = [], []
    for j in np.sort(rng.choice(p, size=max(1, count // 30), replace=False)):
        flat.extend(range(30 * j, 30 * j + 30))
        values.extend(np.ravel(block_numerical(inp, int(j))))
        flat.append(30 * p + j)
        values.append(-2.0 * inp.weights[j])
    return np.array(flat, dtype=np.int64), np.array(values)
