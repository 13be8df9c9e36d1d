"""Gradients in the form of their arguments: float32 for float32, 0-d arrays for 0-d arrays.

The compiled code computes in float64 (its types are float64, int64 and bool); a gradient
w.r.t. a float32 argument is rounded to float32 on the way out, and one w.r.t. a 0-d array
is a 0-d array, so results have the dtype and shape JAX gives them.
"""

from __future__ import annotations

import numpy as np


def _form(value):
    """(dtype, 0-d array?) a gradient for `value` should have, or None: as computed."""
    if isinstance(value, np.ndarray):
        if value.dtype == np.float32 or value.dtype == np.float16:
            return value.dtype, value.ndim == 0
        return (np.dtype(np.float64), True) if value.ndim == 0 else None
    if isinstance(value, (np.float32, np.float16)):
        return value.dtype, False
    return None


def _shaped(gradient, form):
    dtype, zero_d = form
    if zero_d:
        return np.asarray(gradient, dtype=dtype)
    if isinstance(gradient, np.ndarray):
        return gradient.astype(dtype, copy=False)
    return dtype.type(gradient)


def restore_dtypes(result, args, kwargs, gradfn):
    """`result` (one gradient, or a tuple for several argnums) with each gradient in the
    dtype of its argument (above)."""
    spec = gradfn.specializations
    forms = []
    for k in gradfn.argnums:
        position = k - spec.offset
        if position < len(args):
            value = args[position]
        else:
            value = kwargs.get(spec.param_names[position])
        forms.append(_form(value))
    if not any(forms):
        return result
    if gradfn.single:
        return _shaped(result, forms[0]) if forms[0] else result
    return tuple(_shaped(g, f) if f else g for g, f in zip(result, forms))
