"""Generated modules on disk: a content-addressed file per (source, options, version).

Writing the generated source to a real file lets tracebacks and pdb show its lines, and lets
Numba's `cache=True` reuse machine code across processes. The cache is code that will run, so:

- the directory is created private (0700); an existing one that another user owns, or that
  others may write, is refused (a forged file there would run as the user);
- a file whose content does not match what the compiler generates now (a corrupt or
  hand-edited entry) is rewritten, never trusted; files are written atomically (temporary file
  + rename), so processes sharing one cache never see half a file;
- a module is executed from the text just verified, compiled in memory: no `__pycache__/*.pyc`
  is read or written for it (a forged .pyc with a valid header would otherwise run);
- a location that cannot be used is an error naming the path and `set_cache_dir`; when the
  user set none, a private temporary directory is used instead, with one warning.
Numba's own files next to the modules are checked in numba_cache.py.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
import threading
import types
import warnings
from pathlib import Path

_cache_dir: Path | None = None  # set by set_cache_dir
_checked: Path | None = None  # the directory checked last, and found usable
_fallback: Path | None = None  # the private directory used when the default is unusable


class CacheDirectoryError(OSError):
    """The cache directory cannot be used safely (missing rights, another owner, shared)."""


def set_cache_dir(path) -> None:
    """Put the generated modules (and Numba's cache of them) under `path` from now on.

    The default is $XDG_CACHE_HOME/autodiff_compiler, else ~/.cache/autodiff_compiler.

    Parameters:
        path: a directory (str or Path; made when first needed).

    Returns:
        None.

    Example:
        >>> import tempfile
        >>> set_cache_dir(tempfile.mkdtemp())
    """
    global _cache_dir, _checked
    _cache_dir = Path(path)
    _checked = None


def cache_dir() -> Path:
    """The configured cache directory (not yet checked or created)."""
    if _cache_dir is not None:
        return _cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "autodiff_compiler"


def usable_cache_dir() -> Path:
    """The cache directory, created 0700 if missing and checked; see the module docstring."""
    global _checked, _fallback
    directory = cache_dir()
    if _checked == directory:
        return directory
    try:
        _prepare(directory)
    except CacheDirectoryError as exc:
        if _cache_dir is not None:
            raise
        if _fallback is None:
            _fallback = Path(tempfile.mkdtemp(prefix="autodiff_compiler_"))  # 0700
            warnings.warn(f"{exc}; using the private directory {_fallback} for this process",
                          RuntimeWarning, stacklevel=3)
        return _fallback
    _checked = directory
    return directory


def _prepare(directory: Path) -> None:
    hint = ("choose another with autodiff_compiler.set_cache_dir(path) "
            "or the XDG_CACHE_HOME variable")
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.stat(directory)
    except OSError as exc:
        raise CacheDirectoryError(f"cannot create the cache directory {directory} "
                                  f"({exc.strerror or exc}): {hint}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise CacheDirectoryError(f"the cache directory {directory} is not a directory: {hint}")
    problem = _unsafe(info)
    if problem:
        raise CacheDirectoryError(f"refusing the cache directory {directory}: it is {problem}, "
                                  f"and the files in it are run as code: {hint}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CacheDirectoryError(f"the cache directory {directory} is not writable: {hint}")


def _unsafe(info: os.stat_result) -> str:
    """Why a directory with this status may hold files that others wrote ('' when it may not)."""
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by other users (mode {stat.S_IMODE(info.st_mode):o})"
    return ""


def check_private(directory: Path) -> None:
    """Refuse a directory under the cache (Numba's __pycache__) that others may write."""
    try:
        info = os.stat(directory)
    except FileNotFoundError:
        return
    problem = _unsafe(info)
    if problem:
        raise CacheDirectoryError(f"refusing the cache directory {directory}: it is {problem}, "
                                  "and the files in it are run as code: remove it, or choose "
                                  "another cache with autodiff_compiler.set_cache_dir(path)")


def _runtime_digest() -> str:
    """A digest of the runtime modules generated code calls (runtime*.py, cuda_runtime.py).
    Numba compiles the helpers a generated function calls into that function's own machine
    code and caches it under the generated file alone, so a change of a helper must give the
    generated module another file (and cache entry), or the old helper keeps running."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.glob("*runtime*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_RUNTIME_DIGEST = _runtime_digest()


def module_key(source: str, version: str) -> str:
    """The cache key of a generated module: its source, the compiler's version (with the
    options that change the machine code) and the runtime helpers it may call."""
    return hashlib.sha256(f"{version}\0{_RUNTIME_DIGEST}\0{source}".encode()).hexdigest()[:20]


def write_module(source: str, name_hint: str, version: str) -> Path:
    """The path of a file holding exactly `source`, written if missing or different."""
    key = module_key(source, version)
    directory = usable_cache_dir()
    path = directory / f"{_safe(name_hint)}_{key}.py"
    try:
        if path.read_text() == source:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(source)
    os.replace(tmp, path)
    return path


_import_lock = threading.Lock()


GENERATED_PREFIX = "_autodiff_generated_"  # generated modules are named this plus the file's


def is_generated(filename: str) -> bool:
    """Whether `filename` is a generated module that import_module loaded."""
    stem = os.path.splitext(os.path.basename(filename))[0]
    module = sys.modules.get(GENERATED_PREFIX + stem)
    return module is not None and getattr(module, "__file__", None) == filename


def import_module(path: Path, source: str):
    """Execute `source` (the verified text of `path`) as a module named after the file.

    It is compiled here from the text in memory, so no bytecode file is trusted or written;
    the file name is kept for tracebacks, pdb and Numba's cache. Imports are serialised:
    another thread must not see a module still being executed."""
    name = GENERATED_PREFIX + path.stem
    with _import_lock:
        known = sys.modules.get(name)
        if known is not None and getattr(known, "__file__", None) == str(path):
            return known
        module = types.ModuleType(name)
        module.__file__ = str(path)
        sys.modules[name] = module
        try:
            code = compile(source, str(path), "exec", dont_inherit=True)
            exec(code, module.__dict__)  # noqa: S102 -- the verified generated module
        except BaseException:
            del sys.modules[name]
            raise
        return module


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40]
