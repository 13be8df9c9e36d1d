"""Primitives and their rules, grouped by family; importing this registers all of them."""

from . import arith, arrays, control, decompositions, elementwise, gpu, indexing, shapes  # noqa: F401
from .registry import PRIMITIVES, Primitive, defjvp, defprim, defvjp, get

__all__ = ["PRIMITIVES", "Primitive", "defjvp", "defprim", "defvjp", "get"]
