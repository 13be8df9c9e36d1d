"""Lowering of NumPy calls on whole arrays: reductions, products, shapes, creation.

Each function maps to primitives (primitives/arrays.py, indexing.py) or to a composition of
them where NumPy defines it so (np.clip, np.logaddexp, np.linalg.norm, np.mean), so every
derivative rule lives in one place.
"""

from __future__ import annotations

from ..ir.core import Const, Value, const
from ..ir.types import Type, bits_attrs, promote
from ..primitives.arith import (
    add_p,
    cast_float_p,
    cast_int_p,
    max2_p,
    min2_p,
    mul_p,
    select_p,
    sub_p,
    truediv_p,
)
from ..primitives.arrays import (
    arange_p,
    cumsum_p,
    diag_p,
    dot_p,
    expand_dims_p,
    eye_p,
    logaddexp_p,
    outer_p,
    reshape_p,
    sum_p,
    unit_ramp_p,
)
from ..primitives.elementwise import ceil_p, sqrt_p
from ..primitives.indexing import copy_p, dim_p, full_p, new_array_p, slice_p
from ..primitives.shapes import cumprod_p
from .contractions import ContractionLowering
from .linalg_calls import LinalgCalls
from .numpy_more import NumpyMore
from .resolve import Resolved
from .scope import RuntimeComprehension
from .transposes import PERMUTES, TransposeLowering

# np.<name> on arrays -> (least, most) positional arguments
_ARITY = {"sum": (1, 1), "mean": (1, 1), "dot": (2, 2), "matmul": (2, 2), "outer": (2, 2),
          "max": (1, 1), "min": (1, 1), "prod": (1, 1), "cumsum": (1, 1), "cumprod": (1, 1), "where": (3, 3),
          "clip": (1, 1), "logaddexp": (2, 2), "reciprocal": (1, 1), "norm": (1, 1),
          "ravel": (1, 1), "reshape": (2, 9), "concatenate": (1, 1), "stack": (1, 1),
          "solve": (2, 2), "inv": (1, 1), "det": (1, 1), "slogdet": (1, 1), "trace": (1, 1),
          "diag": (1, 1), "triu": (1, 2), "tril": (1, 2), "hstack": (1, 1), "vstack": (1, 1),
          "var": (1, 1), "std": (1, 1), "squeeze": (1, 1), "flip": (1, 1)}
_REDUCTIONS = ("sum", "mean", "max", "min", "prod", "norm", "var", "std")
# the options of np.<name> after the array, in NumPy's positional order
_SUMMED = ("axis", "dtype", "out", "keepdims")
_OPTIONS = {"sum": _SUMMED, "mean": _SUMMED, "prod": _SUMMED, "max": ("axis", "out", "keepdims"),
            "min": ("axis", "out", "keepdims"), "cumsum": ("axis", "dtype", "out"),
            "cumprod": ("axis", "dtype", "out"),
            "var": ("axis", "dtype", "out", "ddof", "keepdims"),
            "std": ("axis", "dtype", "out", "ddof", "keepdims"),
            "norm": ("ord", "axis", "keepdims"), "concatenate": ("axis",),
            "stack": ("axis",), "squeeze": ("axis",), "flip": ("axis",), "triu": ("k",),
            "tril": ("k",), "clip": ("a_min", "a_max", "out", "min", "max")}
_JOINS = ("concatenate", "stack", "hstack", "vstack")
_ALONG_MIDDLE = {"max": "amax", "min": "amin", "prod": "prod"}


class ShapeOf:
    """`x.shape`, waiting to be indexed."""

    def __init__(self, array: Value):
        self.array = array


