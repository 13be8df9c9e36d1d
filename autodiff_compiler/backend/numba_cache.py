"""Numba's on-disk cache of generated functions, loaded only when it is the one we wrote.

Numba keeps, next to a module, an index (`.nbi`) and data files (`.nbc`) that it unpickles:
a corrupt file raises on every later call, and a forged one runs code. Each time Numba saves
an entry we record the SHA-256 digests of the function's index and data files in a sidecar
(`.nbi.sha256`); before Numba reads them, the files must match that record, else they are
removed and the function compiled again (then saved and recorded afresh). An entry that still
fails to load is removed the same way. The directory itself must be private (cache.py):
whoever can write it can also write the record.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from numba.core.caching import FunctionCache

from .cache import check_private


class VerifiedCache(FunctionCache):
    """A FunctionCache that loads only files whose digests it recorded when saving them."""

    def __init__(self, py_func):
        beside = Path(py_func.__code__.co_filename).parent / "__pycache__"
        os.makedirs(beside, mode=0o700, exist_ok=True)  # before Numba makes it 0755
        super().__init__(py_func)
        check_private(Path(self._cache_path))

    def load_overload(self, sig, target_context):
        if not self._matches_record():
            self._discard()
            return None
        try:
            return super().load_overload(sig, target_context)
        except Exception:  # noqa: BLE001 -- any failure to read our own entry: rebuild
            self._discard()
            return None

    def save_overload(self, sig, data):
        super().save_overload(sig, data)
        self._record()

    # --- the files of this function and their record ---------------------------------------

    def _files(self) -> list[Path]:
        index = Path(self._cache_file._index_path)
        stem = index.name[:-len(".nbi")]
        found = [index] if index.exists() else []
        try:
            names = sorted(os.listdir(index.parent))
        except OSError:
            names = []
        found += [index.parent / n for n in names
                  if n.startswith(stem + ".") and n.endswith(".nbc")]
        return found

    def _record_path(self) -> Path:
        return Path(self._cache_file._index_path + ".sha256")

    def _digests(self) -> dict:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in self._files()}

    def _matches_record(self) -> bool:
        try:
            digests = self._digests()
        except OSError:
            return False
        if not digests:
            return True  # nothing for Numba to read
        try:
            recorded = json.loads(self._record_path().read_text())
        except (OSError, ValueError):
            return False
        return recorded == digests

    def _record(self) -> None:
        path = self._record_path()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self._digests(), sort_keys=True))
            os.replace(tmp, path)
        except OSError:
            pass  # unrecorded files are rebuilt next time, never trusted

    def _discard(self) -> None:
        for path in [*self._files(), self._record_path()]:
            try:
                path.unlink()
            except OSError:
                pass
