"""Refuse unsupported syntax before anything is lowered or run.

The fence walks the parsed function once iteratively and raises AutodiffSyntaxError at the
first construct the compiler cannot differentiate correctly, with file, line, column and a
caret. It is deliberately conservative: what is not known to be right is refused.
"""

from __future__ import annotations

import gast

from ..errors import AutodiffSyntaxError
from .resolve import lookup_name
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
    gast.Lambda: "lambda expressions are not supported; use a module-level def",
    gast.ClassDef: "class definitions inside a differentiated function are not supported",
    gast.FunctionDef: "nested function definitions are not supported; define it at module level",
    gast.Global: "'global' declarations are not supported: globals are read as constants",
    gast.Nonlocal: "'nonlocal' declarations are not supported",
    gast.Starred: "star-arguments ('*args') are not supported",
    gast.ListComp: "list comprehensions are not supported; write a loop",
    gast.SetComp: "set comprehensions are not supported",
    gast.DictComp: "dict comprehensions are not supported",
    gast.GeneratorExp: "generator expressions are not supported; write a loop",
    gast.Dict: "dicts are not supported",
    gast.Set: "sets are not supported",
    gast.List: "Python lists are not supported; use a NumPy array",
    gast.JoinedStr: "string formatting is not supported",
    gast.Raise: "'raise' is not supported in a differentiated function",
    gast.Assert: "'assert' is not supported in a differentiated function",
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
    joined_lists: set = set()
    while stack:
        node = stack.pop()
        if node not in joined_lists:
            _check_node(parsed, node)
        joined_lists.update(a for a in _list_arguments(node) if isinstance(a, gast.List))
        stack.extend(reversed([c for c in gast.iter_child_nodes(node) if isinstance(c, gast.AST)]))


_JOINS = ("concatenate", "stack", "hstack", "vstack")
_PERMUTES = ("transpose", "moveaxis")  # their axes may be lists of integers
_KEYWORDS = ("axis", "keepdims", "axes", "axis1", "axis2", "source", "destination")


def _list_arguments(node) -> list:
    """The arguments that may be list literals, read as tuples: the arrays of
    np.concatenate([a, b]) and its kind, the axes of np.transpose, x.transpose and
    np.moveaxis."""
    if not isinstance(node, gast.Call) or not isinstance(node.func, gast.Attribute):
        return []
    if node.func.attr in _JOINS:
        return node.args[:1]
    if node.func.attr in _PERMUTES:
        return node.args + [k.value for k in node.keywords]
    return []


def _makes_derivative(parsed: ParsedFunction, node) -> bool:
    """`grad(e, argnums=...)`: made while compiling, with keywords (nested.py)."""
    if not isinstance(node.func, gast.Name):
        return False
    return lookup_name(parsed.fn, node.func.id).kind == "factory"


def _check_node(parsed: ParsedFunction, node) -> None:
    message = _REFUSED.get(type(node))
    if message:
        _refuse(parsed, node, message)
    if isinstance(node, gast.Constant) and isinstance(node.value, (str, bytes)):
        _refuse(parsed, node, "strings are not supported in differentiated code")
    if isinstance(node, (gast.For, gast.While)) and node.orelse:
        kind = "for" if isinstance(node, gast.For) else "while"
        _refuse(parsed, node, f"'{kind} ... else' is not supported; use a flag variable")
    if isinstance(node, gast.Call) and not _makes_derivative(parsed, node):
        for keyword in node.keywords:
            if keyword.arg not in _KEYWORDS:
                _refuse(parsed, keyword.value, "keyword arguments in calls are not supported "
                        "(except axis= and keepdims= of NumPy functions, and the axes of "
                        "np.transpose, np.swapaxes and np.moveaxis)")
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
