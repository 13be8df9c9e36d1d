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
from .lambdas import as_function, lambda_nodes, parse_prefix
from .methods import hoist_self


@dataclass
class ParsedFunction:
    fn: object  # the Python function
    node: gast.FunctionDef
    filename: str
    first_line: int  # file line number of the parsed text's first line
    indent: int  # columns removed by dedent
    lines: list[str]  # the file's lines of the function, undedented
    self_attributes: tuple = ()  # a method's attributes of self, read as leading parameters

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


def parse_function(fn, method: bool = False) -> ParsedFunction:
    """Read `fn` (a def or a lambda; method: `fn` is a bound method's function, whose self
    attributes become leading parameters, see methods.py)."""
    fn = unwrap(fn)
    if not inspect.isfunction(fn):
        raise TypeError(f"expected a Python function, got {type(fn).__name__}")
    filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise TypeError(_no_source(fn, filename, exc)) from exc
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _indent_removed(text, dedented)
    if fn.__name__ == "<lambda>":
        node, dedented = _lambda_node(fn, dedented, filename, first_line, indent, lines)
    else:
        node = gast.parse(dedented).body[0]
    _check_unchanged(fn, dedented, filename, first_line)
    parsed = ParsedFunction(fn, node, filename, first_line, indent,
                            [ln.rstrip("\n") for ln in lines])
    if not isinstance(node, gast.FunctionDef):
        raise AutodiffSyntaxError("only plain 'def' functions can be differentiated",
                                  parsed.loc(node))
    if method:
        taken = set(fn.__code__.co_varnames) | set(fn.__code__.co_names)
        node, attributes, _ = hoist_self(parsed.loc, node, taken)
        parsed.self_attributes = tuple(attributes)
    return parsed


def _no_source(fn, filename: str, exc) -> str:
    if filename == "<string>":
        return (f"cannot read the source of {fn.__qualname__}: it was defined by "
                "'python -c' or exec() of a string, whose text Python does not keep. Put it "
                "in a file, or register the text with linecache (as IPython does for cells)")
    return (f"cannot read the source of {fn.__qualname__} ({filename}): {exc}. Define the "
            "function in a file, or register its text with linecache")


def _lambda_node(fn, dedented: str, filename: str, first_line: int, indent: int, lines):
    """(def node, the text it was parsed from) for a lambda (lambdas.py)."""
    module, text = parse_prefix(dedented)
    nodes = lambda_nodes(module, fn, first_line, indent) if module is not None else []
    if len(nodes) != 1:
        line = fn.__code__.co_firstlineno
        loc = SourceLocation(filename, line, 0, lines[min(line - first_line, len(lines) - 1)]
                             .rstrip())
        raise AutodiffSyntaxError("cannot tell this lambda's source from the others on its "
                                  "line; use a def", loc)
    return as_function(nodes[0]), text


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
    wanted = _fingerprint(code, 0)
    if not any(_fingerprint(c, first_line - 1) == wanted
               for c in _nested_codes(module, code.co_name)):
        raise TypeError(f"the source of {fn.__qualname__} in {filename} changed after it was "
                        "defined (the file was edited but not reloaded): reload the module "
                        "(importlib.reload) or run the definition again")


def _nested_codes(module, name: str) -> list:
    """The code objects named `name` anywhere inside `module` (lambdas sit in expressions)."""
    found, stack = [], [module]
    while stack:
        code = stack.pop()
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                stack.append(c)
                if c.co_name == name:
                    found.append(c)
    return found


_OPERATORS = ("BINARY_", "COMPARE_", "UNARY_", "INPLACE_", "IS_OP", "CONTAINS_OP")


def _fingerprint(code, line_shift: int) -> tuple:
    names = set(code.co_names) | set(code.co_varnames) | set(code.co_freevars)
    consts = tuple(repr(c) for c in code.co_consts if not isinstance(c, types.CodeType))
    lines = tuple(sorted({line + line_shift for _, _, line in code.co_lines()
                          if line is not None}))
    operators = tuple((i.opname, i.argrepr) for i in dis.get_instructions(code)
                      if i.opname.startswith(_OPERATORS))
    return names, consts, lines, code.co_argcount, operators
