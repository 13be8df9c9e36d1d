"""NumPy functions that are compositions of primitives, as NumPy defines them.

ufunc spellings of operators (np.add, np.negative, np.remainder, ...), unit conversions
(np.deg2rad), np.sinc, np.heaviside, np.fmod, np.logaddexp2, np.nan_to_num; shapes made of
new axes, flips, slices and joins (np.expand_dims, np.atleast_2d, np.rot90, np.roll,
np.repeat, np.tile, np.append, np.split, np.diagonal with an offset); np.sort as the gather
x[argsort(x)], np.average with weights, vector and matrix norms with ord=. Each derivative
then follows from the primitives' rules; none needs its own.

Arguments are bound to NumPy's parameter names (positional or keyword); the ones that shape
the result (axes, counts, offsets) must be constants, so the result's rank is known when
compiling. What NumPy would refuse at run time (a split into unequal parts) is an assert in
the generated code.
"""

from __future__ import annotations

import itertools
import math

from ..ir.core import Const, Value, const
from ..ir.types import Type
from ..primitives.arith import (
    add_p,
    eq_p,
    floordiv_p,
    gt_p,
    lt_p,
    max2_p,
    min2_p,
    mod_p,
    mul_p,
    ne_p,
    neg_p,
    select_p,
    sub_p,
    truediv_p,
)
from ..primitives.arrays import arange_p, expand_dims_p, logaddexp_p, ravel_p, reshape_p
from ..primitives.elementwise import abs_p, floor_p, pow_p, sign_p, sin_p
from ..primitives.indexing import copy_p, dim_p, full_p, new_array_p, slice_p, take_p
from ..primitives.shapes import (
    assert_p,
    broadcast_to_p,
    pack_p,
)
from .numpy_forms import NumpyForms
from .ordering import Ordering
from .special_calls import SpecialCalls

_REQUIRED = object()

# np.<name> -> (method, parameters after which the rest are keyword-only, defaults)
_UFUNCS = {"add": add_p, "subtract": sub_p, "multiply": mul_p, "divide": truediv_p,
           "true_divide": truediv_p, "floor_divide": floordiv_p, "mod": mod_p,
           "remainder": mod_p}
_DEGREES = {"deg2rad": math.pi / 180, "radians": math.pi / 180, "rad2deg": 180 / math.pi,
            "degrees": 180 / math.pi}
_BIG = 1.7976931348623157e308  # np.finfo(float).max
_BIG32 = 3.4028234663852886e38  # np.finfo(np.float32).max


