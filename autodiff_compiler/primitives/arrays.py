"""Whole-array primitives: reductions, products, transposes, and the adjoint helpers of
broadcasting.

Broadcasting follows NumPy: an operand of lower rank is aligned to the trailing axes, so its
adjoint sums the cotangent over the leading axes (`sum_leading`); a scalar operand's adjoint
sums over all; and an axis of length one that was stretched to the other operand's length
gets the cotangent summed along it (`sum_to_shape`, decided at run time from the shapes).
Max, min and prod along an axis run on the array reshaped to (before, axis, after).
Products (np.dot, @) call autodiff_compiler.runtime's products: BLAS from the sizes where it
is faster, their own loops below.
A transpose permutes the axes (attr `axes`, as np.transpose's; without it, the reversal of
all axes, `x.T`): np.swapaxes and np.moveaxis lower to it too, and its adjoint is the
transpose by the inverse permutation.
"""

from __future__ import annotations

import ast

from ..ir.core import const
from ..ir.types import Type, bits_attrs, promote
from .arith import cast_float_p, eq_p
from .elementwise import exp_p
from .indexing import dim_p, slice_p, zeros_like_p
from .registry import (
    bilinear_jvp,
    call,
    defprim,
    defvjp,
    dotted,
    jvp_from_vjp,
    set_linear_jvp,
)


def _axis_keyword(op):
    axis = op.attrs.get("axis")
    return [] if axis is None else [ast.keyword("axis", ast.Constant(axis))]


def _reduced(t: Type, axis=None, **_) -> list[Type]:
    return [Type("float", 0 if axis is None else t.ndim - 1)]


def _summed_axes(op):
    axis, ndim = op.attrs.get("axis"), op.operands[0].type.ndim
    return tuple(range(ndim)) if axis is None else (axis % ndim,)


sum_p = defprim("sum", infer=_reduced, cheap=False, sums_axes=_summed_axes,
        emit=lambda op, a: ast.Call(ast.parse("np.sum", mode="eval").body, [a[0]],
                                    _axis_keyword(op)),
        spec={"arity": 1, "array": True})


def _emit_spread(op, args):
    """g spread over x's shape: along `axis` (a reduced axis) or everywhere."""
    g, x = args
    axis = op.attrs.get("axis")
    if axis is None:
        return call("np.full_like", [x, g])
    ones = call("np.ones_like", [x])
    return ast.BinOp(ones, ast.Mult(), call("np.expand_dims", [g, ast.Constant(axis)]))


spread_p = defprim("spread", infer=lambda g, x, **_: [Type("float", x.ndim)], emit=_emit_spread,
                   broadcasts=True)


def _emit_sum_leading(op, args):
    count = op.attrs["count"]
    if op.results[0].type.ndim == 0:
        return call("np.sum", args)
    node = args[0]
    for _ in range(count):
        node = ast.Call(ast.Attribute(node, "sum", ast.Load()), [],
                        [ast.keyword("axis", ast.Constant(0))])
    return node


sum_leading_p = defprim("sum_leading", infer=lambda g, count, **_: [Type("float", g.ndim - count)],
        emit=_emit_sum_leading, sums_axes=lambda op: tuple(range(op.attrs["count"])))


def unbroadcast(b, g, operand, op=None):
    """The part of cotangent g that belongs to `operand` (summed over broadcast axes: the
    leading axes it lacks, and its axes of length one). When `operand` is the only array
    among the operands of `op`, nothing was broadcast against it: g has its shape already."""
    extra = g.type.ndim - operand.type.ndim
    if extra > 0:
        g = b(sum_leading_p, g, attrs={"count": extra})
    alone = op is not None and all(o is operand or not o.type.is_array for o in op.operands)
    if operand.type.is_array and g.type.is_array and not alone:
        g = b(sum_to_shape_p, g, operand)
    return g


sum_to_shape_p = defprim("sum_to_shape", infer=lambda g, x, **_: [g], sums_to_shape=True,
        emit=lambda op, a: call(_sum_to_shape_helper(op.operands[1].type.ndim), a))


def _sum_to_shape_helper(ndim: int) -> str:
    return f"rt.sum_to_shape{ndim}" if ndim <= 2 else "rt.sum_to_shape"


