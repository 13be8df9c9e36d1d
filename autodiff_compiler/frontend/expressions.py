"""Lowering of expressions: operators, comparisons, calls, element reads.

`and`, `or` and `a if c else b` keep Python's short-circuit evaluation: they become `if` ops
whose branches are only run when Python would run them (so `i < n and x[i] > 0` never reads
out of bounds). Calls resolve to primitives through frontend.resolve.
"""

from __future__ import annotations

import gast
import numpy as np

from ..errors import AutodiffSyntaxError, GradientInputError, UnsupportedOperationError
from ..ir.core import Const, Region, Value, const
from ..ir.types import BOOL, F64, Type
from ..primitives.arith import and_p, mul_p, ne_p, neg_p, not_p
from ..primitives.arrays import expand_dims_p
from ..primitives.elementwise import abs_p, pow_p
from ..primitives.gpu import block_sum_p, grid_p
from ..primitives.indexing import copy_p, dim_p, getitem_p, len_p, slice_p, take_p
from .gathers import Gathers
from .numpy_calls import NumpyLowering, ShapeOf
from .resolve import Resolved, lookup_attribute, lookup_name
from .scope import LocalFunction, Text
from .unrolling import folded_binop, folded_compare

_BINOPS = {
    gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "truediv",
    gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow",
}
_COMPARE = {gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq",
            gast.NotEq: "ne"}
_CASTS = {"float": "cast_float", "int": "cast_int", "bool": "cast_bool",
          "float32": "cast_float"}


def _cast_type(name: str, ndim: int) -> Type:
    """The type a cast to `name` (float, int, bool, float32: _CASTS) gives."""
    return Type("float", ndim, 32) if name == "float32" else Type(name, ndim)


class Method:
    """`x.copy`, waiting to be called."""

    def __init__(self, array: Value, name: str):
        self.array = array
        self.name = name


