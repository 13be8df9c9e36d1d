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
from ..primitives.registry import storage_node


@dataclass
class Activity:
    varied: set
    useful: set

    def active(self, value) -> bool:
        return value in self.varied and value in self.useful


def _float(v) -> bool:
    return isinstance(v, str) or v.type.is_float


def _flows(op: Op):
    """(source, destination) pairs along which derivatives flow, for one op: its primitive's
    flow rule (region ops), else what its traits say. Ops of generated code that store into
    or load from named storage (tapes, checkpoints) have the storage as a node of the graph,
    so derivative code can itself be differentiated."""
    prim = op.prim
    if prim.flow is not None:
        yield from prim.flow(op)
    elif prim.writes or prim.accumulates:
        yield op.operands[-1], op.operands[0]  # the value flows into the array
    elif prim.stores:
        yield op.operands[-1], storage_node(op.attrs[prim.stores])
    elif prim.loads:
        yield storage_node(op.attrs[prim.loads]), op.results[0]
    elif prim.differentiable and not prim.terminator:
        for src in op.operands:
            for dst in op.results:
                yield src, dst


def analyze(fn: Function, wrt: list[int], outputs=()) -> Activity:
    """Activity w.r.t. the parameters `wrt`, for the returned values and the arrays
    `outputs` (the arrays a kernel writes its results into)."""
    edges = [(s, d) for op in walk_ops(fn.body) for s, d in _flows(op)
             if _float(s) and _float(d)]
    varied = {fn.params[k] for k in wrt if _float(fn.params[k])}
    useful = {v for v in list(fn.body.ops[-1].operands) + list(outputs) if _float(v)}
    forward: dict[object, list] = {}
    backward: dict[object, list] = {}
    for s, d in edges:
        forward.setdefault(s, []).append(d)
        backward.setdefault(d, []).append(s)
    return Activity(_closure(varied, forward), _closure(useful, backward))


def _closure(seeds: set, graph: dict) -> set:
    reached = set(seeds)
    todo = list(seeds)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    return reached
