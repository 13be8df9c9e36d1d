"""Gradient checking by central differences (the textbook's test of a derivative).

The numerical derivative is the fourth-order central difference
(f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h with h = 1e-4 * max(1, |x|): truncation
error O(h^4) and rounding error O(eps/h) are both far below the 1e-7 bar. The comparison is
the relative error |a - n| / max(|a| + |n|, tiny), taken over all differentiated entries.
"""

from __future__ import annotations

import numpy as np

from .tracebacks import api_boundary

TINY = 1e-300


class GradientMismatchError(AssertionError):
    """check_grad(..., raise_on_mismatch=True) found the analytic and numerical gradients
    further apart than `tol`; the message shows both.

    Example:
        >>> issubclass(GradientMismatchError, AssertionError)
        True
    """


def _with_entry(args, k, index, value):
    """Fresh copies of the arguments (f may write into its arrays), entry `index` of
    argument k set to `value`."""
    changed = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    if isinstance(changed[k], np.ndarray):
        changed[k][index] = value
    else:
        changed[k] = value
    return changed


@api_boundary
def numerical_grad(f, *args, argnums=0, step=1e-4):
    """The gradient of a scalar function by fourth-order central differences (f itself is
    called, four times per input entry; nothing is compiled).

    Parameters:
        f: a function returning one float.
        *args: its arguments.
        argnums: the position of the argument to differentiate, or a tuple of positions.
        step: the relative step h (scaled by max(1, |x|) for each entry).

    Returns:
        The gradient with the structure `grad` gives: a float for a float, an array for an
        array, a tuple for several argnums.

    Example:
        >>> def f(x, y):
        ...     return x * x * y
        >>> [round(g, 8) for g in numerical_grad(f, 3.0, 2.0, argnums=(0, 1))]
        [12.0, 9.0]
    """
    nums = [argnums] if isinstance(argnums, (int, np.integer)) else list(argnums)
    args = [np.array(a, dtype=np.float64) if isinstance(a, (list, tuple)) else a for a in args]
    grads = []
    for k in nums:
        x = args[k]
        arr = np.asarray(x, dtype=np.float64)
        g = np.zeros_like(arr)
        for index in np.ndindex(arr.shape):
            h = step * max(1.0, abs(float(arr[index])))
            values = {}
            for offset in (-2, -1, 1, 2):
                value = arr[index] + offset * h
                entry = value if isinstance(x, np.ndarray) else float(value)
                values[offset] = float(f(*_with_entry(args, k, index, entry)))
            # differences first, so that a locally constant f gives exactly zero
            g[index] = (8.0 * (values[1] - values[-1]) - (values[2] - values[-2])) / (12.0 * h)
        grads.append(g if isinstance(x, np.ndarray) else float(g))
    return grads[0] if isinstance(argnums, (int, np.integer)) else tuple(grads)


def relative_error(analytic, numeric) -> float:
    a = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in analytic])
    n = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in numeric])
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), TINY))


@api_boundary
def check_grad(f, *args, argnums=0, tol=1e-7, raise_on_mismatch=False, jit=False):
    """The textbook's gradient check: the relative error |a - n| / (|a| + |n|) between the
    gradient `grad(f)` computes (a) and central differences (n), over all entries.

    Parameters:
        f: a function returning one float (or one wrapped by grad).
        *args: the point to check at.
        argnums: the position of the argument to differentiate, or a tuple of positions.
        tol: the largest acceptable error (1e-7, the textbook's threshold).
        raise_on_mismatch: raise a GradientMismatchError when the error is not below tol.
        jit: compile the gradient with Numba (default False: CPython, no compile time).

    Returns:
        The relative error, a float.

    Example:
        >>> import math
        >>> def f(x):
        ...     return math.sin(x * x)
        >>> check_grad(f, 1.0) < 1e-7
        True
    """
    from .api import grad

    plain = getattr(f, "__autodiff_wrapped__", f)
    analytic = grad(plain, argnums=argnums, jit=jit)(*args)
    numeric = numerical_grad(plain, *args, argnums=argnums)
    if isinstance(argnums, (int, np.integer)):
        analytic, numeric = (analytic,), (numeric,)
    error = relative_error(analytic, numeric)
    if raise_on_mismatch and not error < tol:
        raise GradientMismatchError(f"gradient of {getattr(plain, '__name__', plain)} differs "
                                    f"from central differences: relative error {error:.3g} "
                                    f">= {tol:g}\n analytic: {analytic}\n numeric:  {numeric}")
    return error
