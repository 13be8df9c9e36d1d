"""NumPy's sorting and selection along any axis: np.sort, np.argsort, np.partition,
np.argpartition, np.argmax and np.argmin (with axis=, negative axes, axis=None and
keepdims=), and np.squeeze without an axis (of arrays whose lengths are constants).

An axis of an N-D array is handled as the middle one of (before, along, after), the shape a
reshape gives any array, so one runtime loop per primitive serves every rank and axis
(primitives/shapes.py). Sorted values are the gather np.take_along_axis(x, order, axis), so
the derivative flows to the entries that land in each position, as for any gather.

Ties: argsort is stable (equal entries keep their order, NumPy's kind="stable"), argmax and
argmin take the first of equal entries (as NumPy does). np.partition and np.argpartition
return the fully sorted array and its order: a valid partition for every kth (NumPy leaves
the order inside each side unspecified).
"""

from __future__ import annotations

from ..ir.core import Const, Value, const
from ..primitives.arith import (
    add_p,
    cast_float_p,
    cast_int_p,
    lt_p,
    max2_p,
    min2_p,
    mul_p,
    neg_p,
    sub_p,
    truediv_p,
)
from ..primitives.arrays import expand_dims_p, ravel_p, reshape_p
from ..primitives.elementwise import abs_p, cos_p, exp_p, log_p, pow_p, sin_p, sqrt_p, tanh_p
from ..primitives.indexing import copy_p, dim_p, full_p, new_array_p, take_p
from ..primitives.shapes import (
    argmax_middle_p,
    argmax_p,
    argmin_middle_p,
    argmin_p,
    argsort_middle_p,
    argsort_p,
    assert_p,
    pack_p,
)

_KINDS = ("quicksort", "mergesort", "heapsort", "stable", "introselect")  # any gives our order


