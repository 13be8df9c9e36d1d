"""docs/numpy.md names every NumPy function the frontend resolves (and nothing it does not).

The supported functions are read from the frontend's tables (frontend/resolve.py) by object
identity, over the public names of numpy and numpy.linalg, so an alias (np.amax, np.concat)
counts as the name a user writes. Types (np.float64) are conversions, listed apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from autodiff_compiler.frontend import resolve

TABLE = Path(__file__).resolve().parents[1] / "docs" / "numpy.md"


def supported_numpy_functions() -> set[str]:
    known = set()
    for table in (resolve._FUNCTION_PRIMS, resolve._CREATORS, resolve._ARRAY_FUNCTIONS,
                  resolve._BUILTINS):
        known.update(table)
    names = set()
    for prefix, module in (("np", np), ("np.linalg", np.linalg)):
        for name in dir(module):
            obj = getattr(module, name)
            try:
                if obj in known and callable(obj) and not isinstance(obj, type):
                    names.add(f"{prefix}.{name}")
            except TypeError:  # unhashable
                pass
    return names


def test_table_names_every_supported_function():
    listed = set(re.findall(r"`(np(?:\.linalg)?\.[a-z_0-9]+)`", TABLE.read_text()))
    supported = supported_numpy_functions()
    missing = supported - listed
    assert not missing, f"docs/numpy.md does not list {sorted(missing)}"


def test_table_lists_only_supported_functions():
    text = TABLE.read_text()
    supported_part = text.split("## Types")[0]
    listed = set(re.findall(r"`(np(?:\.linalg)?\.[a-z_0-9]+)`", supported_part))
    extra = listed - supported_numpy_functions()
    assert not extra, f"docs/numpy.md lists unsupported {sorted(extra)}"
