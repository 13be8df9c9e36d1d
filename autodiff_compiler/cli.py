"""Command line: `python -m autodiff_compiler show [TARGET] [--ir] [--argnums 0,1] [--args EXPR]`.

`show` compiles the gradient of one function for one set of argument types and prints what
the compiler made: optionally the SSA IR of the function and of its adjoint, then the
generated adjoint Python source. Without a target it does this for the built-in example
(autodiff_compiler.examples.power_sum) and then runs the gradient and checks it against
central differences.

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
from .errors import AutodiffSyntaxError, GradientInputError, UnsupportedOperationError
from .examples import example_args, power_sum
from .gradcheck import numerical_grad
from .version import __version__

PROG = "python -m autodiff_compiler"

# default example values, by annotation
_DEFAULT_FLOAT = 1.0
_DEFAULT_INT = 3
_DEFAULT_ARRAY_TEXT = "np.linspace(0.1, 1.0, 4)"


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
without one of these annotations takes its default value if it has one, else 1.0.

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
                           "only compiled to source, never run)")
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
    values = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.KEYWORD_ONLY):
            continue
        value = None
        if param.annotation is not param.empty:
            value = _default_for(param.annotation)
        if value is None and param.default is not param.empty:
            value = param.default
        values.append(_DEFAULT_FLOAT if value is None else value)
    return tuple(values)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape} of {value.dtype}"
    return repr(value)


# --- the show command --------------------------------------------------------------------------

def _heading(out, title: str) -> None:
    print(f"==== {title} ====", file=out)


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


def _compile(fn, args, argnums, mode: str):
    """(argnums list, artifact): the derivative code of `mode` for these example arguments,
    compiled to source only (nothing is run)."""
    try:
        parsed = pipeline.parse(fn)
        nums, _ = normalize_argnums(argnums, len(inspect.signature(parsed.fn).parameters))
    except (AutodiffSyntaxError, UnsupportedOperationError):
        raise
    except TypeError as exc:  # GradientInputError argnums, or a source that cannot be read
        raise UsageError(str(exc)) from None
    try:
        _, types = prepare(inspect.signature(parsed.fn), args, {}, nums)
        return nums, pipeline.compile(parsed, types, nums, _MODES[mode], load=False)
    except GradientInputError as exc:
        raise UsageError(str(exc)) from None


_MODES = {"reverse": "grad", "forward": "jvp", "hessian": "hvp"}


def _show(options, out) -> int:
    builtin = options.target is None
    fn = power_sum if builtin else load_target(options.target)
    if options.args_expr is not None:
        args = eval_args(options.args_expr)
    else:
        args = example_args() if builtin else default_args(fn)
    try:
        inspect.signature(fn).bind(*args)
    except TypeError as exc:
        raise UsageError(f"the example arguments do not fit {fn.__name__}"
                         f"{inspect.signature(fn)}: {exc}") from None
    argnums = 0 if options.argnums is None else options.argnums

    names = list(inspect.signature(fn).parameters)
    nums, artifact = _compile(fn, args, argnums, options.mode)
    arg_text = ", ".join(f"{name}={_describe(v)}" for name, v in zip(names, args))
    sections = options.ir or builtin
    if options.ir:
        _heading(out, f"primal IR: {fn.__name__}({arg_text})")
        print(artifact.primal_ir, file=out)
        print(file=out)
        _heading(out, "derivative IR" if options.mode != "reverse" else "adjoint IR")
        print(artifact.ir, file=out)
        print(file=out)
    if sections:
        _heading(out, f"generated {'adjoint' if options.mode == 'reverse' else options.mode} "
                      "source")
    print(artifact.source.rstrip("\n"), file=out)
    if not builtin:
        return 0

    jit = not options.no_jit
    value, gradient = value_and_grad(fn, argnums=argnums, jit=jit)(*args)
    numeric = numerical_grad(fn, *args, argnums=argnums)
    if isinstance(argnums, int):
        grads, numerics = (gradient,), (numeric,)
    else:
        grads, numerics = gradient, numeric
    print(file=out)
    _heading(out, f"run ({'Numba' if jit else 'Python, no JIT'}): {fn.__name__}({arg_text})")
    with np.printoptions(precision=6, suppress=True, linewidth=88):
        print(f"value:    {value!r}", file=out)
        for k, g in zip(nums, grads):
            label = f"gradient wrt {names[k]}:"
            print(f"{label} {g!r}" if not isinstance(g, np.ndarray) else f"{label}\n{g}",
                  file=out)
    print(f"max relative difference from central differences: "
          f"{max_relative_difference(grads, numerics):.3g}", file=out)
    return 0


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
        return _show(options, sys.stdout)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (AutodiffSyntaxError, UnsupportedOperationError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
