"""The generated-module cache: content-addressed files, rebuilt when corrupt, and Numba
failures reported with the generated file's path."""

import importlib.util
import linecache
import math
import sys

import numpy as np
import pytest

from autodiff_compiler import grad, set_cache_dir, value_and_grad
from autodiff_compiler.backend import cache


def smooth(x, n):
    s = 0.0
    for i in range(n):
        s += math.sin(x[i]) * x[i]
    return s


def test_generated_module_lives_in_the_cache_directory(tmp_path):
    set_cache_dir(tmp_path)
    artifact = grad(smooth, jit=False).lower(np.ones(3), 3)
    assert artifact.path.parent == tmp_path
    assert artifact.path.read_text() == artifact.source


def test_a_corrupt_cache_file_is_rewritten_not_trusted(tmp_path):
    set_cache_dir(tmp_path)
    x = np.linspace(0.1, 1.0, 4)
    expected = grad(smooth, jit=False)(x, 4)
    path = grad(smooth, jit=False).lower(x, 4).path
    path.write_text("def smooth_grad(x, n):\n    return (0.0, x * 0.0)\n")  # tampered
    fresh = grad(smooth, jit=False)  # a new function object: it looks the file up again
    np.testing.assert_array_equal(fresh(x, 4), expected)
    assert path.read_text() == fresh.source


def test_the_key_depends_on_source_and_version():
    assert cache.module_key("a", "1") != cache.module_key("b", "1")
    assert cache.module_key("a", "1") != cache.module_key("a", "2")
    assert cache.module_key("a", "1") == cache.module_key("a", "1")


def test_the_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "_cache_dir", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "autodiff_compiler"


def _import_file(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("edited", ["x * x * x", "x * 3.0", "x - x * x", "(x + 1.0) * x"])
def test_a_function_whose_file_was_edited_is_refused_until_reloaded(tmp_path, monkeypatch,
                                                                    edited):
    """inspect reads the file as it is now; the function object runs the code it was defined
    with: a derivative of the edited text would not be the function's."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no .pyc of the first version
    path = tmp_path / "edited.py"
    path.write_text("def f(x):\n    return x + x * x\n")
    old = _import_file(path).f
    assert grad(old, jit=False)(2.0) == 5.0
    path.write_text(f"def f(x):\n    return {edited}\n")
    linecache.checkcache(str(path))
    with pytest.raises(TypeError, match="changed after it was defined"):
        grad(old, jit=False)(2.0)
    new = _import_file(path).f  # defined again from the edited file
    value, gradient = value_and_grad(new, jit=False)(2.0)
    assert value == new(2.0)
    assert gradient == pytest.approx((new(2.0 + 1e-6) - new(2.0 - 1e-6)) / 2e-6)


def test_a_function_defined_twice_gets_the_second_definition():
    def twice(x):
        return x * 2.0

    first = grad(twice, jit=False)(1.0)

    def twice(x):
        return x * 3.0

    assert (first, grad(twice, jit=False)(1.0)) == (2.0, 3.0)


@pytest.fixture(autouse=True)
def _restore_cache_dir(tmp_path_factory):
    yield
    set_cache_dir(tmp_path_factory.mktemp("adc_cache_restored"))


def test_the_module_key_changes_with_the_runtime_helpers(monkeypatch):
    # Numba caches a generated function with the helpers it calls compiled in: a changed
    # runtime.py must give the generated module another file, or the old helper would run
    before = cache.module_key("a", "1")
    monkeypatch.setattr(cache, "_RUNTIME_DIGEST", "another runtime")
    assert cache.module_key("a", "1") != before
    assert len(cache._runtime_digest()) == 16
