"""Refuse unsupported syntax before anything is lowered or run.

The fence walks the parsed function once iteratively and raises AutodiffSyntaxError at the
first construct the compiler cannot differentiate correctly, with file, line, column and a
caret. It is deliberately conservative: what is not known to be right is refused.
"""

from __future__ import annotations

import gast

from ..errors import AutodiffSyntaxError
from .source import ParsedFunction

_REFUSED = {
    gast.Try: "'try' statements are not supported; remove the exception handling",
    gast.With: "'with' statements are not supported",
    gast.AsyncWith: "'async with' is not supported",
    gast.AsyncFor: "'async for' is not supported",
    gast.AsyncFunctionDef: "async functions are not supported",
    gast.Await: "'await' is not supported",
    gast.Yield: "generators ('yield') are not supported; return a value instead",
    gast.YieldFrom: "generators ('yield from') are not supported",
    gast.ClassDef: "class definitions inside a differentiated function are not supported",
    gast.Global: "'global' declarations are not supported: globals are read as constants",
    gast.Nonlocal: "'nonlocal' declarations are not supported",
    gast.SetComp: "set comprehensions are not supported",
    gast.DictComp: "dict comprehensions are not supported",
    gast.Dict: "dicts are not supported",
    gast.Set: "sets are not supported",
    gast.JoinedStr: "string formatting is not supported",
    gast.Raise: "'raise' is not supported in a differentiated function",
    gast.Delete: "'del' is not supported",
    gast.Import: "imports inside a differentiated function are not supported",
    gast.ImportFrom: "imports inside a differentiated function are not supported",
    gast.NamedExpr: "assignment expressions (':=') are not supported",
}
if hasattr(gast, "Match"):
    _REFUSED[gast.Match] = "'match' statements are not supported"


def _refuse(parsed: ParsedFunction, node, message: str):
    raise AutodiffSyntaxError(message, parsed.loc(node))


def check(parsed: ParsedFunction) -> None:
    """Raise AutodiffSyntaxError for the first unsupported construct in the function."""
    fn = parsed.node
    args = fn.args
    if args.vararg is not None or args.kwarg is not None:
        _refuse(parsed, fn, "'*args' and '**kwargs' parameters are not supported")
    # (node, loop depth)
    body = fn.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    stack = list(reversed(body))
    allowed: set = set()  # strings that are messages or options, stars inside literals
    while stack:
        node = stack.pop()
        if node not in allowed:
            _check_node(parsed, node)
        allowed.update(_allowed_children(node))
        stack.extend(reversed([c for c in gast.iter_child_nodes(node) if isinstance(c, gast.AST)]))


def _allowed_children(node) -> list:
    """Children of `node` that are allowed there only: string constants given to a call
    (print's text, options such as ord='fro'; the call says whether it takes them) or as an
    assert's message, and `*x` inside a tuple or list literal."""
    if isinstance(node, gast.Call):
        return [a for a in node.args + [k.value for k in node.keywords] if _is_text(a)]
    if isinstance(node, gast.Assert) and node.msg is not None and _is_text(node.msg):
        return [node.msg]
    if isinstance(node, (gast.Tuple, gast.List)):
        return [e for e in node.elts if isinstance(e, gast.Starred)]
    return []


def _is_text(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, str)


def _check_node(parsed: ParsedFunction, node) -> None:
    message = _REFUSED.get(type(node))
    if message:
        _refuse(parsed, node, message)
    if isinstance(node, gast.Constant) and isinstance(node.value, (str, bytes)):
        _refuse(parsed, node, "strings are not supported in differentiated code")
    if isinstance(node, (gast.For, gast.While)) and node.orelse:
        kind = "for" if isinstance(node, gast.For) else "while"
        _refuse(parsed, node, f"'{kind} ... else' is not supported; use a flag variable")
    if isinstance(node, gast.Starred):
        _refuse(parsed, node, "star-arguments ('*args') are not supported; unpack into a "
                "tuple literal ((*x.shape, 1)) or pass the values one by one")
    if isinstance(node, gast.Call):
        for keyword in node.keywords:
            if keyword.arg is None:
                _refuse(parsed, keyword.value, "'**kwargs' in calls is not supported; pass "
                        "the keyword arguments one by one")
    if isinstance(node, (gast.FunctionDef, gast.Lambda)):
        args = node.args
        if args.vararg is not None or args.kwarg is not None:
            _refuse(parsed, node, "'*args' and '**kwargs' parameters are not supported")
        if isinstance(node, gast.FunctionDef) and node.decorator_list:
            _refuse(parsed, node.decorator_list[0], "decorators on a nested function are not "
                    "supported")
    if isinstance(node, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = node.targets if isinstance(node, gast.Assign) else [node.target]
        for target in targets:
            _check_target(parsed, target)


def _check_target(parsed: ParsedFunction, target) -> None:
    todo = [target]
    while todo:
        t = todo.pop()
        if isinstance(t, gast.Tuple):
            todo.extend(t.elts)
        elif isinstance(t, gast.Subscript):
            pass
        elif isinstance(t, gast.Attribute):
            _refuse(parsed, t, "assigning to attributes is not supported")
        elif not isinstance(t, gast.Name):
            _refuse(parsed, t, "unsupported assignment target")