class NumpyMore(SpecialCalls, Ordering, NumpyForms):
    """Mixin for frontend.numpy_calls.NumpyLowering."""

    COMPOSED = frozenset(list(_UFUNCS) + list(_DEGREES) + [
        "negative", "positive", "fmod", "real", "imag", "conj", "conjugate", "logaddexp2",
        "nan_to_num", "sinc", "heaviside", "isnan", "expand_dims", "atleast_1d",
        "atleast_2d", "atleast_3d", "flipud", "fliplr", "rot90", "roll", "repeat", "tile",
        "append", "split", "array_split", "diagonal", "trace", "broadcast_to", "sort",
        "argsort", "argmax", "argmin", "partition", "argpartition", "diff", "take", "vdot",
        "trapezoid", "meshgrid", "median", "average", "array", "asarray", "all", "any", "item",
        "cholesky", "take_along_axis", "expit", "logit", "xlogy", "xlog1py", "logsumexp",
        "softmax", "log_softmax"])

    def bind(self, node, spelling: str, args: list, params: tuple, defaults: dict) -> dict:
        """NumPy's parameter name -> lowered argument (positional, then keywords, then the
        defaults); an unknown or missing one is refused at the call. The one binding of
        NumPy's options (numpy_calls.options checks the common ones' values)."""
        if len(args) > len(params):
            self.error(node, f"{spelling}() takes at most {len(params)} positional "
                       "arguments here", unsupported=True)
        given = dict(zip(params, args))
        for keyword in node.keywords:
            if keyword.arg not in params or keyword.arg in given:
                self.error(keyword.value, f"{spelling}(): keyword '{keyword.arg}' is not "
                           "supported", unsupported=True)
            given[keyword.arg] = self.expr(keyword.value)
        for param in params:
            if param not in given:
                given[param] = defaults.get(param, _REQUIRED)
            if given[param] is _REQUIRED:
                self.error(node, f"{spelling}() needs the argument '{param}'", unsupported=True)
        return given

    def constant_int(self, node, spelling: str, value, what: str, allow_none=False):
        if value is None and allow_none:
            return None
        if not isinstance(value, Const) or value.type.kind != "int":
            self.error(node, f"{spelling}: {what} must be an integer constant (the result's "
                       "shape must be known when compiling)", unsupported=True)
        return value.value

    def floating(self, value: Value) -> Value:
        return self.cast(value, Type("float", value.type.ndim))

    def composed(self, node, name: str, args: list):
        spelling = f"np.{name}"
        if name in ("array", "asarray"):
            given = self.bind(node, spelling, args, ("object", "dtype"), {"dtype": None})
            value = self.array_of(node, given["object"], copy=name == "array")
            if given["dtype"] is not None:
                dtype_node = next(k.value for k in node.keywords if k.arg == "dtype") \
                    if any(k.arg == "dtype" for k in node.keywords) else node.args[1]
                value = self.cast(value, self.dtype_type(dtype_node, value.type.ndim),
                                  exact=True)
            return value
        if name in ("all", "any"):
            return self.all_or_any(node, name, args)
        if name == "item":  # x.item(): the only entry of a one-entry array
            x = self.check_value(node, args[0])
            flat = self.b(ravel_p, self.floating(x)) if x.type.is_array else x
            return self.b("getitem", flat, const(0)) if x.type.is_array else flat
        method = getattr(self, "np_" + name, None)
        if name in _UFUNCS or name in _DEGREES:
            return self.elementwise_spelling(node, name, args)
        return method(node, spelling, args)

    # --- elementwise -------------------------------------------------------------------------
    def elementwise_spelling(self, node, name: str, args: list) -> Value:
        if name in _DEGREES:
            (x,) = self.bind(node, f"np.{name}", args, ("x",), {}).values()
            return self.b(mul_p, self.check_value(node, x), const(_DEGREES[name]))
        given = self.bind(node, f"np.{name}", args, ("x1", "x2"), {})
        x, y = (self.check_value(node, v) for v in given.values())
        return self.b(_UFUNCS[name], x, y)

    def unary(self, node, spelling, args) -> Value:
        (x,) = self.bind(node, spelling, args, ("x",), {}).values()
        return self.check_value(node, x)

    def np_negative(self, node, spelling, args):
        return self.b(neg_p, self.unary(node, spelling, args))

    def np_positive(self, node, spelling, args):
        return self.unary(node, spelling, args)

    def np_real(self, node, spelling, args):  # of a real array: the array itself (a view)
        return self.unary(node, spelling, args)

    def np_imag(self, node, spelling, args):
        x = self.unary(node, spelling, args)
        if not x.type.is_array:
            return const(0.0)
        return self.b.op(new_array_p, *self.dims(x), attrs={"fill": 0.0}, hint="imag").result

    def np_conj(self, node, spelling, args):  # a new array, as the ufunc makes one
        x = self.unary(node, spelling, args)
        return self.b.op(copy_p, x, hint=x.hint).result if x.type.is_array else x

    np_conjugate = np_conj

    def np_isnan(self, node, spelling, args):
        x = self.unary(node, spelling, args)
        return self.b(ne_p, x, x)

    def np_fmod(self, node, spelling, args):
        """x - y * trunc(x / y): the sign of x, as C's fmod (derivatives 1 and -trunc)."""
        x, y = (self.check_value(node, v) for v in
                self.bind(node, spelling, args, ("x1", "x2"), {}).values())
        b = self.b
        quotient = b(truediv_p, x, y)
        whole = b(mul_p, b(sign_p, quotient), b(floor_p, b(abs_p, quotient)))
        return b(sub_p, x, b(mul_p, y, whole))

    def np_logaddexp2(self, node, spelling, args):
        x, y = (self.floating(self.check_value(node, v)) for v in
                self.bind(node, spelling, args, ("x1", "x2"), {}).values())
        ln2 = const(math.log(2.0))
        b = self.b
        return b(truediv_p, b(logaddexp_p, b(mul_p, x, ln2), b(mul_p, y, ln2)), ln2)

    def np_nan_to_num(self, node, spelling, args):
        """NaN -> nan (0.0), +-inf -> the largest finite floats (or posinf=, neginf=)."""
        given = self.bind(node, spelling, args, ("x", "copy", "nan", "posinf", "neginf"),
                          {"copy": const(True), "nan": const(0.0), "posinf": None,
                           "neginf": None})
        x = self.floating(self.check_value(node, given["x"]))
        b = self.b
        big = _BIG32 if x.type.is_float32 else _BIG  # the largest finite float of x's dtype
        high = const(big) if given["posinf"] is None else given["posinf"]
        low = const(-big) if given["neginf"] is None else given["neginf"]
        finite = b(select_p, b(gt_p, x, const(big)), high,
                   b(select_p, b(lt_p, x, const(-big)), low, x))
        return b(select_p, b(ne_p, x, x), given["nan"], finite)

    def np_sinc(self, node, spelling, args):
        """sin(pi x) / (pi x), 1 at 0; the quotient is taken of 1 there, so neither value
        nor derivative divides by zero."""
        x = self.floating(self.unary(node, spelling, args))
        b = self.b
        zero = b(eq_p, x, const(0.0))
        scaled = b(select_p, zero, const(1.0), b(mul_p, x, const(math.pi)))
        return b(select_p, zero, const(1.0), b(truediv_p, b(sin_p, scaled), scaled))

    def np_heaviside(self, node, spelling, args):
        x, h0 = (self.check_value(node, v) for v in
                 self.bind(node, spelling, args, ("x1", "x2"), {}).values())
        b = self.b
        return b(select_p, b(lt_p, x, const(0.0)), const(0.0),
                 b(select_p, b(gt_p, x, const(0.0)), const(1.0), self.floating(h0)))

    # --- shapes ------------------------------------------------------------------------------
    def dims(self, x: Value) -> list[Value]:
        return [self.b(dim_p, x, attrs={"axis": k}) for k in range(x.type.ndim)]

    def array_argument(self, node, spelling, value) -> Value:
        x = self.check_value(node, value if not isinstance(value, tuple) else
                             self.array_of(node, value, copy=False))
        if not x.type.is_array:
            self.error(node, f"{spelling} takes an array here", unsupported=True)
        return self.floating(x)

    def part(self, x: Value, axis: int, start=None, stop=None, step=None) -> Value:
        """x[..., start:stop:step, ...] at `axis` (a view)."""
        whole = ("s", False, False, False)
        here = ("s", start is not None, stop is not None, step is not None)
        layout = (whole,) * axis + (here,) + (whole,) * (x.type.ndim - axis - 1)
        bounds = [v for v in (start, stop, step) if v is not None]
        return self.b(slice_p, x, *bounds, attrs={"layout": layout})

    def np_expand_dims(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "axis"), {})
        x = self.check_value(node, given["a"])
        axes = given["axis"] if isinstance(given["axis"], tuple) else (given["axis"],)
        rank = x.type.ndim + len(axes)
        positions = sorted(self.constant_int(node, spelling, a, "axis") % rank for a in axes)
        if len(set(positions)) != len(positions) or any(
                not -rank <= a.value < rank for a in axes):
            self.error(node, f"{spelling}: repeated or out of range axis", unsupported=True)
        if not x.type.is_array:
            x, positions = self.b(pack_p, x), positions[1:]  # one axis of length one
        for position in positions:
            x = self.b(expand_dims_p, x, attrs={"axis": position})
        return x

    def atleast(self, node, spelling, args, rank: int):
        (x,) = self.bind(node, spelling, args, ("ary",), {}).values()
        x = self.check_value(node, x)
        if not x.type.is_array:
            x = self.b(pack_p, x)
        where = {1: {}, 2: {1: (0,)}, 3: {1: (0, 2), 2: (2,)}}[rank].get(x.type.ndim, ())
        for position in where:
            x = self.b(expand_dims_p, x, attrs={"axis": position})
        return x

    def np_atleast_1d(self, node, spelling, args):
        return self.atleast(node, spelling, args, 1)

    def np_atleast_2d(self, node, spelling, args):
        return self.atleast(node, spelling, args, 2)

    def np_atleast_3d(self, node, spelling, args):
        return self.atleast(node, spelling, args, 3)

    def flip_axis(self, x: Value, axis: int) -> Value:
        return self.part(x, axis, step=const(-1))

    def np_flipud(self, node, spelling, args):
        x = self.unary(node, spelling, args)
        if not x.type.is_array:
            self.error(node, f"{spelling} takes an array of 1 or more dimensions",
                       unsupported=True)
        return self.flip_axis(x, 0)

    def np_fliplr(self, node, spelling, args):
        x = self.unary(node, spelling, args)
        if x.type.ndim < 2:
            self.error(node, f"{spelling} takes an array of 2 or more dimensions",
                       unsupported=True)
        return self.flip_axis(x, 1)

    def np_rot90(self, node, spelling, args):
        """As NumPy: k = 1 flips axes[1] then swaps; 2 flips both; 3 swaps then flips."""
        given = self.bind(node, spelling, args, ("m", "k", "axes"),
                          {"k": const(1), "axes": (const(0), const(1))})
        x = self.check_value(node, given["m"])
        k = self.constant_int(node, spelling, given["k"], "k") % 4
        if x.type.ndim < 2 or not isinstance(given["axes"], tuple) or len(given["axes"]) != 2:
            self.error(node, f"{spelling} takes an array of 2 or more dimensions and two axes",
                       unsupported=True)
        first, second = self.constant_axes(node, spelling, given["axes"], x.type.ndim)
        swap = list(range(x.type.ndim))
        swap[first], swap[second] = second, first
        if k == 0:
            return x
        if k == 2:
            return self.flip_axis(self.flip_axis(x, first), second)
        if k == 1:
            return self.transposed(self.flip_axis(x, second), tuple(swap))
        return self.flip_axis(self.transposed(x, tuple(swap)), second)

    def np_roll(self, node, spelling, args):
        """The last `shift` entries along the axis first: a join of two slices."""
        given = self.bind(node, spelling, args, ("a", "shift", "axis"), {"axis": None})
        x = self.array_argument(node, spelling, given["a"])
        shift = self.check_value(node, given["shift"])
        if shift.type != Type("int"):
            self.error(node, f"{spelling}: the shift must be one integer", unsupported=True)
        axis = self.constant_int(node, spelling, given["axis"], "axis", allow_none=True)
        flat = axis is None
        y = self.b(ravel_p, x) if flat else x
        axis = 0 if flat else axis % x.type.ndim
        length = self.b(dim_p, y, attrs={"axis": axis})
        split = self.b(sub_p, length, self.b(mod_p, shift, length))
        rolled = self.b("concatenate", self.part(y, axis, start=split),
                        self.part(y, axis, stop=split), attrs={"axis": axis})
        return self.b(reshape_p, rolled, *self.dims(x)) if flat and x.type.ndim != 1 \
            else rolled

    def np_diff(self, node, spelling, args):
        """x[1:] - x[:-1] along the axis, n times (n and the axis constants)."""
        given = self.bind(node, spelling, args, ("a", "n", "axis", "prepend", "append"),
                          {"n": const(1), "axis": const(-1), "prepend": None, "append": None})
        if given["prepend"] is not None or given["append"] is not None:
            self.error(node, f"{spelling}: prepend= and append= are not supported: join the "
                       "values first (np.concatenate)", unsupported=True)
        x = self.array_argument(node, spelling, given["a"])
        axis = self.axis_in_range(node, spelling, self.constant_int(
            node, spelling, given["axis"], "axis"), x.type.ndim)
        order = self.constant_int(node, spelling, given["n"], "n")
        if order < 0:
            self.error(node, f"{spelling}: n must be non-negative", unsupported=True)
        for _ in range(order):
            x = self.b(sub_p, self.part(x, axis, start=const(1)),
                       self.part(x, axis, stop=const(-1)))
        return x

    def np_repeat(self, node, spelling, args):
        """Each entry `repeats` times along the axis: a new axis after it, broadcast to
        that length, merged back."""
        given = self.bind(node, spelling, args, ("a", "repeats", "axis"), {"axis": None})
        x = self.array_argument(node, spelling, given["a"])
        repeats = self.check_value(node, given["repeats"])
        if repeats.type != Type("int"):
            self.error(node, f"{spelling}: repeats must be one integer (an array of counts "
                       "is not supported)", unsupported=True)
        axis = self.constant_int(node, spelling, given["axis"], "axis", allow_none=True)
        if axis is None:
            x, axis = self.b(ravel_p, x), 0
        axis %= x.type.ndim
        dims = self.dims(x)
        wide = self.b(expand_dims_p, x, attrs={"axis": axis + 1})
        spread = self.b(broadcast_to_p, wide, *dims[:axis + 1], repeats, *dims[axis + 1:])
        merged = dims[:axis] + [self.b(mul_p, dims[axis], repeats)] + dims[axis + 1:]
        return self.b(reshape_p, spread, *merged)

    def np_tile(self, node, spelling, args):
        """x repeated reps[k] times along axis k: (1, n0, 1, n1, ...) broadcast to
        (r0, n0, r1, n1, ...) and merged pairwise."""
        given = self.bind(node, spelling, args, ("A", "reps"), {})
        x = self.check_value(node, given["A"])
        x = self.floating(x if x.type.is_array else self.b(pack_p, x))
        reps = list(given["reps"]) if isinstance(given["reps"], tuple) else [given["reps"]]
        if not reps or any(not isinstance(r, Value) or r.type != Type("int") for r in reps):
            self.error(node, f"{spelling}: reps must be an integer or a tuple of integers",
                       unsupported=True)
        rank = max(x.type.ndim, len(reps))
        for _ in range(rank - x.type.ndim):
            x = self.b(expand_dims_p, x, attrs={"axis": 0})
        reps = [const(1)] * (rank - len(reps)) + reps
        dims = self.dims(x)
        pairs = [d for dim in dims for d in (const(1), dim)]
        wide = self.b(reshape_p, x, *pairs)
        spread = self.b(broadcast_to_p, wide, *[d for r, dim in zip(reps, dims)
                                                for d in (r, dim)])
        return self.b(reshape_p, spread, *[self.b(mul_p, r, dim) for r, dim in zip(reps, dims)])

    def np_append(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("arr", "values", "axis"), {"axis": None})
        parts = [self.check_value(node, self.array_of(node, v, copy=False) if
                                  isinstance(v, tuple) else v)
                 for v in (given["arr"], given["values"])]
        axis = self.constant_int(node, spelling, given["axis"], "axis", allow_none=True)
        if axis is None:
            parts = [self.b(ravel_p, self.floating(p)) if p.type.is_array else
                     self.b(pack_p, self.cast(p, Type("float"))) for p in parts]
            return self.b("concatenate", *parts, attrs={"axis": 0})
        if parts[0].type.ndim != parts[1].type.ndim or not parts[0].type.is_array:
            self.error(node, f"{spelling}: with an axis, both must be arrays of one rank",
                       unsupported=True)
        axis %= parts[0].type.ndim
        return self.b("concatenate", *map(self.floating, parts), attrs={"axis": axis})

    def np_split(self, node, spelling, args, equal=True):
        """A tuple of views: N equal parts (np.split asserts N divides the length;
        np.array_split makes the first length % N one longer), or the parts between
        constant indices."""
        given = self.bind(node, spelling, args, ("ary", "indices_or_sections", "axis"),
                          {"axis": const(0)})
        x = self.array_argument(node, spelling, given["ary"])
        axis = self.constant_int(node, spelling, given["axis"], "axis") % x.type.ndim
        sections = given["indices_or_sections"]
        length = self.b(dim_p, x, attrs={"axis": axis})
        if isinstance(sections, tuple):
            bounds = [None] + list(sections) + [None]
            return tuple(self.part(x, axis, start=a, stop=e) for a, e in itertools.pairwise(bounds))
        count = self.constant_int(node, spelling, sections, "the number of sections")
        if count <= 0:
            self.error(node, f"{spelling}: the number of sections must be positive",
                       unsupported=True)
        b = self.b
        size = b(floordiv_p, length, const(count))
        if equal:
            b.op(assert_p, b(eq_p, b(mod_p, length, const(count)), const(0)),
                 attrs={"message": "array split does not result in an equal division"},
                 result_types=[])
        extra = b(mod_p, length, const(count))
        starts = [b(add_p, b(mul_p, const(k), size), b(min2_p, const(k), extra))
                  for k in range(count + 1)]
        return tuple(self.part(x, axis, start=starts[k], stop=starts[k + 1])
                     for k in range(count))

    def np_array_split(self, node, spelling, args):
        return self.np_split(node, spelling, args, equal=False)

    def diagonal_of(self, node, spelling, x: Value, offset: int) -> Value:
        """The entries x[i, i + offset] of a matrix: the flattened matrix read with a stride
        of (columns + 1) (a view where NumPy's is one)."""
        b = self.b
        rows, columns = self.dims(x)
        flat = b(ravel_p, x)
        if offset >= 0:
            start = const(offset)
            count = b(min2_p, rows, b(sub_p, columns, const(offset)))
        else:
            start = b(mul_p, const(-offset), columns)
            count = b(min2_p, b(add_p, rows, const(offset)), columns)
        count = b(max2_p, count, const(0))
        stride = b(add_p, columns, const(1))
        stop = b(add_p, start, b(mul_p, count, stride))
        return self.part(flat, 0, start=start, stop=b(min2_p, stop, b(mul_p, rows, columns)),
                         step=stride)

    def np_diagonal(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "offset", "axis1", "axis2"),
                          {"offset": const(0), "axis1": const(0), "axis2": const(1)})
        x = self.array_argument(node, spelling, given["a"])
        if x.type.ndim != 2:
            self.error(node, f"{spelling} takes a 2-D array here", unsupported=True)
        first, second = self.constant_axes(node, spelling, (given["axis1"], given["axis2"]), 2)
        if (first, second) == (1, 0):
            x = self.transposed(x)
        offset = self.constant_int(node, spelling, given["offset"], "offset")
        return self.diagonal_of(node, spelling, x, offset)

    def np_trace(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "offset"), {"offset": const(0)})
        x = self.array_argument(node, spelling, given["a"])
        if x.type.ndim != 2:
            self.error(node, f"{spelling} takes a 2-D array", unsupported=True)
        offset = self.constant_int(node, spelling, given["offset"], "offset")
        if offset == 0:
            return self.b("trace", x)
        return self.b("sum", self.diagonal_of(node, spelling, x, offset), attrs={"axis": None})

    def np_broadcast_to(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("array", "shape"), {})
        x = self.check_value(node, given["array"])
        dims = self.shape_of(node, given["shape"])
        if len(dims) < x.type.ndim:
            self.error(node, f"{spelling}: the shape has fewer axes than the array",
                       unsupported=True)
        if not x.type.is_array:
            return self.b.op(full_p, *dims, self.floating(x), hint="full").result
        return self.b(broadcast_to_p, x, *dims)

    def np_take_along_axis(self, node, spelling, args):
        """arr's entries at `indices` along `axis`: a gather from the flattened array at
        the flat positions sum_k i_k * stride_k, i_k being the index array along `axis` and
        the position itself along the others (whose lengths must match, asserted)."""
        given = self.bind(node, spelling, args, ("arr", "indices", "axis"), {})
        x = self.array_argument(node, spelling, given["arr"])
        index = self.check_value(node, given["indices"])
        if index.type.kind != "int" or index.type.ndim != x.type.ndim:
            self.error(node, f"{spelling}: the indices must be an integer array of the "
                       "array's rank", unsupported=True)
        axis = self.constant_int(node, spelling, given["axis"], "axis", allow_none=True)
        return self.gather_along(spelling, x, index, axis)

    def gather_along(self, spelling, x: Value, index: Value, axis) -> Value:
        """np.take_along_axis(x, index, axis) of a float array and an integer one of its
        rank (axis None: of both flattened)."""
        b = self.b
        if axis is None or x.type.ndim == 1:
            flat_x = b(ravel_p, x) if x.type.ndim != 1 else x
            return b(take_p, flat_x, index if index.type.ndim == 1 else b(ravel_p, index))
        axis %= x.type.ndim
        dims, lengths = self.dims(x), self.dims(index)
        flat, stride = None, const(1)
        for k in reversed(range(x.type.ndim)):
            if k == axis:
                term = index
            else:
                b.op(assert_p, b(eq_p, lengths[k], dims[k]), attrs={
                    "message": f"{spelling}: the indices and the array differ in length "
                    f"along axis {k}"}, result_types=[])
                term = b(arange_p, const(0), lengths[k], const(1))
                for position in range(x.type.ndim):
                    if position != k:
                        term = b(expand_dims_p, term, attrs={"axis": position})
            scaled = b(mul_p, term, stride)
            flat = scaled if flat is None else b(add_p, flat, scaled)
            stride = b(mul_p, stride, dims[k])
        taken = b(take_p, b(ravel_p, x), b(ravel_p, flat))
        return b(reshape_p, taken, *lengths)

    def np_cholesky(self, node, spelling, args):
        from ..primitives.decompositions import cholesky_p

        x = self.array_argument(node, "np.linalg.cholesky", self.bind(
            node, "np.linalg.cholesky", args, ("a",), {})["a"])
        if x.type.ndim != 2:
            self.error(node, "np.linalg.cholesky takes one square matrix (not a stack)",
                       unsupported=True)
        return self.b(cholesky_p, x)

    # --- averages and norms ------------------------------------------------------------------
    def np_average(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "axis", "weights", "returned",
                                                  "keepdims"),
                          {"axis": None, "weights": None, "returned": const(False),
                           "keepdims": const(False)})
        x = self.array_argument(node, spelling, given["a"])
        axis = given["axis"]
        keepdims = given["keepdims"]
        if not isinstance(keepdims, Const) or not isinstance(given["returned"], Const) or \
                given["returned"].value:
            self.error(node, f"{spelling}: keepdims must be a constant and returned= is not "
                       "supported", unsupported=True)
        axes = self.axes_of(node, None if axis is None else tuple(
            self.constant_int(node, spelling, a, "axis") for a in
            (axis if isinstance(axis, tuple) else (axis,))), x.type.ndim)
        if given["weights"] is None:
            return self.reduction(node, "mean", x, axes, keepdims.value)
        w = self.floating(self.check_value(node, given["weights"]))
        if w.type.ndim != x.type.ndim:
            if w.type.ndim != 1 or axes is None or len(axes) != 1:
                self.error(node, f"{spelling}: weights of another shape than the array must "
                           "be 1-D, along the one axis given", unsupported=True)
            for position in range(axes[0] + 1, x.type.ndim):
                w = self.b(expand_dims_p, w, attrs={"axis": w.type.ndim})
        total = self.reduction(node, "sum", self.b(mul_p, x, w), axes, keepdims.value)
        full = self.b(broadcast_to_p, w, *self.dims(x)) if w.type.ndim and \
            axes is not None else w
        weight = self.reduction(node, "sum", full if w.type.is_array else w, axes,
                                keepdims.value)
        return self.b(truediv_p, total, weight)

    def norm(self, node, x: Value, order, axes, keepdims: bool) -> Value:
        """np.linalg.norm with ord=: vector norms (along one axis, or of a 1-D array) and
        the matrix norms (fro, 1, -1, inf, -inf here; 2, -2 and 'nuc', which need singular
        values, in frontend/linalg_calls.py)."""
        b = self.b
        if isinstance(order, Const) or hasattr(order, "value") and isinstance(order.value, str):
            order = order.value
        elif order is not None:
            self.error(node, "np.linalg.norm: ord must be a constant", unsupported=True)
        matrix = (axes is None and x.type.ndim == 2) or (axes is not None and len(axes) == 2)
        if order is None or order == "fro" and matrix:
            return self.reduction(node, "norm", x, axes, keepdims)
        if matrix:
            if order in (2, -2, "nuc"):
                return self.singular_value_norm(node, x, order, axes, keepdims)
            if order not in (1, -1, math.inf, -math.inf):
                self.error(node, f"np.linalg.norm: ord={order!r} is not a matrix norm",
                           unsupported=True)
            rows, columns = axes if axes is not None else (0, 1)
            summed_over = rows if order in (1, -1) else columns
            sums = self.reduction(node, "sum", b(abs_p, x), (summed_over,), True)
            pick = "max" if order > 0 else "min"
            return self.reduction(node, pick, sums, tuple(sorted((rows, columns))), keepdims)
        if axes is None and x.type.ndim != 1:
            self.error(node, "np.linalg.norm with ord= takes a 1-D or 2-D array, or an axis",
                       unsupported=True)
        if isinstance(order, str) or order == 0:
            self.error(node, f"np.linalg.norm: ord={order!r} is not supported for vectors",
                       unsupported=True)
        magnitude = b(abs_p, x)
        if order in (math.inf, -math.inf):
            return self.reduction(node, "max" if order > 0 else "min", magnitude, axes,
                                  keepdims)
        if order == 1:
            return self.reduction(node, "sum", magnitude, axes, keepdims)
        if order == 2:
            return self.reduction(node, "norm", x, axes, keepdims)
        power = const(float(order))
        total = self.reduction(node, "sum", b(pow_p, magnitude, power), axes, keepdims)
        return b(pow_p, total, const(1.0 / float(order)))

