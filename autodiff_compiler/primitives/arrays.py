"""Whole-array primitives: reductions, products, transposes, and the adjoint helpers of
broadcasting.

Broadcasting follows NumPy: an operand of lower rank is aligned to the trailing axes, so its
adjoint sums the cotangent over the leading axes (`sum_leading`); a scalar operand's adjoint
sums over all; and an axis of length one that was stretched to the other operand's length
gets the cotangent summed along it (`sum_to_shape`, decided at run time from the shapes).
Max, min and prod along an axis run on the array reshaped to (before, axis, after).
Products (np.dot, @) call the loops of autodiff_compiler.runtime, so Numba needs no BLAS.
A transpose permutes the axes (attr `axes`, as np.transpose's; without it, the reversal of
all axes, `x.T`): np.swapaxes and np.moveaxis lower to it too, and its adjoint is the
transpose by the inverse permutation.
"""

from __future__ import annotations

import ast

from ..ir.builder import const
from ..ir.types import Type
from .registry import (
    PRIMITIVES,
    bilinear_jvp,
    call,
    defprim,
    defvjp,
    jvp_from_vjp,
    linear_jvp,
)


def _axis_keyword(op):
    axis = op.attrs.get("axis")
    return [] if axis is None else [ast.keyword("axis", ast.Constant(axis))]


def _reduced(t: Type, axis=None, **_) -> list[Type]:
    return [Type("float", 0 if axis is None else t.ndim - 1)]