class Ordering:
    """Mixin for frontend.numpy_more.NumpyMore."""

    def sort_axis(self, node, spelling, given) -> tuple[Value, int]:
        """(the array, the axis) of a sort: axis=None sorts the flattened array."""
        kind = given["kind"]
        if given["order"] is not None or kind is not None and \
                getattr(kind, "value", None) not in _KINDS:
            option = "order" if given["order"] is not None else "kind"
            self.error(node, f"{spelling}: {option}= is not supported here", unsupported=True)
        x = self.array_argument(node, spelling, given["a"])
        if given["axis"] is None:
            return (x if x.type.ndim == 1 else self.b(ravel_p, x)), 0
        axis = self.constant_int(node, spelling, given["axis"], "axis")
        return x, self.axis_in_range(node, spelling, axis, x.type.ndim)

    def axis_in_range(self, node, spelling, axis: int, ndim: int) -> int:
        if not -ndim <= axis < ndim:
            self.error(node, f"{spelling}: axis {axis} is out of bounds for an array of "
                       f"{ndim} dimension(s)", unsupported=True)
        return axis % ndim

    def middle(self, x: Value, axis: int) -> tuple[Value, list[Value]]:
        """x reshaped to (before, along, after) around `axis`, and x's dims."""
        dims = self.dims(x)
        before, after = (self.product_of(part) for part in (dims[:axis], dims[axis + 1:]))
        return self.b(reshape_p, x, before, dims[axis], after), dims

    def order_along(self, x: Value, axis: int) -> Value:
        """np.argsort(x, axis, kind="stable")."""
        if x.type.ndim == 1:
            return self.b(argsort_p, x)
        middle, dims = self.middle(x, axis)
        return self.b(reshape_p, self.b(argsort_middle_p, middle), *dims)

    def sorted_along(self, spelling, x: Value, axis: int) -> Value:
        order = self.order_along(x, axis)
        if x.type.ndim == 1:
            return self.b(take_p, x, order, hint="sorted")
        return self.gather_along(spelling, x, order, axis)

    def np_sort(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "axis", "kind", "order"),
                          {"axis": const(-1), "kind": None, "order": None})
        x, axis = self.sort_axis(node, spelling, given)
        return self.sorted_along(spelling, x, axis)

    def np_argsort(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "axis", "kind", "order"),
                          {"axis": const(-1), "kind": None, "order": None})
        return self.order_along(*self.sort_axis(node, spelling, given))

    def partitioned(self, node, spelling, args) -> tuple[Value, int]:
        """(the array, the axis) of np.partition/argpartition, whose kth (an int or a tuple
        of them, constants or not) is checked against the axis's length at run time."""
        given = self.bind(node, spelling, args, ("a", "kth", "axis", "kind", "order"),
                          {"axis": const(-1), "kind": None, "order": None})
        x, axis = self.sort_axis(node, spelling, given)
        kths = given["kth"] if isinstance(given["kth"], tuple) else (given["kth"],)
        if not kths or any(not isinstance(k, Value) or k.type.is_array or k.type.kind != "int"
                           for k in kths):
            self.error(node, f"{spelling}: kth must be an integer or a tuple of integers",
                       unsupported=True)
        length = self.b(dim_p, x, attrs={"axis": axis})
        for kth in kths:  # -length <= kth < length, as NumPy requires
            for inside in (self.b(lt_p, kth, length),
                           self.b(lt_p, const(-1), self.b(add_p, kth, length))):
                self.b.op(assert_p, inside, attrs={"message": f"{spelling}: kth out of "
                                                   "bounds"}, result_types=[])
        return x, axis

    def np_partition(self, node, spelling, args):
        return self.sorted_along(spelling, *self.partitioned(node, spelling, args))

    def np_argpartition(self, node, spelling, args):
        return self.order_along(*self.partitioned(node, spelling, args))

    def arg_extreme(self, node, spelling, args, whole, along):
        """np.argmax/np.argmin: of the flattened array, or along an axis (keepdims=True
        keeps it with length one)."""
        given = self.bind(node, spelling, args, ("a", "axis", "out", "keepdims"),
                          {"axis": None, "out": None, "keepdims": const(False)})
        if given["out"] is not None:
            self.error(node, f"{spelling}: out= is not supported; assign the result",
                       unsupported=True)
        keepdims = given["keepdims"]
        if not isinstance(keepdims, Const) or keepdims.type.kind != "bool":
            self.error(node, f"{spelling}: keepdims= must be a constant bool", unsupported=True)
        x = self.array_argument(node, spelling, given["a"])
        ndim = x.type.ndim
        if given["axis"] is None:
            index = self.b(whole, x if ndim == 1 else self.b(ravel_p, x))
            if not keepdims.value:
                return index
            return self.b.op(full_p, *[const(1)] * ndim, index, hint="index").result
        axis = self.axis_in_range(node, spelling, self.constant_int(
            node, spelling, given["axis"], "axis"), ndim)
        if ndim == 1:
            index = self.b(whole, x)
            return self.b(pack_p, index) if keepdims.value else index
        middle, dims = self.middle(x, axis)
        index = self.b(reshape_p, self.b(along, middle), *(dims[:axis] + dims[axis + 1:]))
        return self.b(expand_dims_p, index, attrs={"axis": axis}) if keepdims.value else index

    def np_argmax(self, node, spelling, args):
        return self.arg_extreme(node, spelling, args, argmax_p, argmax_middle_p)

    def np_argmin(self, node, spelling, args):
        return self.arg_extreme(node, spelling, args, argmin_p, argmin_middle_p)

    def squeezed(self, node, x: Value) -> Value:
        """np.squeeze(x) without an axis: the axes of length one go. The result's rank must
        be known when compiling, so every axis's length must be fixed by the ops making x
        (np.zeros((1, 3)), reshapes by constants, x[None] of such an array, ...)."""
        lengths = self.known_lengths(x)
        if None in lengths:
            unknown = ", ".join(str(k) for k, n in enumerate(lengths) if n is None)
            self.error(node, "np.squeeze without axis= needs every length known when "
                       f"compiling (the result's rank depends on them), and axis {unknown} "
                       "has a length known only at run time: name the axes to drop, "
                       "np.squeeze(x, axis=...)", unsupported=True)
        kept = [const(n) for n in lengths if n != 1]
        if not kept:  # every axis had length one: the only entry, as a number (0-d)
            return self.b("getitem", self.b(ravel_p, x), const(0))
        return self.b(reshape_p, x, *kept)

    def known_lengths(self, x: Value) -> list:
        """The lengths of x's axes that the ops making it fix (constants of np.zeros,
        np.full, reshape, new axes, np.array([...]), broadcasting of those), None where
        not known when compiling."""
        op = next((op for op in reversed(self.b.region.ops) if x in op.results), None)
        ndim = x.type.ndim
        if op is None:
            return [None] * ndim
        if op.prim is expand_dims_p:
            inner = self.known_lengths(op.operands[0])
            return inner[:op.attrs["axis"]] + [1] + inner[op.attrs["axis"]:]
        if op.prim in (reshape_p, new_array_p, full_p):
            dims = op.operands[1:] if op.prim is reshape_p else op.operands[:ndim]
            return [d.value if isinstance(d, Const) else None for d in dims]
        if op.prim is pack_p:
            return [len(op.operands)]
        if op.prim in _SAME_SHAPE and op.operands[0].type.ndim == ndim:
            return self.known_lengths(op.operands[0])
        if op.prim in _BROADCASTING and len(op.operands) == 2:
            return _broadcast([self.known_lengths(v) if v.type.is_array else []
                               for v in op.operands], ndim)
        return [None] * ndim


_SAME_SHAPE = (cast_float_p, cast_int_p, copy_p, neg_p, abs_p, exp_p, log_p, sqrt_p, sin_p,
               cos_p, tanh_p)
_BROADCASTING = (add_p, sub_p, mul_p, truediv_p, pow_p, max2_p, min2_p)


def _broadcast(shapes: list[list], ndim: int) -> list:
    """The known lengths of a broadcast of operands with `shapes` (None: unknown)."""
    result = []
    for k in range(ndim):
        found = [shape[len(shape) - ndim + k] for shape in shapes if len(shape) >= ndim - k]
        if any(n not in (None, 1) for n in found):
            result.append(next(n for n in found if n not in (None, 1)))
        elif found and all(n == 1 for n in found):
            result.append(1)
        else:
            result.append(None)
    return result
