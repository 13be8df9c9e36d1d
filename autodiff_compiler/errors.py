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


class _Located:
    """An error's message and the source location it is about (None: none), rendered
    file:line:col, the line and a caret."""

    def __init__(self, message: str, loc: SourceLocation | None = None):
        self.message = message
        self.loc = loc
        super().__init__(message)

    def __str__(self) -> str:
        return self.loc.render(self.message) if self.loc else self.message


class AutodiffSyntaxError(SyntaxError):
    """Syntax that autodiff_compiler does not differentiate (try, with, lambda, ...), raised
    when the function is read (at `grad(f)`), before anything runs.

    Attributes: `message`, and `loc` (file, line, column and the line's text), also as
    SyntaxError's filename, lineno, offset and text, so that tracebacks show the caret.

    Example:
        >>> from autodiff_compiler import grad
        >>> def f(x):
        ...     try:
        ...         return 1.0 / x
        ...     except ZeroDivisionError:
        ...         return 0.0
        >>> grad(f)
        Traceback (most recent call last):
        ...
        autodiff_compiler.errors.AutodiffSyntaxError: 'try' statements are not supported; remove the exception handling
        ...
    """

    def __init__(self, message: str, loc: SourceLocation | None):
        self.message = message
        self.loc = loc
        if loc is None:
            super().__init__(message)
        else:
            super().__init__(message, (loc.filename, loc.line, loc.col + 1, loc.text + "\n"))

    def __str__(self) -> str:
        return self.loc.render(self.message) if self.loc else self.message


class UnsupportedOperationError(_Located, TypeError):
    """A call or operation with no derivative rule, or used on types it does not support;
    raised when the derivative is compiled for the argument types, before it runs. Its
    message names the file, line and column and shows the line with a caret.

    Example:
        >>> import math
        >>> from autodiff_compiler import grad
        >>> def f(x):
        ...     return math.factorial(x)
        >>> grad(f)(2.0)
        Traceback (most recent call last):
        ...
        autodiff_compiler.errors.UnsupportedOperationError: ...:2:12: 'math.factorial' is not supported: it has no derivative rule
                return math.factorial(x)
                       ^
        ...
    """



class GradientInputError(TypeError):
    """Arguments or options that cannot be differentiated: a gradient with respect to an
    int, argnums out of range, arrays that share memory with one the function writes.

    Example:
        >>> from autodiff_compiler import grad
        >>> def f(x, n):
        ...     return x * n
        >>> grad(f, argnums=1)(2.0, 3)
        Traceback (most recent call last):
        ...
        autodiff_compiler.errors.GradientInputError: cannot differentiate with respect to 'n': it is an int (3); pass a float such as 3.0, or leave it out of argnums
        ...
    """


class CompilationError(RuntimeError):
    """Numba refused the generated code; the message names the generated file, and the
    exception's __cause__ is Numba's own error. (Code the compiler accepts is meant to
    compile: this is a bug worth reporting.)

    Example:
        >>> issubclass(CompilationError, RuntimeError)
        True
    """


class TapeOverflowError(_Located, RuntimeError):
    """A thread of an adjoint CUDA kernel ran a loop more times than the `max_trip` given to
    grad_kernel, so the loop's thread-local tape could not hold it (nothing was written past
    it; the adjoints of that launch are wrong). Raised after the launch; the message names
    the loop's line.

    Example:
        >>> issubclass(TapeOverflowError, RuntimeError)
        True
    """


class TapeMemoryError(MemoryError):
    """The reverse sweep's tapes would take more memory than the tape budget
    (`max_tape_bytes`); raised by the generated code before it allocates them, so the
    process is never killed for memory. The message names the loop's line with a caret, the
    bytes the tapes of the call would take and the budget, and what to do instead.

    Attributes: `loc` (the loop), `kind` ("counted": a top-level counted loop, which
    checkpointing shrinks; "grows": a tape that grows while its loop runs (a `while`, a
    loop with `break`, or a loop nested in one); "branch": a counted loop inside an `if`;
    "checkpointed": already checkpointed), `needed` and `budget` in bytes.

    Example:
        >>> import numpy as np
        >>> from autodiff_compiler import grad
        >>> def f(x, n):
        ...     s = 0.0
        ...     for i in range(n):
        ...         s = s * x + 1.0
        ...     return s
        >>> grad(f, jit=False, max_tape_bytes=1000)(0.5, 10**9)
        Traceback (most recent call last):
        ...
        autodiff_compiler.errors.TapeMemoryError: ...:3:5: the tapes of this loop would take 8,000,000,000 bytes, more than the tape budget of 1,000 bytes (max_tape_bytes); nothing was allocated. grad and value_and_grad take checkpoint="auto" to store the loop's state every few steps instead when the tape does not fit; or pass a larger max_tape_bytes=
                for i in range(n):
                ^
        ...
    """

    def __init__(self, filename, line, col, text, kind, needed, budget):
        super().__init__(filename, line, col, text, kind, needed, budget)
        self.loc = SourceLocation(filename, line, col, text)
        self.kind = kind
        self.needed = int(needed)
        self.budget = int(budget)

    def __str__(self) -> str:
        what = ("a growing tape of this loop would bring the call's tapes to"
                if self.kind == "grows" else "the tapes of this loop would take")
        message = (f"{what} {self.needed:,} bytes, more than the tape budget of "
                   f"{self.budget:,} bytes (max_tape_bytes); nothing was allocated. "
                   + _TAPE_ADVICE[self.kind])
        return self.loc.render(message)


_TAPE_ADVICE = {
    "counted": ('grad and value_and_grad take checkpoint="auto" to store the loop\'s state '
                "every few steps instead when the tape does not fit; or pass a larger "
                "max_tape_bytes="),
    "grows": ("Checkpointing applies to counted top-level loops only (not to `while` loops "
              "or loops with `break`): pass a larger max_tape_bytes="),
    "branch": ("Checkpointing applies to top-level loops only: move the loop out of its "
               "`if` to checkpoint it, or pass a larger max_tape_bytes="),
    "checkpointed": ("The loop is already checkpointed (its state every sqrt(steps) steps "
                     'with "auto" or "sqrt"; pass checkpoint=K for another stride); pass a '
                     "larger max_tape_bytes="),
}