def _emit_shape_ref(op, args):
    shapes = [ast.Attribute(a, "shape", ast.Load()) for a in args]
    zero = call("np.float32", [ast.Constant(0.0)]) if op.results[0].type.is_float32 \
        else ast.Constant(0.0)
    return call("np.broadcast_to", [zero, call("rt.broadcast_shapes", shapes)])


# an array of the broadcast shape of its operands, read for its shape alone (the reference
# of a broadcast's adjoint, transforms/shape_sources.py): a view of one number, no storage
shape_ref_p = defprim("shape_ref", infer=lambda *ts, **_: [Type("float", max(t.ndim for t in ts))],
        emit=_emit_shape_ref, shape_only=True, broadcast_shape=True, cheap=True,
        differentiable=False)


@defvjp(sum_p)
def _sum_vjp(b, op, g):
    return (lambda: b(spread_p, g, op.operands[0], attrs={"axis": op.attrs.get("axis")}),)


# --- products ------------------------------------------------------------------------------
def _dot_type(a: Type, b: Type, **_) -> list[Type]:
    return [Type("float", a.ndim + b.ndim - 2)]


def _emit_dot(op, args):
    a, b = (v.type.ndim for v in op.operands)
    return call(f"rt.dot{a}{b}", args)


dot_p = defprim("dot", infer=_dot_type, emit=_emit_dot, spec={"arity": 2, "array": True})
# a[k] @ b[k] for every k of the leading (batch) axis: (B, m, s), (B, s, n) -> (B, m, n)
batch_dot_p = defprim("batch_dot", infer=lambda a, b, **_: [Type("float", 3)],
        emit=lambda op, a: call("rt.batch_dot", a), spec={"arity": 2, "array": True})
outer_p = defprim("outer", infer=lambda a, b, **_: [Type("float", 2)],
        emit=lambda op, a: call("rt.outer", a), spec={"arity": 2, "array": True})


# --- transposes: one primitive, a permutation of the axes ---------------------------------
def transpose_attrs(axes) -> dict:
    """The attrs of a transpose by the permutation `axes` (result axis k is operand axis
    axes[k], as np.transpose's): none for the reversal of all axes, `x.T`, the default."""
    axes = tuple(axes)
    return {} if axes == tuple(reversed(range(len(axes)))) else {"axes": axes}


def transpose_axes(op) -> tuple:
    """The permutation of a transpose op (the reversal of the axes when it has no attr)."""
    return op.attrs.get("axes") or tuple(reversed(range(op.operands[0].type.ndim)))


def _transpose_type(t: Type, axes=None, **_) -> list[Type]:
    if axes is not None and sorted(axes) != list(range(t.ndim)):
        raise ValueError(f"transpose: {axes} is not a permutation of the axes of {t}")
    return [t]


def _emit_transpose(op, args):
    axes = op.attrs.get("axes")
    if axes is None:
        return ast.Attribute(args[0], "T", ast.Load())
    return call("np.transpose", [args[0], ast.Tuple([ast.Constant(k) for k in axes],
                                                     ast.Load())])


transpose_p = defprim("transpose", infer=_transpose_type, emit=_emit_transpose, cheap=True,
                      view=True, spec={"arity": 1, "array": True})


@defvjp(transpose_p)
def _transpose_vjp(b, op, g):
    """The transpose by the inverse permutation (the reversal is its own inverse)."""
    axes = transpose_axes(op)
    inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
    return (lambda: b(transpose_p, g, attrs=transpose_attrs(inverse)),)


# --- adjoints of the products ------------------------------------------------------------
@defvjp(outer_p)
def _outer_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b(dot_p, g, y), lambda: b(dot_p, b(transpose_p, g), x))


@defvjp(dot_p)
def _dot_vjp(b, op, g):
    x, y = op.operands
    kinds = (x.type.ndim, y.type.ndim)
    if kinds == (1, 1):
        return (lambda: b.mul(g, y), lambda: b.mul(g, x))
    if kinds == (2, 1):
        return (lambda: b(outer_p, g, y), lambda: b(dot_p, b(transpose_p, x), g))
    if kinds == (1, 2):
        return (lambda: b(dot_p, y, g), lambda: b(outer_p, x, g))
    return (lambda: b(dot_p, g, b(transpose_p, y)), lambda: b(dot_p, b(transpose_p, x), g))


