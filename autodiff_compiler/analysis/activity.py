"""Activity analysis: which values carry derivatives.

A value is active when it is *varied* (depends differentiably on a differentiated input) and
*useful* (influences the output differentiably), and it is a float (Hascoet & Pascual, "The
Tapenade Automatic Differentiation Tool", ACM TOMS 2013, section 3). Integer counters, flags,
comparisons and inputs not being differentiated are never active. Both properties are fixed
points over the structured IR: loops feed their yields back to their block arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.core import Function, Op, walk_ops


@dataclass
class Activity:
    varied: set[int]
    useful: set[int]

    def active(self, value) -> bool:
        return id(value) in self.varied and id(value) in self.useful


def _float(v) -> bool:
    return v.type.is_float


def _flows(op: Op):
    """(source, destination) pairs along which derivatives flow, for one op."""
    name = op.prim.name
    if name == "if":
        for region in op.regions:
            yield from zip(region.ops[-1].operands, op.results)
    elif name == "for":
        body = op.regions[0]
        carried = body.args[1:]
        yield from zip(op.operands[3:], carried)
        yield from zip(body.ops[-1].operands, carried)
        yield from zip(carried, op.results)
        yield from zip(op.operands[3:], op.results)  # zero-trip loops
    elif name == "while":
        carried = op.regions[1].args
        yield from zip(op.operands, carried)
        yield from zip(op.regions[1].ops[-1].operands, carried)
        yield from zip(carried, op.results)
        yield from zip(op.operands, op.results)
    elif name == "setitem":
        yield op.operands[-1], op.operands[0]  # the value flows into the array
    elif op.prim.differentiable and op.prim.name not in ("yield", "return"):
        for src in op.operands:
            for dst in op.results:
                yield src, dst


def analyze(fn: Function, wrt: list[int]) -> Activity:
    edges = [(s, d) for op in walk_ops(fn.body) for s, d in _flows(op)
             if _float(s) and _float(d)]
    varied = {id(fn.params[k]) for k in wrt if _float(fn.params[k])}
    useful = {id(v) for v in fn.body.ops[-1].operands if _float(v)}
    forward: dict[int, list[int]] = {}
    backward: dict[int, list[int]] = {}
    for s, d in edges:
        forward.setdefault(id(s), []).append(id(d))
        backward.setdefault(id(d), []).append(id(s))
    return Activity(_closure(varied, forward), _closure(useful, backward))


def _closure(seeds: set[int], graph: dict[int, list[int]]) -> set[int]:
    reached = set(seeds)
    todo = list(seeds)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    return reached