class ExpressionLowering(NumpyLowering, Gathers):
    """Mixin for frontend.lower.Lowering: expression nodes to IR values."""

    def expr(self, node):
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.error(node, f"'{type(node).__name__}' expressions are not supported")
        return method(node)

    def value(self, node) -> Value:
        """An expression that must be a single number or array."""
        return self.check_value(node, self.expr(node))

    def check_value(self, node, value, allow_tuple=False):
        if isinstance(value, tuple) and allow_tuple:
            for v in value:
                self.check_value(node, v)
            return value
        if isinstance(value, Text):
            self.error(node, "a string is not supported here: only as print's text, an "
                       "assert's message, or an option such as ord='fro' or einsum's subscripts",
                       unsupported=True)
        if not isinstance(value, Value):
            name = getattr(value, "name", "") or type(value).__name__
            self.error(node, f"'{name}' is not a number or an array")
        return value

    def scalar(self, node) -> Value:
        value = self.value(node)
        if value.type.is_array:
            self.error(node, "an array cannot be used here: a single number is needed",
                       unsupported=True)
        return value

    def condition(self, node) -> Value:
        value = self.scalar(node)
        if isinstance(value, Const):  # decided while compiling (frontend.unrolling)
            return const(bool(value.value))
        return value if value.type == BOOL else self.b(ne_p, value, const(0, value.type))

    # --- leaves ----------------------------------------------------------------------------
    def expr_Constant(self, node):
        if isinstance(node.value, (bool, int, float)):
            return const(node.value)
        if isinstance(node.value, str):
            return Text(node.value)  # print's text, assert's message, ord='fro'
        if node.value is None:
            return None  # axis=None and the like; refused where a value is needed
        self.error(node, f"constants of type {type(node.value).__name__} are not supported")

    def expr_Name(self, node):
        return self.read_name(node, node.id)

    def expr_Attribute(self, node):
        base = self.expr(node.value)
        if isinstance(base, Resolved):
            found = lookup_attribute(base, node.attr)
            if found.kind == "constant":
                return const(found.value)
            if found.kind == "unknown":
                self.error(node, f"'{found.name}' is not supported: it has no derivative rule",
                           unsupported=True)
            return found
        if isinstance(base, Value) and node.attr in ("real", "imag") and not base.type.is_array:
            return base if node.attr == "real" else const(0.0)
        if isinstance(base, Value) and node.attr == "T":
            return self.transposed(base)
        if isinstance(base, Value) and base.type.is_array:
            if node.attr == "shape":
                return ShapeOf(base)
            if node.attr == "ndim":
                return const(base.type.ndim)
            if node.attr in ("copy", "sum", "mean", "dot", "max", "min", "prod", "cumsum",
                             "ravel", "flatten", "reshape", "var", "std", "squeeze", "astype",
                             "argmax", "argmin", "argsort", "all", "any", "trace", "diagonal",
                             "repeat", "clip", "cumprod", "conj", "conjugate",
                             "item"):
                return Method(base, "ravel" if node.attr == "flatten" else node.attr)
            if node.attr == "sort":
                self.error(node, "x.sort() sorts the array in place: write x = np.sort(x)",
                           unsupported=True)
            if node.attr in ("transpose", "swapaxes"):
                return Method(base, "." + node.attr)
            if node.attr == "size":
                size = self.b(dim_p, base, attrs={"axis": 0})
                for axis in range(1, base.type.ndim):
                    size = self.b(mul_p, size, self.b(dim_p, base, attrs={"axis": axis}))
                return size
        if isinstance(base, tuple) and node.attr in ("shape", "ndim", "size", "T", "sum"):
            self.error(node, f"'.{node.attr}' of a tuple or list: a tuple or list argument is "
                       "a structure of values (its entries differentiated one by one, as "
                       "JAX's pytrees are); pass np.array(...) to use it as an array",
                       unsupported=True)
        self.error(node, f"attribute '.{node.attr}' is not supported", unsupported=True)

    def expr_Subscript(self, node):
        base = self.expr(node.value)
        if isinstance(base, ShapeOf):
            axis = self.expr(node.slice)
            if not isinstance(axis, Const) or axis.type.kind != "int":
                self.error(node.slice, "index .shape with a constant integer")
            ndim = base.array.type.ndim
            if not -ndim <= axis.value < ndim:
                self.error(node.slice, f"axis {axis.value} is out of range for a {ndim}-d array")
            return self.b(dim_p, base.array, attrs={"axis": axis.value % ndim})
        if isinstance(base, tuple):
            index = self.expr(node.slice)
            if not isinstance(index, Const) or index.type.kind != "int":
                self.error(node.slice, "index a tuple with a constant integer")
            return base[index.value]
        index_nodes = self.index_nodes(node, base)
        if isinstance(base, Value) and base.type.is_array:
            if any(_is_none(i) for i in index_nodes):
                return self.new_axes(node, base, index_nodes)
            if len(index_nodes) == 1 and not isinstance(index_nodes[0], gast.Slice):
                index = self.check_value(index_nodes[0], self.index_array(
                    index_nodes[0], self.expr(index_nodes[0])))
                if index.type.is_array:
                    return self.take(node, base, index)
            if len(index_nodes) > 1 and self.has_index_array(index_nodes):
                if len(index_nodes) != base.type.ndim:
                    self.error(node, "indexing with arrays of indices takes one per axis "
                               "(x[rows, cols] of a 2-D array); index the other axes apart",
                               unsupported=True)
                return self.gather_indexed(node, base, [
                    self.check_value(i, self.index_array(i, self.expr(i))) for i in index_nodes])
            if len(index_nodes) < base.type.ndim or \
                    any(isinstance(i, gast.Slice) for i in index_nodes):
                return self.slice_read(node, base, index_nodes)
        array, indices = self.element(node, base)
        return self.b(getitem_p, array, *indices, hint=_hint_of(node.value) + "_i")

    def is_slice(self, node) -> bool:
        """Whether a subscript takes a slice (not only integers, one per axis)."""
        base = self.expr(node.value)
        index_nodes = self.index_nodes(node, base)
        if any(isinstance(i, gast.Slice) for i in index_nodes):
            return True
        return isinstance(base, Value) and base.type.is_array and \
            len(index_nodes) < base.type.ndim

    def slice_read(self, node, array: Value, index_nodes) -> Value:
        """x[a:b], x[i, :], x[:, j], x[i] of a 2-D array: a view (analysis.aliasing checks
        how it is used around writes into the array)."""
        layout, operands = self.slice_layout(node, array, index_nodes)
        return self.b(slice_p, array, *operands, attrs={"layout": layout},
                      hint=_hint_of(node.value) + "_part")

    def slice_copy(self, node) -> Value:
        """The current values of a slice about to be overwritten (`a[i:j] += v`): a copy."""
        array = self.value(node.value)
        index_nodes = self.index_nodes(node, array)
        layout, operands = self.slice_layout(node, array, index_nodes)
        return self.b(slice_p, array, *operands, attrs={"layout": layout, "copy": True},
                      hint=_hint_of(node.value) + "_part")

    def slice_layout(self, node, array: Value, index_nodes):
        """(layout, operands) of a slice: per axis an index ("i") or a slice ("s", has_lower,
        has_upper, has_step), the present bounds as operands."""
        if len(index_nodes) > array.type.ndim:
            self.error(node, "too many indices for the array")
        layout, operands = [], []
        for k in range(array.type.ndim):
            part = index_nodes[k] if k < len(index_nodes) else gast.Slice(None, None, None)
            if isinstance(part, gast.Slice):
                bounds = [part.lower, part.upper, part.step]
                layout.append(("s",) + tuple(bound is not None for bound in bounds))
                operands += [self.integer(bound) for bound in bounds if bound is not None]
            else:
                layout.append(("i",))
                operands.append(self.integer(part))
        return tuple(layout), operands

    def index_nodes(self, node, base) -> list:
        """The indices of subscript `node` of `base`: np.newaxis as None, and `...` as the
        full slices it stands for."""
        parts = list(node.slice.elts) if isinstance(node.slice, gast.Tuple) else [node.slice]
        parts = [gast.copy_location(gast.Constant(None, None), p) if self.is_newaxis(p) else p
                 for p in parts]
        ellipses = [k for k, p in enumerate(parts)
                    if isinstance(p, gast.Constant) and p.value is Ellipsis]
        if not ellipses:
            return parts
        if len(ellipses) > 1 or not (isinstance(base, Value) and base.type.is_array):
            self.error(node, "'...' indexes an array, once per subscript")
        named = len(parts) - 1 - sum(_is_none(p) for p in parts)
        if named > base.type.ndim:
            self.error(node, "too many indices for the array")
        full = [gast.copy_location(gast.Slice(None, None, None), parts[ellipses[0]])
                for _ in range(base.type.ndim - named)]
        return parts[:ellipses[0]] + full + parts[ellipses[0] + 1:]

    def is_newaxis(self, node) -> bool:
        """Whether an index is `np.newaxis` (NumPy's None)."""
        if not (isinstance(node, gast.Attribute) and node.attr == "newaxis"):
            return False
        with self.region(Region(), dict(self.env)):
            module = self.expr(node.value)
        return isinstance(module, Resolved) and module.kind == "module" and \
            getattr(module.value, "newaxis", 0) is None

    def new_axes(self, node, array: Value, index_nodes) -> Value:
        """x[None, :], x[:, None], ...: slices with new axes of length one (np.newaxis)."""
        if not all(_is_none(i) or isinstance(i, gast.Slice) for i in index_nodes):
            self.error(node, "None (a new axis) mixes only with slices here", unsupported=True)
        rest = [i for i in index_nodes if not _is_none(i)]
        full = all(i.lower is None and i.upper is None and i.step is None for i in rest)
        value = array if full else self.slice_read(node, array, rest)
        for position, index in enumerate(index_nodes):
            if _is_none(index):
                value = self.b(expand_dims_p, value, attrs={"axis": position})
        return value

    def take(self, node, array: Value, index: Value) -> Value:
        """x[idx] with an array of integer indices (a copy, like NumPy's fancy indexing)."""
        if index.type.kind == "bool":
            self.error(node, "a boolean mask selects a number of entries known only at run "
                       "time: use np.where(mask, x, 0.0) (np.sum(np.where(mask, x, 0.0)) sums "
                       "the selected entries)", unsupported=True)
        if index.type.kind != "int" or index.type.ndim != 1 or array.type.ndim > 2:
            self.error(node, "indexing with an array takes a 1-D array of integers, of a 1-D "
                       "or 2-D array", unsupported=True)
        return self.b(take_p, array, index, hint=_hint_of(node.value) + "_taken")

    def has_index_array(self, index_nodes) -> bool:
        """Whether one of the indices (none a slice) is an array or a list (lowered into a
        scratch region, so nothing is emitted)."""
        if any(isinstance(i, gast.Slice) for i in index_nodes):
            return False
        with self.region(Region(), dict(self.env)):
            values = [self.expr(i) for i in index_nodes]
        return any(isinstance(v, tuple) or isinstance(v, Value) and v.type.is_array
                   for v in values)

    def indexes_with_array(self, node) -> bool:
        """Whether a subscript's first index is an array of indices (`y[idx]`, `y[idx, :]`).
        The index is lowered into a scratch region, so nothing is emitted."""
        with self.region(Region(), dict(self.env)):
            first = self.index_nodes(node, self.expr(node.value))[0]
        if isinstance(first, gast.Slice) or _is_none(first):
            return False
        with self.region(Region(), dict(self.env)):
            index = self.expr(first)
        return isinstance(index, tuple) or isinstance(index, Value) and index.type.is_array

    def index_array_target(self, node) -> tuple[Value, Value]:
        """(array, indices) of a write through an array of indices: `y[idx] = v` into a 1-D
        or 2-D y (rows of a 2-D one), or `y[idx, :] = v`."""
        array = self.value(node.value)
        index_nodes = self.index_nodes(node, array)
        if not array.type.is_array or len(index_nodes) > array.type.ndim or \
                not all(_is_full_slice(i) for i in index_nodes[1:]):
            self.error(node, "a write through an array of indices takes the form y[idx] = v "
                       "or y[idx, :] = v", unsupported=True)
        index = self.check_value(index_nodes[0], self.index_array(
            index_nodes[0], self.expr(index_nodes[0])))
        if index.type.kind != "int" or index.type.ndim != 1 or array.type.ndim > 2:
            self.error(node, "a write through an array of indices takes a 1-D array of "
                       "integers, into a 1-D or 2-D array", unsupported=True)
        self.check_writable(node, array)
        return array, index

    def integer(self, node) -> Value:
        value = self.scalar(node)
        if value.type.kind == "float":
            self.error(node, "array indices must be integers")
        return value

    def element(self, node, base=None) -> tuple[Value, list[Value]]:
        """(array, integer indices) of an element access `a[i, j]`."""
        array = self.check_value(node.value, base if base is not None else self.expr(node.value))
        index_nodes = self.index_nodes(node, array)
        if not array.type.is_array:
            self.error(node, "only arrays can be indexed")
        if len(index_nodes) != array.type.ndim:
            self.error(node, f"index all {array.type.ndim} axes of the array, one integer "
                       "each (sub-arrays are not supported yet)", unsupported=True)
        indices = [self.scalar(i) for i in index_nodes]
        for index_node, index in zip(index_nodes, indices):
            if index.type.kind == "float":
                self.error(index_node, "array indices must be integers")
        return array, indices

    # --- operators ---------------------------------------------------------------------------
    def binop(self, node, op, left, right, attrs=None) -> Value:
        """left op right; `attrs` {"shape_of": 0} where the result is known to have the
        shape of `left` (so its adjoint needs no summing over broadcast axes)."""
        for side in (left, right):
            if isinstance(side, tuple):
                self.error(node, "arithmetic on a list or tuple is not supported: make an "
                           "array of it (np.array(...), np.zeros(n), np.full(n, v))",
                           unsupported=True)
            self.check_value(node, side)
        if isinstance(op, gast.MatMult):
            return self.product(node, left, right)
        name = _BINOPS.get(type(op))
        if name is None:
            self.error(node, f"operator {type(op).__name__} is not supported", unsupported=True)
        return folded_binop(op, left, right) or self.b(name, left, right, attrs=attrs)

    def expr_BinOp(self, node):
        return self.binop(node, node.op, self.expr(node.left), self.expr(node.right))

    def expr_UnaryOp(self, node):
        if isinstance(node.op, gast.Not):
            cond = self.condition(node.operand)
            return const(not cond.value) if isinstance(cond, Const) else self.b(not_p, cond)
        operand = self.value(node.operand)
        if isinstance(node.op, gast.USub):
            if isinstance(operand, Const) and operand.type.kind != "bool":
                return const(-operand.value, operand.type)
            return self.b(neg_p, operand)
        if isinstance(node.op, gast.UAdd):
            return operand
        self.error(node, "bitwise operators are not supported")

    def expr_Compare(self, node):
        left = self.value(node.left)
        result = None
        for op, comparator in zip(node.ops, node.comparators):
            name = _COMPARE.get(type(op))
            if name is None:
                self.error(node, f"comparison {type(op).__name__} is not supported")
            right = self.value(comparator)
            test = folded_compare(op, left, right) or self.b(name, left, right)
            if result is not None and test.type.is_array:
                self.error(node, "chained comparisons of arrays are not supported",
                           unsupported=True)
            result = test if result is None else const(result.value and test.value) if \
                isinstance(result, Const) and isinstance(test, Const) else \
                self.b(and_p, result, test)
            left = right
        return result

    def expr_BoolOp(self, node):
        """`a and b` -> b if a else a;  `a or b` -> a if a else b (Python's values: the
        operand that decided, so `x or y` of floats is a float, not a bool)."""
        is_and = isinstance(node.op, gast.And)
        result = self.scalar(node.values[0])
        for operand in node.values[1:]:
            cond = result if result.type == BOOL else self.b(ne_p, result, const(0, result.type))
            lazy = Region()
            with self.region(lazy, dict(self.env)):
                value = self.scalar(operand)
            kept = const(not is_and) if result.type == BOOL else result
            yields = [[value], [kept]] if is_and else [[kept], [value]]
            regions = [lazy, Region()] if is_and else [Region(), lazy]
            result = self.close_if(node, cond, regions, yields, ["choice"])[0]
        return result

    def expr_IfExp(self, node):
        cond, regions, _, outs = self.branches(node.test, (node.body, node.orelse), self.value)
        if regions is None:  # a constant condition: the value taken
            return outs
        return self.close_if(node, cond, regions, [[o] for o in outs], ["choice"])[0]

    # --- calls ---------------------------------------------------------------------------------
    def expr_Call(self, node):
        if isinstance(node.func, gast.Call):  # grad(e, argnums=...)(args), made here
            made = self.derivative_made_inline(node.func)
            if made is not None:
                return self.inline_derivative(node, made)
        callee = self.expr(node.func)
        if isinstance(callee, LocalFunction):
            return self.inline_local(node, callee)
        if isinstance(callee, Resolved) and callee.kind == "derivative":
            return self.inline_derivative(node, callee)
        if isinstance(callee, Method):
            if callee.name == "copy":
                if node.args or node.keywords:
                    self.error(node, ".copy() takes no arguments")
                return self.b.op(copy_p, callee.array, hint=callee.array.hint).result
            if callee.name == "astype":
                return self.converted(node, callee.array, node.args[0] if node.args else None)
            return self.array_function(node, callee.name, [callee.array] + [
                self.expr(a) for a in node.args])
        if isinstance(callee, Resolved) and callee.kind == "cuda":
            return self.grid_index(node) if callee.value == "grid" else self.block_sum(node)
        if isinstance(callee, Resolved) and callee.kind == "transform":
            self.error(node, f"'{callee.name}' called inside a differentiated function is "
                       "not supported yet: differentiate the inner function separately, or "
                       "write its derivative by hand", unsupported=True)
        if isinstance(callee, Resolved) and callee.kind == "array_function":
            return self.array_function(node, callee.value, [self.expr(a) for a in node.args])
        if isinstance(callee, Resolved) and callee.kind == "creator":
            return self.create_array(node, callee.value)
        if not isinstance(callee, Resolved):
            self.error(node.func, "only functions can be called")
        if callee.kind == "function":
            return self.inline_call(node, callee)
        if callee.kind == "custom":  # a user's rule: one op, its functions set on the module
            result = callee.value.lowered(self.b, [self.value(a) for a in node.args])
            self.constants.update(callee.value.bindings)
            return result
        if callee.kind not in ("prim", "builtin"):
            self.error(node, f"'{callee.name}' has no derivative rule", unsupported=True)
        if node.keywords:
            self.error(node.keywords[0].value, f"{callee.name}() takes no keyword arguments "
                       "here", unsupported=True)
        if callee.kind == "builtin" and callee.value == "sum":
            if len(node.args) not in (1, 2):
                self.error(node, "sum() takes an iterable and an optional start")
            return self.sum_of(node, self.value(node.args[1]) if len(node.args) == 2 else None)
        if callee.kind == "builtin" and callee.value == "len" and len(node.args) == 1:
            items = self.as_tuple(self.expr(node.args[0]))
            if items is not None:
                return const(len(items))
        args = [self.value(a) for a in node.args]
        if callee.kind == "builtin":
            return self.call_builtin(node, callee.value, args)
        return self.call_prim(node, callee, args)

    def converted(self, node, value, dtype_node) -> Value:
        """x.astype(float), x.astype(int), x.astype(np.float64): a cast (a copy, as NumPy
        makes one, when the type does not change)."""
        value = self.check_value(node, value)
        target = self.dtype_type(dtype_node, value.type.ndim)
        if value.type == target and value.type.is_array:
            return self.b.op(copy_p, value, hint=value.hint).result
        return self.cast(value, target, exact=True)

    def dtype_type(self, dtype_node, ndim: int) -> Type:
        """The type of rank `ndim` that dtype= or astype(dtype) names."""
        return _cast_type(self.dtype_kind(dtype_node), ndim)

    def dtype_kind(self, dtype_node) -> str:
        dtype = self.expr(dtype_node) if dtype_node is not None else None
        if not (isinstance(dtype, Resolved) and dtype.kind == "builtin"
                and dtype.value in _CASTS):
            self.error(dtype_node if dtype_node is not None else self.parsed.node,
                       "the dtype must be float, int or bool (or np.float64, np.float32, "
                       "np.int64, np.bool_)", unsupported=True)
        return dtype.value

    def derivative_made_inline(self, node):
        """The gradient `grad(e, argnums=k)` written in a differentiated function, made
        while compiling (None: node is not such a call)."""
        if not isinstance(node.func, gast.Name):
            return None
        factory = lookup_name(self.parsed.fn, node.func.id)
        if factory.kind != "factory":
            return None
        args = []
        for a in node.args:
            found = lookup_name(self.parsed.fn, a.id) if isinstance(a, gast.Name) else None
            if found is None or found.kind not in ("function", "derivative", "custom"):
                self.error(a, f"{node.func.id}() inside a differentiated function takes a "
                           "Python function (a def or a lambda) defined outside it, or a "
                           "gradient of one")
            args.append(found.value)
        keywords = {}
        for k in node.keywords:
            value = self.expr(k.value)
            if not isinstance(value, Const) and not isinstance(value, tuple):
                self.error(k.value, f"{k.arg}= must be a constant here")
            keywords[k.arg] = value.value if isinstance(value, Const) else tuple(
                v.value for v in value)
        try:
            made = factory.value(*args, **keywords)
        except (TypeError, ValueError) as exc:
            self.error(node, str(exc), unsupported=True)
        return Resolved("derivative", made, node.func.id)

    def inline_derivative(self, node, callee):
        """A call of a gradient: its generated code for these argument types, inlined
        (nested.py), and the gradients picked from what it returns."""
        from ..nested import differentiated_name, in_generated_code, inlinable

        if node.keywords:
            self.error(node, "a gradient called here takes positional arguments only")
        values = [self.check_value(a, self.expr(a)) for a in node.args]
        try:
            fn, count, with_value, single, rule = inlinable(callee.value,
                                                            [v.type for v in values])
        except (TypeError, GradientInputError) as exc:
            self.error(node, str(exc), unsupported=True)
        if rule is not None:  # not inlined: ops whose rules call its code (nested.py)
            parts = rule.lowered(self.b, values, with_value)
            self.constants.update(rule.bindings)
        else:
            try:
                result = self.inline_call(node, Resolved("function", fn, callee.name), values)
            except (AutodiffSyntaxError, UnsupportedOperationError) as exc:
                if not in_generated_code(exc, fn):
                    raise
                self.error(node, f"cannot differentiate the gradient of {differentiated_name(callee.value, callee.name)} again: its "
                           f"derivative code is not differentiable ({exc.message})", True)
            parts = result if isinstance(result, tuple) else (result,)
        grads = parts[1:1 + count]
        gradient = grads[0] if single else tuple(grads)
        return (parts[0], gradient) if with_value else gradient

    def grid_index(self, node):
        """cuda.grid(1) -> the thread's index; cuda.grid(2) -> a tuple of two."""
        ndim = self.expr(node.args[0]) if len(node.args) == 1 else None
        if not isinstance(ndim, Const) or ndim.value not in (1, 2):
            self.error(node, "cuda.grid takes the constant 1 or 2")
        indices = tuple(self.b.op(grid_p, attrs={"ndim": ndim.value, "axis": axis},
                                  hint="ij"[axis] if ndim.value == 2 else "i").result
                        for axis in range(ndim.value))
        return indices[0] if ndim.value == 1 else indices

    def block_sum(self, node) -> None:
        """A block sum in shared memory, made one call by frontend.block_reductions:
        out[index] += the sum over the block of every thread's value."""
        out, index, value, size, exact = node.args
        indices = self.expr(index)
        total = self.expr(value)
        if not isinstance(total, Value) or total.type.is_array:
            self.error(value, "a block sum adds one number per thread")
        self.b.op(block_sum_p, self.expr(out),
                  *(indices if isinstance(indices, tuple) else (indices,)),
                  self.cast(total, Type("float")),
                  attrs={"size": size.value, "exact": exact.value}, result_types=[])

    def call_prim(self, node, callee: Resolved, args: list[Value]) -> Value:
        from ..primitives import get

        name = callee.value
        if callee.name.startswith("math."):
            for arg_node, arg in zip(node.args, args):
                if arg.type.is_array:
                    instead = f"use np.{name}" if hasattr(np, name) else \
                        "NumPy has no such function: loop over the entries"
                    self.error(arg_node, f"{callee.name}() does not take arrays; {instead}",
                               unsupported=True)
            # math computes in double and returns a Python float, of a float32 number too
            args = [self.cast(a, F64, exact=True) if a.type.is_float else a for a in args]
        if name == "fpow":  # math.pow always computes in floats
            name, args = "pow", [self.cast(a, Type("float")) for a in args]
        arity = get(name).spec.get("arity", len(args))
        if len(args) != arity:
            self.error(node, f"{callee.name}() takes {arity} argument(s), got {len(args)}")
        return self.b(name, *args)

    def call_builtin(self, node, name: str, args: list[Value]) -> Value:
        if name == "range":
            self.error(node, "range() can only be the iterable of a for loop")
        if name == "len":
            if len(args) != 1 or not args[0].type.is_array:
                self.error(node, "len() takes one array")
            return self.b(len_p, args[0])
        for arg_node, arg in zip(node.args, args):
            if arg.type.is_array and name != "abs":
                self.error(arg_node, f"{name}() on arrays is not supported; use np.{name}",
                           unsupported=True)
        if name in _CASTS:
            if len(args) != 1:
                self.error(node, f"{name}() takes one number")
            return self.cast(args[0], _cast_type(name, 0), exact=True)
        if name in ("min", "max"):
            if len(args) < 2:
                self.error(node, f"{name}() needs at least two numbers")
            result = args[0]
            for arg in args[1:]:
                result = self.b(name + "2", result, arg)
            return result
        if name == "abs" and len(args) == 1:
            return self.b(abs_p, args[0])
        if name == "pow" and len(args) == 2:
            return self.b(pow_p, *args)
        self.error(node, f"{name}() with {len(args)} arguments is not supported")


def _is_none(node) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _is_full_slice(node) -> bool:
    return isinstance(node, gast.Slice) and node.lower is None and node.upper is None and \
        node.step is None


def _hint_of(node) -> str:
    return node.id if isinstance(node, gast.Name) else "elem"
