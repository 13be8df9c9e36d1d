"""Indexing an N-D array with one integer array (or number) per axis: `p[np.arange(n), y]`,
`x[rows, cols]`, NumPy's fancy indexing, as a gather from the flattened array at the flat
positions sum_k i_k * stride_k. The index arrays broadcast against each other, as NumPy's
do (their flat positions are a broadcasting sum), and the result has their broadcast shape. Negative indices count from the end; an index
out of range is an IndexError at run time (asserted: a flat position would otherwise read
another row's entry). The derivative is the gather's: the cotangent is added back at those
positions (repeated positions sum)."""

from __future__ import annotations

from ..ir.core import Value, const
from ..primitives.arith import add_p, and_p, ge_p, lt_p, mul_p, select_p
from ..primitives.arrays import ravel_p, reshape_p
from ..primitives.indexing import dim_p, take_p
from ..primitives.shapes import all_p, assert_p


class Gathers:
    """Mixin for frontend.expressions.ExpressionLowering."""

    def gather_indexed(self, node, array: Value, indices: list[Value]) -> Value:
        """array[i_0, ..., i_{n-1}] with integer arrays or numbers i_k, one per axis."""
        if any(i.type.kind != "int" for i in indices):
            self.error(node, "fancy indexing takes integer arrays (a boolean mask selects a "
                       "number of entries known only at run time: use np.where(mask, x, 0.0))",
                       unsupported=True)
        b = self.b
        flat, stride = None, const(1)
        for k in reversed(range(array.type.ndim)):
            length = b(dim_p, array, attrs={"axis": k})
            term = b(mul_p, self.checked_index(indices[k], length, k), stride)
            flat = term if flat is None else b(add_p, flat, term)  # broadcasts as NumPy's
            stride = b(mul_p, stride, length)
        taken = b(take_p, b(ravel_p, array), b(ravel_p, flat) if flat.type.ndim != 1
                  else flat, hint="taken")
        if flat.type.ndim == 1:
            return taken
        return b(reshape_p, taken, *[b(dim_p, flat, attrs={"axis": k})
                                     for k in range(flat.type.ndim)])

    def checked_index(self, index: Value, length: Value, axis: int) -> Value:
        """`index` with negative entries counted from the end, asserted within range."""
        b = self.b
        inside = b(and_p, b(ge_p, index, b(mul_p, length, const(-1))), b(lt_p, index, length))
        if index.type.is_array:
            inside = b(all_p, inside)
        b.op(assert_p, inside, attrs={"message": f"index out of bounds for axis {axis}"},
             result_types=[])
        wrapped = b(add_p, index, length)
        return b(select_p, b(lt_p, index, const(0)), wrapped, index)
