"""The cache holds code that will run: it is private, refused when others may write it, read
from verified text only (no trusted .pyc, no unverified Numba pickle), rebuilt when corrupt,
and an unusable location is a clear error; processes sharing one cache agree."""

import builtins
import importlib.util
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import autodiff_compiler
from autodiff_compiler import grad, set_cache_dir
from autodiff_compiler.backend import cache
from autodiff_compiler.backend.cache import CacheDirectoryError

REPO = Path(__file__).resolve().parent.parent


def cubic(x):
    return x * x * x + 2.0 * x


def test_a_new_cache_directory_is_private(tmp_path):
    directory = tmp_path / "a" / "b" / "cache"
    set_cache_dir(directory)
    assert grad(cubic, jit=False)(2.0) == 14.0
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_a_directory_others_may_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    set_cache_dir(shared)
    with pytest.raises(CacheDirectoryError, match=r"writable by other users.*set_cache_dir") as info:
        grad(cubic, jit=False)(2.0)
    assert str(shared) in str(info.value)


def test_a_directory_of_another_user_is_refused(tmp_path, monkeypatch):
    set_cache_dir(tmp_path / "theirs")
    (tmp_path / "theirs").mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(tmp_path).st_uid + 1)
    with pytest.raises(CacheDirectoryError, match="owned by another user"):
        grad(cubic, jit=False)(2.0)


def test_a_location_under_a_file_names_the_path_and_set_cache_dir(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    set_cache_dir(tmp_path / "file" / "cache")
    with pytest.raises(CacheDirectoryError, match="set_cache_dir") as info:
        grad(cubic, jit=False)(2.0)
    assert str(tmp_path / "file" / "cache") in str(info.value)


def test_an_unusable_default_location_falls_back_with_one_warning(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setattr(cache, "_cache_dir", None)
    monkeypatch.setattr(cache, "_checked", None)
    monkeypatch.setattr(cache, "_fallback", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert grad(cubic, jit=False)(2.0) == 14.0
        assert grad(lambda_free_square, jit=False)(3.0) == 6.0
    assert len(caught) == 1 and "set_cache_dir" in str(caught[0].message)
    fallback = cache._fallback
    assert stat.S_IMODE(os.stat(fallback).st_mode) == 0o700
    assert any(fallback.iterdir())


def lambda_free_square(x):
    return x * x


def _forge_pyc(path: Path, forged_source: str) -> Path:
    """A bytecode file the standard loader would accept for `path` (matching mtime and size)."""
    code = compile(forged_source, str(path), "exec")
    info = os.stat(path)
    data = importlib._bootstrap_external._code_to_timestamp_pyc(code, info.st_mtime, info.st_size)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(data)
    return pyc


def test_a_forged_pyc_beside_a_generated_module_is_not_run(tmp_path):
    set_cache_dir(tmp_path)
    artifact = grad(cubic, jit=False).lower(2.0)
    forged = artifact.source.replace("return", "return 0.0 *", 1)
    _forge_pyc(artifact.path, forged)
    sys.modules.pop(f"_autodiff_generated_{artifact.path.stem}", None)
    assert grad(cubic, jit=False)(2.0) == 14.0
    assert not any(p.suffix == ".pyc" and "forged" in p.name for p in tmp_path.rglob("*"))


def _numba_files(directory: Path, suffix: str) -> list[Path]:
    return sorted((directory / "__pycache__").glob(f"*{suffix}"))


def _fresh_call(fn, x):
    """A new gradient object (a new Numba dispatcher) that reads the cache from disk."""
    return grad(fn, jit=True)(x)


def numba_target(x):
    return np.sum(x * x * x)


@pytest.mark.numba
def test_corrupt_and_forged_numba_cache_files_are_rebuilt_not_unpickled(tmp_path):
    set_cache_dir(tmp_path)
    x = np.linspace(0.5, 1.5, 4)
    expected = 3.0 * x * x
    np.testing.assert_allclose(_fresh_call(numba_target, x), expected)
    index, = _numba_files(tmp_path, ".nbi")
    data, = _numba_files(tmp_path, ".nbc")
    assert stat.S_IMODE(os.stat(index.parent).st_mode) == 0o700

    data.write_bytes(b"corrupt")
    np.testing.assert_allclose(_fresh_call(numba_target, x), expected)
    index.write_bytes(b"\x80\x04corrupt")
    np.testing.assert_allclose(_fresh_call(numba_target, x), expected)

    class Forged:
        def __reduce__(self):
            return (exec, ("import builtins; builtins._adc_forged_index_ran = True",))

    import numba
    index.write_bytes(pickle.dumps(numba.__version__) + pickle.dumps(Forged()))
    np.testing.assert_allclose(_fresh_call(numba_target, x), expected)
    assert not hasattr(builtins, "_adc_forged_index_ran")
    np.testing.assert_allclose(_fresh_call(numba_target, x), expected)  # rebuilt entry loads


_WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    import autodiff_compiler as adc
    adc.set_cache_dir(sys.argv[1])
    jit = sys.argv[2] == "jit"

    def f(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += np.sin(x[i]) * x[i]
        return s

    x = np.linspace(0.1, 1.0, 5)
    g = adc.grad(f, jit=jit)(x)
    assert np.allclose(g, np.cos(x) * x + np.sin(x)), g
    print("ok")
""")


def _four_processes(tmp_path, mode):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    shared = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [subprocess.Popen([sys.executable, str(script), str(shared), mode], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    results = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0] * 4, results
    assert all(out.strip() == "ok" for out, _ in results)


def test_four_processes_compiling_into_one_empty_cache_agree(tmp_path):
    _four_processes(tmp_path, "nojit")


@pytest.mark.numba
def test_four_processes_compiling_with_numba_into_one_empty_cache_agree(tmp_path):
    _four_processes(tmp_path, "jit")


@pytest.fixture(autouse=True)
def _restore_cache_dir(tmp_path_factory):
    yield
    set_cache_dir(tmp_path_factory.mktemp("adc_cache_restored"))


assert autodiff_compiler  # the package under test is the worktree's
