"""Bound methods: `self` is not differentiated; the attributes the method reads from it are
passed in as leading arguments.

`def loss(self, w): return np.sum((self.X @ w - self.y) ** 2)` is read as
`def loss(self_X, self_y, w): ...` and called with the attributes' values at each call, so a
changed attribute is seen by the next call (reading them as constants would keep stale
values in compiled code). `self` may only be read as `self.name`; anything else done with it
(passing it on, calling its methods, assigning to its attributes) is refused.
"""

from __future__ import annotations

import gast

from ..errors import AutodiffSyntaxError


def hoist_self(parsed_loc, node: gast.FunctionDef, taken: set[str]):
    """(rewritten def, attribute names read from self, their parameter names)."""
    args = node.args
    positional = args.posonlyargs + args.args
    if not positional:
        raise AutodiffSyntaxError("a method needs a 'self' parameter", parsed_loc(node))
    self_name = positional[0].id
    attributes: list[str] = []
    for sub in gast.walk(node):
        if isinstance(sub, gast.Attribute) and _is_self(sub.value, self_name):
            if not isinstance(sub.ctx, gast.Load):
                raise AutodiffSyntaxError(f"assigning to '{self_name}.{sub.attr}' is not "
                                          "supported in a differentiated method",
                                          parsed_loc(sub))
            if sub.attr not in attributes:
                attributes.append(sub.attr)
    names = {a: _fresh(f"{self_name}_{a}", taken) for a in attributes}
    _replace(node, self_name, names)
    for sub in gast.walk(node):
        if isinstance(sub, gast.Name) and sub.id == self_name and sub is not positional[0]:
            raise AutodiffSyntaxError(
                f"'{self_name}' may only be read as '{self_name}.<attribute>' in a "
                "differentiated method (it is not differentiated)", parsed_loc(sub))
    params = [gast.Name(id=names[a], ctx=gast.Param(), annotation=None, type_comment=None)
              for a in attributes]
    if args.posonlyargs:
        args.posonlyargs = params + args.posonlyargs[1:]
    else:
        args.args = params + args.args[1:]
    return node, attributes, [names[a] for a in attributes]


def _is_self(node, self_name: str) -> bool:
    return isinstance(node, gast.Name) and node.id == self_name


def _replace(root, self_name: str, names: dict[str, str]) -> None:
    """Replace every `self.attr` load by the name of its parameter (in place)."""
    stack = [root]
    while stack:
        node = stack.pop()
        for field, value in gast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for k, item in enumerate(items):
                if isinstance(item, gast.Attribute) and _is_self(item.value, self_name):
                    new = gast.copy_location(
                        gast.Name(id=names[item.attr], ctx=gast.Load(), annotation=None,
                                  type_comment=None), item)
                    if isinstance(value, list):
                        value[k] = new
                    else:
                        setattr(node, field, new)
                elif isinstance(item, gast.AST):
                    stack.append(item)


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name
