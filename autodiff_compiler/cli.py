"""Command line: `python -m autodiff_compiler show [TARGET] [--ir] [--argnums 0,1] [--args EXPR]`.

`show` compiles the gradient of one function for one set of argument types and prints what
the compiler made: optionally the SSA IR of the function and of its adjoint, then the
generated adjoint Python source (highlighted on a terminal), then what its tape stores
(tapes.py: each array, its dtype, per iteration or once, its bytes for the example
arguments, measured by running the generated code once in CPython, and its source line).
Without a target it does this for the built-in example (autodiff_compiler.examples.power_sum)
and then runs the gradient and checks it against central differences.

Example arguments come from --args, else from annotations and defaults, else are guessed
(1.0; said on stderr). When the compiler refuses the function and some arguments were
guessed, other guesses are tried: if one compiles, the refusal came from the guess, and
show says so with an --args that works.

Exit status: 0 on success, 1 when the compiler refuses the function (the message points at
file:line:col with a caret), 2 for usage errors (unknown file, module or function, bad
--args or --argnums).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
import typing

import numpy as np

from . import pipeline
from .api import value_and_grad
from .arguments import normalize_argnums, prepare
from .budget import default_budget
from .errors import AutodiffSyntaxError, GradientInputError, UnsupportedOperationError
from .examples import example_args, power_sum
from .gradcheck import numerical_grad
from .sweeps import unit_tangents
from .tapes import measure, report
from .version import __version__

PROG = "python -m autodiff_compiler"

# default example values, by annotation
_DEFAULT_FLOAT = 1.0
_DEFAULT_INT = 3
_DEFAULT_ARRAY_TEXT = "np.linspace(0.1, 1.0, 4)"

# what a guessed parameter is tried as when the first guess is refused: (value, --args text)
_ALTERNATIVES = (
    (lambda: _DEFAULT_FLOAT, repr(_DEFAULT_FLOAT)),
    (lambda: np.linspace(0.1, 1.0, 4), _DEFAULT_ARRAY_TEXT),
    (lambda: _DEFAULT_INT, repr(_DEFAULT_INT)),
    (lambda: np.linspace(0.1, 0.9, 9).reshape(3, 3), "np.linspace(0.1, 0.9, 9).reshape(3, 3)"),
)
_MAX_RETRIES = 80


class UsageError(Exception):
    """A mistake on the command line: reported as one `error: ...` line, exit status 2."""


# --- argument parsing ----------------------------------------------------------------------

_DESCRIPTION = """\
Source-to-source automatic differentiation of numeric Python: grad(f) reads f's source,
lowers it to structured SSA, builds the adjoint (reverse mode) and emits it as Python source
that Numba compiles."""

def _example_source() -> str:
    """The built-in example's source, indented for the help text."""
    lines = inspect.getsource(power_sum).splitlines()
    return "\n".join("    " + line for line in lines if '"""' not in line)


_SHOW_DESCRIPTION = f"""\
Compile the gradient of one function and print what the compiler made:

  with --ir   the SSA IR of the function primal and of its adjoint, under headings;
  always      the generated adjoint Python source (the function that returns
              (value, gradient), as Numba compiles it).

Without TARGET, the built-in example is used:

{_example_source()}

with x = np.linspace(-1, 1, 8), n = 8; after printing, the gradient is run (with Numba
unless --no-jit) and its value and gradient are printed, with the largest difference from
central differences relative to max(|gradient entry|, 1).

TARGET is either
  PATH.py:FUNC        a function in a Python file (the file is imported as a module under
                      a private name, so its `if __name__ == "__main__"` block does not run)
  package.module:FUNC a function in an importable module
A function already wrapped by grad/value_and_grad is unwrapped first.

The compiler specialises on argument types, so it needs example arguments. --args gives
them as a Python expression (a comma-separated list) evaluated with only `np`/`numpy` and
`math` in scope. Without --args, each parameter gets a value from its annotation:
float -> {_DEFAULT_FLOAT}, int -> {_DEFAULT_INT}, np.ndarray -> {_DEFAULT_ARRAY_TEXT}; a parameter
without one of these annotations takes its default value if it has one, else 1.0 (a guess,
said on stderr; when the compiler refuses the function for a guessed argument, show says
so and suggests --args).

Under the generated code, show lists what the reverse sweep stores (its tape): each array's
name, the value it holds, its dtype, whether it takes a row per loop iteration or is made
once, its bytes for the example arguments and the source line of the value. The bytes are
measured by running the generated code once in CPython on the example arguments (the
function is never run with Numba unless it is the built-in example).

Code is highlighted (with pygments, when installed) when stdout is a terminal; --color
never, a pipe or the NO_COLOR environment variable turn that off.

Exit status: 0 on success, 1 when the compiler refuses the function (the message shows
file:line:col, the line and a caret), 2 for usage errors (unknown file, module or
function, bad --args or --argnums)."""

