"""Views read after a write into their array: made again where they are read.

A NumPy view (a slice, a transpose, a new axis, np.diag of a matrix) shares its array's
memory, so reading it after a write into that array shows the new values. The IR treats
arrays as values that writes change in place, and a view as an op applied once; Numba's own
np.diag even copies. So each read of a view that a write into its root can precede is given
the view made afresh just before it, from the root as it is then: the whole chain of views
(views of views) is cloned there. Every mode then computes what NumPy computes, and the
derivative follows from the view ops' own rules.

Only views that share memory for every operand qualify (the `view` trait is True). A
reshape or ravel copies a non-contiguous array, so remaking it after a write could show
values NumPy's copy would not: analysis.aliasing.check_views refuses those reads, and views
carried through loops or yielded by an `if`, with a message at the user's line.
"""

from __future__ import annotations

from ..analysis.aliasing import Program
from ..ir.clone import clone_function, clone_op
from ..ir.core import Function, Op, Value, walk_ops


def remake_views_after_writes(fn: Function) -> Function:
    """A copy of `fn` in which every read of a view that may follow a write into its root
    reads the view made again just before it."""
    fn = clone_function(fn)
    program = Program(fn)
    if not program.writes:
        return fn
    for op in list(walk_ops(fn.body)):
        if op.prim.terminator or op.regions:
            continue  # views entering or leaving regions: check_views decides
        for k, v in enumerate(op.operands):
            chain = _view_chain(program, v)
            if chain and program.written_between(
                    v, program.position[chain[0]], program.position[op]) is not None:
                op.operands[k] = _remake(program, chain, op)
    return fn


def _view_chain(program: Program, v: Value) -> list[Op]:
    """The ops making `v` from its root, outermost first, when every one of them is always a
    view and the root is written; else []."""
    chain = []
    made = program.producer.get(v)
    while made is not None and made.prim.is_view(made):
        if not made.prim.always_view(made):
            return []
        chain.append(made)
        made = program.producer.get(made.operands[0])
    if not chain or (program.root(v)) not in program.writes:
        return []
    return chain


def _remake(program: Program, chain: list[Op], user: Op) -> Value:
    """Clone `chain` (outermost first) just before `user`; returns the new outermost view."""
    region = program.region_of[user]
    mapping: dict[Value, Value] = {}
    at = region.ops.index(user)
    for made in reversed(chain):  # the view of the root first
        copy = clone_op(made, mapping)
        region.ops.insert(at, copy)
        at += 1
    return mapping[chain[0].results[0]]
