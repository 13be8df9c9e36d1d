"""Read a function for lowering: its source, fenced, with its jumps out of loops removed."""

from __future__ import annotations

import dataclasses

from .fence import check
from .jumps import eliminate_jumps
from .source import ParsedFunction, parse_function


def read_function(fn, method: bool = False) -> ParsedFunction:
    parsed = parse_function(fn, method)
    check(parsed)
    return dataclasses.replace(parsed, node=eliminate_jumps(parsed.fn, parsed.node))