_SHOW_EPILOG = f"""\
examples:
  {PROG} show                          the built-in example, run with Numba
  {PROG} show --ir --no-jit            ... with its IR, run without Numba
  {PROG} show model.py:loss --ir       IR and adjoint of loss() in model.py
  {PROG} show model.py:loss --args "np.linspace(-1, 1, 5), 5"
  {PROG} show mypkg.physics:energy --argnums 0,1 --args "1.0, 2.0"
  {PROG} show autodiff_compiler.examples:power_sum --args "np.ones(3), 3"
"""


def _argnums(text: str):
    """'0' -> 0 (one gradient), '0,1' -> (0, 1) (a tuple of gradients)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if not nums:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated argument positions such as 0 or 0,1, got {text!r}")
    return nums[0] if "," not in text else tuple(nums)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=_DESCRIPTION,
        epilog=f"Run '{PROG} show --help' for the show command's targets and options.")
    parser.add_argument("--version", action="version", version=f"autodiff_compiler {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = commands.add_parser(
        "show", help="print the IR and generated adjoint source of a function's gradient",
        description=_SHOW_DESCRIPTION, epilog=_SHOW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("target", nargs="?", metavar="TARGET",
                      help="PATH.py:FUNC or package.module:FUNC (default: the built-in "
                           "example power_sum)")
    show.add_argument("--ir", action="store_true",
                      help="also print the primal SSA IR and the adjoint IR")
    show.add_argument("--argnums", type=_argnums, default=None, metavar="N[,N...]",
                      help="positions of the arguments to differentiate with respect to, "
                           "comma-separated (default: 0)")
    show.add_argument("--args", dest="args_expr", default=None, metavar="EXPR",
                      help="example arguments as a Python expression, e.g. "
                           "\"np.linspace(-1, 1, 5), 5\" (np, numpy and math are available; "
                           "default: from annotations, see above)")
    show.add_argument("--mode", choices=("reverse", "forward", "hessian"), default="reverse",
                      help="which derivative code to show: the adjoint (reverse, default), "
                           "the tangent code forward or forward over reverse "
                           "(hessian: the Hessian-vector product)")
    show.add_argument("--no-jit", action="store_true",
                      help="run the built-in example's gradient without Numba (TARGETs are "
                           "never run with Numba)")
    show.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="highlight the code: auto (default) when stdout is a terminal and "
                           "NO_COLOR is not set")
    return parser


# --- targets ---------------------------------------------------------------------------------

def _load_file(path: str):
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    full = os.path.abspath(path)
    stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(full))[0])
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    name = f"_autodiff_cli_target_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    directory = os.path.dirname(full)
    sys.path.insert(0, directory)  # the file's own imports work as when it is run
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise UsageError(f"cannot import {path}: {exc.msg} (line {exc.lineno})") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        sys.modules.pop(name, None)
        raise UsageError(f"cannot import {path}: {type(exc).__name__}: {exc}") from None
    finally:
        if sys.path and sys.path[0] == directory:
            del sys.path[0]
    return module


def _load_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UsageError(f"no module named '{name}'") from None
        raise UsageError(f"cannot import module '{name}': {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        raise UsageError(f"cannot import module '{name}': {type(exc).__name__}: {exc}") from None


def load_target(target: str):
    """The plain Python function named by PATH.py:FUNC or package.module:FUNC."""
    where, sep, func = target.rpartition(":")
    if not sep or not where or not func:
        raise UsageError(f"target {target!r} must be PATH.py:FUNC or package.module:FUNC")
    is_path = where.endswith(".py") or "/" in where or os.sep in where
    module = _load_file(where) if is_path else _load_module(where)
    obj = module
    for part in func.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n, v in vars(module).items()
                           if inspect.isfunction(v) and not n.startswith("_")
                           and getattr(v, "__module__", None) == module.__name__)
            hint = f" (functions defined there: {', '.join(names)})" if names else ""
            raise UsageError(f"{where} has no function '{func}'{hint}")
        obj = getattr(obj, part)
    fn = getattr(obj, "__autodiff_wrapped__", obj)
    if not inspect.isfunction(fn):
        raise UsageError(f"'{func}' in {where} is not a Python function "
                         f"(it is a {type(fn).__name__})")
    return fn


# --- example arguments -----------------------------------------------------------------------

def eval_args(text: str) -> tuple:
    """Evaluate --args with only np/numpy and math in scope; always returns a tuple."""
    namespace = {"__builtins__": {}, "np": np, "numpy": np, "math": math}
    try:
        value = eval(text, namespace)  # the user's own command line
    except Exception as exc:  # noqa: BLE001 - any mistake in the expression is a usage error
        raise UsageError(f"cannot evaluate --args {text!r}: {type(exc).__name__}: {exc}") \
            from None
    return value if isinstance(value, tuple) else (value,)


def _default_for(annotation):
    """An example value for one parameter annotation, or None when it names no known type."""
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        if text in ("float", "np.float64", "numpy.float64"):
            return _DEFAULT_FLOAT
        if text in ("int", "np.int64", "numpy.int64"):
            return _DEFAULT_INT
        if text in ("np.ndarray", "numpy.ndarray", "ndarray") or text.startswith(
                ("np.ndarray[", "numpy.ndarray[", "NDArray[", "npt.NDArray[",
                 "numpy.typing.NDArray[")):
            return np.linspace(0.1, 1.0, 4)
        return None
    annotation = typing.get_origin(annotation) or annotation
    if isinstance(annotation, type):
        if issubclass(annotation, np.ndarray):
            return np.linspace(0.1, 1.0, 4)
        if issubclass(annotation, (bool, np.bool_)):
            return None
        if issubclass(annotation, (float, np.floating)):
            return _DEFAULT_FLOAT
        if issubclass(annotation, (int, np.integer)):
            return _DEFAULT_INT
    return None


def default_args(fn) -> tuple:
    """Example arguments from annotations (float 1.0, int 3, np.ndarray 4 floats), else the
    parameter's default value, else 1.0."""
    return tuple(value for _, value, _ in example_values(fn))


