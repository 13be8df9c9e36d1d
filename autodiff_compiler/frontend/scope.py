"""What the frontend's lowering mixins share without importing one another: the kinds of
non-value the lowering passes around (string constants, nested functions) and the names a
block of statements binds."""

from __future__ import annotations

import gast


class Text:
    """A string constant: a message of assert or print, or an option (ord='fro')."""

    def __init__(self, value: str):
        self.value = value


class LocalFunction:
    """A `def` or `lambda` inside the differentiated function, inlined where called."""

    def __init__(self, node, name: str):
        self.node = node
        self.name = name

class RuntimeComprehension:
    """A comprehension over a range whose bounds are known only at run time: lowered as a
    loop by the consumer that can take one (np.array, sum)."""

    def __init__(self, node):
        self.node = node
        self.name = "a list comprehension over a range known only at run time (only np.array " \
            "and sum() take one; else fill an array in a loop)"


def split_docstring(body):
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:], body[0].value.value
    return body, None


def assigned_names(stmts, augmented: bool = True) -> list[str]:
    """Names bound anywhere in `stmts`, in order of first binding (`augmented`: with the
    targets of y += v)."""
    names: dict[str, None] = {}
    todo = list(reversed(stmts))
    while todo:
        node = todo.pop()
        targets = []
        if isinstance(node, gast.Assign):
            targets = node.targets
        elif isinstance(node, (gast.AnnAssign, gast.For)) or \
                augmented and isinstance(node, gast.AugAssign):
            targets = [node.target]
        if isinstance(node, gast.FunctionDef):  # its name; its body has its own names
            names.setdefault(node.name)
            continue
        flat = list(targets)
        while flat:
            t = flat.pop(0)
            if isinstance(t, gast.Name):
                names.setdefault(t.id)
            elif isinstance(t, gast.Tuple):
                flat[:0] = t.elts
        todo.extend(reversed([c for c in gast.iter_child_nodes(node)
                              if isinstance(c, gast.stmt)]))
    return list(names)
