"""Errors raised before any generated code runs.

Every refusal points at the user's source: file, line, column, the line itself and a caret,
so that an unsupported construct is reported where it is written, never turned into a wrong
derivative.
"""

from __future__ import annotations


class SourceLocation:
    """A position in the user's file (1-based line, 0-based column) with the line's text."""

    __slots__ = ("col", "filename", "line", "text")

    def __init__(self, filename: str, line: int, col: int, text: str):
        self.filename = filename
        self.line = line
        self.col = col
        self.text = text

    def __repr__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}"

    def render(self, message: str) -> str:
        caret = " " * self.col + "^"
        return f"{self.filename}:{self.line}:{self.col + 1}: {message}\n    {self.text}\n    {caret}"


class AutodiffSyntaxError(SyntaxError):
    """Syntax that autodiff_compiler does not differentiate (try, with, lambda, ...)."""

    def __init__(self, message: str, loc: SourceLocation | None):
        self.message = message
        self.loc = loc
        if loc is None:
            super().__init__(message)
        else:
            super().__init__(message, (loc.filename, loc.line, loc.col + 1, loc.text + "\n"))

    def __str__(self) -> str:
        return self.loc.render(self.message) if self.loc else self.message


class UnsupportedOperationError(TypeError):
    """A call or operation with no derivative rule, or used on types it does not support."""

    def __init__(self, message: str, loc: SourceLocation | None = None):
        self.message = message
        self.loc = loc
        super().__init__(message)

    def __str__(self) -> str:
        return self.loc.render(self.message) if self.loc else self.message


class GradientInputError(TypeError):
    """Arguments that cannot be differentiated (an int w.r.t. which a gradient is asked, ...)."""


class CompilationError(RuntimeError):
    """Numba refused the generated code; the message names the generated file."""
