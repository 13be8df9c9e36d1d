"""Central differences of the Numba-compiled loop-level objective (the same primal as ours):
(f(x + h e_i) - f(x - h e_i)) / 2h for every differentiated entry, h = eps^(1/3) max(1, |x_i|),
perturbing the argument in place and restoring it. BA: the Jacobian's structure is used as a
user of finite differences would (a colouring): observations are independent once their camera
and point rows are gathered, so perturbing one of the 15 columns in every observation at once
gives that column of every 2 x 15 block (15 x 2 evaluations of the gathered residuals), and the
weight errors' derivative likewise (2 evaluations).

One derivative costs 2 n objective evaluations; when that estimate exceeds the time cap the
derivative is reported as over the cap without being run."""

from __future__ import annotations

import numpy as np

from benchmarks.suite.peers import Impl
from benchmarks.suite.problems import family as problem_family

NAME = "central"
EPS3 = np.finfo(np.float64).eps ** (1.0 / 3.0)


def version() -> str:
    import numba

    return f"central differences (numba {numba.__version__} primal)"


def _difference(f, args, x: float, put) -> float:
    """(f(x + h) - f(x - h)) / 2h, `put(value)` placing the perturbed entry into args."""
    h = EPS3 * max(1.0, abs(x))
    put(x + h)
    up = f(*args)
    put(x - h)
    down = f(*args)
    put(x)
    return (up - down) / (2.0 * h)


def central_gradient(f, args, argnums) -> list:
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    parts = []
    for k in argnums:
        base = args[k]
        if isinstance(base, np.ndarray):
            flat, g = base.reshape(-1), np.empty(base.shape)
            out = g.reshape(-1)
            for i in range(flat.shape[0]):
                out[i] = _difference(f, args, float(flat[i]),
                                     lambda v, i=i, flat=flat: flat.__setitem__(i, v))
            parts.append(g)
        else:
            parts.append(np.array(_difference(f, args, float(base),
                                              lambda v, k=k: args.__setitem__(k, v))))
    return parts


def build(family: str, data) -> Impl:
    fam = problem_family(family)
    if family == "ba":
        return _build_ba(fam, data)
    n_entries = sum(int(np.prod(s)) if s else 1 for s in data.grad_shapes())
    primal_holder = {}

    def make_objective():
        primal_holder["f"] = primal = fam.numba_primal()
        return lambda: primal(*data.args)

    def make_gradient():
        primal = primal_holder.get("f") or fam.numba_primal()
        return lambda: central_gradient(primal, data.args, data.argnums)

    return Impl(objective=make_objective, gradient=make_gradient,
                to_numpy=lambda parts: [np.asarray(p, dtype=np.float64) for p in parts],
                note=f"{2 * n_entries} objective evaluations",
                estimate=lambda t_objective: 2 * n_entries * t_objective)


def _build_ba(fam, data) -> Impl:
    from benchmarks.adbench import njit_tree
    from examples.adbench.ba import ba_residuals_gathered, gather

    inp = data.raw["inp"]
    p = inp.weights.shape[0]

    def make_objective():
        primal = fam.numba_primal()
        return lambda: primal(*data.args)

    def make_gradient():
        residuals = njit_tree(ba_residuals_gathered)

        def call():
            obs_cams, obs_points = gather(inp)
            w = inp.weights.copy()
            blocks = np.empty((p, 2, 15))
            columns = [(obs_cams, c) for c in range(11)] + [(obs_points, c) for c in range(3)]
            for col, (arr, c) in enumerate(columns):
                x = arr[:, c].copy()
                h = EPS3 * np.maximum(1.0, np.abs(x))
                arr[:, c] = x + h
                up = residuals(obs_cams, obs_points, w, inp.features)
                arr[:, c] = x - h
                down = residuals(obs_cams, obs_points, w, inp.features)
                arr[:, c] = x
                blocks[:, :, col] = (up - down) / (2.0 * h[:, None])
            h = EPS3 * np.maximum(1.0, np.abs(w))
            up = residuals(obs_cams, obs_points, w + h, inp.features)
            down = residuals(obs_cams, obs_points, w - h, inp.features)
            blocks[:, :, 14] = (up - down) / (2.0 * h[:, None])
            w_diag = ((1.0 - (w + h) ** 2) - (1.0 - (w - h) ** 2)) / (2.0 * h)
            return blocks, w_diag
        return call

    return Impl(objective=make_objective, gradient=make_gradient,
                to_numpy=lambda parts: [np.asarray(x, dtype=np.float64) for x in parts],
                note="15-colour differences: 30 evaluations of the gathered residuals")