def example_values(fn) -> list[tuple[str, object, str]]:
    """(parameter, example value, how it was chosen: "annotation", "default" or "guess")
    for each positional parameter, as default_args chooses them."""
    values = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.KEYWORD_ONLY):
            continue
        value, how = None, "annotation"
        if param.annotation is not param.empty:
            value = _default_for(param.annotation)
        if value is None and param.default is not param.empty:
            value, how = param.default, "default"
        if value is None:
            value, how = _DEFAULT_FLOAT, "guess"
        values.append((param.name, value, how))
    return values


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape} of {value.dtype}"
    return repr(value)


# --- the show command --------------------------------------------------------------------------

def max_relative_difference(analytic, numeric) -> float:
    """Largest |a - n| / max(|a|, |n|, 1) over all gradient entries.

    Relative where the gradient is large, absolute where it is small, so that an entry that
    is zero (where central differences leave a residue of order h) does not read as 100%."""
    worst = 0.0
    for a, n in zip(analytic, numeric):
        a = np.ravel(np.asarray(a, dtype=np.float64))
        n = np.ravel(np.asarray(n, dtype=np.float64))
        if a.size:
            scale = np.maximum(np.maximum(np.abs(a), np.abs(n)), 1.0)
            worst = max(worst, float(np.max(np.abs(a - n) / scale)))
    return worst


