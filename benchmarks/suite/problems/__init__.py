"""The problems of the comparison suite: one module per family, an `Instance` per size.

Every family module provides

* ``load(params) -> Data``: the inputs (NumPy float64 / int64 arrays, Python floats) and the
  arguments of the loop-level objective that autodiff_compiler differentiates;
* ``GRAD_LABEL``: what the derivative is (the tools all return it in the same order, flattened
  into one float64 vector for the accuracy comparison);
* ``reference_sample(data, count, rng) -> (flat indices, values)``: a few entries of the
  derivative by fourth-order central differences of the Numba-compiled loop-level objective
  (the fallback reference where JAX is not installed, and a check of the JAX reference).

`Instance.check` names a smaller size at which the accuracy is compared instead of the timed
size (Lorenz-96 only: the system is chaotic, so rounding differences between two correct
implementations grow like exp(1.7 t) and the values themselves decorrelate after t ~ 20).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Instance:
    name: str                      # what --only matches (also a family prefix: "gmm")
    family: str                    # the module in this package
    label: str                     # for the table
    params: dict = field(default_factory=dict, hash=False, compare=False)
    check: dict | None = field(default=None, hash=False, compare=False)
    # seconds allowed for ours' first derivative call where compiling it takes longer than
    # the protocol's cap (the report gives that time; the cap would only hide the rest)
    first_cap: float | None = None


@dataclass
class Data:
    args: tuple                    # arguments of the loop-level objective (ours, the Numba primal)
    argnums: tuple                 # which of them are differentiated (BA: see ba.py)
    raw: dict                      # named inputs for the peers
    size: str = ""                 # what the derivative is, for the table
    shapes: list | None = None     # shapes of the derivative's parts, when not those of args

    def grad_shapes(self) -> list[tuple]:
        if self.shapes is not None:
            return list(self.shapes)
        return [np.shape(self.args[k]) for k in self.argnums]


FULL = [
    Instance("gmm_d2_K5", "gmm", "GMM 1k d=2 K=5", {"d": 2, "k": 5}),
    Instance("gmm_d10_K25", "gmm", "GMM 1k d=10 K=25", {"d": 10, "k": 25}),
    Instance("gmm_d20_K50", "gmm", "GMM 1k d=20 K=50", {"d": 20, "k": 50}),
    Instance("ba1", "ba", "BA ba1 (p=31843)", {"file": "ba1_n49_m7776_p31843.txt"}),
    Instance("ba3", "ba", "BA ba3 (p=182072)", {"file": "ba3_n161_m48126_p182072.txt"}),
    Instance("lstm_l2_c1024", "lstm", "LSTM l=2 c=1024", {"file": "lstm_l2_c1024.txt"}),
    Instance("lstm_l4_c4096", "lstm", "LSTM l=4 c=4096", {"file": "lstm_l4_c4096.txt"}),
    Instance("ode_lorenz96", "ode", "RK4 Lorenz-96 N=40 5000 steps", {"nsteps": 5000},
             check={"nsteps": 200}),
    Instance("garch", "garch", "GARCH(1,1) T=100000", {"T": 100_000}),
    Instance("mc_greeks", "mc", "MC Greeks 10000 x 252", {"paths": 10_000, "steps": 252}),
    # written as a JAX user writes them (problems/vectorised.py)
    Instance("kmeans", "kmeans", "k-means k=100 n=10000 d=16 [vec]",
             {"k": 100, "n": 10_000, "d": 16}),
    Instance("gmm_vec_d10_K25", "gmm_vec", "GMM 1k d=10 K=25 [vec]", {"d": 10, "k": 25},
             first_cap=600.0),
    Instance("lse", "lse", "log-sum-exp n=1280000 [vec]", {"n": 1_280_000}),
    Instance("lstm_vec_l2_c1024", "lstm_vec", "LSTM l=2 c=1024 [vec]",
             {"file": "lstm_l2_c1024.txt"}, first_cap=300.0),
]

_IN_FULL = {inst.name: inst for inst in FULL}
QUICK = [
    _IN_FULL["gmm_d2_K5"], _IN_FULL["ba1"], _IN_FULL["lstm_l2_c1024"],
    Instance("ode_lorenz96", "ode", "RK4 Lorenz-96 N=40 1000 steps [quick]", {"nsteps": 1000},
             check={"nsteps": 200}),
    Instance("garch", "garch", "GARCH(1,1) T=20000 [quick]", {"T": 20_000}),
    Instance("mc_greeks", "mc", "MC Greeks 2000 x 252 [quick]", {"paths": 2_000, "steps": 252}),
]


def instances(quick: bool, only: list[str] | None = None) -> list[Instance]:
    chosen = QUICK if quick else FULL
    if not only:
        return list(chosen)
    picked = [inst for inst in chosen
              if any(inst.name == o or inst.family == o or inst.name.startswith(o)
                     for o in only)]
    if not picked:
        names = ", ".join(sorted({i.name for i in chosen} | {i.family for i in chosen}))
        raise SystemExit(f"--only {' '.join(only)}: no such problem here (choose from {names})")
    return picked


def find(name: str, quick: bool) -> Instance:
    for inst in QUICK if quick else FULL:
        if inst.name == name:
            return inst
    raise KeyError(name)


def family(name: str):
    return importlib.import_module(f"benchmarks.suite.problems.{name}")


def built_as(name: str, tool: str) -> str:
    """The family whose implementation `tool` runs: a vectorised family's PEERS_AS (the peers'
    code of that problem is vectorised already) for the tools other than ours and central
    differences (which differentiate the family's own source)."""
    if tool in ("ours", "central"):
        return name
    return getattr(family(name), "PEERS_AS", name)


# --- shared helpers ---------------------------------------------------------------------------

def flat_locate(shapes: list[tuple], flat_index: int) -> tuple[int, tuple]:
    """(position in the list of differentiated arguments, index into that argument) of an
    entry of the concatenated flattened gradient."""
    start = 0
    for pos, shape in enumerate(shapes):
        size = int(np.prod(shape)) if shape else 1
        if flat_index < start + size:
            local = flat_index - start
            return pos, (tuple(int(i) for i in np.unravel_index(local, shape)) if shape else ())
        start += size
    raise IndexError(flat_index)


def central_difference_any(f, args, k: int, index: tuple, step: float = 1e-4) -> float:
    """Fourth-order central difference of f(*args) in args[k][index] (args[k] an array) or in
    args[k] (a float, index ()): examples.adbench.central_difference, extended to floats."""
    from examples.adbench import central_difference

    if index:
        return central_difference(f, args, k, index, step)
    base = float(args[k])
    h = step * max(1.0, abs(base))
    total = 0.0
    for offset, weight in ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0)):
        moved = list(args)
        moved[k] = base + offset * h
        total += weight * float(f(*moved))
    return total / (12.0 * h)


def sample_by_differences(primal, data: Data, count: int, rng, step: float = 1e-4):
    """`count` random entries of the gradient of primal(*data.args) w.r.t. data.argnums by
    fourth-order central differences: (flat indices, values)."""
    shapes = data.grad_shapes()
    total = sum(int(np.prod(s)) if s else 1 for s in shapes)
    flat = np.sort(rng.choice(total, size=min(count, total), replace=False))
    values = []
    for f in flat:
        pos, index = flat_locate(shapes, int(f))
        values.append(central_difference_any(primal, data.args, data.argnums[pos], index, step))
    return flat.astype(np.int64), np.array(values)
