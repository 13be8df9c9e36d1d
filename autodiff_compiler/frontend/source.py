"""Read a function's source inspect, parse it with gast, and map nodes back to the file.

gast gives one AST shape across Python versions. Line numbers are shifted to the file's and
columns to the undedented text, so every error and every comment in generated code points at
the line the user wrote.
"""

from __future__ import annotations
import __future__

import dis
import inspect
import textwrap
import types
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
    _check_unchanged(fn, dedented, filename, first_line)
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


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _check_unchanged(fn, text: str, filename: str, first_line: int) -> None:
    """Refuse a function whose file was edited after it was defined: inspect reads the file as
    it is now, so the derivative would be of the new text while `fn` runs the old code. The
    text is compiled again and compared with fn's code: names, constants, lines and operators
    (not the whole bytecode, which depends on the enclosing module and closures)."""
    code = fn.__code__
    try:
        module = compile(text, filename, "exec", flags=code.co_flags & _FUTURE_FLAGS,
                         dont_inherit=True)
    except SyntaxError:
        return  # gast.parse reports it
    fresh = next((c for c in module.co_consts if isinstance(c, types.CodeType)
                  and c.co_name == code.co_name), None)
    if fresh is None or _fingerprint(fresh, first_line - 1) != _fingerprint(code, 0):
        raise TypeError(f"the source of {fn.__qualname__} in {filename} changed after it was "
                        "defined (the file was edited but not reloaded): reload the module "
                        "(importlib.reload) or run the definition again")


_OPERATORS = ("BINARY_", "COMPARE_", "UNARY_", "INPLACE_", "IS_OP", "CONTAINS_OP")


def _fingerprint(code, line_shift: int) -> tuple:
    names = set(code.co_names) | set(code.co_varnames) | set(code.co_freevars)
    consts = tuple(repr(c) for c in code.co_consts if not isinstance(c, types.CodeType))
    lines = tuple(sorted({line + line_shift for _, _, line in code.co_lines()
                          if line is not None}))
    operators = tuple((i.opname, i.argrepr) for i in dis.get_instructions(code)
                      if i.opname.startswith(_OPERATORS))
    return names, consts, lines, code.co_argcount, operators
