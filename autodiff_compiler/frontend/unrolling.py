"""Recursion unrolled while compiling, when constants fix its depth.

A call of a user function is lowered by lowering its body in place (inlining), so a
recursive call inlines the body again. That ends where the recursion's base case is decided
by constants: integer arithmetic and comparisons of constants are folded here, and an `if`
(or `x if c else y`) whose condition is a constant lowers only the branch taken. A helper
`def f(x, n): return x if n == 0 else f(x * x, n - 1)` called with a literal n, or a
determinant by cofactor expansion given its size as a constant, is unrolled into
straight-line code. Recursion whose depth is not fixed so (a size read from an array's
shape, a run-time number) does not end: it is refused at the recursive call once it passes
MAX_DEPTH levels, or once MAX_CALLS calls have been unrolled (the size of the code).
"""

from __future__ import annotations

import operator

import gast

from ..ir.core import Const, Value, const

MAX_DEPTH = 16
MAX_CALLS = 500

_INT_FOLDS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
              gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod}
_COMPARISONS = {gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt,
                gast.GtE: operator.ge, gast.Eq: operator.eq, gast.NotEq: operator.ne}


def _number(value) -> bool:
    return isinstance(value, Const) and not value.type.is_array


def folded_binop(op, left, right) -> Value | None:
    """left op right of two integer constants, as Python computes it (None: not folded;
    nor where int64 arithmetic, which the generated code does, would wrap)."""
    fold = _INT_FOLDS.get(type(op))
    if fold is None or not (_number(left) and _number(right)) or \
            {left.type.kind, right.type.kind} != {"int"}:
        return None
    if isinstance(op, (gast.FloorDiv, gast.Mod)) and right.value == 0:
        return None  # the division by zero is left to run time, as Python raises it there
    value = fold(left.value, right.value)
    return const(value) if -2 ** 63 <= value < 2 ** 63 else None  # int64 wraps: run time


def folded_compare(op, left, right) -> Value | None:
    """left op right of two number constants (None: not folded)."""
    compare = _COMPARISONS.get(type(op))
    if compare is None or not (_number(left) and _number(right)):
        return None
    return const(bool(compare(left.value, right.value)))


class RecursionBudget:
    """How many recursive calls one function's lowering has unrolled (shared by its
    inlined sub-lowerings)."""

    def __init__(self):
        self.calls = 0


def check_recursion(lowering, node, key, name: str) -> None:
    """Refuse a recursive call of `key` (the callee) that goes deeper than MAX_DEPTH, or
    past MAX_CALLS unrolled calls; a call not recursive passes."""
    depth = lowering.call_stack.count(key)
    if not depth:
        return
    lowering.recursion.calls += 1
    if depth >= MAX_DEPTH or lowering.recursion.calls > MAX_CALLS:
        limit = (f"{MAX_DEPTH} levels deep" if depth >= MAX_DEPTH else
                 f"{MAX_CALLS} calls")
        lowering.error(node, f"recursive call of '{name}' is unrolled while compiling only "
                       "when constants fix where it stops (a literal argument counted down "
                       f"to a base case such as 'if n == 0'); this one went past {limit}: "
                       "write it as a loop, or pass the depth as a literal int",
                       unsupported=True)
