"""Primitives and their rules, grouped by family; importing this registers all of them."""

from . import (  # noqa: F401
    arith,
    arrays,
    control,
    decompositions,
    elementwise,
    gpu,
    indexing,
    least_squares,
    linalg,
    shapes,
)
from .registry import PRIMITIVES, Primitive, defjvp, defprim, defvjp, get

__all__ = ["PRIMITIVES", "Primitive", "defjvp", "defprim", "defvjp", "get"]
