"""Find a lambda's own expression in the source inspect gives for it, as a `def`.

inspect.getsourcelines(a lambda) gives the whole lines of the statement the lambda starts
in, which may be a fragment (`    lambda x: x * x)` inside a call spread over lines). The
text is cut back from its end until it parses, then the lambda is picked among those on its
first line by its parameters and, when several remain, by the column of its body (the
code object's positions, PEP 657). The lambda becomes `def lambda_(params): return body`
with the body's locations kept, so errors still point into the user's line.
"""

from __future__ import annotations

import gast

_MAX_TEXT = 4000  # longer statements are not cut back (each try parses the text once)


def parse_prefix(text: str):
    """The module parsed from the longest prefix of `text` that parses (None: none does)."""
    text = text[:_MAX_TEXT]
    for end in range(len(text), 0, -1):
        if not text[end - 1].strip() and end != len(text):
            continue
        try:
            return gast.parse(text[:end]), text[:end]
        except SyntaxError:
            continue
    return None, ""


def lambda_nodes(module, fn, first_line: int, indent: int) -> list:
    """The Lambda nodes of `module` that can be `fn`: same first line, same parameters."""
    code = fn.__code__
    line = code.co_firstlineno - first_line + 1
    params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    found = []
    for node in gast.walk(module):
        if isinstance(node, gast.Lambda) and node.lineno == line:
            args = node.args
            names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
            if names == params:
                found.append(node)
    if len(found) > 1:
        column = _body_column(code)
        found = [n for n in found if n.body.col_offset + indent == column] or found
    return found


def _body_column(code) -> int | None:
    columns = [p[2] for p in code.co_positions() if p[2] and p[3]]  # RESUME: (0, 0)
    return min(columns) if columns else None


def as_function(node) -> gast.FunctionDef:
    """`def lambda_(params): return body` for a Lambda node."""
    ret = gast.Return(value=node.body)
    gast.copy_location(ret, node.body)
    fn = gast.FunctionDef(name="lambda_", args=node.args, body=[ret], decorator_list=[],
                          returns=None, type_comment=None, type_params=[])
    return gast.copy_location(fn, node)