def _parse(fn, argnums):
    """(parsed function, argnums list); refusals of the source itself propagate."""
    try:
        parsed = pipeline.parse(fn)
        nums, _ = normalize_argnums(argnums, len(inspect.signature(parsed.fn).parameters))
    except (AutodiffSyntaxError, UnsupportedOperationError):
        raise
    except TypeError as exc:  # GradientInputError argnums, or a source that cannot be read
        raise UsageError(str(exc)) from None
    return parsed, nums


def _compile(parsed, args, nums, mode: str, jit: bool = True):
    """The derivative code of `mode` for these example arguments, compiled to source only
    (nothing is run); jit: the code Numba compiles (fused loops), else the interpreter's."""
    try:
        _, types = prepare(inspect.signature(parsed.fn), args, {}, nums)
        return pipeline.compile(parsed, types, nums, _MODES[mode], load=False, jit=jit)
    except GradientInputError as exc:
        raise UsageError(str(exc)) from None


def _other_guess(parsed, chosen, nums, mode: str):
    """Example arguments that differ from `chosen` only in guessed parameters and that the
    compiler accepts, as (values, --args text); None when none is found.

    A greedy search: each round tries every other value for each guessed parameter and
    keeps the change that compiles, else the one whose refusal comes latest in the source
    (the compiler got further), until one compiles, none gets further, or _MAX_RETRIES
    compilations were tried."""
    guessed = [k for k, (_, _, how) in enumerate(chosen) if how == "guess"]
    values = [value for _, value, _ in chosen]
    texts = [_as_text(value) for value in values]
    position = _refusal_position(parsed, values, nums, mode)
    tries = 0
    while position is not None and tries < _MAX_RETRIES:
        best = None
        for k in guessed:
            for make, text in _ALTERNATIVES:
                if text == texts[k] or (k in nums and text == repr(_DEFAULT_INT)):
                    continue
                trial = list(values)
                trial[k] = make()
                tries += 1
                where = _refusal_position(parsed, trial, nums, mode)
                if where is None:
                    values[k], texts[k] = trial[k], text
                    return values, ", ".join(texts)
                if where > position and (best is None or where > best[0]):
                    best = (where, k, trial[k], text)
        if best is None:
            return None
        position, k, values[k], texts[k] = best
    return None


def _refusal_position(parsed, values, nums, mode: str):
    """None when the compiler accepts these arguments, else (line, column) of the refused
    construct ((0, 0) when the refusal names no place)."""
    try:
        _compile(parsed, values, nums, mode)
    except (AutodiffSyntaxError, UnsupportedOperationError) as exc:
        loc = exc.loc
        return (0, 0) if loc is None else (loc.line, loc.col)
    except Exception:  # noqa: BLE001 - refused otherwise (argument types): no progress
        return (0, 0)
    return None


def _as_text(value) -> str:
    """A value as --args would spell it (arrays by a constructor of their shape)."""
    if isinstance(value, np.ndarray):
        return f"np.ones({value.shape})" if value.ndim != 1 else f"np.ones({value.shape[0]})"
    return repr(value)


def _guessed(chosen) -> str:
    """'x = 1.0, y = 1.0': the guessed example arguments."""
    return ", ".join(f"{name} = {_describe(value)}" for name, value, how in chosen
                     if how == "guess")


