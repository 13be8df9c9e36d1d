"""Lowering of the permutations of an array's axes: x.T, np.transpose(x[, axes]),
x.transpose(*axes), np.swapaxes / x.swapaxes and np.moveaxis.

All of them become the one transpose primitive, its permutation in the attr `axes` (result
axis k is axis axes[k] of the operand, as in np.transpose), left out for the reversal of all
axes (x.T). The axes must be constants, so the result's layout is known when compiling, and
are checked as NumPy checks them: a wrong count, a repeated axis or one out of range is
refused at the call's line before anything runs. A permutation that keeps every axis in place
(any of a 0-d or 1-D array) gives the array itself, as NumPy's view of it holds the same data.
"""

from __future__ import annotations

from ..ir.core import Const, Value
from ..primitives.arrays import transpose_attrs, transpose_p

# callee -> (how the user spells it, its parameters after the array; None: any number of
# axes, positional only, as ndarray.transpose(*axes)); methods are named with their dot
PERMUTES = {
    "transpose": ("np.transpose", ("axes",)),
    "swapaxes": ("np.swapaxes", ("axis1", "axis2")),
    "moveaxis": ("np.moveaxis", ("source", "destination")),
    ".transpose": (".transpose", None),
    ".swapaxes": (".swapaxes", ("axis1", "axis2")),
}
_REQUIRED = {"swapaxes": 2, "moveaxis": 2, ".swapaxes": 2}


class TransposeLowering:
    """Mixin for frontend.expressions.ExpressionLowering."""

    def permute(self, node, name: str, args: list) -> Value:
        """np.transpose / np.swapaxes / np.moveaxis and the methods: args[0] is the array,
        the rest its lowered positional arguments; keywords are read from `node`."""
        spelling = PERMUTES[name][0]
        x = self.check_value(node, args[0])
        ndim = x.type.ndim
        given = self.permutation_arguments(node, name, args[1:])
        if name in ("swapaxes", ".swapaxes"):
            first, second = (self.constant_axes(node, spelling, given[k], ndim, single=True)[0]
                             for k in ("axis1", "axis2"))
            axes = list(range(ndim))
            axes[first], axes[second] = second, first
        elif name == "moveaxis":
            axes = self.moved_axes(node, given, ndim)
        elif given.get("axes") is None:
            axes = tuple(reversed(range(ndim)))
        else:
            axes = self.constant_axes(node, spelling, given["axes"], ndim)
            if len(axes) != ndim:
                self.error(node, f"{spelling}: axes {axes} don't match the array's {ndim} "
                           "dimension(s)", unsupported=True)
        return self.transposed(x, tuple(axes))

    def transposed(self, x: Value, axes: tuple | None = None) -> Value:
        """x with its axes permuted (None: reversed, x.T); x itself where none moves."""
        axes = tuple(reversed(range(x.type.ndim))) if axes is None else axes
        if axes == tuple(range(x.type.ndim)):
            return x
        return self.b(transpose_p, x, attrs=transpose_attrs(axes))

    def permutation_arguments(self, node, name: str, args: list) -> dict:
        """The arguments after the array, by parameter name (positional and keyword)."""
        spelling, params = PERMUTES[name]
        if params is None:  # x.transpose(), x.transpose(axes), x.transpose(*axes)
            if node.keywords:
                self.error(node, f"{spelling}() takes no keyword arguments", unsupported=True)
            return {"axes": None if not args else args[0] if len(args) == 1 else tuple(args)}
        if len(args) > len(params):
            self.error(node, f"{spelling}() takes {len(params) + 1} arguments", unsupported=True)
        given = dict(zip(params, args))
        for keyword in node.keywords:
            if keyword.arg not in params or keyword.arg in given or name.startswith("."):
                self.error(keyword.value, f"{spelling}(): keyword '{keyword.arg}' is not "
                           "supported here", unsupported=True)
            given[keyword.arg] = self.expr(keyword.value)
        if len(given) < _REQUIRED.get(name, 0):
            self.error(node, f"{spelling}() takes the array and {' and '.join(params)}",
                       unsupported=True)
        return given

    def constant_axes(self, node, spelling: str, value, ndim: int, single=False) -> tuple:
        """The axes `value` names (an int, or a tuple or list of them; negatives count from
        the end), non-negative, checked for range and repeats."""
        parts = value if isinstance(value, tuple) and not single else (value,)
        if not all(isinstance(p, Const) and p.type.kind == "int" for p in parts):
            what = "an integer constant" if single else "integer constants"
            self.error(node, f"{spelling}: the axes must be {what} (the order of the "
                       "result's axes must be known when compiling)", unsupported=True)
        for part in parts:
            if not -ndim <= part.value < ndim:
                self.error(node, f"{spelling}: axis {part.value} is out of bounds for an "
                           f"array of {ndim} dimension(s)", unsupported=True)
        axes = tuple(p.value % ndim for p in parts)
        if len(set(axes)) != len(axes):
            self.error(node, f"{spelling}: repeated axis in {tuple(p.value for p in parts)}",
                       unsupported=True)
        return axes

    def moved_axes(self, node, given: dict, ndim: int) -> list[int]:
        """np.moveaxis's permutation: the source axes put at the destination positions, the
        others kept in their order (as NumPy computes it)."""
        source, destination = (self.constant_axes(node, "np.moveaxis", given[k], ndim)
                               for k in ("source", "destination"))
        if len(source) != len(destination):
            self.error(node, "np.moveaxis: source and destination must name as many axes",
                       unsupported=True)
        axes = [k for k in range(ndim) if k not in source]
        for target, axis in sorted(zip(destination, source)):
            axes.insert(target, axis)
        return axes
