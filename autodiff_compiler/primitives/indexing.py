"""Array element access, array sizes, adjoint buffers and scatter-adds.

Reading `x[i, j]` has as adjoint a scatter into x's adjoint buffer (`x_bar[i, j] += g`), so
its vjp rule returns a `Scatter` for the array operand; the reverse transform turns it into an
`index_add` on the buffer it allocated for x.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..ir.core import Value
from ..ir.types import I64, Type
from .registry import PRIMITIVES, call, defprim, defvjp, dotted, linear_jvp


@dataclass
class Scatter:
    """Adjoint contribution `g` to the elements `indices` of an array operand (added by
    `prim` into the operand's adjoint buffer: index_add, or slice_add for a slice)."""

    indices: tuple
    g: Value
    prim: str = "index_add"
    attrs: dict | None = None


def _subscript(target: ast.expr, indices: list[ast.expr], ctx=ast.Load) -> ast.Subscript:
    index = indices[0] if len(indices) == 1 else ast.Tuple(list(indices), ast.Load())
    return ast.Subscript(target, index, ctx())


def _getitem_type(array: Type, *indices: Type, **_) -> list[Type]:
    return [Type(array.kind, array.ndim - len(indices))]


def _emit_getitem(op, args):
    return _subscript(args[0], args[1:])


defprim("getitem", infer=_getitem_type, emit=_emit_getitem, cheap=True)
defprim("len", infer=lambda t, **_: [I64], emit=lambda op, a: call("len", a),
        differentiable=False, cheap=True)
defprim("dim", infer=lambda t, axis, **_: [I64], differentiable=False, cheap=True,
        emit=lambda op, a: _subscript(ast.Attribute(a[0], "shape", ast.Load()),
                                      [ast.Constant(op.attrs["axis"])]))
defprim("zeros_like", infer=lambda t, **_: [Type("float", t.ndim)], pure=False,
        differentiable=False,
        emit=lambda op, a: call("np.zeros_like", [a[0]] + ([] if op.operands[0].type.is_float
                                                         else [dtype_keyword()])))
defprim("index_add", infer=lambda *t, **_: [], pure=False, statement=True,
        emit=lambda op, a: ast.AugAssign(_subscript(a[0], a[1:-1], ast.Store), ast.Add(), a[-1]))
defprim("constant_array", infer=None, differentiable=False, cheap=True,
        emit=lambda op, a: ast.Name(op.attrs["name"], ast.Load()))
defprim("setitem", infer=lambda *t, **_: [], pure=False, statement=True, writes=True,
        emit=lambda op, a: ast.Assign([_subscript(a[0], a[1:-1], ast.Store)], a[-1]))
defprim("array_add", infer=lambda *t, **_: [], pure=False, statement=True,
        emit=lambda op, a: ast.AugAssign(_store(a[0]), ast.Add(), a[1]))


def _store(target: ast.expr) -> ast.expr:
    return ast.Name(target.id, ast.Store()) if isinstance(target, ast.Name) else target


def _shape(args: list[ast.expr]) -> ast.expr:
    return args[0] if len(args) == 1 else ast.Tuple(list(args), ast.Load())


def _new_array(*dims: Type, kind: str = "float", **_) -> list[Type]:
    return [Type(kind, len(dims))]


def _emit_new_array(op, args: list[ast.expr]) -> ast.Call:
    made = call(_CREATORS[op.attrs["fill"]], [_shape(args)])
    kind = op.attrs.get("kind", "float")
    if kind != "float":  # an empty int or bool array (a branch's placeholder)
        made.keywords.append(ast.keyword("dtype", dotted(_DTYPES[kind])))
    return made


# Array creation: np.zeros / np.ones / np.empty (attrs fill) and np.full, shapes as operands.
_CREATORS = {0.0: "np.zeros", 1.0: "np.ones", None: "np.empty"}
_DTYPES = {"int": "np.int64", "bool": "np.bool_"}
defprim("new_array", infer=_new_array, pure=False, differentiable=False, emit=_emit_new_array)
defprim("full", infer=lambda *t, **_: [Type("float", len(t) - 1)], pure=False,
        emit=lambda op, a: call("np.full", [_shape(a[:-1]), a[-1]]))
defprim("copy", infer=lambda t, **_: [t], pure=False,
        emit=lambda op, a: ast.Call(ast.Attribute(a[0], "copy", ast.Load()), [], []))


def dtype_keyword():
    return ast.keyword("dtype", ast.Attribute(ast.Name("np", ast.Load()), "float64", ast.Load()))


@dataclass
class WholeArray:
    """Adjoint contribution: the array `g`, added elementwise to an array operand's buffer."""

    g: Value


def dense_contribution(b, operand: Value, contribution, scatter_prim) -> Value:
    """A Scatter or WholeArray contribution as a new array shaped like `operand` (for an
    operand whose adjoint is a value rather than a buffer); `scatter_prim(operand, indices)`
    picks the add of an index_add."""
    if isinstance(contribution, WholeArray):
        return b("copy", contribution.g)  # g may be a buffer the sweep changes later
    prim = contribution.prim if contribution.prim != "index_add" else \
        scatter_prim(operand, contribution.indices)
    total = b("zeros_like", operand)
    b.op(prim, total, *contribution.indices, contribution.g, attrs=contribution.attrs,
         result_types=[])
    return total


@defvjp("copy")
def _copy_vjp(b, op, g):
    return (lambda: WholeArray(g),)


@defvjp("full")
def _full_vjp(b, op, g):
    dims = len(op.operands) - 1
    return (None,) * dims + (lambda: b("sum_all", g),)


defprim("sum_all", infer=lambda t, **_: [Type(t.kind)], emit=lambda op, a: call("np.sum", a))


# --- slices: x[a:b], x[i, :], x[:, j] (views; analysis.aliasing guards writes into their arrays) ---
def _slice_parts(op, args) -> list[ast.expr]:
    """The subscript of a slice op: its layout says, per axis, an index ("i") or a slice
    ("s", has_lower, has_upper, has_step) taking operands in order."""
    operands = iter(args)
    parts = []
    for entry in op.attrs["layout"]:
        if entry[0] == "i":
            parts.append(next(operands))
        else:
            bounds = [next(operands) if present else None for present in entry[1:]]
            parts.append(ast.Slice(*bounds))
    return parts


def _slice_target(op, args, ctx=ast.Load):
    parts = _slice_parts(op, args[1:])
    index = parts[0] if len(parts) == 1 else ast.Tuple(parts, ast.Load())
    return ast.Subscript(args[0], index, ctx())


def _slice_type(array: Type, *indices: Type, layout, **_) -> list[Type]:
    return [Type(array.kind, sum(1 for entry in layout if entry[0] == "s"))]


def _emit_slice(op, args):
    view = _slice_target(op, args)
    return ast.Call(ast.Attribute(view, "copy", ast.Load()), [], []) if op.attrs.get("copy") \
        else view


defprim("slice", infer=_slice_type, emit=_emit_slice, cheap=True)
defprim("slice_set", infer=lambda *t, **_: [], pure=False, statement=True, writes=True,
        emit=lambda op, a: ast.Assign([_slice_target(op, a[:-1], ast.Store)], a[-1]))
defprim("slice_add", infer=lambda *t, **_: [], pure=False, statement=True,
        emit=lambda op, a: ast.AugAssign(_slice_target(op, a[:-1], ast.Store), ast.Add(), a[-1]))


@defvjp("slice")
def _slice_vjp(b, op, g):
    indices = tuple(op.operands[1:])
    layout = {"layout": op.attrs["layout"]}
    return (lambda: Scatter(indices, g, "slice_add", layout),) + \
        (None,) * len(indices)


@defvjp("getitem")
def _getitem_vjp(b, op, g):
    indices = tuple(op.operands[1:])
    return (lambda: Scatter(indices, g),) + (None,) * len(indices)


for _name in ("slice", "sum_all"):
    PRIMITIVES[_name].jvp = linear_jvp


# --- new axes and fancy indexing -------------------------------------------------------------
defprim("expand_dims", infer=lambda t, axis, **_: [Type(t.kind, t.ndim + 1)], cheap=True,
        emit=lambda op, a: call("np.expand_dims", [a[0], ast.Constant(op.attrs["axis"])]),
        spec={"arity": 1, "array": True})
defprim("take", infer=lambda x, idx, **_: [Type(x.kind, x.ndim)], cheap=True,
        emit=lambda op, a: _subscript(a[0], a[1:]), spec={"arity": 2, "array": True})
defprim("take_add", infer=lambda *t, **_: [], pure=False, statement=True,
        emit=lambda op, a: ast.Expr(call("rt.scatter_add", a)))


@defvjp("expand_dims")
def _expand_dims_vjp(b, op, g):
    return (lambda: b("reshape_like", g, op.operands[0]),)


@defvjp("take")
def _take_vjp(b, op, g):
    """Entries taken several times collect every cotangent (np.add.at semantics)."""
    return (lambda: Scatter((op.operands[1],), g, "take_add"), None)


for _name in ("expand_dims", "take"):
    PRIMITIVES[_name].jvp = linear_jvp


# --- writes through an array of indices: y[idx] = v, y[idx, :] = v ---------------------------
# NumPy keeps the last of repeated writes (`y[idx] += v` is `y[idx] = y[idx] + v`, so repeated
# indices add once too): the reverse transform (reverse_take_set) gives a gradient only to the
# values that were kept, through `take_last`. Forward mode writes the tangents the same way.
defprim("take_set", infer=lambda *t, **_: [], pure=False, statement=True, writes=True,
        emit=lambda op, a: ast.Assign([_subscript(a[0], [a[1]], ast.Store)], a[2]))
defprim("take_last", infer=lambda buffer, idx, **_: [Type("float", buffer.ndim)], cheap=True,
        emit=lambda op, a: call("rt.take_last_writes", a))
PRIMITIVES["take_last"].jvp = linear_jvp
