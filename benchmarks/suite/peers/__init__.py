"""The tools compared, one module each.

Every module has ``NAME``, ``version() -> str`` (raises ImportError when the tool is not
installed) and ``build(family, data) -> Impl`` (raises ``Unsupported`` with the reason when the
tool has no implementation of that problem, or cannot differentiate it).

An `Impl` holds factories, so that what a tool does before its first result (tracing, source
transformation, compilation) is timed as part of the first call: ``objective()`` and
``gradient()`` each return a zero-argument callable that computes the objective / the
derivative and waits for it (JAX: block_until_ready). ``to_numpy(result)`` turns a derivative
into the problem's list of float64 arrays (problems/*.py say which), outside the timing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# The order of the table's rows within a problem.
TOOLS = ["ours", "jax", "torch", "autograd", "tangent", "central"]
MODULES = {"ours": "ours", "jax": "jax_peer", "torch": "torch_peer",
           "autograd": "autograd_peer", "tangent": "tangent_peer", "central": "central"}
LABELS = {"ours": "autodiff_compiler", "jax": "JAX (jit)", "torch": "PyTorch",
          "autograd": "autograd", "tangent": "tangent-ad", "central": "central differences"}


class Unsupported(Exception):
    """The tool cannot do this problem (the message says why)."""


@dataclass
class Impl:
    objective: Callable[[], Callable[[], Any]]
    gradient: Callable[[], Callable[[], Any]]
    to_numpy: Callable[[Any], list]
    note: str = ""
    # Estimated seconds of one derivative call, known before running it (central differences:
    # the number of objective evaluations times one evaluation); None when unknown.
    estimate: Callable[[float], float] | None = None


def module(tool: str):
    return importlib.import_module(f"benchmarks.suite.peers.{MODULES[tool]}")


def as_arrays(parts) -> list:
    return [np.array(p, dtype=np.float64) for p in parts]
