"""User functions with asserts, for tests/test_python_forms.py: pytest rewrites the asserts
of test modules (and the compiler would then read source that is not the code that runs), so
they live in this plain module."""

from __future__ import annotations

import numpy as np


def _weights(a, b=2.0, *, c=1.0):
    return a * b + c


def _pair(x):
    return x * 2.0, x + 1.0


def objective(x):
    """Many forms in one function, as a model's loss might mix them."""
    n = x.shape[0]
    first, second = _pair(x[0])
    v = np.array([x[0], x[1] - x[0]])
    rows = []
    for i in range(3):
        rows.append(x * (i + 1.0))
    m = np.stack(rows)
    z = 0.0
    for c in [1.0, 2.0, 3.0]:
        z += c * x[0]

    def sq(y):
        return y * y

    g = lambda y: y + z
    assert n > 0, "empty input"
    total = np.sum(v) + sum([first, second]) + np.sum(x[[0, 2]]) + np.sum(m)
    total = total + sum(x[i] ** 2 for i in range(n)) + sq(x[1]) + g(x[2])
    return total + _weights(x[0], c=3.0) + np.float64(x[1]) + np.sum(x.astype(float))


def checked(x):
    assert np.all(x > 0.0), "x must be positive"
    return np.sum(np.log(x))
