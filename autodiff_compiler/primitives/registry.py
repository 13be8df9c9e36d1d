"""The primitive registry: one object per primitive holding all of its rules.

A primitive carries its type rule (`infer`), how it prints as Python (`emit`), its derivative
rules (`vjp` for reverse mode, `jvp` for forward mode) and a spec of valid inputs used by the
tests. Rules run at compile time against an IR builder (Griewank & Walther, "Evaluating
Derivatives", ch. 3-4: the elemental partials of each operation, chained by the transform).

A vjp rule is `rule(b, op, g) -> tuple` with one entry per operand: the adjoint contribution
(an IR value) or None where the operand gets no gradient. It reads primal operands and results
through `op.operands` / `op.results`; the reverse transform decides whether each read is served
from the tape, recomputed or read directly.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir.types import Type

PRIMITIVES: dict[str, Primitive] = {}


@dataclass(eq=False)
class Primitive:
    name: str
    infer: Callable[..., list[Type]] | None = None
    emit: Callable | None = None  # (op, args: list[ast.expr]) -> ast.expr | ast.stmt
    vjp: Callable | None = None
    jvp: Callable | None = None
    pure: bool = True  # no effects: may be inlined, moved, removed when unused
    differentiable: bool = True  # False: results never carry derivatives (comparisons, ints)
    cheap: bool = False  # recomputing it in the reverse sweep is cheaper than taping it
    statement: bool = False  # emits a statement (effects) rather than an expression
    writes: bool = False  # overwrites elements of its first operand (an array)
    spec: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<prim {self.name}>"


def defprim(name: str, **kwargs) -> Primitive:
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} defined twice")
    prim = Primitive(name, **kwargs)
    PRIMITIVES[name] = prim
    return prim


def get(name: str) -> Primitive:
    return PRIMITIVES[name]


def defvjp(name: str):
    def register(rule):
        PRIMITIVES[name].vjp = rule
        return rule

    return register


def defjvp(name: str):
    def register(rule):
        PRIMITIVES[name].jvp = rule
        return rule

    return register


def jvp_from_vjp(b, op, dots):
    """Tangent rule of a primitive whose partial derivatives act by multiplication (all the
    scalar ones): d out = sum_k (d out / d x_k) x_k_dot, which is the vjp rule's entry k
    applied to x_k_dot. `dots` holds one tangent (or None for zero) per operand."""
    total = None
    for k, dot in enumerate(dots):
        if dot is None:
            continue
        thunk = op.prim.vjp(b, op, dot)[k]
        if thunk is not None:
            term = thunk()
            total = term if total is None else b.add(total, term)
    return [total]


def linear_jvp(b, op, dots):
    """Tangent rule of a primitive linear in its first operand, the others being indices or
    shapes: the same op applied to the first operand's tangent."""
    if dots[0] is None:
        return [None]
    return [b(op.prim.name, dots[0], *op.operands[1:], attrs=op.attrs)]


def bilinear_jvp(b, op, dots):
    """d(a*b) = a_dot*b + a*b_dot for a product-like primitive (np.dot, np.outer)."""
    x, y = op.operands
    terms = [b(op.prim.name, dots[0], y) if dots[0] is not None else None,
             b(op.prim.name, x, dots[1]) if dots[1] is not None else None]
    terms = [t for t in terms if t is not None]
    return [terms[0] if len(terms) == 1 else b.add(*terms)] if terms else [None]


def multiplicative_jvps(names) -> None:
    for name in names:
        PRIMITIVES[name].jvp = jvp_from_vjp


# --- helpers for emit functions -------------------------------------------------------------


def dotted(path: str) -> ast.expr:
    """`np.sin` -> Attribute(Name('np'), 'sin')."""
    head, *rest = path.split(".")
    node: ast.expr = ast.Name(head, ast.Load())
    for part in rest:
        node = ast.Attribute(node, part, ast.Load())
    return node


def call(path: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(dotted(path), list(args), [])
