"""Tensor contractions as compositions of primitives: np.einsum with constant subscripts,
np.tensordot, np.inner, np.kron, np.cross, np.dot of N-D arrays and `@` of stacks.

A contraction of operands over index letters is lowered as NumPy's definition reads: each
operand's axes are permuted into one common order of letters (the output's first, then the
summed ones) and given new axes of length one for the letters it lacks, the operands are
multiplied with broadcasting, and the summed letters are reduced. Two operands of at most two
axes sharing one summed letter become a matrix product (np.dot) instead, so the common cases
(matrix products, matrix-vector products, inner and outer products) cost what np.dot does;
two of three axes sharing a batch letter and a summed one become a matrix product per batch
entry (batch_dot), without the broadcast product of four axes.
Every derivative then follows from the rules of transpose, expand_dims, mul, sum and dot.
"""

from __future__ import annotations

from ..ir.core import Value, const
from ..ir.types import Type
from ..primitives.arith import eq_p, mul_p, sub_p
from ..primitives.arrays import batch_dot_p, dot_p, expand_dims_p, outer_p, reshape_p, sum_p
from ..primitives.indexing import dim_p, slice_p
from ..primitives.shapes import assert_p
from .scope import Text

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class ContractionLowering:
    """Mixin for frontend.numpy_calls.NumpyLowering."""

    CONTRACTIONS = frozenset({"einsum", "tensordot", "inner", "kron", "cross"})

    def np_einsum(self, node, spelling, args):
        if node.keywords:
            self.error(node, f"{spelling}(): keywords (optimize=, out=) are not supported",
                       unsupported=True)
        if not args or not isinstance(args[0], Text):
            self.error(node, f"{spelling} takes a constant string of subscripts first (the "
                       "interleaved form is not supported)", unsupported=True)
        operands = [self.floating(self.check_value(node, a)) for a in args[1:]]
        spec = args[0].value.replace(" ", "")
        if "." in spec:
            self.error(node, f"{spelling}: '...' in the subscripts is not supported; name "
                       "every axis", unsupported=True)
        inputs, arrow, output = spec.partition("->")
        terms = inputs.split(",")
        if len(terms) != len(operands) or not all(t.isalpha() or t == "" for t in terms):
            self.error(node, f"{spelling}: the subscripts name {len(terms)} operand(s), "
                       f"{len(operands)} given", unsupported=True)
        if not arrow:  # implicit output: the letters used once, in alphabetical order
            joined = "".join(terms)
            output = "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
        return self.contract(node, spelling, terms, output, operands)

    def contract(self, node, spelling, terms: list[str], output: str, operands: list[Value]):
        for term, operand in zip(terms, operands):
            if len(term) != operand.type.ndim:
                self.error(node, f"{spelling}: '{term}' names {len(term)} axes of an array "
                           f"of {operand.type.ndim}", unsupported=True)
        if len(set(output)) != len(output) or set(output) - set("".join(terms)):
            self.error(node, f"{spelling}: the output '{output}' repeats a letter or names "
                       "one no operand has", unsupported=True)
        terms, operands = zip(*[self.distinct_letters(node, spelling, t, o)
                                for t, o in zip(terms, operands)])
        fast = self.as_matrix_product(list(terms), output, list(operands))
        if fast is None:
            fast = self.as_batched_product(list(terms), output, list(operands))
        if fast is not None:
            return fast
        summed = [c for c in dict.fromkeys("".join(terms)) if c not in output]
        order = list(output) + summed
        product = None
        for term, operand in zip(terms, operands):
            placed = self.placed(operand, term, order)
            product = placed if product is None else self.b(mul_p, product, placed)
        for position in reversed(range(len(output), len(order))):
            product = self.b(sum_p, product, attrs={"axis": position})
        return product

    def distinct_letters(self, node, spelling, term: str, operand: Value):
        """A term with a repeated letter ('ii'): the diagonal of a matrix."""
        if len(set(term)) == len(term):
            return term, operand
        if len(term) == 2:
            return term[0], self.diagonal_of(node, spelling, operand, 0)
        self.error(node, f"{spelling}: a letter repeated in '{term}' is supported for "
                   "matrices only ('ii')", unsupported=True)

    def placed(self, operand: Value, term: str, order: list[str]) -> Value:
        """`operand` with its axes in `order`'s order and new axes for the letters it lacks."""
        mine = [c for c in order if c in term]
        value = self.transposed(operand, tuple(term.index(c) for c in mine)) \
            if mine != list(term) else operand
        for position, letter in enumerate(order):
            if letter not in term:
                value = self.b(expand_dims_p, value, attrs={"axis": position})
        return value

    def as_matrix_product(self, terms, output, operands):
        """np.dot for two operands of at most 2 axes with at most one shared summed letter
        and no letter summed within one operand; None where that does not apply."""
        if len(terms) != 2 or any(len(t) > 2 for t in terms):
            return None
        left, right = terms
        shared = set(left) & set(right)
        if len(shared) > 1 or set(left + right) - shared - set(output) \
                or shared & set(output):
            return None
        x, y = operands
        if not shared:  # an outer product (of vectors) or a scaling
            if len(left) == len(right) == 1 and output in (left + right, right + left):
                product = self.b(outer_p, x, y)
                return product if output == left + right else self.transposed(product)
            return None
        (letter,) = shared
        x = self.transposed(x) if len(left) == 2 and left[0] == letter else x
        y = self.transposed(y) if len(right) == 2 and right[1] == letter else y
        produced = left.replace(letter, "") + right.replace(letter, "")
        if sorted(produced) != sorted(output):
            return None
        product = self.b(dot_p, x, y)
        return product if produced == output else self.transposed(product)

    def as_batched_product(self, terms, output, operands):
        """batch_dot for two operands of 3 axes sharing a letter kept in the output (the
        batch) and a summed one, each with one letter of its own ('kab,nkb->nka'): a matrix
        product per batch entry (BLAS where it pays); None where that does not apply."""
        if len(terms) != 2 or len(output) != 3 or any(len(t) != 3 for t in terms):
            return None
        left, right = terms
        shared = set(left) & set(right)
        batch = [c for c in shared if c in output]
        summed = [c for c in shared if c not in output]
        own_left = [c for c in left if c not in shared]
        own_right = [c for c in right if c not in shared]
        if len(batch) != 1 or len(summed) != 1 or len(own_left) != 1 or len(own_right) != 1:
            return None
        (k,), (s,), (i,), (j,) = batch, summed, own_left, own_right
        x = self.transposed(operands[0], tuple(left.index(c) for c in k + i + s))
        y = self.transposed(operands[1], tuple(right.index(c) for c in k + s + j))
        produced = k + i + j
        return self.transposed(self.b(batch_dot_p, x, y),
                               tuple(produced.index(c) for c in output))

    # --- the other contractions -----------------------------------------------------------
    def np_tensordot(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "b", "axes"), {"axes": const(2)})
        x, y = (self.floating(self.check_value(node, given[k])) for k in ("a", "b"))
        axes = given["axes"]
        if isinstance(axes, tuple) and len(axes) == 2:
            pairs = [p if isinstance(p, tuple) else (p,) for p in axes]
            first, second = (self.constant_axes(node, spelling, p, v.type.ndim)
                             for p, v in zip(pairs, (x, y)))
        else:
            count = self.constant_int(node, spelling, axes, "axes")
            first = tuple(range(x.type.ndim - count, x.type.ndim))
            second = tuple(range(count))
        if len(first) != len(second):
            self.error(node, f"{spelling}: as many axes of each operand must be summed",
                       unsupported=True)
        return self.contract_axes(node, spelling, x, y, first, second)

    def contract_axes(self, node, spelling, x, y, first, second) -> Value:
        letters = iter(_LETTERS)
        left = [next(letters) for _ in range(x.type.ndim)]
        right = [next(letters) for _ in range(y.type.ndim)]
        for a, b in zip(first, second):
            right[b] = left[a]
        output = [c for k, c in enumerate(left) if k not in first] + \
            [c for k, c in enumerate(right) if k not in second]
        return self.contract(node, spelling, ["".join(left), "".join(right)], "".join(output),
                             [x, y])

    def np_inner(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "b"), {})
        x, y = (self.check_value(node, given[k]) for k in ("a", "b"))
        if not x.type.is_array or not y.type.is_array:
            return self.b(mul_p, x, y)
        x, y = self.floating(x), self.floating(y)
        return self.contract_axes(node, spelling, x, y, (x.type.ndim - 1,), (y.type.ndim - 1,))

    def dot_of(self, node, x: Value, y: Value) -> Value:
        """np.dot: a product with a number, np.dot of 1-D and 2-D arrays, and of N-D arrays
        the sum over x's last axis and y's second-to-last."""
        if not x.type.is_array or not y.type.is_array:
            return self.b(mul_p, x, y)
        x, y = self.floating(x), self.floating(y)
        if x.type.ndim <= 2 and y.type.ndim <= 2:
            return self.b(dot_p, x, y)
        return self.contract_axes(node, "np.dot", x, y, (x.type.ndim - 1,),
                                  (max(y.type.ndim - 2, 0),))

    def stacked_product(self, node, x: Value, y: Value) -> Value:
        """x @ y where one has 3 or more axes: matrix products of the last two axes,
        broadcast over the leading (batch) axes, as np.matmul does."""
        b = self.b
        x, y = self.floating(x), self.floating(y)
        if x.type.ndim == 1:  # (m,) @ (..., m, k): (..., k)
            return b(sum_p, b(mul_p, b(expand_dims_p, x, attrs={"axis": 1}), y),
                     attrs={"axis": y.type.ndim - 2})
        if y.type.ndim == 1:  # (..., n, m) @ (m,): (..., n)
            return b(sum_p, b(mul_p, x, y), attrs={"axis": x.type.ndim - 1})
        rank = max(x.type.ndim, y.type.ndim) + 1
        wide_x = b(expand_dims_p, x, attrs={"axis": x.type.ndim})  # (..., n, m, 1)
        wide_y = b(expand_dims_p, y, attrs={"axis": y.type.ndim - 2})  # (..., 1, m, k)
        return b(sum_p, b(mul_p, wide_x, wide_y), attrs={"axis": rank - 2})

    def np_kron(self, node, spelling, args):
        given = self.bind(node, spelling, args, ("a", "b"), {})
        x, y = (self.floating(self.check_value(node, given[k])) for k in ("a", "b"))
        if x.type.ndim != y.type.ndim or x.type.ndim not in (1, 2):
            self.error(node, f"{spelling} takes two 1-D or two 2-D arrays here",
                       unsupported=True)
        b = self.b
        if x.type.ndim == 1:
            return b("ravel", b(outer_p, x, y))
        wide = b(mul_p, self.placed(x, "ac", list("abcd")), self.placed(y, "bd", list("abcd")))
        dims = [b(mul_p, b(dim_p, x, attrs={"axis": k}), b(dim_p, y, attrs={"axis": k}))
                for k in (0, 1)]
        return b(reshape_p, wide, *dims)

    def np_cross(self, node, spelling, args):
        """The cross product of 3-vectors along the last axis (its length is asserted)."""
        given = self.bind(node, spelling, args, ("a", "b"), {})
        x, y = (self.floating(self.check_value(node, given[k])) for k in ("a", "b"))
        if not x.type.is_array or not y.type.is_array:
            self.error(node, f"{spelling} takes arrays of 3-vectors", unsupported=True)
        b = self.b
        for v in (x, y):
            length = b(dim_p, v, attrs={"axis": v.type.ndim - 1})
            b.op(assert_p, b(eq_p, length, const(3)), attrs={
                "message": "np.cross: only vectors of 3 entries are supported"},
                result_types=[])
        xs, ys = ([self.entry(v, k) for k in range(3)] for v in (x, y))
        parts = [b(sub_p, b(mul_p, xs[i], ys[j]), b(mul_p, xs[j], ys[i]))
                 for i, j in ((1, 2), (2, 0), (0, 1))]
        rank = max(p.type.ndim for p in parts)
        if rank == 0:
            return self.b("pack", *parts)
        parts = [self.cast(p, Type("float", rank)) for p in parts]
        return b("stack", *parts, attrs={"axis": rank})

    def entry(self, v: Value, k: int) -> Value:
        """v[..., k]: a view of entry k along the last axis."""
        if v.type.ndim == 1:
            return self.b("getitem", v, const(k))
        whole = ("s", False, False, False)
        layout = (whole,) * (v.type.ndim - 1) + (("i",),)
        return self.b(slice_p, v, const(k), attrs={"layout": layout})
