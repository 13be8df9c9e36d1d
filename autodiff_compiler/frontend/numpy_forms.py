"""NumPy conveniences that are short compositions of other calls, as NumPy defines them:
np.take (a gather), np.vdot (a flattened dot), np.trapezoid (the trapezoidal rule),
np.meshgrid (two broadcasts) and np.median (the middle of the sorted entries). Their
derivatives follow from the primitives' rules."""

from __future__ import annotations

from ..ir.core import const
from ..primitives.arith import add_p, floordiv_p, mul_p, ne_p, select_p, sub_p, truediv_p
from ..primitives.arrays import expand_dims_p, ravel_p, reshape_p
from ..primitives.indexing import dim_p, getitem_p, take_p
from ..primitives.shapes import any_p, broadcast_to_p


class NumpyForms:
    """Mixin for frontend.numpy_more.NumpyMore."""

    def np_take(self, node, spelling, args):
        """np.take(a, indices): of the flattened array (axis=None), or along axis 0 of a
        1-D or 2-D array (rows), as a[indices] reads them."""
        given = self.bind(node, spelling, args, ("a", "indices", "axis"), {"axis": None})
        x = self.array_argument(node, spelling, given["a"])
        index = self.check_value(node, self.index_array(node, given["indices"]))
        if index.type.kind != "int":
            self.error(node, f"{spelling}: the indices must be integers", unsupported=True)
        axis = self.constant_int(node, spelling, given["axis"], "axis", allow_none=True)
        if axis is None and x.type.ndim != 1:
            x = self.b(ravel_p, x)
        elif axis is not None and (axis % x.type.ndim != 0 or x.type.ndim > 2):
            self.error(node, f"{spelling}: along axis 0 of a 1-D or 2-D array, or of the "
                       "flattened array (axis=None)", unsupported=True)
        if not index.type.is_array:
            if x.type.ndim != 1:
                self.error(node, f"{spelling} of one index along axis 0: write a[i]",
                           unsupported=True)
            return self.b(getitem_p, x, index)
        flat = index if index.type.ndim == 1 else self.b(ravel_p, index)
        taken = self.b(take_p, x, flat)
        if index.type.ndim == 1:
            return taken
        shape = self.dims(index) + self.dims(x)[1:]
        return self.b(reshape_p, taken, *shape)

    def np_vdot(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "b"), {})
        a, b = (self.array_argument(node, spelling, given[k]) for k in ("a", "b"))
        flat = [v if v.type.ndim == 1 else self.b(ravel_p, v) for v in (a, b)]
        return self.b("dot", *flat)

    def np_trapezoid(self, node, spelling, args):
        """sum((y[1:] + y[:-1]) / 2 * dx) along the axis, dx a number or diff(x)."""
        given = self.bind(node, spelling, args, ("y", "x", "dx", "axis"),
                          {"x": None, "dx": const(1.0), "axis": const(-1)})
        y = self.array_argument(node, spelling, given["y"])
        axis = self.axis_in_range(node, spelling, self.constant_int(
            node, spelling, given["axis"], "axis"), y.type.ndim)
        b = self.b
        mean = b(truediv_p, b(add_p, self.part(y, axis, start=const(1)),
                              self.part(y, axis, stop=const(-1))), const(2.0))
        if given["x"] is None:
            steps = self.floating(self.check_value(node, given["dx"]))
        else:
            x = self.array_argument(node, spelling, given["x"])
            if x.type.ndim != 1:
                self.error(node, f"{spelling}: x must be 1-D here", unsupported=True)
            steps = b(sub_p, self.part(x, 0, start=const(1)), self.part(x, 0, stop=const(-1)))
            for _ in range(y.type.ndim - 1 - axis):  # along `axis` of y
                steps = b(expand_dims_p, steps, attrs={"axis": steps.type.ndim})
        return self.reduction(node, "sum", b(mul_p, mean, steps), (axis,), False) \
            if y.type.ndim > 1 else b("sum", b(mul_p, mean, steps), attrs={"axis": None})

    def np_meshgrid(self, node, spelling, args):
        """Two 1-D arrays to two 2-D ones (indexing='xy': rows follow the second)."""
        if len(args) != 2 or any(k.arg not in ("indexing",) for k in node.keywords):
            self.error(node, f"{spelling} takes two 1-D arrays here (and indexing=)",
                       unsupported=True)
        x, y = (self.array_argument(node, spelling, a) for a in args)
        indexing = next((self.expr(k.value) for k in node.keywords), None)
        matrix = getattr(indexing, "value", "xy") == "ij"
        if x.type.ndim != 1 or y.type.ndim != 1:
            self.error(node, f"{spelling} takes two 1-D arrays here", unsupported=True)
        rows, columns = (x, y) if matrix else (y, x)
        shape = [self.b(dim_p, rows, attrs={"axis": 0}), self.b(dim_p, columns,
                                                                attrs={"axis": 0})]
        across = self.b(broadcast_to_p, columns, *shape)
        down = self.b(broadcast_to_p, self.b(expand_dims_p, rows, attrs={"axis": 1}), *shape)
        return (down, across) if matrix else (across, down)

    def np_median(self, node, spelling, args):
        """The mean of the two middle entries of the sorted, flattened array (the same one
        twice for an odd count)."""
        given = self.bind(node, spelling, args, ("a", "axis"), {"axis": None})
        if given["axis"] is not None:
            self.error(node, f"{spelling} with an axis is not supported: of the whole array "
                       "only", unsupported=True)
        x = self.array_argument(node, spelling, given["a"])
        ordered = self.sorted_along(spelling, x if x.type.ndim == 1 else self.b(ravel_p, x),
                                    0)
        b = self.b
        count = b(dim_p, ordered, attrs={"axis": 0})
        low = b(getitem_p, ordered, b(floordiv_p, b(sub_p, count, const(1)), const(2)))
        high = b(getitem_p, ordered, b(floordiv_p, count, const(2)))
        middle = b(truediv_p, b(add_p, low, high), const(2.0))
        nan = b(any_p, b(ne_p, ordered, ordered))  # NaN sorts last; NumPy's median is NaN
        return b(select_p, nan, const(float("nan")), middle)
