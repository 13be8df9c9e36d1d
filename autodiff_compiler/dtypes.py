"""Gradients in the form of their arguments: 0-d arrays for 0-d arrays, float16 for float16.

The compiled code takes 0-d arrays as numbers and computes float32 in float32 (ir.types)
but float16 in float64; a gradient w.r.t. a 0-d array is made a 0-d array on the way out,
and one w.r.t. a float16 argument is rounded to float16, so results have the dtype and
shape JAX gives them.
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
