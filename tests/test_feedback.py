"""What the user sees besides results: tracebacks without the compiler's frames, `lower`
compiling for real with its times, the `autodiff_compiler` logger, and the tape report.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import numpy as np
import pytest

import autodiff_compiler
from autodiff_compiler import (
    AutodiffSyntaxError,
    GradientInputError,
    UnsupportedOperationError,
    grad,
    jacfwd,
    value_and_grad,
)
from autodiff_compiler.backend import jit as backend_jit

PACKAGE = str(Path(autodiff_compiler.__file__).resolve().parent) + os.sep
REPO = Path(__file__).resolve().parent.parent


def uses_try(x):
    try:
        y = x * 2.0
    except ValueError:
        y = 0.0
    return y


def uses_eigvals(x):
    return np.sum(np.linalg.eigvals(x * np.eye(2))) * x


def scale(x, n):
    return x * n


def reads_past_the_end(x, n):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def frames(exc: BaseException) -> list[str]:
    return [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]


def internal(files: list[str]) -> list[str]:
    return [f for f in files if f.startswith(PACKAGE)]


# --- tracebacks --------------------------------------------------------------------------------

def test_a_refused_construct_shows_the_users_frame_and_caret_only():
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(uses_try)
    files = frames(info.value)
    assert files == [__file__]  # this test's frame: where grad was called
    shown = "".join(traceback.format_exception_only(type(info.value), info.value))
    assert f'File "{__file__}", line {uses_try.__code__.co_firstlineno + 1}' in shown
    assert "    try:\n" in shown and "^" in shown
    assert "frames are hidden; autodiff_compiler.config.show_internal_frames = True" in \
        "".join(traceback.format_exception(info.value))


def test_a_call_without_a_rule_is_reported_at_the_call():
    with pytest.raises(UnsupportedOperationError) as info:
        grad(uses_eigvals)(2.0)
    assert internal(frames(info.value)) == []
    assert "np.linalg.eigvals" in str(info.value) and "^" in str(info.value)
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_argument_errors_have_no_internal_frames():
    with pytest.raises(GradientInputError) as info:
        grad(scale, argnums=1)(2.0, 3)
    assert internal(frames(info.value)) == []
    with pytest.raises(GradientInputError) as info:
        jacfwd(scale, argnums=1)(2.0, 3)
    assert internal(frames(info.value)) == []


def test_an_error_in_the_generated_code_shows_its_line():
    with pytest.raises(IndexError) as info:
        grad(reads_past_the_end, jit=False)(np.ones(2), 5)
    files = frames(info.value)
    assert internal(files) == []
    assert files[0] == __file__ and "reads_past_the_end_grad" in files[-1]  # generated module


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.numba)])
def test_errors_of_calls_on_the_fast_path_have_no_internal_frames(jit):
    g = grad(reads_past_the_end, jit=jit, boundscheck=True)
    g(np.ones(3), 3)
    g(np.ones(3), 3)  # now called through its dispatcher, or a Plan (calls.py)
    assert g._direct if jit else g._plans
    with pytest.raises(IndexError) as info:  # raised in the generated code
        g(np.ones(2), 5)
    assert internal(frames(info.value)) == [] and frames(info.value)[0] == __file__
    with pytest.raises(GradientInputError) as info:
        g("x", 3)
    assert frames(info.value) == [__file__]


def test_show_internal_frames_switches_filtering_off(monkeypatch):
    monkeypatch.setattr(autodiff_compiler.config, "show_internal_frames", True)
    with pytest.raises(AutodiffSyntaxError) as info:
        grad(uses_try)
    assert len(internal(frames(info.value))) > 3
    assert "frames are hidden" not in "".join(traceback.format_exception(info.value))


def test_a_bug_inside_the_compiler_keeps_its_frames(monkeypatch):
    from autodiff_compiler import specialize

    # a TypeError raised by a builtin called from specialize.py: innermost frame internal
    monkeypatch.setattr(specialize, "compile", {}.__getitem__)
    with pytest.raises(TypeError) as info:
        grad(scale)(2.0, 3)
    assert not isinstance(info.value, GradientInputError)
    assert internal(frames(info.value))


def test_a_refusal_as_a_program_prints_a_short_traceback(tmp_path):
    script = tmp_path / "model.py"
    script.write_text(textwrap.dedent('''\
        from autodiff_compiler import grad


        def f(x):
            with open("data") as handle:
                return x
    
    
        df = grad(f)
    '''))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1
    err = result.stderr
    assert PACKAGE not in err, err
    assert f'File "{script}", line 9, in <module>' in err
    assert f'File "{script}", line 5' in err and "with open" in err and "^" in err
    assert len(err.splitlines()) <= 10, err


# --- lower: the transform and Numba, without running -----------------------------------------

def cubic_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i] * x[i]
    return s


def test_lower_without_jit_gives_source_ir_and_times():
    g = grad(cubic_sum, jit=False)
    lowered = g.lower(np.ones(3))
    assert "def cubic_sum_grad(x):" in lowered.source
    assert "func @cubic_sum_grad" in lowered.ir and "func @cubic_sum" in lowered.primal_ir
    assert lowered.transform_time > 0.0 and lowered.compile_time == 0.0
    assert Path(lowered.path).read_text() == lowered.source
    assert g.source == lowered.source  # the specialisation calls use
    np.testing.assert_allclose(g(np.array([1.0, 2.0])), [3.0, 12.0])
    assert "Lowered cubic_sum_grad" in repr(lowered)


def geometric(x, r):
    s = 0.0
    for i in range(x.shape[0]):
        s = s * r + x[i]
    return s


@pytest.mark.numba
def test_lower_compiles_with_numba_and_calls_reuse_it(caplog):
    caplog.set_level(logging.INFO, logger="autodiff_compiler")
    g = value_and_grad(geometric, argnums=(0, 1))
    lowered = g.lower(np.ones(4), 0.5)
    assert lowered.compile_time > 0.0
    messages = [r.getMessage() for r in caplog.records if r.name == "autodiff_compiler"]
    assert any("geometric: grad code for (f64[:], f64) generated in" in m for m in messages)
    assert sum("compiled by Numba" in m for m in messages) == 1
    value, (gx, gr) = g(np.array([1.0, 2.0, 3.0]), 0.5)
    assert value == pytest.approx(4.25) and gr == pytest.approx(3.0)
    np.testing.assert_allclose(gx, [0.25, 0.5, 1.0])
    messages = [r.getMessage() for r in caplog.records if r.name == "autodiff_compiler"]
    assert sum("compiled by Numba" in m for m in messages) == 1  # the call compiled nothing
    assert lowered.artifact.compiled.compile_time == pytest.approx(lowered.compile_time)


def forward_target(x, y):
    return math.sin(x) * y


@pytest.mark.numba
def test_lower_in_forward_mode_compiles_the_tangent_code():
    g = grad(forward_target, argnums=(0, 1), mode="forward")
    lowered = g.lower(0.5, 2.0)
    assert "forward_target_jvp" in lowered.source
    assert g(0.5, 2.0) == pytest.approx((2.0 * math.cos(0.5), math.sin(0.5)))


def slow_one(x):
    return x * 3.0 + 1.0


def slow_two(x):
    return x * 4.0 - 1.0


@pytest.mark.numba
def test_a_slow_compile_is_reported_once_at_warning(caplog, monkeypatch):
    monkeypatch.setattr(backend_jit, "SLOW_COMPILE", 0.0)
    monkeypatch.setattr(backend_jit, "_warned_slow", False)
    caplog.set_level(logging.INFO, logger="autodiff_compiler")
    assert grad(slow_one)(1.0) == 3.0
    assert grad(slow_two)(1.0) == 4.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Numba took" in warnings[0].getMessage() and "once" in warnings[0].getMessage()


# --- the tape report ------------------------------------------------------------------------------

def rk_loop(y0, k, n):
    y = y0
    for step in range(n):
        y = y + 0.1 * math.sin(k * y)
    return y


def writes_after_reading(x):
    y = x * 2.0
    z = np.sum(y * y)
    y[0] = 5.0
    return z + np.sum(y)


def test_tape_rows_per_iteration_with_bytes():
    report = grad(rk_loop, argnums=(0, 1), jit=False).lower(0.5, 1.0, 50).tape()
    assert report.nbytes == 50 * 8
    (row,) = report.rows
    assert (row.name, row.value, row.dtype, row.kept) == ("tape_y", "y", "float64",
                                                          "per iteration")
    assert row.loop_line == rk_loop.__code__.co_firstlineno + 2
    text = str(report)
    assert "per iteration (loop at line" in text and "total 400 bytes" in text


def test_checkpointed_tapes_list_the_segment_states():
    plain = grad(rk_loop, jit=False).lower(0.5, 1.0, 400).tape()
    checkpointed = grad(rk_loop, jit=False, checkpoint="sqrt").lower(0.5, 1.0, 400).tape()
    assert any(r.kept == "per segment" for r in checkpointed.rows)
    assert checkpointed.nbytes < plain.nbytes / 5


def test_copies_taken_once_are_listed():
    report = grad(writes_after_reading, jit=False).lower(np.ones(5)).tape()
    (row,) = report.rows
    assert row.kept == "once" and row.value == "copy of y" and row.nbytes == 40
    assert row.text == "z = np.sum(y * y)"


def test_no_tape():
    report = grad(slow_one, jit=False).lower(1.0).tape()
    assert report.rows == [] and report.nbytes == 0
    assert str(report).startswith("none: ")
