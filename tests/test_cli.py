"""The command line: `python -m autodiff_compiler show [TARGET] [--ir] [--argnums] [--args]`.

Most tests call cli.main(argv) in-process (with --no-jit where the built-in example is run,
for speed); one runs Numba, one runs the module as a subprocess.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autodiff_compiler
from autodiff_compiler.cli import default_args, eval_args, main
from autodiff_compiler.examples import example_args, power_sum

REPO = Path(__file__).resolve().parent.parent

MODEL = '''\
import math

import numpy as np

from autodiff_compiler import grad


def loss(x: np.ndarray, n: int) -> float:
    s = 0.0
    for i in range(n):
        s += math.exp(x[i]) * x[i]
    return s


def two(a, b):
    return a * b + math.sin(a)


@grad(argnums=(0, 1), jit=False)
def wrapped(a: float, b: float):
    return a * b


def refused(x):
    s = 0.0
    try:
        s = x * 2.0
    except ZeroDivisionError:
        pass
    return s


def no_rule(x):
    y = x * 2.0
    return np.linalg.det(y)


NOT_A_FUNCTION = 3

if __name__ == "__main__":
    raise SystemExit("the module's main block must not run")
'''


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def section(out: str, title: str) -> str:
    """The text under the heading that contains `title`, up to the next heading."""
    parts = re.split(r"^==== (.*) ====$", out, flags=re.MULTILINE)
    for k in range(1, len(parts), 2):
        if title in parts[k]:
            return parts[k + 1]
    raise AssertionError(f"no heading with {title!r} in:\n{out}")


# --- help, version, no command ---------------------------------------------------------------

def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2
    assert "usage:" in out + err and "show" in out + err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert autodiff_compiler.__version__ in out


def test_show_help_documents_targets_arguments_and_examples(capsys):
    code, out, _ = run(capsys, "show", "--help")
    assert code == 0
    out = " ".join(out.split())  # argparse wraps lines to the terminal's width
    for text in ("PATH.py:FUNC", "package.module:FUNC", "--ir", "--argnums", "--args",
                 "--no-jit", "float -> 1.0", "int -> 3", "np.linspace(0.1, 1.0, 4)",
                 "power_sum", "examples:", "central differences"):
        assert text in out, text


def test_top_level_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "show" in out


def test_unknown_option_is_a_usage_error(capsys):
    code, _, err = run(capsys, "show", "--frobnicate")
    assert code == 2
    assert "usage:" in err


# --- the built-in example ------------------------------------------------------------------------

def _max_rel_diff(out: str) -> float:
    match = re.search(r"max relative difference from central differences: (\S+)", out)
    assert match, out
    return float(match.group(1))


def test_show_builtin_example_runs_and_checks_the_gradient(capsys):
    code, out, err = run(capsys, "show", "--no-jit")
    assert code == 0, err
    source = section(out, "generated adjoint source")
    assert "def power_sum_grad(x, n):" in source
    assert "primal IR" not in out and "func @" not in out  # no IR without --ir
    run_text = section(out, "run (")
    assert "no JIT" in out
    x, n = example_args()
    value = float(re.search(r"value:\s+(\S+)", run_text).group(1))
    assert value == pytest.approx(power_sum(x, n), rel=1e-12)
    assert "gradient wrt x" in run_text
    assert _max_rel_diff(out) < 1e-6


def test_show_builtin_example_gradient_values(capsys):
    code, out, _ = run(capsys, "show", "--no-jit")
    assert code == 0
    grad_text = section(out, "run (").split("gradient wrt x:", 1)[1].split("max relative")[0]
    printed = np.array([float(v) for v in grad_text.replace("[", " ").replace("]", " ").split()])
    x, n = example_args()
    expected = autodiff_compiler.grad(power_sum, jit=False)(x, n)
    np.testing.assert_allclose(printed, expected, rtol=1e-5, atol=1e-6)


def test_show_builtin_example_with_ir(capsys):
    code, out, err = run(capsys, "show", "--ir", "--no-jit")
    assert code == 0, err
    primal = section(out, "primal IR")
    adjoint = section(out, "adjoint IR")
    assert "func @power_sum(%x: f64[:], %n: i64)" in primal
    assert "func @power_sum_grad(" in adjoint
    assert "index_add" in adjoint  # the adjoint scatters into x_bar
    order = [out.index("primal IR"), out.index("adjoint IR"),
             out.index("generated adjoint source"), out.index("max relative difference")]
    assert order == sorted(order)


@pytest.mark.numba
def test_show_builtin_example_with_numba(capsys):
    code, out, err = run(capsys, "show")
    assert code == 0, err
    assert "(Numba)" in out
    assert "def power_sum_grad(x, n):" in out
    assert _max_rel_diff(out) < 1e-6


def test_builtin_example_with_other_args(capsys):
    code, out, err = run(capsys, "show", "--no-jit", "--args", "np.linspace(-2, 2, 6), 6")
    assert code == 0, err
    assert "x=array(6,)" in out and "n=6" in out
    assert _max_rel_diff(out) < 1e-6


def test_builtin_example_cannot_differentiate_wrt_n(capsys):
    code, _, err = run(capsys, "show", "--no-jit", "--argnums", "0,1")
    assert code == 2
    line = one_line_error(err)
    assert "'n'" in line


# --- PATH.py:FUNC targets --------------------------------------------------------------------------

def test_show_file_target_prints_only_the_source(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:loss")
    assert code == 0, err
    assert err == ""
    assert "====" not in out  # just the generated module: it can be redirected to a file
    assert "def loss_grad(x, n):" in out
    assert f"from {model}:" in out  # the generated module names where it came from
    compile(out, "generated.py", "exec")  # valid Python


def test_show_file_target_with_ir_uses_annotation_defaults(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:loss", "--ir")
    assert code == 0, err
    primal = section(out, "primal IR")
    # x: np.ndarray -> np.linspace(0.1, 1.0, 4), n: int -> 3
    assert "x=array(4,) of float64" in out and "n=3" in out
    assert "func @loss(%x: f64[:], %n: i64)" in primal
    assert "func @loss_grad(" in section(out, "adjoint IR")
    assert "def loss_grad(x, n):" in section(out, "generated adjoint source")


def test_show_file_target_with_args(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:loss", "--ir", "--args",
                         "np.linspace(-1, 1, 5), 5")
    assert code == 0, err
    assert "x=array(5,) of float64" in out and "n=5" in out


def test_show_relative_path_target(capsys, model, monkeypatch):
    monkeypatch.chdir(model.parent)
    code, out, err = run(capsys, "show", "model.py:loss")
    assert code == 0, err
    assert "def loss_grad(x, n):" in out


def test_unannotated_parameters_default_to_floats(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:two", "--ir")
    assert code == 0, err
    assert "a=1.0, b=1.0" in out
    assert "func @two(%a: f64, %b: f64)" in section(out, "primal IR")


def test_argnums_two_gradients(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:two", "--argnums", "0,1", "--ir")
    assert code == 0, err
    source = section(out, "generated adjoint source")
    namespace: dict = {}
    exec(compile(source, "generated.py", "exec"), namespace)  # noqa: S102 - generated code
    value, da, db = namespace["two_grad"](2.0, 3.0)
    assert value == pytest.approx(2.0 * 3.0 + np.sin(2.0))
    assert da == pytest.approx(3.0 + np.cos(2.0))
    assert db == pytest.approx(2.0)
    # the generated function keeps the user's parameter names
    assert "def two_grad(a, b):" in source


def test_argnums_single_vs_tuple(capsys, model):
    code, out, _ = run(capsys, "show", f"{model}:two", "--argnums", "1")
    assert code == 0
    namespace: dict = {}
    exec(compile(out, "generated.py", "exec"), namespace)  # noqa: S102 - generated code
    assert len(namespace["two_grad"](2.0, 3.0)) == 2  # value and one gradient


def test_wrapped_function_is_unwrapped(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:wrapped", "--argnums", "0,1")
    assert code == 0, err
    assert "_grad(" in out


def test_main_block_of_target_does_not_run(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:two")
    assert code == 0
    assert "must not run" not in err


# --- package.module:FUNC targets ---------------------------------------------------------------------

def test_show_module_target(capsys):
    code, out, err = run(capsys, "show", "autodiff_compiler.examples:power_sum", "--args",
                         "np.linspace(-1, 1, 5), 5")
    assert code == 0, err
    assert "def power_sum_grad(x, n):" in out
    assert "value:" not in out  # targets are only compiled, never run


def test_show_module_target_with_ir(capsys):
    code, out, err = run(capsys, "show", "autodiff_compiler.examples:power_sum", "--ir",
                         "--args", "np.ones(3), 3")
    assert code == 0, err
    assert "func @power_sum(" in section(out, "primal IR")
    assert "func @" in section(out, "adjoint IR")


# --- usage errors: exit 2, one line on stderr --------------------------------------------------------

def test_unknown_path(capsys, tmp_path):
    missing = tmp_path / "missing.py"
    code, out, err = run(capsys, "show", f"{missing}:f")
    assert code == 2
    assert out == ""
    line = one_line_error(err)
    assert str(missing) in line


def test_unknown_function_in_file(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:nope")
    assert code == 2
    line = one_line_error(err)
    assert "'nope'" in line and "loss" in line  # lists what is there


def test_unknown_module(capsys):
    code, _, err = run(capsys, "show", "no_such_package_xyz.mod:f")
    assert code == 2
    assert "no_such_package_xyz" in one_line_error(err)


def test_unknown_function_in_module(capsys):
    code, _, err = run(capsys, "show", "autodiff_compiler.examples:nope")
    assert code == 2
    assert "'nope'" in one_line_error(err)


def test_target_that_is_not_a_function(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:NOT_A_FUNCTION")
    assert code == 2
    assert "not a Python function" in one_line_error(err)


def test_target_without_function(capsys, model):
    code, _, err = run(capsys, "show", str(model))
    assert code == 2
    assert "PATH.py:FUNC" in one_line_error(err)


def test_file_that_fails_to_import(capsys, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import math\nraise RuntimeError('boom')\n")
    code, _, err = run(capsys, "show", f"{path}:f")
    assert code == 2
    line = one_line_error(err)
    assert "boom" in line


def test_file_with_python_syntax_error(capsys, tmp_path):
    path = tmp_path / "syntax.py"
    path.write_text("def f(x):\n    return x +\n")
    code, _, err = run(capsys, "show", f"{path}:f")
    assert code == 2
    assert "line 2" in one_line_error(err)


def test_bad_args_expression(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:two", "--args", "1.0, undefined_name")
    assert code == 2
    assert "--args" in one_line_error(err)


def test_args_namespace_has_only_numpy_and_math(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:two", "--args", "open('x'), 1.0")
    assert code == 2
    one_line_error(err)
    assert eval_args("math.pi, numpy.float64(2.0), np.ones(2)")[0] == pytest.approx(np.pi)


def test_wrong_number_of_args(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:two", "--args", "1.0")
    assert code == 2
    assert "two(a, b)" in one_line_error(err)


def test_argnums_out_of_range(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:two", "--argnums", "5")
    assert code == 2
    assert "out of range" in one_line_error(err)


def test_argnums_not_a_number(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:two", "--argnums", "first")
    assert code == 2
    assert "--argnums" in err


def test_differentiating_wrt_int_is_a_usage_error(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:loss", "--argnums", "1")
    assert code == 2
    assert "'n'" in one_line_error(err)


# --- refused by the compiler: exit 1, the located message ------------------------------------

def test_unsupported_syntax_exits_1_with_caret(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:refused")
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.rstrip("\n").splitlines()
    try_line = MODEL.splitlines().index("    try:") + 1
    assert lines[0].startswith(f"{model}:{try_line}:5: ")
    assert "'try'" in lines[0]
    assert lines[1].strip() == "try:"
    assert lines[2].strip() == "^"
    assert lines[2].index("^") == lines[1].index("try")


def test_operation_without_rule_exits_1(capsys, model):
    code, _, err = run(capsys, "show", f"{model}:no_rule")
    assert code == 1
    det_line = next(k + 1 for k, text in enumerate(MODEL.splitlines()) if "det(" in text)
    assert err.startswith(f"{model}:{det_line}:")
    assert "np.linalg.det" in err
    assert "^" in err and "Traceback" not in err


# --- example arguments from annotations --------------------------------------------------------

def test_default_args_from_annotations(tmp_path):
    path = tmp_path / "annotated.py"
    path.write_text(textwrap.dedent('''\
        from __future__ import annotations
        import numpy as np

        def f(a: float, n: int, x: np.ndarray, other, k=5, y: np.float64 = 2.0):
            return a
    '''))
    from autodiff_compiler.cli import load_target

    args = default_args(load_target(f"{path}:f"))
    assert args[:2] == (1.0, 3)
    np.testing.assert_array_equal(args[2], np.linspace(0.1, 1.0, 4))
    assert args[3:] == (1.0, 5, 1.0)


def test_default_args_with_real_annotations():
    def f(a: float, n: int, x: np.ndarray, b):
        return a

    args = default_args(f)
    assert args[0] == 1.0 and args[1] == 3 and args[3] == 1.0
    assert isinstance(args[0], float) and isinstance(args[1], int)
    np.testing.assert_array_equal(args[2], np.linspace(0.1, 1.0, 4))


# --- as a program ---------------------------------------------------------------------------------

def _env(tmp_path):
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def test_python_dash_m_show(tmp_path):
    result = subprocess.run([sys.executable, "-m", "autodiff_compiler", "show", "--no-jit"],
                            cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "def power_sum_grad(x, n):" in result.stdout
    assert _max_rel_diff(result.stdout) < 1e-6


def test_python_dash_m_without_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "autodiff_compiler"], cwd=REPO,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 2
    assert "usage:" in result.stdout + result.stderr


def test_max_relative_difference_is_relative_for_large_and_absolute_for_small_entries():
    from autodiff_compiler.cli import max_relative_difference

    assert max_relative_difference([np.array([0.0, 4.0])], [np.array([1e-5, 4.0])]) \
        == pytest.approx(1e-5)
    assert max_relative_difference([100.0], [101.0]) == pytest.approx(1 / 101)
    assert max_relative_difference([np.zeros(0)], [np.zeros(0)]) == 0.0


# --- the tape under the generated code, highlighting, guessed arguments ----------------------------

SHOWN = '''\
import math

import numpy as np


def horner(c: np.ndarray, x: float):
    s = 0.0
    for i in range(c.shape[0]):
        s = s * x + c[i]
    return s


def indexes(x, n):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def no_rule(x):
    return math.factorial(x)


def past_the_end(x: np.ndarray, n: int):
    s = 1.0
    for i in range(n + 5):
        s = s * x[i]
    return s
'''


@pytest.fixture
def shown(tmp_path):
    path = tmp_path / "shown.py"
    path.write_text(SHOWN)
    return path


def _line_of(text: str) -> int:
    return SHOWN.splitlines().index(text) + 1


def test_the_tape_is_listed_under_the_source_as_comments(capsys, shown):
    code, out, err = run(capsys, "show", f"{shown}:horner", "--argnums", "1")
    assert code == 0, err
    assert err == ""  # annotated: nothing guessed
    compile(out, "generated.py", "exec")  # still a valid module
    tape = out[out.index("# tape: what the reverse sweep stores"):]
    assert "for c=array(4,) of float64, x=1.0" in tape
    row = next(line for line in tape.splitlines() if line.startswith("#   tape_s"))
    loop = _line_of("    for i in range(c.shape[0]):")
    assert f"float64  per iteration (loop at line {loop})" in row
    assert row.split(")")[1].split()[0] == "32"  # 4 iterations of one float64
    assert "#   total 32 bytes taped per call" in tape


def test_show_states_the_bytes_whole_array_code_keeps_for_its_reverse_sweep(capsys, tmp_path):
    """No tape, but the reverse sweep reads y = exp(x) (80 bytes for 10 entries, an array
    the forward part made), not its view y.T (no bytes of its own)."""
    path = tmp_path / "whole.py"
    path.write_text("import numpy as np\n\n\ndef f(x):\n    y = np.exp(x)\n"
                    "    return np.sum(np.sin(y.T))\n")
    code, out, err = run(capsys, "show", f"{path}:f", "--args", "np.linspace(0, 1, 10)",
                         "--no-jit")
    assert code == 0, err
    tape = out[out.index("# tape: what the reverse sweep stores"):]
    assert "#   total 0 bytes taped per call" in tape
    held = next(line for line in tape.splitlines() if "the reverse sweep also reads" in line)
    count, names = held.split(" reads ")[1].split(" bytes of arrays computed before it: ")
    assert "y" in names.split(", ") and "transpose" not in names
    assert int(count.replace(",", "")) % 80 == 0  # whole arrays of 10 float64


def test_the_tape_section_of_the_builtin_example(capsys):
    code, out, err = run(capsys, "show", "--no-jit")
    assert code == 0, err
    assert section(out, "tape: what the reverse sweep stores").strip().startswith("none: ")


def test_forward_mode_has_no_tape(capsys, shown):
    code, out, _ = run(capsys, "show", f"{shown}:horner", "--argnums", "1", "--mode", "forward")
    assert code == 0
    assert "#   none: forward mode keeps no tape" in out


def test_hessian_mode_lists_the_tapes_of_the_gradient_code(capsys, shown):
    code, out, _ = run(capsys, "show", f"{shown}:horner", "--argnums", "1", "--mode", "hessian")
    assert code == 0
    assert "#   tape_s " in out and "#   tape_s_dot" in out


def test_tape_bytes_when_the_generated_code_fails_on_the_arguments(capsys, shown):
    code, out, _ = run(capsys, "show", f"{shown}:past_the_end")
    assert code == 0
    assert "bytes not measured: running the generated code on the example arguments raised " \
           "IndexError" in out
    # the bytes known before running are still stated (8 steps of one float64)
    assert "#   total 64 bytes taped per call, computed before running (tape_bytes)" in out


def test_guessed_arguments_are_named_on_stderr(capsys, model):
    code, out, err = run(capsys, "show", f"{model}:two")
    assert code == 0 and "def two_grad(a, b):" in out
    assert err == ("note: example arguments guessed (no --args, no annotation): a = 1.0, "
                   "b = 1.0; give --args to choose them\n")


def test_a_refusal_caused_by_a_guess_says_so_and_suggests_args(capsys, shown):
    code, out, err = run(capsys, "show", f"{shown}:indexes")
    assert code == 1 and out == ""
    lines = err.rstrip("\n").splitlines()
    assert lines[0].startswith(f"{shown}:{_line_of('    for i in range(n):')}:")
    assert "comes from the guessed example arguments (x = 1.0, n = 1.0" in lines[-1]
    assert 'with x = array(4,) of float64, n = 3 the function compiles' in lines[-1]
    assert '--args "np.linspace(0.1, 1.0, 4), 3"' in lines[-1]
    code, out, err = run(capsys, "show", f"{shown}:indexes", "--args",
                         "np.linspace(0.1, 1.0, 4), 3")
    assert code == 0, err


def test_a_refusal_that_no_guess_avoids(capsys, shown):
    code, _, err = run(capsys, "show", f"{shown}:no_rule")
    assert code == 1
    assert "'math.factorial' is not supported" in err
    assert err.rstrip().endswith("other guesses are refused too: if the function takes other "
                                 "types, give them with --args")


def test_refusals_of_annotated_or_given_arguments_have_no_note(capsys, shown):
    code, _, err = run(capsys, "show", f"{shown}:no_rule", "--args", "2.0")
    assert code == 1
    assert "note:" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _shown_on_a_terminal(monkeypatch, *argv) -> str:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(list(argv)) == 0
    return terminal.getvalue()


def test_code_is_highlighted_on_a_terminal(monkeypatch, shown):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out = _shown_on_a_terminal(monkeypatch, "show", f"{shown}:horner")
    assert "\x1b[" in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "def horner_grad(c, x):" in plain


def test_no_color_when_no_color_is_set_or_never(monkeypatch, shown):
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in _shown_on_a_terminal(monkeypatch, "show", f"{shown}:horner")
    monkeypatch.delenv("NO_COLOR")
    assert "\x1b[" not in _shown_on_a_terminal(monkeypatch, "show", f"{shown}:horner",
                                               "--color", "never")


def test_no_color_when_piped_unless_always(capsys, shown):
    code, out, _ = run(capsys, "show", f"{shown}:horner")
    assert code == 0 and "\x1b[" not in out
    code, out, _ = run(capsys, "show", f"{shown}:horner", "--color", "always")
    assert code == 0 and "\x1b[" in out
