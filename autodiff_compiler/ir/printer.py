"""Deterministic text form of the IR (`show --ir`): one op a line, regions indented."""

from __future__ import annotations

from .core import Const, Function, Op, Region
from .names import Namer


def format_function(fn: Function) -> str:
    namer = Namer()
    params = ", ".join(f"%{namer.name(v)}: {v.type}" for v in fn.params)
    lines = [f"func @{fn.name}({params}) {{"]
    _format_region(fn.body, namer, lines, 1)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _ref(namer: Namer, v) -> str:
    return repr(v.value) if isinstance(v, Const) else f"%{namer.name(v)}"


def _format_region(region: Region, namer: Namer, lines: list[str], depth: int) -> None:
    pad = "  " * depth
    for op in region.ops:
        lines.append(pad + _format_op(op, namer))
        for k, sub in enumerate(op.regions):
            args = ", ".join(f"%{namer.name(a)}: {a.type}" for a in sub.args)
            labels = op.prim.region_labels
            label = labels[k] if k < len(labels) else "body"
            lines.append(f"{pad}  ^{label}({args}):")
            _format_region(sub, namer, lines, depth + 2)
        if op.regions:
            lines.append(pad + "end")


def _format_op(op: Op, namer: Namer) -> str:
    results = ", ".join(f"%{namer.name(r)}: {r.type}" for r in op.results)
    operands = ", ".join(_ref(namer, v) for v in op.operands)
    attrs = " {" + ", ".join(f"{k}={v!r}" for k, v in sorted(op.attrs.items())) + "}" \
        if op.attrs else ""
    text = f"{op.prim.name} {operands}{attrs}".rstrip()
    line = f"  # line {op.loc.line}" if op.loc is not None else ""
    return (f"{results} = {text}" if results else text) + line
