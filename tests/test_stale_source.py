"""A function whose file was edited after it was defined is refused: its instruction stream
(opcodes, names, constants, in order) is compared with the file's text compiled again, so an
edit that keeps every name and operator but reorders them is caught; functions that are
methods, closures, nested or decorated still compile."""

import functools
import importlib.util
import linecache
import math
import sys

import numpy as np
import pytest

from autodiff_compiler import grad
from autodiff_compiler.frontend.source import parse_function


def _import_file(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _define_then_edit(tmp_path, monkeypatch, before, after, name="f"):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path = tmp_path / "edited.py"
    path.write_text(before)
    old = getattr(_import_file(path), name)
    path.write_text(after)
    linecache.checkcache(str(path))
    return old


@pytest.mark.parametrize("before, after", [
    ("x - y * 2.0", "y - x * 2.0"),
    ("x * x + y", "y * y + x"),
    ("x / y", "y / x"),
    ("x - y", "y - x"),
    ("x ** y", "y ** x"),
])
def test_an_edit_that_reorders_names_is_refused(tmp_path, monkeypatch, before, after):
    old = _define_then_edit(tmp_path, monkeypatch, f"def f(x, y):\n    return {before}\n",
                            f"def f(x, y):\n    return {after}\n")
    with pytest.raises(TypeError, match="changed after it was defined"):
        grad(old, jit=False)(2.0, 3.0)


@pytest.mark.parametrize("before, after", [
    ("if x > y:\n        return x\n    return y", "if x > y:\n        return y\n    return x"),
    ("s = x\n    for i in range(3):\n        s = s * y\n    return s",
     "s = y\n    for i in range(3):\n        s = s * x\n    return s"),
    ("return np.sin(x) * np.cos(y)", "return np.cos(x) * np.sin(y)"),
    ("return x * 2.0 + y * 3.0", "return x * 3.0 + y * 2.0"),
])
def test_edits_of_control_flow_and_calls_are_refused(tmp_path, monkeypatch, before, after):
    head = "import numpy as np\n\n\ndef f(x, y):\n    "
    old = _define_then_edit(tmp_path, monkeypatch, head + before + "\n", head + after + "\n")
    with pytest.raises(TypeError, match="changed after it was defined"):
        parse_function(old)


def test_an_edit_inside_a_nested_function_is_refused(tmp_path, monkeypatch):
    text = "def f(x, y):\n    def g(a, b):\n        return {}\n    return g(x, y)\n"
    old = _define_then_edit(tmp_path, monkeypatch, text.format("a - b"), text.format("b - a"))
    with pytest.raises(TypeError, match="changed after it was defined"):
        parse_function(old)


def test_an_unchanged_file_with_other_functions_edited_is_accepted(tmp_path, monkeypatch):
    text = "import math\n\n\ndef f(x):\n    return math.sin(x) * x\n\n\ndef h(x):\n    return {}\n"
    old = _define_then_edit(tmp_path, monkeypatch, text.format("x"), text.format("x * 2.0"))
    assert grad(old, jit=False)(0.5) == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5))


class Model:
    def __init__(self):
        self.__scale = 2.0

    def energy(self, x):
        return self.__scale * x * x + super().__hash__() * 0.0

    @staticmethod
    def square(x):
        return x * x


def test_methods_with_private_names_and_super_are_not_refused():
    assert parse_function(Model.energy).node.name == "energy"
    assert parse_function(Model.square).node.name == "square"
    assert grad(Model.square, jit=False)(3.0) == 6.0


def _make_closure(scale, table):
    offset = 1.5

    def inner(x):
        return (x * scale + offset) * np.sum(table) + math.sin(x)
    return inner


def _make_nested(scale):
    def outer(x):
        def helper(y):
            return y * scale + x

        return helper(x) * scale
    return outer


def test_closures_and_nested_functions_are_not_refused():
    assert parse_function(_make_nested(2.0)).node.name == "outer"
    f = _make_closure(3.0, np.ones(4))
    x = 0.7
    expected = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
    assert grad(f, jit=False)(x) == pytest.approx(expected, rel=1e-6)


def _trace(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)
    return wrapper


def _identity(fn):
    return fn


@_identity
def decorated(x):
    return x * x * 3.0


def test_decorated_functions_are_not_refused():
    assert grad(decorated, jit=False)(2.0) == 12.0
    assert parse_function(_trace(decorated).__wrapped__).node.name == "decorated"


def _make_looping_nested(scale, n):
    def outer(x):
        s = x
        for i in range(n):
            def helper(y):
                return y * scale + x

            if s > 0.0:
                s = helper(s)
        return s
    return outer


def test_jumps_after_a_closure_that_captures_outer_variables_compare():
    assert parse_function(_make_looping_nested(2.0, 3)).node.name == "outer"