class NumpyLowering(NumpyMore, ContractionLowering, TransposeLowering, LinalgCalls):
    """Mixin for frontend.expressions.ExpressionLowering."""

    def product(self, node, left: Value, right: Value) -> Value:
        """x @ y: of 1-D and 2-D arrays np.dot, of stacks (3 or more axes) batched."""
        if not left.type.is_array or not right.type.is_array:
            self.error(node, "matrix products (@) take arrays, not numbers: use *",
                       unsupported=True)
        if left.type.ndim > 2 or right.type.ndim > 2:
            return self.stacked_product(node, left, right)
        return self.b(dot_p, self.cast(left, Type("float", left.type.ndim)),
                      self.cast(right, Type("float", right.type.ndim)))

    def array_function(self, node, name: str, args: list) -> Value:
        """np.<name>(...) on arrays (and the same-named array methods)."""
        if name in PERMUTES:
            return self.permute(node, name, args)
        if name in self.COMPOSED or name in self.CONTRACTIONS or name in self.LINALG:
            return self.composed(node, name, args)
        args = [self.array_of(node, a, copy=False) if isinstance(
            a, (tuple, RuntimeComprehension)) and k == 0 and name not in _JOINS else a
            for k, a in enumerate(args)]
        if name in _OPTIONS and name != "reshape":
            options = self.options(node, name, args[1:])
            args = args[:1]
        else:
            options = self.options(node, name, [])
        axis, keepdims = options.get("axis"), options.get("keepdims", False)
        low, high = _ARITY[name]
        if name == "where" and len(args) == 1:
            self.error(node, "np.where(condition) gives the indices where it holds, as many as "
                       "known only at run time: use np.where(condition, x, y)",
                       unsupported=True)
        if not low <= len(args) <= high:
            self.error(node, f"np.{name}() takes {low} argument(s)", unsupported=True)
        if name in ("concatenate", "stack", "hstack", "vstack"):
            return self.join(node, name, args[0], axis)
        if name == "reshape":  # a shape: numbers, a tuple of them, or x.shape
            x = self.check_value(node, args[0])
            shape = tuple(args[1:]) if len(args) > 2 else args[1]
            if not x.type.is_array:
                self.error(node, "np.reshape takes an array", unsupported=True)
            return self.b(reshape_p, x, *self.shape_of(node, shape))  # ints stay ints
        values = [self.check_value(node, a) for a in args]
        if name == "clip":  # NumPy 2 also names the bounds min= and max=
            bounds = [options.get(k) if options.get(k) is not None else options.get(alias)
                      for k, alias in (("a_min", "min"), ("a_max", "max"))]
            return self.clipped(node, values[0], *bounds)
        if name in ("where", "logaddexp", "reciprocal"):
            return self.elementwise_function(node, name, values)
        x = values[0]
        if name == "dot":
            return self.dot_of(node, x, values[1])
        if name == "matmul":
            return self.product(node, x, values[1])
        if not x.type.is_array and name in ("sum", "mean", "max", "min", "prod") \
                and axis is None:  # of a number: the number (NumPy's 0-d arrays)
            return self.cast(x, Type("float"))
        if not x.type.is_array:
            self.error(node, f"np.{name}() takes an array", unsupported=True)
        if name != "ravel":  # ravel keeps integers (index arrays) integers
            x = self.cast(x, Type("float", x.type.ndim), exact="dtype" in options)
        if name in ("triu", "tril"):
            return self.linear_algebra(node, name, x, [options.get("k", const(0))])
        if name == "outer":
            if x.type.ndim != 1 or values[1].type.ndim != 1:
                self.error(node, "np.outer takes two 1-D arrays", unsupported=True)
            return self.b(outer_p, x, self.cast(values[1], Type("float", 1)))
        if name == "norm" and options.get("ord") is not None:
            return self.norm(node, x, options["ord"], self.axes_of(node, axis, x.type.ndim,
                                                                   keep_all=True), keepdims)
        if name in _REDUCTIONS:
            return self.reduction(node, name, x, self.axes_of(node, axis, x.type.ndim),
                                  keepdims, options.get("ddof", 0))
        if isinstance(axis, tuple):
            self.error(node, f"np.{name} takes one axis", unsupported=True)
        if axis is not None:
            axis %= x.type.ndim
        if name == "cumsum":
            return self.along_axis(cumsum_p, x, axis, reduces=False)
        if name == "cumprod":
            return self.along_axis(cumprod_p, x, axis, reduces=False)
        if name in ("squeeze", "flip"):
            return self.reorder(node, name, x, axis)
        if name == "ravel":
            return self.b(name, x)
        return self.linear_algebra(node, name, x, values[1:])

    def axes_of(self, node, axis, ndim: int, keep_all: bool = False):
        """The reduced axes, sorted and non-negative (None: all of them, also when `axis`
        names every axis, unless `keep_all`)."""
        if axis is None:
            return None
        axes = sorted({a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))})
        if any(not -ndim <= a < ndim for a in (axis if isinstance(axis, tuple) else (axis,))):
            self.error(node, f"axis {axis} is out of bounds for {ndim} dimensions",
                       unsupported=True)
        return None if len(axes) == ndim and not keep_all else tuple(axes)

    def reduction(self, node, name: str, x: Value, axes, keepdims: bool,
                  ddof=0) -> Value:
        """np.sum/mean/max/min/prod/var/std and np.linalg.norm over `axes` (None: all)."""
        b = self.b
        if name == "mean":
            total = self.reduction(node, "sum", x, axes, False)
            count = self.product_of([b(dim_p, x, attrs={"axis": k}) for k in
                                     (range(x.type.ndim) if axes is None else axes)])
            value = b(truediv_p, total, b(cast_float_p, count))
        elif name in ("var", "std"):  # the square deviation summed, over count - ddof
            deviation = b(sub_p, x, self.reduction(node, "mean", x, axes, True))
            if ddof == 0:
                value = self.reduction(node, "mean", b(mul_p, deviation, deviation), axes,
                                       False)
            else:
                count = self.product_of([b(dim_p, x, attrs={"axis": k}) for k in
                                         (range(x.type.ndim) if axes is None else axes)])
                value = b(truediv_p, self.reduction(node, "sum", b(mul_p, deviation,
                                                                  deviation), axes, False),
                          b(sub_p, b(cast_float_p, count), const(float(ddof))))
            value = b(sqrt_p, value) if name == "std" else value
        elif name == "norm":
            value = b(sqrt_p, self.reduction(node, "sum", b(mul_p, x, x), axes, False))
        elif axes is None:
            value = b(_ALONG_MIDDLE.get(name, "sum"), x, attrs={"axis": None})
        else:
            value = x
            for axis in reversed(axes):  # the later axes first: the earlier keep their numbers
                value = b(sum_p, value, attrs={"axis": axis}) if name == "sum" else \
                    self.along_axis(_ALONG_MIDDLE[name], value, axis)
        return self.keep_axes(value, axes, x.type.ndim) if keepdims else value

    def keep_axes(self, value: Value, axes, ndim: int) -> Value:
        """The reduced axes put back with length one (keepdims=True)."""
        if not value.type.is_array:
            return self.b.op(full_p, *[const(1)] * ndim, value, hint="full").result
        for axis in axes:
            value = self.b(expand_dims_p, value, attrs={"axis": axis})
        return value

    def reorder(self, node, name: str, x: Value, axis) -> Value:
        """np.flip (a view with steps of -1) and np.squeeze(x, axis) (a reshape that drops an
        axis, which must have length one; without an axis: frontend.ordering.squeezed)."""
        if name == "flip":
            layout = tuple(("s", False, False, axis in (None, k)) for k in range(x.type.ndim))
            steps = [const(-1) for k in range(x.type.ndim) if axis in (None, k)]
            return self.b(slice_p, x, *steps, attrs={"layout": layout})
        if axis is None:
            return self.squeezed(node, x)
        dims = [self.b(dim_p, x, attrs={"axis": k}) for k in range(x.type.ndim) if k != axis]
        return self.b(reshape_p, x, *dims)

    def options(self, node, name: str, positional: list) -> dict:
        """The options of np.<name> after the array (positional, then keywords), checked:
        axis an integer constant or a tuple of them, keepdims a bool constant, ddof a number
        constant, ord a constant or a string, dtype float (the result's type anyway), out
        None."""
        params = _OPTIONS.get(name, ())
        given = self.bind(node, f"np.{name}", [None, *positional], ("a", *params),
                          dict.fromkeys(params))
        del given["a"]  # the array, lowered by the caller
        found = {}
        for key, value in given.items():
            if value is None:
                continue
            if key == "axis":
                parts = value if isinstance(value, tuple) else (value,)
                if not parts or any(not isinstance(p, Const) or p.type.kind != "int"
                                    for p in parts):
                    self.error(node, "axis= must be a constant int (or a tuple of them)")
                found[key] = tuple(p.value for p in parts) if isinstance(value, tuple) \
                    else value.value
            elif key in ("keepdims", "ddof"):
                kinds = ("bool",) if key == "keepdims" else ("int", "float")
                if not isinstance(value, Const) or value.type.kind not in kinds:
                    self.error(node, f"{key}= must be a constant {' or '.join(kinds)}")
                found[key] = value.value
            elif key == "dtype":
                if not (isinstance(value, Resolved) and value.value == "float"):
                    self.error(node, f"np.{name}(): dtype= may only be float here",
                               unsupported=True)
                found[key] = "float"  # float64, also of a float32 array
            elif key == "out":
                self.error(node, f"np.{name}(): out= is not supported; assign the result",
                           unsupported=True)
            else:
                found[key] = value
        return found

    def along_axis(self, prim: str, x: Value, axis, reduces: bool = True) -> Value:
        """np.max/min/prod/cumsum: of every entry, or along one axis, which the array is
        reshaped to hold in the middle of three, (before, along, after), so one runtime loop
        serves any rank and axis."""
        if axis is None or x.type.ndim == 1:
            return self.b(prim, x, attrs={"axis": None})
        middle, dims = self.middle(x, axis)
        along = self.b(prim, middle, attrs={"axis": 1})
        return self.b(reshape_p, along, *(dims[:axis] + dims[axis + 1:] if reduces else dims))

    def product_of(self, dims: list[Value]) -> Value:
        total = dims[0] if dims else const(1)
        for dim in dims[1:]:
            total = self.b(mul_p, total, dim)
        return total

    def elementwise_function(self, node, name: str, args: list[Value]) -> Value:
        """np.where, np.logaddexp, np.reciprocal (scalars or arrays)."""
        b = self.b
        if name == "where":
            cond, x, y = args
            if cond.type.kind != "bool":
                self.error(node, "np.where needs a boolean condition", unsupported=True)
            return b(select_p, cond, x, y)
        if name == "reciprocal":
            return b(truediv_p, const(1.0), args[0])
        x, y = args
        return b(logaddexp_p, self.cast(x, Type("float", x.type.ndim)),
                 self.cast(y, Type("float", y.type.ndim)))

    def clipped(self, node, x: Value, low, high) -> Value:
        """np.clip(x, low, high) as max(min(x, high), low); a bound None is left out."""
        if low is None and high is None:
            self.error(node, "np.clip needs a lower or an upper bound", unsupported=True)
        bounds = [self.check_value(node, v) for v in (low, high) if v is not None]
        if high is not None:
            x = self.b(min2_p, x, bounds[-1])
        return x if low is None else self.b(max2_p, x, bounds[0])

    def linear_algebra(self, node, name: str, matrix: Value, rest: list[Value]):
        """np.linalg.solve/inv/det/slogdet of square matrices, np.trace, np.diag, and
        np.triu/np.tril (with a constant diagonal offset)."""
        if name == "diag":
            return self.b(diag_p, matrix)
        if name in ("triu", "tril"):
            offset = rest[0] if rest else const(0)
            if matrix.type.ndim != 2 or not isinstance(offset, Const) \
                    or offset.type.kind != "int":
                self.error(node, f"np.{name} takes a 2-D array and a constant integer",
                           unsupported=True)
            return self.b(name, matrix, attrs={"k": offset.value})
        if name in ("solve", "inv", "det", "slogdet"):
            return self.square_matrices(node, name, matrix, rest)
        if matrix.type.ndim != 2:
            self.error(node, f"np.{name} takes a 2-D array", unsupported=True)
        return self.b(name, matrix)

    def join(self, node, name: str, parts, axis) -> Value:
        """np.concatenate / np.stack of a tuple or list of arrays along `axis` (default 0);
        np.hstack and np.vstack as NumPy defines them through those two."""
        if isinstance(parts, RuntimeComprehension):
            self.error(node, f"np.{name} of a list built over a range known only at run "
                       "time is not supported: make the range's bounds constants, or fill an "
                       "array in a loop (np.zeros((n, ...)), then x[i] = ...)", unsupported=True)
        if not isinstance(parts, tuple) or not parts:
            self.error(node, f"np.{name} takes a tuple or list of arrays", unsupported=True)
        arrays = [self.check_value(node, p) for p in parts]
        ndims = {a.type.ndim for a in arrays}
        if len(ndims) != 1 or 0 in ndims:
            self.error(node, f"np.{name} takes arrays of one rank", unsupported=True)
        ndim = ndims.pop()
        if name == "hstack":  # along the first axis of 1-D arrays, the second of others
            name, axis = "concatenate", 0 if ndim == 1 else 1
        elif name == "vstack":
            name, axis = ("stack", 0) if ndim == 1 else ("concatenate", 0)
        axis = axis or 0
        rank = ndim + (name == "stack")
        if not -rank <= axis < rank:
            self.error(node, f"np.{name}: axis {axis} is out of bounds for the result's "
                       f"{rank} dimensions", unsupported=True)
        arrays = [self.cast(a, Type("float", ndim)) for a in arrays]
        return self.b(name, *arrays, attrs={"axis": axis % rank})

    def create_array(self, node, kind: str) -> Value:
        """np.zeros/ones/empty/full(shape[, value]), their *_like forms, np.copy, np.arange
        integers, np.linspace, np.eye(n)."""
        if kind == "linspace":
            return self.linspace(node)
        for keyword in node.keywords:
            value = self.expr(keyword.value)
            if keyword.arg != "dtype" or not (isinstance(value, Resolved) and
                                              value.value == "float"):
                self.error(keyword.value, f"np.{kind}(): only dtype=float is supported as a "
                           "keyword", unsupported=True)
        args = [self.expr(a) for a in node.args]
        if kind in ("arange", "linspace"):
            return self.ramp(node, kind, [self.check_value(node, a) for a in args])
        if kind == "eye":
            if len(args) != 1 or args[0].type != Type("int"):
                self.error(node, "np.eye takes one integer (the size)", unsupported=True)
            return self.b(eye_p, args[0])
        like = kind.endswith("_like") or kind == "copy"
        if like:
            source = self.check_value(node.args[0], args[0]) if args else None
            if source is None or not source.type.is_array:
                self.error(node, f"np.{kind}() takes an array first")
            if kind == "copy":
                return self.b.op(copy_p, source, hint=source.hint).result
            dims = [self.b(dim_p, source, attrs={"axis": k}) for k in range(source.type.ndim)]
            kind, args = kind[:-5], [None] + args[1:]
        else:
            dims = self.shape_of(node.args[0], args[0]) if args else None
        expected = 2 if kind == "full" else 1
        if dims is None or len(args) != expected:
            self.error(node, f"np.{kind}() takes a shape{' and a fill value' * (kind == 'full')}"
                       " (dtype and other keywords are not supported)")
        precision = bits_attrs(source.type) if like and not node.keywords else {}
        if kind == "full":
            fill = self.cast(self.check_value(node.args[-1], args[-1]), Type(
                "float", 0, precision.get("bits", 64)), exact=bool(like))
            return self.b.op(full_p, *dims, fill, hint="full").result
        fill = {"zeros": 0.0, "ones": 1.0, "empty": None}[kind]
        return self.b.op(new_array_p, *dims, attrs={"fill": fill, **precision},
                         hint=kind).result

    def ramp(self, node, kind: str, args: list[Value]) -> Value:
        """np.arange(stop) / (start, stop[, step]) of integers; np.linspace(a, b, n) as
        a + (b - a) * (0, 1/(n-1), ..., 1), so its derivative w.r.t. a and b follows."""
        if kind == "arange":
            if not 1 <= len(args) <= 3 or any(a.type.is_array or a.type.kind == "bool"
                                              for a in args):
                self.error(node, "np.arange takes 1 to 3 numbers", unsupported=True)
            bounds = ([const(0)] + args + [const(1)])[:3] if len(args) == 1 else \
                (args + [const(1)])[:3]
            if all(a.type == Type("int") for a in bounds):
                return self.b(arange_p, *bounds)
            return self.float_ramp(*(self.cast(a, Type("float")) for a in bounds))
        if len(args) != 3 or args[2].type != Type("int"):
            self.error(node, "np.linspace takes start, stop and an integer count",
                       unsupported=True)
        start, stop = (self.cast(a, Type("float")) for a in args[:2])
        unit = self.b(unit_ramp_p, args[2])
        if promote(start.type, stop.type).is_float32:  # NumPy's linspace: float32 then
            unit = self.cast(unit, Type("float", 1, 32), exact=True)
        return self.b(add_p, start, self.b(mul_p, self.b(sub_p, stop, start), unit))

    def linspace(self, node) -> Value:
        """np.linspace(start, stop, num=50) with NumPy's keywords (endpoint=True, retstep=False
        and dtype=float only)."""
        given = self.bind(node, "np.linspace", [self.expr(a) for a in node.args],
                          ("start", "stop", "num", "endpoint", "retstep", "dtype"),
                          {"num": const(50), "endpoint": const(True), "retstep": const(False),
                           "dtype": None})
        dtype = given["dtype"]
        if getattr(given["endpoint"], "value", None) is not True or getattr(
                given["retstep"], "value", None) is not False or not (
                dtype is None or isinstance(dtype, Resolved) and dtype.value == "float"):
            self.error(node, "np.linspace: endpoint=False, retstep=True and dtypes other than "
                       "float are not supported", unsupported=True)
        return self.ramp(node, "linspace", [self.check_value(node, given[k])
                                            for k in ("start", "stop", "num")])

    def float_ramp(self, start: Value, stop: Value, step: Value) -> Value:
        """np.arange with floats: start + step * (0, 1, ..., n - 1), n = ceil((stop - start)
        / step) as NumPy counts, so the derivative w.r.t. start and step follows."""
        b = self.b
        count = b(max2_p, b(cast_int_p, b(ceil_p, b(truediv_p, b(sub_p, stop, start), step))),
                  const(0))
        steps = b(cast_float_p, b(arange_p, const(0), count, const(1)))
        return b(add_p, start, b(mul_p, step, steps))

    def shape_of(self, node, shape) -> list[Value]:
        if isinstance(shape, ShapeOf):
            return [self.b(dim_p, shape.array, attrs={"axis": k})
                    for k in range(shape.array.type.ndim)]
        dims = list(shape) if isinstance(shape, tuple) else [shape]
        for dim in dims:
            if not isinstance(dim, Value) or dim.type.is_array or dim.type.kind == "float":
                self.error(node, "array shapes must be integers or tuples of integers")
        return dims