@defvjp(batch_dot_p)
def _batch_dot_vjp(b, op, g):
    """As dot's, per batch entry: x_bar[k] = g[k] y[k]^T, y_bar[k] = x[k]^T g[k]."""
    x, y = op.operands
    swap = transpose_attrs((0, 2, 1))
    return (lambda: b(batch_dot_p, g, b(transpose_p, y, attrs=swap)),
            lambda: b(batch_dot_p, b(transpose_p, x, attrs=swap), g))


set_linear_jvp(sum_p, spread_p, sum_leading_p, transpose_p, sum_to_shape_p)
dot_p.jvp = outer_p.jvp = batch_dot_p.jvp = bilinear_jvp


# --- more reductions and shapes ----------------------------------------------------------
def _emit_method(method: str):
    return lambda op, a: ast.Call(ast.Attribute(a[0], method, ast.Load()), [], [])


def _emit_along(name: str, whole: str):
    """<whole>(x) without an axis (np.prod; rt.array_max: a loop LLVM vectorises); along
    axis 1 of a 3-D array (the frontend reshapes any other axis to that form), the runtime
    loop rt.<name>_middle: Numba's np.max, np.min and np.prod take no axis."""
    def emit(op, args):
        if op.attrs.get("axis") is None:
            return call(whole, args)
        return call(f"rt.{name}_middle", args)

    return emit


amax_p = defprim("amax", infer=_reduced, emit=_emit_along("max", "rt.array_max"),
        spec={"arity": 1, "array": True, "kinks": True})
amin_p = defprim("amin", infer=_reduced, emit=_emit_along("min", "rt.array_min"),
        spec={"arity": 1, "array": True, "kinks": True})
prod_p = defprim("prod", infer=_reduced, emit=_emit_along("prod", "np.prod"),
        spec={"arity": 1, "array": True})
def _running(t: Type, axis=None, **_) -> list[Type]:
    return [Type("float", 1 if axis is None else t.ndim)]


cumsum_p = defprim("cumsum", infer=_running, emit=_emit_along("cumsum", "np.cumsum"),
        spec={"arity": 1, "array": True})
reverse_cumsum_p = defprim("reverse_cumsum", infer=_running,
        emit=_emit_along("reverse_cumsum", "rt.reverse_cumsum"))
ravel_p = defprim("ravel", infer=lambda t, **_: [Type(t.kind, 1)], emit=_emit_method("ravel"),
        view="maybe",
        spec={"arity": 1, "array": True})
reshape_p = defprim("reshape", infer=lambda t, *dims, **_: [Type(t.kind, len(dims))],
        view="maybe", dims_shape=True,
        emit=lambda op, a: ast.Call(ast.Attribute(call("np.ascontiguousarray", [a[0]]),
                                                  "reshape", ast.Load()),
                                    [ast.Tuple(list(a[1:]), ast.Load())], []),
        spec={"array": True})
reshape_like_p = defprim("reshape_like", infer=lambda g, x, **_: [Type("float", x.ndim)],
        view="maybe",
        emit=lambda op, a: ast.Call(ast.Attribute(call("np.ascontiguousarray", [a[0]]),
                                                  "reshape", ast.Load()),
                                    [ast.Attribute(a[1], "shape", ast.Load())], []))
expand_dims_p = defprim("expand_dims", infer=lambda t, axis, **_: [Type(t.kind, t.ndim + 1)],
                        cheap=True, view=True, unit_axes=lambda op: (op.attrs["axis"],),
                        emit=lambda op, a: call("np.expand_dims",
                                                [a[0], ast.Constant(op.attrs["axis"])]),
                        spec={"arity": 1, "array": True})


@defvjp(expand_dims_p)
def _expand_dims_vjp(b, op, g):
    return (lambda: b(reshape_like_p, g, op.operands[0]),)


prod_of_others_p = defprim("prod_of_others", infer=lambda t, **_: [t],
        emit=_emit_along("prod_of_others", "rt.prod_of_others"))
prod_of_others_tangent_p = defprim("prod_of_others_tangent", infer=lambda t, t_dot, **_: [t],
        emit=_emit_along("prod_of_others_tangent", "rt.prod_of_others_tangent"))
def _emit_join(name: str):
    return lambda op, a: ast.Call(dotted(f"np.{name}"),
                                  [ast.Tuple(list(a), ast.Load())], _axis_keyword(op))