def _refusal_note(parsed, chosen, nums, mode: str) -> str:
    """What to say after a refusal when some example arguments were guessed: whether other
    guesses compile (then the refusal came from the guess) and how to give --args."""
    if not any(how == "guess" for _, _, how in chosen):
        return ""
    other = _other_guess(parsed, chosen, nums, mode)
    if other is None:
        return (f"note: the example arguments {_guessed(chosen)} were guessed (no --args, no "
                "annotation), and other guesses are refused too: if the function takes "
                "other types, give them with --args")
    values, text = other
    changed = ", ".join(f"{name} = {_describe(new)}" for (name, old, how), new
                        in zip(chosen, values) if how == "guess" and not _same(old, new))
    return (f"note: this refusal comes from the guessed example arguments ({_guessed(chosen)}: "
            f"no --args, no annotation); with {changed} the function compiles. Give the "
            f"arguments with --args, e.g. --args \"{text}\", or annotate the parameters")


def _same(a, b) -> bool:
    return type(a) is type(b) and np.shape(a) == np.shape(b)


_MODES = {"reverse": "grad", "forward": "jvp", "hessian": "hvp"}


class Refusal(Exception):
    """The compiler refused the function: its located message, and a note on guessed
    example arguments (or ""); exit status 1."""

    def __init__(self, message: str, note: str = ""):
        super().__init__(message)
        self.message = message
        self.note = note


def use_color(option: str, out) -> bool:
    """Whether to highlight: --color always/never, else auto: `out` is a terminal, NO_COLOR is
    unset or empty and TERM is not "dumb"."""
    if option != "auto":
        return option == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty is not None and isatty())


def highlighter(color: bool):
    """A function highlighting Python source for a terminal (pygments), or the identity when
    `color` is off or pygments is not installed."""
    if color:
        try:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            pass
        else:
            return lambda text: highlight(text, PythonLexer(), TerminalFormatter()).rstrip("\n")
    return lambda text: text


def _tape(artifact, values, nums, guessed: bool):
    """The tape report of a derivative, its bytes measured by running the generated code in
    CPython on the example arguments (when it stores anything)."""
    table = report(artifact.adjoint, artifact.mode)
    if not table.rows and not table.held:
        return table
    seeds = unit_tangents(values, nums, None) if artifact.mode == "hvp" else []
    budget, predicted = None, None
    if artifact.adjoint.budgeted:  # the budget the call checks, and the bytes known before
        pipeline.load(artifact, jit=False)
        budget = default_budget()
        try:
            predicted = artifact.tape_bytes(*values, *seeds)
        except Exception:  # noqa: BLE001 - reported below, where the code itself fails
            predicted = None
    try:
        pipeline.load(artifact, jit=False)
        arrays = measure(artifact.compiled.python_fn, artifact.arguments(*values, *seeds))
    except Exception as exc:  # noqa: BLE001 - the generated code failed on these arguments
        hint = " (they were guessed: give --args)" if guessed else ""
        return report(artifact.adjoint, artifact.mode,
                      note=f"bytes not measured: running the generated code on the example "
                           f"arguments{hint} raised {type(exc).__name__}: {exc}",
                      budget=budget, predicted=predicted)
    return report(artifact.adjoint, artifact.mode, arrays, budget=budget, predicted=predicted)


def _arguments(options, fn, builtin: bool):
    """(example arguments, [(parameter, value, how chosen)]): from --args, the built-in
    example's, or example_values."""
    if options.args_expr is not None or builtin:
        args = eval_args(options.args_expr) if options.args_expr is not None else example_args()
        chosen = [(name, value, "given") for name, value
                  in zip(inspect.signature(fn).parameters, args)]
    else:
        chosen = example_values(fn)
        args = tuple(value for _, value, _ in chosen)
    try:
        inspect.signature(fn).bind(*args)
    except TypeError as exc:
        raise UsageError(f"the example arguments do not fit {fn.__name__}"
                         f"{inspect.signature(fn)}: {exc}") from None
    return args, chosen


