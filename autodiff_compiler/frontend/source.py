"""Read a function's source (inspect), parse it with gast, and map nodes back to the file.

gast gives one AST shape across Python versions. Line numbers are shifted to the file's and
columns to the undedented text, so every error and every comment in generated code points at
the line the user wrote.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass

import gast

from ..errors import AutodiffSyntaxError, SourceLocation


@dataclass
class ParsedFunction:
    fn: object  # the Python function
    node: gast.FunctionDef
    filename: str
    first_line: int  # file line number of the parsed text's first line
    indent: int  # columns removed by dedent
    lines: list[str]  # the file's lines of the function, undedented

    def loc(self, node) -> SourceLocation:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + self.indent
        index = min(max(line - 1, 0), len(self.lines) - 1)
        return SourceLocation(self.filename, line + self.first_line - 1, col,
                              self.lines[index].rstrip())



def unwrap(fn):
    """The Python function to read: a Numba dispatcher's `py_func`, else `fn` itself.

    Other wrappers are not looked through: what a wrapper does is not in the source we read."""
    if hasattr(fn, "__autodiff_wrapped__"):
        raise TypeError("differentiating a function returned by grad/value_and_grad "
                        "(higher derivatives) is not supported yet")
    py_func = getattr(fn, "py_func", None)
    return py_func if inspect.isfunction(py_func) else fn


def parse_function(fn) -> ParsedFunction:
    fn = unwrap(fn)
    if not inspect.isfunction(fn):
        raise TypeError(f"expected a Python function, got {type(fn).__name__}")
    filename = inspect.getsourcefile(fn) or "<unknown>"
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise TypeError(f"cannot read the source of {fn.__qualname__}: {exc}. "
                        "Define the function in a file (not in an interactive prompt).") from exc
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _indent_removed(text, dedented)
    if fn.__name__ == "<lambda>":
        col = max(lines[0].find("lambda"), 0)
        loc = SourceLocation(filename, first_line, col, lines[0].rstrip())
        raise AutodiffSyntaxError("lambda functions are not supported; use a def", loc)
    module = gast.parse(dedented)
    node = module.body[0]
    parsed = ParsedFunction(fn, node, filename, first_line, indent, [ln.rstrip("\n") for ln in lines])
    if not isinstance(node, gast.FunctionDef):
        raise AutodiffSyntaxError("only plain 'def' functions can be differentiated",
                                  parsed.loc(node))
    return parsed


def _indent_removed(original: str, dedented: str) -> int:
    for a, b in zip(original.splitlines(), dedented.splitlines()):
        if b.strip():
            return len(a) - len(b)
    return 0