concatenate_p = defprim("concatenate", infer=lambda *t, **_: [t[0]],
                        emit=_emit_join("concatenate"), linear=True, spec={"array": True})
stack_p = defprim("stack", infer=lambda *t, **_: [Type(promote(*t).kind, t[0].ndim + 1)],
                  emit=_emit_join("stack"), linear=True, spec={"array": True})


def _extreme_mask(b, op):
    """(1 where x attains the max/min, along the reduced axis; the count of such entries)."""
    (x,) = op.operands
    axis = op.attrs.get("axis")
    out = op.result if axis is None else b(expand_dims_p, op.result, attrs={"axis": axis})
    mask = b(cast_float_p, b(eq_p, x, out), attrs=bits_attrs(x.type))
    count = b(sum_p, mask, attrs={"axis": axis})
    return mask, count if axis is None else b(expand_dims_p, count, attrs={"axis": axis})


def _extreme_vjp(b, op, g):
    """Ties share the cotangent equally (as JAX's max/min reductions do)."""
    def contribution():
        mask, count = _extreme_mask(b, op)
        spread = b(spread_p, g, op.operands[0], attrs={"axis": op.attrs.get("axis")})
        return b.div(b.mul(spread, mask), count)

    return (contribution,)


defvjp(amax_p)(_extreme_vjp)
defvjp(amin_p)(_extreme_vjp)


@defvjp(prod_p)
def _prod_vjp(b, op, g):
    """g times the product of the other entries: exact with zeros, unlike prod / x."""
    (x,) = op.operands
    axis = op.attrs.get("axis")

    def x_bar():
        spread = g if axis is None else b(spread_p, g, x, attrs={"axis": axis})
        return b.mul(spread, b(prod_of_others_p, x, attrs={"axis": axis}))

    return (x_bar,)


@defvjp(cumsum_p)
def _cumsum_vjp(b, op, g):
    """Sums of the later cotangents; without an axis np.cumsum runs over x flattened."""
    (x,) = op.operands

    def x_bar():
        running = b(reverse_cumsum_p, g, attrs=op.attrs)
        return running if x.type.ndim == running.type.ndim else \
            b(reshape_like_p, running, x)

    return (x_bar,)


@defvjp(ravel_p)
def _ravel_vjp(b, op, g):
    return (lambda: b(reshape_like_p, g, op.operands[0]),)


@defvjp(reshape_p)
def _reshape_vjp(b, op, g):
    return (lambda: b(reshape_like_p, g, op.operands[0]),) + (None,) * (len(op.operands) - 1)


@defvjp(reshape_like_p)
def _reshape_like_vjp(b, op, g):
    return (lambda: b(reshape_like_p, g, op.operands[0]), None)


def _part(b, g, axis: int, start=None, stop=None, index=None):
    """g[..., start:stop, ...] or g[..., index, ...], the range or index at `axis`."""
    whole = ("s", False, False, False)
    here, operands = (("i",), (index,)) if index is not None else \
        (("s", True, True, False), (start, stop))
    layout = (whole,) * axis + (here,) + (whole,) * (g.type.ndim - axis - 1)
    return b(slice_p, g, *operands, attrs={"layout": layout})


@defvjp(concatenate_p)
def _concatenate_vjp(b, op, g):
    axis = op.attrs["axis"]
    thunks, start = [], const(0)
    for array in op.operands:
        stop = b.add(start, b(dim_p, array, attrs={"axis": axis}))
        thunks.append(lambda s=start, e=stop: _part(b, g, axis, s, e))
        start = stop
    return tuple(thunks)


@defvjp(stack_p)
def _stack_vjp(b, op, g):
    axis = op.attrs["axis"]
    return tuple((lambda k=k: _part(b, g, axis, index=const(k)))
                 for k in range(len(op.operands)))


set_linear_jvp(cumsum_p, reverse_cumsum_p, ravel_p, reshape_p, reshape_like_p, expand_dims_p)


def _concatenate_jvp(b, op, dots):
    if all(d is None for d in dots):
        return [None]
    parts = [d if d is not None else b(zeros_like_p, x) for x, d in zip(op.operands, dots)]
    return [b(op.prim.name, *parts, attrs=op.attrs)]


concatenate_p.jvp = _concatenate_jvp
stack_p.jvp = _concatenate_jvp


