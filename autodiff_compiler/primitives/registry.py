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
import copy
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir.types import Type, float_result

PRIMITIVES: dict[str, Primitive] = {}


@dataclass(eq=False)
class Primitive:
    """One kind of operation: its traits (what passes may assume about it) and its rules.

    Traits, asked by the passes instead of names:
    - `pure`: no effects; may be inlined, moved, merged or removed when unused.
    - `differentiable`: False when results never carry derivatives (comparisons, ints).
    - `cheap`: recomputing it in the reverse sweep is cheaper than taping it.
    - `statement`: emits a statement effects rather than an expression.
    - `writes`: overwrites elements of its first operand (an array).
    - `accumulates`: adds into its first operand (an adjoint buffer) and does nothing else.
    - `view`: its result shares memory with its first operand, as NumPy's does: True (always:
      slices, transposes, new axes), "maybe" (for some operands only: reshape and ravel copy
      a non-contiguous array), or a predicate of the op (np.diag views a matrix, not a
      vector); checked against np.shares_memory for every primitive with a spec
      (tests/test_traits.py).
    - `linear`: its derivative never reads the contents of its float operands.
    - `element_read`: reads the elements of its first operand picked by numbers and slices
      (x[i], x[a:b]); `gathers`: those picked by an array of indices (x[idx]).
    - `fresh_array`: its result is a new array the program may write into.
    - `shape_only`: reads only the shape of its array operands, not their contents.
    - `shaped_by`: op -> positions of the operands whose values (not only their shapes)
      decide the result's shape (a slice's bounds, not its indices); None: every int or
      bool operand (analysis.shapes: which tapes need rows of varying shapes).
    - `broadcast_shape`: its result has the broadcast shape of its array operands.
    - `dims_shape`: its result's shape is its int operands, in order (np.zeros((n, m))).
    - `region`: owns regions (structured control flow); `loop`: runs a region repeatedly;
      `branches`: runs one of its regions, whose yielded values become its results (if).
    - `terminator`: ends a region (yield, return).
    - `stores` / `loads`: the attribute naming storage it writes / reads (tapes,
      checkpoints), a node of the activity graph.
    - `elementwise`: computes each element of its result from the elements at the same
      (broadcast) index of its operands, and its `emit` on numbers (or `emit_element`)
      computes what NumPy computes for one element; loop fusion (transforms/fuse.py).
    - `sums_axes`: a sum: op -> the axes of its operand 0 that it adds up (the result
      keeps the others, in order); `broadcasts`: its result is operand 0 repeated over
      the shape of operand 1, along the axis `attrs["axis"]` (or everywhere for None);
      `sums_to_shape`: adds operand 0 up over the axes where operand 1 has length one
      (the adjoint of broadcasting); `unit_axes`: op -> axes of its result that have
      length one whatever the operands (np.expand_dims).
    - `lapack`: compiled with Numba, it calls LAPACK through SciPy (np.linalg.eigh, svd, ...).
    - `float32`: computes in float32 when its operands are float32 (False: it computes in
      float64 only, so float32 code casts its float32 operands to float64 and its results
      back to float32, transforms.precision); `typed_when_run`: the precision of its float
      results is what running it gives (a user's rule, typed by Numba or NumPy), so float32
      code casts its float32 results to float32 and passes its operands as they are;
      `fixed_precision`: its `infer` gives its results' float precision (casts), instead of
      NumPy 2's promotion of its operands (`result_types`).
    Rules: `infer` (result types), `emit` (Python AST), `vjp`, `jvp`, `fold` (algebra done
    while building), `polynomial` (the exact ir.polynomials.Polynomial of an int result
    from those of the operands, or None: strength reduction, transforms/strength.py), `flow` (how derivatives flow through it, where the traits do not say:
    region ops), and `reverse` / `forward`: whole-op rules of the AD transforms for
    writes and region ops, which need the transform's state (buffers, tapes, tangents).
    """

    name: str
    infer: Callable[..., list[Type]] | None = None
    emit: Callable | None = None  # (op, args: list[ast.expr]) -> ast.expr | ast.stmt
    emit_element: Callable | None = None  # as emit, for one element in a fused loop
    # as emit_element, in a fused loop that reads each array directly (no broadcast views),
    # which LLVM may vectorise: arithmetic that vectorises (runtime_vector.py), not a call
    emit_vector_element: Callable | None = None
    vjp: Callable | None = None
    jvp: Callable | None = None
    fold: Callable | None = None  # (builder, operands, attrs) -> Value | None
    polynomial: Callable | None = None  # (op, operand polynomials) -> Polynomial | None
    flow: Callable | None = None  # op -> (source, destination) pairs of activity
    reverse: Callable | None = None  # (transform, op, builder, adjoints) -> None
    forward: Callable | None = None  # (transform, op, builder) -> None
    pure: bool = True
    differentiable: bool = True
    cheap: bool = False
    statement: bool = False
    writes: bool = False
    fills: bool = False  # a write whose value may be a scalar broadcast over the target
    accumulates: bool = False
    view: bool | str | Callable = False
    linear: bool = False
    element_read: bool = False
    gathers: bool = False
    fresh_array: bool = False
    shape_only: bool = False
    shaped_by: Callable | None = None
    broadcast_shape: bool = False
    dims_shape: bool = False
    region: bool = False
    loop: bool = False
    branches: bool = False
    condition_first: bool = False  # its first region yields the loop's condition (while)
    terminator: bool = False
    stores: str | None = None
    loads: str | None = None
    lapack: bool = False
    float32: bool = True
    typed_when_run: bool = False
    fixed_precision: bool = False
    region_labels: tuple = ()  # how the printer names its regions
    elementwise: bool = False
    sums_axes: Callable | None = None  # op -> the axes of operand 0 it sums over
    broadcasts: bool = False
    sums_to_shape: bool = False
    unit_axes: Callable | None = None  # op -> axes of its result of length one
    spec: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<prim {self.name}>"

    def result_types(self, *types: Type, **attrs) -> list[Type]:
        """The types of its results for operands of `types`: `infer`'s, their floats with
        the precision NumPy 2 gives them (ir.types.float_result), unless fixed by `infer`.
        Int arrays count only as elementwise operands: elsewhere they are indices (the
        frontend casts int arrays used as values, as np.dot's operands, to float)."""
        results = self.infer(*types, **attrs)
        if self.fixed_precision:
            return results
        counted = types if self.elementwise else [t for t in types if t.kind != "int"]
        return [float_result(counted, t.ndim) if t.kind == "float" else t for t in results]

    def is_view(self, op) -> bool:
        """Whether this op's result may share memory with its first operand."""
        return bool(self._view(op))

    def always_view(self, op) -> bool:
        """Whether this op's result shares memory with its first operand for any operand."""
        return self._view(op) is True

    def _view(self, op):
        if op.attrs.get("copy"):
            return False
        return self.view(op) if callable(self.view) else self.view

    def reads_contents(self, op, operand) -> bool:
        """Whether the derivative of `op` reads the contents of the array `operand`."""
        if not operand.type.is_array:
            return False
        if operand.type.kind != "float":
            return True  # indices and masks
        return not (self.writes or self.linear)


