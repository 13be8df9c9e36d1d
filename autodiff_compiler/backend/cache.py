"""Generated modules on disk: a content-addressed file per (source, options, version).

Writing the generated source to a real file lets tracebacks and pdb show its lines, and lets
Numba's `cache=True` reuse machine code across processes. A file whose content does not match
what the compiler generates now (a corrupt or hand-edited cache entry) is rewritten, never
trusted. Files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

_cache_dir: Path | None = None


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
    global _cache_dir
    _cache_dir = Path(path)


def cache_dir() -> Path:
    if _cache_dir is not None:
        return _cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "autodiff_compiler"


def module_key(source: str, version: str) -> str:
    return hashlib.sha256(f"{version}\0{source}".encode()).hexdigest()[:20]


def write_module(source: str, name_hint: str, version: str) -> Path:
    key = module_key(source, version)
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
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


def import_module(path: Path):
    name = f"_autodiff_generated_{path.stem}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40]
