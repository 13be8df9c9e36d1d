"""A fused op (transforms/fuse.py) as one Python loop nest.

The nest runs over the broadcast shape of the operands (NumPy's rule, checked at run time
by rt.broadcast_shapes); each array is read through np.broadcast_to, a view with zero
strides on broadcast axes, so no broadcast is ever materialised. Per result, the element
is stored into a new array, or added up: into one number for a sum over the axes of the
inner loops (initialised before the loops it sums over, stored after them), else into an
array of the kept axes; or added into an operand of the loop's shape in place (an adjoint
buffer, transforms/accumulate.py: `x_bar[i] += ...`). With parallel=True the outermost loop is a prange over an axis that
no result is summed over in part (any, for whole sums: Numba's prange reductions).

    shape = rt.broadcast_shapes(expand_dims.shape, expand_dims_1.shape)
    expand_dims_b = np.broadcast_to(expand_dims, shape)
    expand_dims_1_b = np.broadcast_to(expand_dims_1, shape)
    sum = np.empty((shape[0], shape[1]))
    for i in range(shape[0]):
        for j in range(shape[1]):
            acc = 0.0
            for k in range(shape[2]):
                acc += (expand_dims_b[i, j, k] - expand_dims_1_b[i, j, k]) ** 2
            sum[i, j] = acc
"""

from __future__ import annotations

import ast

from ..ir.core import Const
from ..ir.types import dtype_expr

_INDICES = ("i", "j", "k")


def _dtype(t) -> str:
    """`, dtype=...` for an array of t's elements (none for float64, NumPy's default)."""
    return "" if t.kind == "float" and t.bits == 64 else f", dtype={dtype_expr(t.kind, t.bits)}"