def storage_node(name: str) -> str:
    """The activity graph's node for named storage (a tape, a checkpoint)."""
    return "storage:" + name


def defprim(name: str, **kwargs) -> Primitive:
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} defined twice")
    prim = Primitive(name, **kwargs)
    PRIMITIVES[name] = prim
    return prim


def get(name: str) -> Primitive:
    """The primitive of a source name (the frontend's table and tests use this)."""
    return PRIMITIVES[name]


def defvjp(prim: Primitive):
    def register(rule):
        prim.vjp = rule
        return rule

    return register


def defjvp(prim: Primitive):
    def register(rule):
        prim.jvp = rule
        return rule

    return register


def set_linear_jvp(*prims: Primitive) -> None:
    """Give each primitive, linear in its first operand, the linear tangent rule."""
    for prim in prims:
        prim.jvp = linear_jvp
        prim.linear = True


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
    return [b(op.prim, dots[0], *op.operands[1:], attrs=op.attrs)]


def bilinear_jvp(b, op, dots):
    """d(a*b) = a_dot*b + a*b_dot for a product-like primitive (np.dot, np.outer)."""
    x, y = op.operands
    terms = [b(op.prim, dots[0], y) if dots[0] is not None else None,
             b(op.prim, x, dots[1]) if dots[1] is not None else None]
    terms = [t for t in terms if t is not None]
    return [terms[0] if len(terms) == 1 else b.add(*terms)] if terms else [None]


def multiplicative_jvps(prims) -> None:
    for prim in prims:
        prim.jvp = jvp_from_vjp


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


class _Fill(ast.NodeTransformer):
    def __init__(self, parts: dict):
        self.parts = parts

    def visit_Name(self, node: ast.Name):
        part = self.parts.get(node.id)
        if part is None:
            return node
        if isinstance(part, str):
            return ast.Name(part, node.ctx)
        return copy.deepcopy(part)


def quote(template: str, **parts) -> list[ast.stmt]:
    """The statements of `template` with each upper-case placeholder name replaced by an AST
    node (or, given a string, by that variable): code is built as trees, never by pasting
    text, so no value can change the structure of what is emitted."""
    tree = ast.parse(textwrap.dedent(template))
    return _Fill(parts).visit(tree).body
