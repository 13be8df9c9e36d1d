"""Which counted loops may run their iterations on threads (grad(f, parallel=True)).

A loop runs as Numba's `prange` only when that is provably race-free: its body has no
effect but additions into arrays (`a_bar[i] += g`, the reverse loops that ad/order.py lets
run first to last, and loops of the primal that only sum), each of them into the row of
the loop's own index of an array that no other iteration touches, which the body never
reads, and its carried values are either passed through unchanged or scalar sums
`s = s + t` (a reduction Numba's prange supports; the sum differs from the serial one by
rounding only). Anything else stays a serial loop.
"""

from __future__ import annotations

from ..ir.clone import clone_function
from ..ir.core import Const, Function, Op, Region, Value, walk_ops
from ..primitives.arith import add_p
from ..primitives.control import comment_p, for_p, while_p


def parallel_loops(fn: Function) -> Function:
    """A copy of `fn` whose race-free counted loops are marked to run as prange loops."""
    fn = clone_function(fn)
    producers = {r: op for op in walk_ops(fn.body) for r in op.results}
    for op in walk_ops(fn.body):
        if op.prim is for_p and _race_free(op, producers):
            op.attrs["parallel"] = True
    return fn


def _race_free(loop: Op, producers) -> bool:
    lb, _, step = loop.operands[:3]
    if not (isinstance(lb, Const) and lb.value >= 0 and isinstance(step, Const)
            and step.value >= 1):
        return False  # negative indices could reach the rows of other iterations
    body = loop.regions[0]
    index = body.args[0]
    ops = list(walk_ops(body))
    if any(not (op.prim.pure or op.prim.accumulates or _structure(op)) for op in ops):
        return False
    targets = set()
    for op in ops:
        if op.prim.accumulates:
            if not _into_own_row(op, index, producers):
                return False
            targets.add(op.operands[0])
    if any(v in targets for op in ops for v in _reads(op)):
        return False
    return _carried_are_sums(body, ops)


def _structure(op: Op) -> bool:
    """Counted loops, branches, terminators and comments (a while loop counts its trips)."""
    return (op.prim.region and op.prim is not while_p) or op.prim.terminator \
        or op.prim is comment_p


def _into_own_row(op: Op, index: Value, producers) -> bool:
    """An addition into entries of the target's row `index` (its first subscript), of an
    array that is no view (a view could reach other rows of its base)."""
    target = op.operands[0]
    maker = producers.get(target)
    if maker is not None and maker.prim.is_view(maker):
        return False
    layout = op.attrs.get("layout")
    if layout is not None and layout[0][0] != "i":
        return False  # a slice in the first axis
    return len(op.operands) > 2 and op.operands[1] is index


def _reads(op: Op):
    return op.operands[1:] if op.prim.accumulates else op.operands


def _carried_are_sums(body: Region, ops: list[Op]) -> bool:
    """Each carried value is passed through, or is a scalar summed once per iteration."""
    uses: dict[Value, int] = {}
    for op in ops:
        for v in op.operands:
            uses[v] = uses.get(v, 0) + 1
    top = {r: op for op in body.ops for r in op.results}
    for arg, value in zip(body.args[1:], body.ops[-1].operands):
        if value is arg:
            continue
        summed = top.get(value)
        if arg.type.is_array or summed is None or summed.prim is not add_p \
                or arg not in summed.operands or uses.get(arg, 0) != 1 \
                or uses.get(value, 0) != 1 \
                or summed.operands[0] is summed.operands[1]:
            return False
    return True
