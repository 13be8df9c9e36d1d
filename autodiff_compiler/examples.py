"""The built-in example that `python -m autodiff_compiler show` compiles, prints and runs.

`power_sum` has the control flow the compiler is built for: a counted loop over an array with
a data-dependent branch inside, so its adjoint needs a tape (the values of `sin` on the taken
branch) and a reversed loop.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EXAMPLE_ARGS_TEXT", "example_args", "power_sum"]


def power_sum(x, n):
    """Sum of x*sin(x) over positive entries minus x**2 over the others."""
    s = 0.0
    for i in range(n):
        if x[i] > 0:
            s += math.sin(x[i]) * x[i]
        else:
            s -= x[i] ** 2
    return s


#: The example arguments as `--args` would spell them.
EXAMPLE_ARGS_TEXT = "np.linspace(-1, 1, 8), 8"


def example_args() -> tuple:
    """Fresh example arguments for `power_sum`: x = np.linspace(-1, 1, 8), n = 8."""
    return np.linspace(-1, 1, 8), 8
