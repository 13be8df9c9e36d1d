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
        key = _key(value)
        return key in self.varied and key in self.useful


# Ops of generated code (tapes, checkpoints) that store into or load from named storage: the
# storage is a node of the flow graph too, so derivative code can itself be differentiated.
_STORES = {"tape_push": "tape", "checkpoint_save": "name"}
_LOADS = {"tape_load": "tape", "checkpoint_load": "name"}


def _storage(op: Op) -> str:
    key = _STORES.get(op.prim.name) or _LOADS.get(op.prim.name) or "name"
    return "storage:" + op.attrs[key]


def _float(v) -> bool:
    return isinstance(v, str) or v.type.is_float


def _key(v):
    return v if isinstance(v, str) else id(v)


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
    elif op.prim.writes or name in ("index_add", "array_add", "slice_add", "take_add"):
        yield op.operands[-1], op.operands[0]  # the value flows into the array
    elif name in _STORES:
        yield op.operands[-1], _storage(op)
    elif name in _LOADS:
        yield _storage(op), op.results[0]
    elif name == "checkpoint_restore":
        yield _storage(op), op.operands[1]
    elif op.prim.differentiable and op.prim.name not in ("yield", "return"):
        for src in op.operands:
            for dst in op.results:
                yield src, dst


def analyze(fn: Function, wrt: list[int], outputs=()) -> Activity:
    """Activity w.r.t. the parameters `wrt`, for the returned values and the arrays
    `outputs` (the arrays a kernel writes its results into)."""
    edges = [(s, d) for op in walk_ops(fn.body) for s, d in _flows(op)
             if _float(s) and _float(d)]
    varied = {id(fn.params[k]) for k in wrt if _float(fn.params[k])}
    useful = {id(v) for v in list(fn.body.ops[-1].operands) + list(outputs) if _float(v)}
    forward: dict[int, list[int]] = {}
    backward: dict[int, list[int]] = {}
    for s, d in edges:
        forward.setdefault(_key(s), []).append(_key(d))
        backward.setdefault(_key(d), []).append(_key(s))
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
