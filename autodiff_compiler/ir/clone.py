"""Copy ops with fresh values, so a computation can appear twice in one SSA function."""

from __future__ import annotations

from .core import Function, Op, Region, Value


def clone_op(op: Op, mapping: dict[Value, Value]) -> Op:
    """A copy of `op` (and its regions) defining new values; `mapping` (id -> value) renames
    operands and receives the new definitions. Values defined outside are kept."""
    operands = [mapping.get(v, v) for v in op.operands]
    regions = []
    for region in op.regions:
        args = [_fresh(a, mapping) for a in region.args]
        regions.append(Region(args, [clone_op(inner, mapping) for inner in region.ops]))
    results = [_fresh(r, mapping) for r in op.results]
    return Op(op.prim, operands, results, regions, dict(op.attrs), op.loc)


def _fresh(value: Value, mapping: dict[Value, Value]) -> Value:
    copy = Value(value.type, value.hint)
    mapping[value] = copy
    return copy


def clone_function(fn: Function) -> Function:
    """A copy of `fn` with fresh values and ops, so a pass may rewrite it without changing
    its input (the original stays what it was, e.g. for `show --ir`)."""
    mapping: dict[Value, Value] = {}
    params = [_fresh(p, mapping) for p in fn.body.args]
    body = Region(params, [clone_op(op, mapping) for op in fn.body.ops])
    return Function(fn.name, body, fn.filename, fn.docstring, list(fn.param_names),
                    fn.constants, list(fn.tape_kinds), list(fn.copied_params), fn.budgeted)