def _show(options, out, err=None) -> int:
    err = sys.stderr if err is None else err
    builtin = options.target is None
    fn = power_sum if builtin else load_target(options.target)
    args, chosen = _arguments(options, fn, builtin)
    argnums = 0 if options.argnums is None else options.argnums

    names = list(inspect.signature(fn).parameters)
    parsed, nums = _parse(fn, argnums)
    try:
        artifact = _compile(parsed, args, nums, options.mode, jit=not options.no_jit)
    except (AutodiffSyntaxError, UnsupportedOperationError) as exc:
        raise Refusal(str(exc), _refusal_note(parsed, chosen, nums, options.mode)) from None
    guessed = any(how == "guess" for _, _, how in chosen)
    if guessed:
        print(f"note: example arguments guessed (no --args, no annotation): "
              f"{_guessed(chosen)}; give --args to choose them", file=err)
    values, _ = prepare(inspect.signature(parsed.fn), args, {}, nums)  # as the code takes them
    color = use_color(options.color, out)
    code = highlighter(color)
    arg_text = ", ".join(f"{name}={_describe(v)}" for name, v in zip(names, args))
    sections = options.ir or builtin

    def heading(title: str) -> None:
        print(f"\x1b[1m==== {title} ====\x1b[0m" if color else f"==== {title} ====", file=out)

    if options.ir:
        heading(f"primal IR: {fn.__name__}({arg_text})")
        print(artifact.primal_ir, file=out)
        print(file=out)
        heading("derivative IR" if options.mode != "reverse" else "adjoint IR")
        print(artifact.ir, file=out)
        print(file=out)
    if sections:
        heading(f"generated {'adjoint' if options.mode == 'reverse' else options.mode} source")
    print(code(artifact.source.rstrip("\n")), file=out)
    table = _tape(artifact, values, nums, guessed)
    title = f"tape: what the reverse sweep stores, for {arg_text}"
    if sections:
        print(file=out)
        heading(title)
        print("\n".join(table.lines()), file=out)
    else:
        print("\n\n# " + title, file=out)
        print("\n".join("#   " + line for line in table.lines()), file=out)
    if builtin:
        print(file=out)
        _run(fn, args, argnums, nums, not options.no_jit, heading, out)
    return 0


def _run(fn, args, argnums, nums, jit: bool, heading, out) -> None:
    """Run the built-in example's gradient and compare it with central differences."""
    names = list(inspect.signature(fn).parameters)
    arg_text = ", ".join(f"{name}={_describe(v)}" for name, v in zip(names, args))
    value, gradient = value_and_grad(fn, argnums=argnums, jit=jit)(*args)
    numeric = numerical_grad(fn, *args, argnums=argnums)
    if isinstance(argnums, int):
        grads, numerics = (gradient,), (numeric,)
    else:
        grads, numerics = gradient, numeric
    heading(f"run ({'Numba' if jit else 'Python, no JIT'}): {fn.__name__}({arg_text})")
    with np.printoptions(precision=6, suppress=True, linewidth=88):
        print(f"value:    {value!r}", file=out)
        for k, g in zip(nums, grads):
            label = f"gradient wrt {names[k]}:"
            print(f"{label} {g!r}" if not isinstance(g, np.ndarray) else f"{label}\n{g}",
                  file=out)
    print(f"max relative difference from central differences: "
          f"{max_relative_difference(grads, numerics):.3g}", file=out)


def main(argv=None) -> int:
    """Entry point of `python -m autodiff_compiler`; returns the exit status."""
    parser = build_parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if options.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return _show(options, sys.stdout, sys.stderr)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (AutodiffSyntaxError, UnsupportedOperationError) as exc:  # the source is refused
        print(str(exc), file=sys.stderr)
        return 1
    except Refusal as exc:  # refused for these argument types
        print(exc.message, file=sys.stderr)
        if exc.note:
            print(exc.note, file=sys.stderr)
        return 1
