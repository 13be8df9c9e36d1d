"""The differentiated function's parameters: one per argument, or one per entry of a tuple
or list argument (ir.types.Tree), whose name is then bound to a tuple of those entries, as a
tuple built in the function would be (indexed, unpacked, iterated while compiling)."""

from __future__ import annotations

from ..ir.core import Value
from ..ir.types import Tree, Type


def parameter_entries(names: list[str], types: list) -> list[tuple[str, tuple, Type]]:
    """(argument name, path of the entry, its type) of every parameter, in order."""
    return [(name, path, t) for name, given in zip(names, types)
            for path, t in _entries(given)]


def bind_entries(names: list[str], types: list, params: list[Value]) -> dict:
    """Argument name -> its parameter, or the (nested) tuple of its entries' parameters."""
    found = iter(params)
    return {name: _bind(given, found) for name, given in zip(names, types)}


def _entries(given) -> list[tuple[tuple, Type]]:
    """(path, type) of each entry of one argument's type: itself, or a Tree's leaves."""
    if not isinstance(given, Tree):
        return [((), given)]
    return [((k,) + path, t) for k, item in enumerate(given.items)
            for path, t in _entries(item)]


def entry_name(name: str, path: tuple) -> str:
    return "_".join([name, *map(str, path)])


def _bind(given, params):
    """The value a name holds on entry: its parameter, or a tuple of its entries' (a list
    argument too: the frontend's lists are tuples until appended to)."""
    if not isinstance(given, Tree):
        return next(params)
    return tuple(_bind(item, params) for item in given.items)


def replaced(value, path: tuple, new):
    """`value` with the entry at `path` replaced by `new`."""
    if not path:
        return new
    items = list(value)
    items[path[0]] = replaced(items[path[0]], path[1:], new)
    return tuple(items)


