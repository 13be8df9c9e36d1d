"""Shared by the refusal tests (test_errors_at_decoration.py, test_errors_at_call.py,
test_errors_arguments_and_globals.py): where a refusal must point (the line of the test file
marked `# E:<name>`), the record of the side effects of the user's code, and the user's code
and inputs more than one of those files uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CALLS: list = []  # side effects of user code: must stay empty


class Markers:
    """The `# E:<name>` markers of one test file: each file passes its own __file__, and
    looks its markers up in its own lines."""

    def __init__(self, file: str):
        self.file = Path(file).resolve()
        self.lines = self.file.read_text().splitlines()

    def marker_line(self, name: str) -> int:
        """1-based line of the unique line that ends with `# E:<name>`."""
        hits = [k + 1 for k, text in enumerate(self.lines)
                if text.rstrip().endswith(f"# E:{name}")]
        assert len(hits) == 1, f"marker E:{name} found on lines {hits}"
        return hits[0]

    def assert_points_at(self, err, name: str, token: str | None = None) -> None:
        """str(err) is 'FILE:LINE:COL: message', the line, and a caret under `token`."""
        line = self.marker_line(name)
        text = str(err)
        lines = text.splitlines()
        assert len(lines) == 3, text
        head, shown, caret = lines
        where = f"{self.file}:{line}:"
        assert head.startswith(where), f"expected {where} in:\n{text}"
        assert self.file.name in head
        assert shown.rstrip().endswith(f"# E:{name}"), text
        assert caret.strip() == "^", text
        original = self.lines[line - 1].rstrip()
        assert shown.endswith(original), text
        prefix = len(shown) - len(original)  # the indentation the message adds
        col = len(caret) - 1 - prefix  # 0-based column of the caret in the file's line
        assert 0 <= col < len(original) and original[col] != " ", \
            f"caret points at nothing:\n{text}"
        col_field = int(head[len(where):].split(":", 1)[0])
        assert col_field == col + 1, f"column {col_field} does not match the caret:\n{text}"
        if token is not None:
            assert original[col:].startswith(token), \
                f"caret should be under {token!r}, is under {original[col:col + 20]!r}:\n{text}"


@pytest.fixture(autouse=True)
def _no_side_effects():
    CALLS.clear()
    yield
    CALLS.clear()


def _two_args(a, b):
    return a * b


def X():
    return np.linspace(0.1, 1.0, 4)
