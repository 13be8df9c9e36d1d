"""IR verifier: every value defined once and before use, yields match their op's results.

Run between passes (and in the tests); it raises AssertionError naming the offending op and
the source line it comes from.
"""

from __future__ import annotations

from ..primitives.control import return_p, yield_p
from .core import Const, Function, Region, Value
from .types import fits


def _at(op) -> str:
    """' (file:line)' of the op's source construct, when it has one."""
    loc = getattr(op, "loc", None)
    return f" (at {loc.filename}:{loc.line})" if loc is not None else ""


def verify(fn: Function) -> None:
    defined: set[Value] = set()
    # (region, visible definitions of the enclosing scopes) walked with an explicit stack
    todo: list[tuple[Region, frozenset, object]] = [(fn.body, frozenset(), None)]
    while todo:
        region, outer, parent = todo.pop()
        visible = set(outer)
        for arg in region.args:
            _define(arg, defined, "region argument")
            visible.add(arg)
        for op in region.ops:
            for v in op.operands:
                if not isinstance(v, Const) and v not in visible:
                    raise AssertionError(f"{op.prim.name}: operand {v!r} used before "
                                         f"definition{_at(op)}")
            for sub in op.regions:
                todo.append((sub, frozenset(visible), op))
            for r in op.results:
                _define(r, defined, op.prim.name + _at(op))
                visible.add(r)
        _check_terminator(region, parent, fn)


def _define(value, defined: set[Value], what: str) -> None:
    if value in defined:
        raise AssertionError(f"{what}: {value!r} defined twice")
    defined.add(value)


def _check_terminator(region: Region, parent, fn: Function) -> None:
    last = region.terminator
    if parent is None:
        if last is None or last.prim is not return_p:
            raise AssertionError(f"function {fn.name} does not end with return")
        return
    where = f"{parent.prim.name}{_at(parent)}"
    if last is None or last.prim is not yield_p:
        raise AssertionError(f"region of {where} does not end with yield")
    if not parent.prim.region:
        return
    if region is parent.regions[0] and parent.prim.condition_first:
        if len(last.operands) != 1 or last.operands[0].type.kind != "bool":
            raise AssertionError(f"{where}: the condition region must yield one bool")
        return
    if parent.prim.elementwise:  # a loop nest yields one element (or summand) per result
        if len(last.operands) != len(parent.results):
            raise AssertionError(f"{where}: yields {len(last.operands)} values, "
                                 f"expected {len(parent.results)}")
        return
    if len(last.operands) != len(parent.results):
        raise AssertionError(f"{where}: yields {len(last.operands)} values, "
                             f"expected {len(parent.results)}")
    for v, r in zip(last.operands, parent.results):
        if not fits(v.type, r.type):
            raise AssertionError(f"{where}: yield type {v.type} != {r.type}")
