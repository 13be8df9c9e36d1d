"""Array element access, array sizes, adjoint buffers and scatter-adds.

Reading `x[i, j]` has as adjoint a scatter into x's adjoint buffer (`x_bar[i, j] += g`), so
its vjp rule returns a `Scatter` for the array operand; the reverse transform turns it into an
`index_add` on the buffer it allocated for x.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..errors import UnsupportedOperationError
from ..ir.core import Value, const
from ..ir.types import I64, Type, dtype_expr
from .registry import call, defprim, defvjp, dotted, set_linear_jvp


@dataclass
class Scatter:
    """Adjoint contribution `g` to the elements `indices` of an array operand (added by
    `prim` into the operand's adjoint buffer: index_add, or slice_add for a slice)."""

    indices: tuple
    g: Value
    prim: object = None  # the add: index_add (also when None: atomic in kernels), slice_add...
    attrs: dict | None = None


def _subscript(target: ast.expr, indices: list[ast.expr], ctx=ast.Load) -> ast.Subscript:
    index = indices[0] if len(indices) == 1 else ast.Tuple(list(indices), ast.Load())
    return ast.Subscript(target, index, ctx())


def _getitem_type(array: Type, *indices: Type, **_) -> list[Type]:
    return [Type(array.kind, array.ndim - len(indices))]


def _emit_getitem(op, args):
    return _subscript(args[0], args[1:])


getitem_p = defprim("getitem", infer=_getitem_type, emit=_emit_getitem, cheap=True,
                    element_read=True, linear=True, shaped_by=lambda op: ())
len_p = defprim("len", infer=lambda t, **_: [I64], emit=lambda op, a: call("len", a),
                differentiable=False, cheap=True, shape_only=True)
dim_p = defprim("dim", infer=lambda t, axis, **_: [I64], differentiable=False, cheap=True,
                shape_only=True,
        emit=lambda op, a: _subscript(ast.Attribute(a[0], "shape", ast.Load()),
                                      [ast.Constant(op.attrs["axis"])]))
zeros_like_p = defprim("zeros_like", infer=lambda t, **_: [Type("float", t.ndim)], pure=False,
        differentiable=False, broadcast_shape=True,
        emit=lambda op, a: call("np.zeros_like", [a[0]] + ([] if op.operands[0].type.is_float
                                                         else [dtype_keyword()])))
index_add_p = defprim("index_add", infer=lambda *t, **_: [], pure=False, statement=True,
                      accumulates=True,
        emit=lambda op, a: ast.AugAssign(_subscript(a[0], a[1:-1], ast.Store), ast.Add(), a[-1]))
constant_array_p = defprim("constant_array", infer=None, differentiable=False, cheap=True,
        emit=lambda op, a: ast.Name(op.attrs["name"], ast.Load()))
setitem_p = defprim("setitem", infer=lambda *t, **_: [], pure=False, statement=True, writes=True,
        emit=lambda op, a: ast.Assign([_subscript(a[0], a[1:-1], ast.Store)], a[-1]))
array_add_p = defprim("array_add", infer=lambda *t, **_: [], pure=False, statement=True,
                      accumulates=True,
        emit=lambda op, a: ast.AugAssign(_store(a[0]), ast.Add(), a[1]))


def _store(target: ast.expr) -> ast.expr:
    return ast.Name(target.id, ast.Store()) if isinstance(target, ast.Name) else target


def _shape(args: list[ast.expr]) -> ast.expr:
    return args[0] if len(args) == 1 else ast.Tuple(list(args), ast.Load())


def _new_array(*dims: Type, kind: str = "float", bits: int = 64, **_) -> list[Type]:
    return [Type(kind, len(dims), bits)]


def _emit_new_array(op, args: list[ast.expr]) -> ast.Call:
    made = call(_CREATORS[op.attrs["fill"]], [_shape(args)])
    kind, bits = op.attrs.get("kind", "float"), op.attrs.get("bits", 64)
    if kind != "float" or bits != 64:  # a branch's placeholder of another dtype
        made.keywords.append(ast.keyword("dtype", dotted(dtype_expr(kind, bits))))
    return made


# Array creation: np.zeros / np.ones / np.empty (attrs fill) and np.full, shapes as operands.
_CREATORS = {0.0: "np.zeros", 1.0: "np.ones", None: "np.empty"}
new_array_p = defprim("new_array", infer=_new_array, fixed_precision=True, pure=False,
                      differentiable=False,
                      emit=_emit_new_array, fresh_array=True, dims_shape=True)
full_p = defprim("full", infer=lambda *t, **_: [Type("float", len(t) - 1)], pure=False,
                 fresh_array=True, linear=True, dims_shape=True,
        emit=lambda op, a: call("np.full", [_shape(a[:-1]), a[-1]]))
copy_p = defprim("copy", infer=lambda t, **_: [t], pure=False, fresh_array=True, linear=True,
                 broadcast_shape=True,
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
        return b(copy_p, contribution.g)  # g may be a buffer the sweep changes later
    prim = contribution.prim or scatter_prim(operand, contribution.indices)
    total = b(zeros_like_p, operand)
    b.op(prim, total, *contribution.indices, contribution.g, attrs=contribution.attrs,
         result_types=[])
    return total


@defvjp(copy_p)
def _copy_vjp(b, op, g):
    return (lambda: WholeArray(g),)


@defvjp(full_p)
def _full_vjp(b, op, g):
    dims = len(op.operands) - 1
    return (None,) * dims + (lambda: b(sum_all_p, g),)


sum_all_p = defprim("sum_all", infer=lambda t, **_: [Type(t.kind)],
                    emit=lambda op, a: call("np.sum", a),
                    sums_axes=lambda op: tuple(range(op.operands[0].type.ndim)))


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


def _slice_bounds(op) -> list[int]:
    """Positions of a slice op's bound operands (its indices do not change its shape)."""
    positions, k = [], 1
    for entry in op.attrs["layout"]:
        present = 1 if entry[0] == "i" else sum(entry[1:])
        if entry[0] == "s":
            positions += range(k, k + present)
        k += present
    return positions


slice_p = defprim("slice", infer=_slice_type, emit=_emit_slice, cheap=True, view=True,
                  element_read=True, shaped_by=_slice_bounds)
slice_set_p = defprim("slice_set", infer=lambda *t, **_: [], pure=False, statement=True,
                      writes=True, fills=True,
        emit=lambda op, a: ast.Assign([_slice_target(op, a[:-1], ast.Store)], a[-1]))
slice_add_p = defprim("slice_add", infer=lambda *t, **_: [], pure=False, statement=True,
                      accumulates=True,
        emit=lambda op, a: ast.AugAssign(_slice_target(op, a[:-1], ast.Store), ast.Add(), a[-1]))


@defvjp(slice_p)
def _slice_vjp(b, op, g):
    indices = tuple(op.operands[1:])
    layout = {"layout": op.attrs["layout"]}
    return (lambda: Scatter(indices, g, slice_add_p, layout),) + \
        (None,) * len(indices)


@defvjp(getitem_p)
def _getitem_vjp(b, op, g):
    indices = tuple(op.operands[1:])
    return (lambda: Scatter(indices, g),) + (None,) * len(indices)


set_linear_jvp(slice_p, sum_all_p)


# --- fancy indexing: x[idx] (a copy, as NumPy's) ---------------------------------------------
take_p = defprim("take", infer=lambda x, idx, **_: [Type(x.kind, x.ndim)], cheap=True,
                 gathers=True,
        emit=lambda op, a: _subscript(a[0], a[1:]), spec={"arity": 2, "array": True})
take_add_p = defprim("take_add", infer=lambda *t, **_: [], pure=False, statement=True,
                     accumulates=True,
        emit=lambda op, a: ast.Expr(call("rt.scatter_add", a)))


@defvjp(take_p)
def _take_vjp(b, op, g):
    """Entries taken several times collect every cotangent (np.add.at semantics)."""
    return (lambda: Scatter((op.operands[1],), g, take_add_p), None)


set_linear_jvp(take_p)


# --- writes through an array of indices: y[idx] = v, y[idx, :] = v ---------------------------
# NumPy keeps the last of repeated writes (`y[idx] += v` is `y[idx] = y[idx] + v`, so repeated
# indices add once too): the reverse transform reverse_take_set gives a gradient only to the
# values that were kept, through `take_last`. Forward mode writes the tangents the same way.
take_set_p = defprim("take_set", infer=lambda *t, **_: [], pure=False, statement=True,
                     writes=True, fills=True,
        emit=lambda op, a: ast.Assign([_subscript(a[0], [a[1]], ast.Store)], a[2]))
take_last_p = defprim("take_last", infer=lambda buffer, idx, **_: [Type("float", buffer.ndim)], cheap=True,
        emit=lambda op, a: call("rt.take_last_writes", a))
set_linear_jvp(take_last_p)


# --- the AD rules of writes: whole-op rules, run with the transform (`t`) as context ---------
# Reverse (t: ad.reverse.ReverseTransform): t.active(v), t.buffer(array) (the adjoint buffer),
# t.accumulate(b, adj, v, g), t.unbroadcast(b, g, v), t.kernel, t.outputs.
# Forward (t: ad.forward.ForwardTransform): t.active(v), t.dot(v) (the tangent or None),
# t.zero(b, v); the same write is made into the tangent storage.
def _reverse_setitem(t, op, b, adj) -> None:
    """a[i] = v: v_bar += a_bar[i]; a_bar[i] = 0 (the overwritten element no longer
    influences the output). The reverse sweep never reads a's contents, so the old value
    need not be restored; element reads of written arrays are taped, not recomputed.
    An in-place update a[i] += e (t.increments) leaves a_bar[i] as it is: e_bar += a_bar[i]
    (-= for a[i] -= e)."""
    array, *indices, value = op.operands
    if not t.active(array):
        return
    buffer = t.buffer(array)
    g = b.op(getitem_p, buffer, *indices, hint=value.hint + "_bar").result
    if op in t.increments:
        increment, subtracted = t.increments[op]
        if t.active(increment):
            t.accumulate(b, adj, increment, b.neg(g) if subtracted else g)
        return
    if array not in t.outputs:  # a kernel's output cotangents are read-only
        b.op(setitem_p, buffer, *indices, const(0.0), result_types=[])
    t.accumulate(b, adj, value, g)


def _reverse_slice_set(t, op, b, adj) -> None:
    """a[slice] = v: v_bar += (the slice of a_bar, summed to v's shape); that slice of
    a_bar is then cleared (the overwritten elements no longer influence the output)."""
    array, *parts, value = op.operands
    if not t.active(array):
        return
    buffer = t.buffer(array)
    g = b.op(slice_p, buffer, *parts, attrs=dict(op.attrs, copy=True),
             hint=value.hint + "_bar").result
    b.op(slice_set_p, buffer, *parts, const(0.0), attrs=op.attrs, result_types=[])
    t.accumulate(b, adj, value, t.unbroadcast(b, g, value))


def _reverse_take_set(t, op, b, adj) -> None:
    """a[idx] = v: v_bar += a_bar[idx] at the positions of idx whose write was kept (the
    last to name each entry: NumPy keeps the last of repeated writes, so earlier ones have
    no effect and get no gradient); a_bar[idx] is then cleared."""
    array, index, value = op.operands
    if not t.active(array):
        return
    if t.kernel:
        raise UnsupportedOperationError("writes through an array of indices are not "
                                        "supported in kernels", op.loc)
    buffer = t.buffer(array)
    g = b(take_last_p, buffer, index, hint=value.hint + "_bar")
    b.op(take_set_p, buffer, index, const(0.0), result_types=[])
    if not op.attrs.get("same_shape"):
        g = t.unbroadcast(b, g, value)
    t.accumulate(b, adj, value, g)


def forward_write(t, op, b) -> None:
    """The same write on the tangents (for the scatter-adds of generated reverse code too:
    forward over reverse)."""
    b.append(op)
    target = op.operands[0]
    if t.active(target) and t.dot(target) is None:
        raise UnsupportedOperationError("forward mode: a write makes an array active that "
                                        "has no tangent storage", op.loc)
    if not t.active(target):
        return
    value = t.dot(op.operands[-1])
    if value is None and not op.prim.writes:
        return  # adds a zero tangent
    if value is None:  # a scalar zero fills a slice; an element gets the value's zero
        value = const(0.0) if op.prim.fills else t.zero(b, op.operands[-1])
    b.op(op.prim, t.dot(target), *op.operands[1:-1], value, attrs=op.attrs, result_types=[])


setitem_p.reverse, slice_set_p.reverse, take_set_p.reverse = \
    _reverse_setitem, _reverse_slice_set, _reverse_take_set
for _write in (setitem_p, slice_set_p, take_set_p, index_add_p, array_add_p, slice_add_p,
               take_add_p):
    _write.forward = forward_write