def _parse(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


def emit_fused(em, op, depth: int, yield_to=None) -> None:
    """Write the loop nest of `op` at `depth` (em: the codegen.emit.Emitter)."""
    ndim = op.attrs["ndim"]
    kinds = op.attrs["inputs"]
    names = [_operand(em, v, depth) for v in op.operands]
    sources = list(dict.fromkeys(n for n, kind in zip(names, kinds)
                                 if kind in ("array", "shape")))
    if len(sources) == 1:
        shape = f"{sources[0]}.shape"
        views = {n: n for n in names}
    else:
        shape = em.namer.fresh("shape")
        em.line(depth, f"{shape} = rt.broadcast_shapes("
                       f"{', '.join(s + '.shape' for s in sources)})")
        views = {}
        for name, kind in zip(names, kinds):
            if kind == "array" and name not in views:
                views[name] = em.namer.fresh(name + "_b")
                em.line(depth, f"{views[name]} = np.broadcast_to({name}, {shape})")
    indices = [em.namer.fresh(_INDICES[k] if k < len(_INDICES) else f"i{k}")
               for k in range(ndim)]
    for arg, name, kind in zip(op.regions[0].args, names, kinds):
        if kind == "array":
            em.elements[arg] = _subscript(views[name], indices)
        elif kind == "scalar":
            em.elements[arg] = _parse(name)
    parallel = op.attrs.get("parallel")
    order = list(range(ndim)) if parallel is None else \
        [parallel] + [a for a in range(ndim) if a != parallel]
    plan = _Plan(em, op, shape, indices, order)
    plan.allocate(depth)
    for level, axis in enumerate(order):
        plan.initialise(level, depth + level)
        loop = "rt.prange" if level == 0 and parallel is not None else "range"
        em.line(depth + level, f"for {indices[axis]} in {loop}({shape}[{axis}]):")
    body = op.regions[0]
    for inner in body.ops[:-1]:
        em.emit_op(inner, depth + ndim, None)
    for k, value in enumerate(body.ops[-1].operands):
        plan.take(k, unparse(em.expr(value)), depth + ndim)
    for level in range(ndim - 1, 0, -1):
        plan.finish(level, depth + level)


def name_added_results(namer, op) -> None:
    """A result the loop nest adds into an operand in place is that array: its name (given
    before any other naming, loops that carry it included, reads it)."""
    for k, (kind, *rest) in enumerate(op.attrs["outputs"]):
        if kind == "add":
            namer.alias(op.results[k], namer.name(op.operands[rest[0]]))


def reads_arrays_directly(op) -> bool:
    """Whether the loop nest of the fused `op` reads its arrays as they are, not through
    broadcast views (one array gives the shape): LLVM vectorises such loops when the arrays
    are contiguous, where a broadcast view's strides, unknown to it, keep it scalar."""
    arrays = {v for v, kind in zip(op.operands, op.attrs["inputs"])
              if kind in ("array", "shape")}
    return len(arrays) == 1


def _operand(em, v, depth: int) -> str:
    """A name for operand `v`, assigned before the loops when it is an expression (so it
    is evaluated once)."""
    node = em.expr(v)
    if isinstance(node, ast.Name) or isinstance(v, Const):
        return unparse(node)
    name = em.namer.fresh(v.hint)
    em.line(depth, f"{name} = {unparse(node)}")
    return name


def _subscript(array: str, indices: list[str]) -> ast.expr:
    return _parse(f"{array}[{', '.join(indices)}]")


class _Plan:
    """Where each result is allocated, accumulated and stored."""

    def __init__(self, em, op, shape: str, indices: list[str], order: list[int]):
        self.em = em
        self.op = op
        self.shape = shape
        self.indices = indices  # the index of each axis
        self.order = order  # the axes from the outermost loop in
        self.ndim = len(indices)
        self.names = [em.namer.name(r) for r in op.results]
        self.accumulators: dict[int, str] = {}  # result -> the number it adds into
        self.level: dict[int, int] = {}  # result -> the loop level its sum starts at

    def _kept(self, k: int) -> list[int]:
        axes = self.op.attrs["outputs"][k][1]
        return [a for a in range(self.ndim) if a not in axes]

    def _dims(self, axes: list[int]) -> str:
        dims = [f"{self.shape}[{a}]" for a in axes]
        return dims[0] if len(dims) == 1 else f"({', '.join(dims)})"

    def allocate(self, depth: int) -> None:
        for k, (kind, *rest) in enumerate(self.op.attrs["outputs"]):
            name = self.names[k]
            if kind == "add":
                continue
            if kind == "store":
                extra = _dtype(self.op.results[k].type)
                self.em.line(depth, f"{name} = np.empty({self.shape}{extra})")
                continue
            axes = rest[0]
            start = self.ndim - len(axes)
            if set(axes) == set(self.order[start:]):  # the inner loops: into a number
                self.level[k] = start
                if start == 0:
                    self.accumulators[k] = name
                else:
                    self.accumulators[k] = self.em.namer.fresh("acc")
                    self.em.line(depth, f"{name} = np.empty({self._dims(self._kept(k))}"
                                        f"{_dtype(self.op.results[k].type)})")
            else:
                self.em.line(depth, f"{name} = np.zeros({self._dims(self._kept(k))}"
                                    f"{_dtype(self.op.results[k].type)})")

    def initialise(self, level: int, depth: int) -> None:
        for k, start in self.level.items():
            if start == level:
                zero = "np.float32(0.0)" if self.op.results[k].type.is_float32 else "0.0"
                self.em.line(depth, f"{self.accumulators[k]} = {zero}")

    def take(self, k: int, element: str, depth: int) -> None:
        name = self.names[k]
        kind = self.op.attrs["outputs"][k][0]
        if kind in ("store", "add"):
            assign = "=" if kind == "store" else "+="
            self.em.line(depth, f"{name}[{', '.join(self.indices)}] {assign} {element}")
        elif k in self.accumulators:
            acc = self.accumulators[k]
            if self.level[k] == 0 and self.op.attrs.get("parallel") is not None:
                self.em.line(depth, f"{acc} += {element}")  # a prange reduction: Numba's form
            else:  # lanes of partial sums, so that the loop vectorises (runtime_vector.py)
                self.em.line(depth, f"{acc} = rt.reassociable_add({acc}, {element})")
        else:
            kept = ", ".join(self.indices[a] for a in self._kept(k))
            self.em.line(depth, f"{name}[{kept}] += {element}")

    def finish(self, level: int, depth: int) -> None:
        for k, start in self.level.items():
            if start == level:
                kept = ", ".join(self.indices[a] for a in sorted(self.order[:level]))
                self.em.line(depth, f"{self.names[k]}[{kept}] = {self.accumulators[k]}")
