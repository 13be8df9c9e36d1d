"""The generated-module cache: content-addressed files, rebuilt when corrupt, and Numba
failures reported with the generated file's path."""

import math

import numpy as np
import pytest

from autodiff_compiler import grad, set_cache_dir
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


@pytest.fixture(autouse=True)
def _restore_cache_dir(tmp_path_factory):
    yield
    set_cache_dir(tmp_path_factory.mktemp("adc_cache_restored"))
