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
    it is now, so the derivative would be of the new text while `fn` runs the old code.

    The text is compiled again and its instruction stream compared with fn's, instruction by
    instruction in order (opcode, name, constant, jump target), nested functions too, after a
    normalisation that removes what depends on where the text sits: a name that is global in
    the fresh module may be a closure variable of fn, a call's NULL slot moves between
    opcodes, jump offsets become instruction indices. A method is compiled inside a class of
    its name, so private names are mangled as in fn. Any other difference refuses."""
    code = fn.__code__
    owner = _owning_class(fn.__qualname__)
    shift = first_line - 1
    if owner is not None:
        text = f"class {owner}:\n" + textwrap.indent(text, "    ")
        shift -= 1
    try:
        module = compile(text, filename, "exec", flags=code.co_flags & _FUTURE_FLAGS,
                         dont_inherit=True)
    except SyntaxError:
        return  # gast.parse reports it
    if not any(_same_code(code, fresh, shift) for fresh in _nested_codes(module, code.co_name)):
        raise TypeError(f"the source of {fn.__qualname__} in {filename} changed after it was "
                        "defined (the file was edited but not reloaded): reload the module "
                        "(importlib.reload) or run the definition again")


def _owning_class(qualname: str):
    """The class a method is defined in (its qualname's last enclosing part), else None."""
    parts = qualname.split(".")
    if len(parts) >= 2 and parts[-2] != "<locals>":
        return parts[-2]
    return None


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


def _same_code(code, fresh, shift: int) -> bool:
    """Whether two code objects (and the functions nested in them) run the same instructions."""
    pending = [(code, fresh)]
    while pending:
        a, b = pending.pop()
        if _header(a, 0) != _header(b, shift):
            return False
        stream_a, nested_a = _stream(a)
        stream_b, nested_b = _stream(b)
        if stream_a != stream_b or len(nested_a) != len(nested_b):
            return False
        pending.extend(zip(nested_a, nested_b))
    return True


_SIGNATURE_FLAGS = (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS | inspect.CO_GENERATOR
                    | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR)


def _header(code, line_shift: int) -> tuple:
    lines = tuple(sorted({line + line_shift for _, _, line in code.co_lines()
                          if line is not None}))
    return (code.co_name, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
            code.co_varnames, code.co_cellvars, code.co_flags & _SIGNATURE_FLAGS, lines)


# Instructions whose presence depends on the enclosing scope or on nothing the code computes.
_SKIPPED = frozenset({"RESUME", "CACHE", "NOP", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL",
                      "PUSH_NULL"})
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)


def _stream(code) -> tuple[list, list]:
    """The normalised instructions of `code` and the code objects it makes, in order; a jump
    names the position of its target in this list, not a byte offset."""
    stream, nested, captured, position, jumps = [], [], [], {}, []
    for i in dis.get_instructions(code):
        position[i.offset] = len(stream)
        if i.opname in _SKIPPED:
            continue
        if i.opname == "LOAD_CLOSURE":
            captured.append(i.argrepr)
        elif captured and i.opname == "BUILD_TUPLE":
            # a closure tuple: only the cells of this code compare; what fn captures from its
            # own enclosing function is global in the fresh module, which captures nothing
            cells = tuple(name for name in captured if name in code.co_cellvars)
            captured = []
            if cells:
                stream.append(("CLOSURE", cells))
        elif isinstance(i.argval, types.CodeType):
            nested.append(i.argval)
            stream.append((i.opname, "<code>", i.argval.co_name))
        elif i.opname == "MAKE_FUNCTION":
            stream.append((i.opname, i.arg & ~8))  # 8: has a closure, seen above
        elif i.opcode in _JUMPS:
            jumps.append((len(stream), i.argval))
            stream.append(i.opname)
        else:
            stream.append(_normalised(i, code.co_cellvars))
    for at, offset in jumps:
        stream[at] = (stream[at], position.get(offset, len(stream)))
    return stream, nested


def _normalised(i, cellvars) -> tuple:
    op, name = i.opname, i.argrepr.replace("NULL + ", "")
    if op.endswith(("_FAST", "_FAST_CHECK")):
        return (op.split("_")[0], "local", name)
    if op.endswith("_DEREF") or op == "LOAD_CLASSDEREF":
        scope = "cell" if name in cellvars else "outer"
        return (op.split("_")[0], scope, name)
    if op.endswith(("_GLOBAL", "_NAME")):
        return (op.split("_")[0], "outer", name)
    if op == "LOAD_METHOD":  # LOAD_ATTR when the module imports the object's name
        return ("LOAD_ATTR", name)
    return (op, name)