defprim("sum", infer=_reduced, cheap=False,
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


defprim("spread", infer=lambda g, x, **_: [Type("float", x.ndim)], emit=_emit_spread)


def _emit_sum_leading(op, args):
    count = op.attrs["count"]
    if op.results[0].type.ndim == 0:
        return call("np.sum", args)
    node = args[0]
    for _ in range(count):
        node = ast.Call(ast.Attribute(node, "sum", ast.Load()), [],
                        [ast.keyword("axis", ast.Constant(0))])
    return node


defprim("sum_leading", infer=lambda g, count, **_: [Type("float", g.ndim - count)],
        emit=_emit_sum_leading)


def unbroadcast(b, g, operand, op=None):
    """The part of cotangent g that belongs to `operand` (summed over broadcast axes: the
    leading axes it lacks, and its axes of length one). When `operand` is the only array
    among the operands of `op`, nothing was broadcast against it: g has its shape already."""
    extra = g.type.ndim - operand.type.ndim
    if extra > 0:
        g = b("sum_leading", g, attrs={"count": extra})
    alone = op is not None and all(o is operand or not o.type.is_array for o in op.operands)
    if operand.type.is_array and g.type.is_array and not alone:
        g = b("sum_to_shape", g, operand)
    return g


defprim("sum_to_shape", infer=lambda g, x, **_: [g],
        emit=lambda op, a: call(_sum_to_shape_helper(op.operands[1].type.ndim), a))


def _sum_to_shape_helper(ndim: int) -> str:
    return f"rt.sum_to_shape{ndim}" if ndim <= 2 else "rt.sum_to_shape"


@defvjp("sum")
def _sum_vjp(b, op, g):
    return (lambda: b("spread", g, op.operands[0], attrs={"axis": op.attrs.get("axis")}),)


# --- products ------------------------------------------------------------------------------
def _dot_type(a: Type, b: Type, **_) -> list[Type]:
    return [Type("float", a.ndim + b.ndim - 2)]


def _emit_dot(op, args):
    a, b = (v.type.ndim for v in op.operands)
    return call(f"rt.dot{a}{b}", args)


defprim("dot", infer=_dot_type, emit=_emit_dot, spec={"arity": 2, "array": True})
defprim("outer", infer=lambda a, b, **_: [Type("float", 2)],
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


defprim("transpose", infer=_transpose_type, emit=_emit_transpose, cheap=True,
        spec={"arity": 1, "array": True})


@defvjp("transpose")
def _transpose_vjp(b, op, g):
    """The transpose by the inverse permutation (the reversal is its own inverse)."""
    axes = transpose_axes(op)
    inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
    return (lambda: b("transpose", g, attrs=transpose_attrs(inverse)),)


# --- adjoints of the products ------------------------------------------------------------
@defvjp("outer")
def _outer_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b("dot", g, y), lambda: b("dot", b("transpose", g), x))


@defvjp("dot")
def _dot_vjp(b, op, g):
    x, y = op.operands
    kinds = (x.type.ndim, y.type.ndim)
    if kinds == (1, 1):
        return (lambda: b.mul(g, y), lambda: b.mul(g, x))
    if kinds == (2, 1):
        return (lambda: b("outer", g, y), lambda: b("dot", b("transpose", x), g))
    if kinds == (1, 2):
        return (lambda: b("dot", y, g), lambda: b("outer", x, g))
    return (lambda: b("dot", g, b("transpose", y)), lambda: b("dot", b("transpose", x), g))


for _name in ("sum", "spread", "sum_leading", "transpose", "sum_to_shape"):
    PRIMITIVES[_name].jvp = linear_jvp
for _name in ("dot", "outer"):
    PRIMITIVES[_name].jvp = bilinear_jvp


# --- more reductions and shapes ----------------------------------------------------------
def _emit_method(method: str):
    return lambda op, a: ast.Call(ast.Attribute(a[0], method, ast.Load()), [], [])


def _emit_along(name: str, whole: str):
    """np.<whole>(x) without an axis; along axis 1 of a 3-D array (the frontend reshapes any
    other axis to that form), the runtime loop rt.<name>_middle: Numba's np.max, np.min and
    np.prod take no axis."""
    def emit(op, args):
        if op.attrs.get("axis") is None:
            return call(whole, args)
        return call(f"rt.{name}_middle", args)

    return emit


defprim("amax", infer=_reduced, emit=_emit_along("max", "np.max"),
        spec={"arity": 1, "array": True, "kinks": True})
defprim("amin", infer=_reduced, emit=_emit_along("min", "np.min"),
        spec={"arity": 1, "array": True, "kinks": True})
defprim("prod", infer=_reduced, emit=_emit_along("prod", "np.prod"),
        spec={"arity": 1, "array": True})
def _running(t: Type, axis=None, **_) -> list[Type]:
    return [Type("float", 1 if axis is None else t.ndim)]


defprim("cumsum", infer=_running, emit=_emit_along("cumsum", "np.cumsum"),
        spec={"arity": 1, "array": True})
defprim("reverse_cumsum", infer=_running,
        emit=_emit_along("reverse_cumsum", "rt.reverse_cumsum"))
defprim("ravel", infer=lambda t, **_: [Type("float", 1)], emit=_emit_method("ravel"),
        spec={"arity": 1, "array": True})
defprim("reshape", infer=lambda t, *dims, **_: [Type("float", len(dims))],
        emit=lambda op, a: ast.Call(ast.Attribute(call("np.ascontiguousarray", [a[0]]),
                                                  "reshape", ast.Load()),
                                    [ast.Tuple(list(a[1:]), ast.Load())], []),
        spec={"array": True})
defprim("reshape_like", infer=lambda g, x, **_: [Type("float", x.ndim)],
        emit=lambda op, a: ast.Call(ast.Attribute(call("np.ascontiguousarray", [a[0]]),
                                                  "reshape", ast.Load()),
                                    [ast.Attribute(a[1], "shape", ast.Load())], []))
defprim("prod_of_others", infer=lambda t, **_: [t],
        emit=_emit_along("prod_of_others", "rt.prod_of_others"))
defprim("prod_of_others_tangent", infer=lambda t, t_dot, **_: [t],
        emit=_emit_along("prod_of_others_tangent", "rt.prod_of_others_tangent"))
def _emit_join(name: str):
    return lambda op, a: ast.Call(ast.parse(f"np.{name}", mode="eval").body,
                                  [ast.Tuple(list(a), ast.Load())], _axis_keyword(op))


defprim("concatenate", infer=lambda *t, **_: [t[0]], emit=_emit_join("concatenate"),
        spec={"array": True})
defprim("stack", infer=lambda *t, **_: [Type("float", t[0].ndim + 1)],
        emit=_emit_join("stack"), spec={"array": True})


def _extreme_mask(b, op):
    """(1 where x attains the max/min, along the reduced axis; the count of such entries)."""
    (x,) = op.operands
    axis = op.attrs.get("axis")
    out = op.result if axis is None else b("expand_dims", op.result, attrs={"axis": axis})
    mask = b("cast_float", b("eq", x, out))
    count = b("sum", mask, attrs={"axis": axis})
    return mask, count if axis is None else b("expand_dims", count, attrs={"axis": axis})


def _extreme_vjp(b, op, g):
    """Ties share the cotangent equally (as JAX's max/min reductions do)."""
    def contribution():
        mask, count = _extreme_mask(b, op)
        spread = b("spread", g, op.operands[0], attrs={"axis": op.attrs.get("axis")})
        return b.div(b.mul(spread, mask), count)

    return (contribution,)


defvjp("amax")(_extreme_vjp)
defvjp("amin")(_extreme_vjp)


@defvjp("prod")
def _prod_vjp(b, op, g):
    """g times the product of the other entries: exact with zeros, unlike prod / x."""
    (x,) = op.operands
    axis = op.attrs.get("axis")

    def x_bar():
        spread = g if axis is None else b("spread", g, x, attrs={"axis": axis})
        return b.mul(spread, b("prod_of_others", x, attrs={"axis": axis}))

    return (x_bar,)


@defvjp("cumsum")
def _cumsum_vjp(b, op, g):
    """Sums of the later cotangents; without an axis np.cumsum runs over x flattened."""
    (x,) = op.operands

    def x_bar():
        running = b("reverse_cumsum", g, attrs=op.attrs)
        return running if x.type.ndim == running.type.ndim else \
            b("reshape_like", running, x)

    return (x_bar,)


@defvjp("ravel")
def _ravel_vjp(b, op, g):
    return (lambda: b("reshape_like", g, op.operands[0]),)


@defvjp("reshape")
def _reshape_vjp(b, op, g):
    return (lambda: b("reshape_like", g, op.operands[0]),) + (None,) * (len(op.operands) - 1)


@defvjp("reshape_like")
def _reshape_like_vjp(b, op, g):
    return (lambda: b("reshape_like", g, op.operands[0]), None)


def _part(b, g, axis: int, start=None, stop=None, index=None):
    """g[..., start:stop, ...] or g[..., index, ...], the range or index at `axis`."""
    whole = ("s", False, False, False)
    here, operands = (("i",), (index,)) if index is not None else \
        (("s", True, True, False), (start, stop))
    layout = (whole,) * axis + (here,) + (whole,) * (g.type.ndim - axis - 1)
    return b("slice", g, *operands, attrs={"layout": layout})


@defvjp("concatenate")
def _concatenate_vjp(b, op, g):
    axis = op.attrs["axis"]
    thunks, start = [], const(0)
    for array in op.operands:
        stop = b.add(start, b("dim", array, attrs={"axis": axis}))
        thunks.append(lambda s=start, e=stop: _part(b, g, axis, s, e))
        start = stop
    return tuple(thunks)


@defvjp("stack")
def _stack_vjp(b, op, g):
    axis = op.attrs["axis"]
    return tuple((lambda k=k: _part(b, g, axis, index=const(k)))
                 for k in range(len(op.operands)))


for _name in ("cumsum", "reverse_cumsum", "ravel", "reshape", "reshape_like"):
    PRIMITIVES[_name].jvp = linear_jvp


def _concatenate_jvp(b, op, dots):
    if all(d is None for d in dots):
        return [None]
    parts = [d if d is not None else b("zeros_like", x) for x, d in zip(op.operands, dots)]
    return [b(op.prim.name, *parts, attrs=op.attrs)]


PRIMITIVES["concatenate"].jvp = _concatenate_jvp
PRIMITIVES["stack"].jvp = _concatenate_jvp


def _prod_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    axis = op.attrs.get("axis")
    others = b("prod_of_others", op.operands[0], attrs={"axis": axis})
    return [b("sum", b.mul(dots[0], others), attrs={"axis": axis})]


PRIMITIVES["prod"].jvp = _prod_jvp


def _prod_of_others_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [b("prod_of_others_tangent", op.operands[0], dots[0], attrs=op.attrs)]


PRIMITIVES["prod_of_others"].jvp = _prod_of_others_jvp


def _extreme_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    axis = op.attrs.get("axis")
    mask, count = _extreme_mask(b, op)
    total = b("sum", b.div(b.mul(dots[0], mask), count), attrs={"axis": axis})
    return [total]


PRIMITIVES["amax"].jvp = _extreme_jvp
PRIMITIVES["amin"].jvp = _extreme_jvp


# --- linear algebra (runtime LU factorisation; Griewank & Walther ch. 3 matrix rules) -----
def _emit_solve(op, args):
    return call(f"rt.solve{op.operands[1].type.ndim}", args)


defprim("solve", infer=lambda a, b, **_: [Type("float", b.ndim)], emit=_emit_solve,
        spec={"arity": 2, "array": True})
defprim("inv", infer=lambda a, **_: [Type("float", 2)], emit=lambda op, a: call("rt.inv", a),
        spec={"arity": 1, "array": True})
defprim("det", infer=lambda a, **_: [Type("float", 0)], emit=lambda op, a: call("rt.det", a),
        spec={"arity": 1, "array": True})
defprim("logabsdet", infer=lambda a, **_: [Type("float", 0)], cheap=False,
        emit=lambda op, a: ast.Subscript(call("rt.slogdet", a), ast.Constant(1), ast.Load()),
        spec={"arity": 1, "array": True})
defprim("det_sign", infer=lambda a, **_: [Type("float", 0)], differentiable=False,
        emit=lambda op, a: ast.Subscript(call("rt.slogdet", a), ast.Constant(0), ast.Load()))
defprim("trace", infer=lambda a, **_: [Type("float", 0)], emit=lambda op, a: call("np.trace", a),
        spec={"arity": 1, "array": True})
defprim("diag", infer=lambda a, **_: [Type("float", 3 - a.ndim)],
        emit=lambda op, a: call("np.diag", a), spec={"arity": 1, "array": True})
def _emit_eye_like(op, args):
    shape = ast.Attribute(args[0], "shape", ast.Load())
    return call("np.eye", [ast.Subscript(shape, ast.Constant(k), ast.Load()) for k in (0, 1)])


defprim("eye_like", infer=lambda a, **_: [Type("float", 2)], emit=_emit_eye_like)
defprim("eye", infer=lambda n, **_: [Type("float", 2)], differentiable=False, cheap=True,
        emit=lambda op, a: call("np.eye", a))


@defvjp("solve")
def _solve_vjp(b, op, g):
    """x = A^-1 y: y_bar = A^-T g, A_bar = -y_bar x^T (outer product, or matrix product)."""
    a = op.operands[0]

    def y_bar():
        return b("solve", b("transpose", a), g)

    def a_bar():
        adjoint = y_bar()
        product = "outer" if op.result.type.ndim == 1 else "dot"
        second = op.result if product == "outer" else b("transpose", op.result)
        return b.neg(b(product, adjoint, second))

    return (a_bar, y_bar)


@defvjp("inv")
def _inv_vjp(b, op, g):
    inverse_t = b("transpose", op.result)
    return (lambda: b.neg(b("dot", b("dot", inverse_t, g), inverse_t)),)


@defvjp("det")
def _det_vjp(b, op, g):
    (a,) = op.operands
    return (lambda: b.mul(b.mul(g, op.result), b("transpose", b("inv", a))),)


@defvjp("logabsdet")
def _logabsdet_vjp(b, op, g):
    """d log|det A| = tr(A^-1 dA): A_bar = g A^-T."""
    return (lambda: b.mul(g, b("transpose", b("inv", op.operands[0]))),)


@defvjp("trace")
def _trace_vjp(b, op, g):
    return (lambda: b.mul(g, b("eye_like", op.operands[0])),)


def _emit_triangle(name: str):
    return lambda op, a: call(f"np.{name}", [a[0], ast.Constant(op.attrs["k"])])


for _name in ("triu", "tril"):
    defprim(_name, infer=lambda a, **_: [a], emit=_emit_triangle(_name), cheap=True,
            spec={"arity": 1, "array": True})
    defvjp(_name)(lambda b, op, g: (lambda: b(op.prim.name, g, attrs=op.attrs),))
    PRIMITIVES[_name].jvp = linear_jvp


@defvjp("diag")
def _diag_vjp(b, op, g):
    return (lambda: b("diag", g),)


def _solve_jvp(b, op, dots):
    """dx = A^-1 (dy - dA x)."""
    a = op.operands[0]
    rhs = dots[1]
    if dots[0] is not None:
        change = b("dot", dots[0], op.result)
        rhs = b.neg(change) if rhs is None else b.sub(rhs, change)
    return [None if rhs is None else b("solve", a, rhs)]


def _inv_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [b.neg(b("dot", b("dot", op.result, dots[0]), op.result))]


def _det_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    inverse = b("inv", op.operands[0])
    return [b.mul(op.result, b("trace", b("dot", inverse, dots[0])))]


PRIMITIVES["solve"].jvp = _solve_jvp
PRIMITIVES["inv"].jvp = _inv_jvp
PRIMITIVES["det"].jvp = _det_jvp


def _logabsdet_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [b("trace", b("dot", b("inv", op.operands[0]), dots[0]))]


PRIMITIVES["logabsdet"].jvp = _logabsdet_jvp
PRIMITIVES["trace"].jvp = linear_jvp
PRIMITIVES["diag"].jvp = linear_jvp


defprim("logaddexp", infer=lambda a, b, **_: [Type("float", max(a.ndim, b.ndim))],
        emit=lambda op, a: call("np.logaddexp", a), spec={"arity": 2})


@defvjp("logaddexp")
def _logaddexp_vjp(b, op, g):
    """d/dx log(e^x + e^y) = e^(x - out): smooth, 1/2 each at x == y."""
    x, y = op.operands
    return (lambda: b.mul(g, b("exp", b.sub(x, op.result))),
            lambda: b.mul(g, b("exp", b.sub(y, op.result))))


PRIMITIVES["logaddexp"].jvp = jvp_from_vjp


defprim("arange", infer=lambda *t, **_: [Type("int", 1)], differentiable=False, cheap=True,
        emit=lambda op, a: call("np.arange", a))
defprim("unit_ramp", infer=lambda n, **_: [Type("float", 1)], differentiable=False,
        cheap=True, emit=lambda op, a: call("np.linspace", [ast.Constant(0.0),
                                                             ast.Constant(1.0), a[0]]))
