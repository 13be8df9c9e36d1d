"""IR verifier: every value defined once and before use, yields match their op's results.

Run between passes in the tests; it raises AssertionError naming the offending op.
"""

from __future__ import annotations

from .core import Const, Function, Region

_YIELD_CHECKED = {"if", "for", "while"}


def verify(fn: Function) -> None:
    defined: set[int] = set()
    # (region, visible definitions of the enclosing scopes) walked with an explicit stack
    todo: list[tuple[Region, frozenset, object]] = [(fn.body, frozenset(), None)]
    while todo:
        region, outer, parent = todo.pop()
        visible = set(outer)
        for arg in region.args:
            _define(arg, defined, "region argument")
            visible.add(id(arg))
        for op in region.ops:
            for v in op.operands:
                if not isinstance(v, Const) and id(v) not in visible:
                    raise AssertionError(f"{op.prim.name}: operand {v!r} used before definition")
            for sub in op.regions:
                todo.append((sub, frozenset(visible), op))
            for r in op.results:
                _define(r, defined, op.prim.name)
                visible.add(id(r))
        _check_terminator(region, parent, fn)


def _define(value, defined: set[int], what: str) -> None:
    if id(value) in defined:
        raise AssertionError(f"{what}: {value!r} defined twice")
    defined.add(id(value))


def _check_terminator(region: Region, parent, fn: Function) -> None:
    last = region.terminator
    if parent is None:
        if last is None or last.prim.name != "return":
            raise AssertionError(f"function {fn.name} does not end with return")
        return
    if last is None or last.prim.name != "yield":
        raise AssertionError(f"region of {parent.prim.name} does not end with yield")
    if parent.prim.name in _YIELD_CHECKED:
        expected = len(parent.results)
        if parent.prim.name == "while" and region is parent.regions[0]:
            if len(last.operands) != 1 or last.operands[0].type.kind != "bool":
                raise AssertionError("while: the condition region must yield one bool")
            return
        if len(last.operands) != expected:
            raise AssertionError(f"{parent.prim.name}: yields {len(last.operands)} values, "
                                 f"expected {expected}")
        for v, r in zip(last.operands[-len(parent.results):] if parent.results else [],
                        parent.results):
            if v.type != r.type:
                raise AssertionError(f"{parent.prim.name}: yield type {v.type} != {r.type}")