def _prod_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    axis = op.attrs.get("axis")
    others = b(prod_of_others_p, op.operands[0], attrs={"axis": axis})
    return [b(sum_p, b.mul(dots[0], others), attrs={"axis": axis})]


prod_p.jvp = _prod_jvp


def _prod_of_others_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [b(prod_of_others_tangent_p, op.operands[0], dots[0], attrs=op.attrs)]


prod_of_others_p.jvp = _prod_of_others_jvp


def _extreme_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    axis = op.attrs.get("axis")
    mask, count = _extreme_mask(b, op)
    total = b(sum_p, b.div(b.mul(dots[0], mask), count), attrs={"axis": axis})
    return [total]


amax_p.jvp = _extreme_jvp
amin_p.jvp = _extreme_jvp


# --- matrices: trace, diagonal, triangles -----------------------------------------------
trace_p = defprim("trace", infer=lambda a, **_: [Type("float", 0)], emit=lambda op, a: call("np.trace", a),
        spec={"arity": 1, "array": True})
# np.diag of a matrix is a (read-only) view of its diagonal; of a vector, a new matrix
diag_p = defprim("diag", infer=lambda a, **_: [Type("float", 3 - a.ndim)],
        view=lambda op: op.operands[0].type.ndim == 2,
        emit=lambda op, a: call("np.diag", a), spec={"arity": 1, "array": True})
def _emit_eye_like(op, args):
    shape = ast.Attribute(args[0], "shape", ast.Load())
    return call("np.eye", [ast.Subscript(shape, ast.Constant(k), ast.Load()) for k in (0, 1)])


eye_like_p = defprim("eye_like", infer=lambda a, **_: [Type("float", 2)], emit=_emit_eye_like,
                     differentiable=False)  # depends on the shape only
eye_p = defprim("eye", infer=lambda n, **_: [Type("float", 2)], differentiable=False, cheap=True,
        emit=lambda op, a: call("np.eye", a))


@defvjp(trace_p)
def _trace_vjp(b, op, g):
    return (lambda: b.mul(g, b(eye_like_p, op.operands[0])),)


def _emit_triangle(name: str):
    """np.triu/np.tril; of a stack, the runtime's (Numba's np.tril of 3 or more axes is slow
    to compile)."""
    def emit(op, a):
        helper = f"np.{name}" if op.operands[0].type.ndim <= 2 else f"rt.{name}_stack"
        return call(helper, [a[0], ast.Constant(op.attrs["k"])])
    return emit


def _triangle(name: str):
    """np.triu / np.tril with a constant offset `k`: linear, its own adjoint."""
    prim = defprim(name, infer=lambda a, **_: [a], emit=_emit_triangle(name), cheap=True,
                   spec={"arity": 1, "array": True})
    defvjp(prim)(lambda b, op, g: (lambda: b(op.prim, g, attrs=op.attrs),))
    set_linear_jvp(prim)
    return prim


triu_p = _triangle("triu")
tril_p = _triangle("tril")


@defvjp(diag_p)
def _diag_vjp(b, op, g):
    return (lambda: b(diag_p, g),)


set_linear_jvp(trace_p, diag_p)


logaddexp_p = defprim("logaddexp", infer=lambda a, b, **_: [Type("float", max(a.ndim, b.ndim))],
        broadcast_shape=True,
        emit=lambda op, a: call("np.logaddexp", a), spec={"arity": 2})


@defvjp(logaddexp_p)
def _logaddexp_vjp(b, op, g):
    """d/dx log(e^x + e^y) = e^(x - out): smooth, 1/2 each at x == y."""
    x, y = op.operands
    return (lambda: b.mul(g, b(exp_p, b.sub(x, op.result))),
            lambda: b.mul(g, b(exp_p, b.sub(y, op.result))))


logaddexp_p.jvp = jvp_from_vjp


arange_p = defprim("arange", infer=lambda *t, **_: [Type("int", 1)], differentiable=False, cheap=True,
        emit=lambda op, a: call("np.arange", a))
unit_ramp_p = defprim("unit_ramp", infer=lambda n, **_: [Type("float", 1)], differentiable=False,
        cheap=True, emit=lambda op, a: call("np.linspace", [ast.Constant(0.0),
                                                             ast.Constant(1.0), a[0]]))
