"""What the generated derivative stores for its reverse sweep: a table of its tapes.

Read off the derived function's IR: every tape array (one per value the reverse sweep reads
back from a loop, a row per iteration; an array whose shape may change between iterations
has two, a flat buffer and a table of each push's start, end and shape: ad.tape), every
checkpoint array (a loop's state at the start of each segment) and every copy of an array
taken once, before a later write would change values the reverse sweep reads. Each row says
which value it stores, its dtype, whether it grows per iteration of a loop or is made once,
and the source line the value comes from.

Whole-array code also keeps arrays without a tape: those its forward part computes and its
reverse sweep reads (`held_arrays`), alive until the reverse sweep has used them; the report
gives their bytes on a line of their own.

Bytes depend on the arguments (trip counts, array shapes), so `measure` runs the generated
source once in CPython (no Numba) and reads the arrays' sizes off its frame when it
returns: what the compiled code allocates for the same arguments.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np

from .codegen.emit import value_names
from .ir.core import Function, Op, Region, Value, walk_ops
from .ir.types import Type
from .primitives.control import checkpoint_alloc_p, comment_p, tape_alloc_p, tape_push_p
from .primitives.indexing import copy_p


@dataclass(frozen=True)
class Stored:
    """One array the derivative keeps for its reverse sweep.

    name: its variable in the generated source; value: the source name of what it stores;
    dtype; kept: "per iteration" (a tape row each time the loop at `loop_line` runs),
    "per segment" (a checkpoint), or "once"; line, text: the source line the stored value
    comes from; nbytes and shape: once measured (`measure`), else None."""

    name: str
    value: str
    dtype: str
    kept: str
    loop_line: int | None
    line: int | None
    text: str
    nbytes: int | None = None
    shape: tuple | None = None

    @property
    def when(self) -> str:
        """'per iteration (loop at line 9)', 'per segment (loop at line 14)' or 'once'."""
        if self.kept == "once":
            return "once"
        return f"{self.kept} (loop at line {self.loop_line})"


class TapeReport:
    """The arrays a derivative stores for its reverse sweep, as `Lowered.tape()` and
    `python -m autodiff_compiler show` give them.

    Attributes:
        rows: one `Stored` per array (name, value, dtype, kept, loop_line, line, text,
            nbytes, shape).
        nbytes: the total bytes (None when some array was not measured).
        note: why sizes are missing, or "".
        held: variable -> bytes of each array the forward part computes and the reverse
            sweep reads without a tape (0 for a view, None when not measured).

    Example:
        >>> import numpy as np
        >>> from autodiff_compiler import grad
        >>> def f(x):
        ...     s = 0.0
        ...     for i in range(x.shape[0]):
        ...         s = s * x[i] + x[i]
        ...     return s
        >>> report = grad(f, jit=False).lower(np.ones(10)).tape()
        >>> [(row.name, row.dtype, row.kept, row.nbytes) for row in report.rows]
        [('tape_s', 'float64', 'per iteration', 80)]
    """

    def __init__(self, rows: list[Stored], note: str = "", mode: str = "grad",
                 budget: int | None = None, predicted: TapeBytes | None = None,
                 held: dict | None = None):
        self.rows = rows
        self.note = note
        self.mode = mode
        self.budget = budget  # the tape budget in bytes, when known
        self.predicted = predicted  # the bytes computed before running (g.tape_bytes)
        # variable -> bytes (None: not measured) of the arrays the reverse sweep reads that
        # the forward part computed (held_arrays)
        self.held = held or {}

    @property
    def nbytes(self) -> int | None:
        """The total bytes of the arrays (int), or None when some array was not measured."""
        sizes = [r.nbytes for r in self.rows]
        return None if None in sizes else sum(sizes)

    def lines(self) -> list[str]:
        """The table as text lines.

        Returns:
            A list of str: a header, a row per array and the total taped per call; or a line
            saying why nothing is stored and the total; then, where the reverse sweep reads
            arrays the forward part computed, a line with their bytes.

        Example:
            >>> TapeReport([]).lines()
            ['none: the reverse sweep recomputes what it needs or reads the arguments', 'total 0 bytes taped per call']
        """
        if self.mode == "jvp":
            return [("none: forward mode keeps no tape (each tangent is computed alongside "
                     "its value)")]
        out = []
        if not self.rows:
            out.append("none: the reverse sweep recomputes what it needs or reads the arguments")
        else:
            header = ("name", "stores", "dtype", "kept", "bytes", "source line")
            table = [header] + [(r.name, r.value, r.dtype, r.when, _bytes(r), _source(r))
                                for r in self.rows]
            widths = [max(len(row[k]) for row in table) for k in range(len(header) - 1)]
            for row in table:
                cells = [cell.rjust(w) if k == 4 else cell.ljust(w)
                         for k, (cell, w) in enumerate(zip(row, widths))]
                out.append("  ".join(cells + [row[-1]]).rstrip())
        total = self.nbytes
        if total is not None:
            out.append(f"total {total:,} bytes taped per call")
        elif self.predicted is not None:
            out.append(f"total {int(self.predicted):,} bytes taped per call, computed before "
                       "running (tape_bytes)")
        held = self._held_line()
        if held:
            out.append(held)
        if self.note:
            out.extend(self.note.splitlines())
        out.extend(self._budget_lines())
        return out

    def _budget_lines(self) -> list[str]:
        """The budget, and whether the call's tapes fit in it."""
        if self.budget is None:
            return []
        lines = [(f"tape budget {self.budget:,} bytes (the default, half of the available "
                  "memory; grad(..., max_tape_bytes=) sets another)")]
        needed = self.nbytes if self.nbytes is not None else self.predicted
        if needed is not None and needed > self.budget:
            lines.append("over the budget: the call raises TapeMemoryError before allocating "
                         '(checkpoint="auto" checkpoints its top-level loops instead)')
        if self.predicted is not None and not self.predicted.bounded:
            lines.append(f"not known before running: {_unbounded(self.predicted)}")
        return lines

    def _held_line(self) -> str:
        """'the reverse sweep also reads N bytes of arrays computed before it: a, b' (their
        bytes measured; views of other arrays count nothing and are not named), or ''."""
        if not self.held or None in self.held.values():
            return ""
        owners = {name: n for name, n in self.held.items() if n}
        if not owners:
            return ""
        return (f"the reverse sweep also reads {sum(owners.values()):,} bytes of arrays "
                f"computed before it: {', '.join(owners)}")

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return f"TapeReport({len(self.rows)} arrays, {self.nbytes} bytes)"


class TapeBytes(int):
    """The bytes of the tapes one call allocates (an int), as `g.tape_bytes(*args)` gives
    them: computed from trip counts, bounds and shapes known before the loops run.

    Attributes:
        growing: source lines of loops whose tapes grow while they run (while loops, nests
            whose inner bounds change): counted at their first capacity, so the int is a
            lower bound; the generated code checks the budget again at each growth.
        unknown: source lines of loops whose tape sizes depend on values other loops or
            branches compute: not counted (the generated code checks them when it
            allocates).
        bounded: neither (the int is what the call allocates).

    Example:
        >>> from autodiff_compiler import grad
        >>> def halving(x, tol):
        ...     s = 1.0
        ...     while s > tol:
        ...         s = s * x
        ...     return s
        >>> size = grad(halving, jit=False).tape_bytes(0.5, 1e-9)
        >>> size, size.growing, size.bounded
        (TapeBytes(512; growing at line 3), (3,), False)
    """

    def __new__(cls, nbytes: int, growing=(), unknown=()):
        value = super().__new__(cls, nbytes)
        value.growing = tuple(growing)
        value.unknown = tuple(unknown)
        return value

    @property
    def bounded(self) -> bool:
        """True when no tape grows or is sized at run time: the int is what the call
        allocates."""
        return not self.growing and not self.unknown

    def __repr__(self) -> str:
        notes = [f"growing at line{'s' if len(self.growing) > 1 else ''} "
                 + ", ".join(map(str, self.growing))] if self.growing else []
        if self.unknown:
            notes.append("sized at run time at line" + ("s " if len(self.unknown) > 1 else " ")
                         + ", ".join(map(str, self.unknown)))
        return f"TapeBytes({int(self)}" + "".join(f"; {n}" for n in notes) + ")"

    def __reduce__(self):
        return TapeBytes, (int(self), self.growing, self.unknown)


def _unbounded(size: TapeBytes) -> str:
    parts = [f"tapes that grow as the loop at line {line} runs" for line in size.growing]
    parts += [f"tapes of the loop at line {line}, sized by values other loops compute"
              for line in size.unknown]
    return "; ".join(parts)


def _bytes(row: Stored) -> str:
    return "?" if row.nbytes is None else f"{row.nbytes:,}"


def _source(row: Stored) -> str:
    return f"line {row.line}: {row.text}" if row.line is not None else ""


def stored_arrays(fn: Function) -> list[Stored]:
    """The tapes, checkpoints and one-time copies of derived function `fn`, in the order
    they are allocated."""
    names = value_names(fn)
    producer: dict[Value, Op] = {}
    owner: dict[Value, Op] = {}
    allocs: list[Op] = []
    pushes: dict[str, tuple[Value, Op | None]] = {}
    copies: list[Op] = []

    def visit(region: Region, loops: tuple) -> None:
        for op in region.ops:
            producer.update((r, op) for r in op.results)
            if op.prim is tape_alloc_p or op.prim is checkpoint_alloc_p:
                allocs.append(op)
            elif op.prim is tape_push_p:
                pushes.setdefault(op.attrs["tape"], (op.operands[0], loops[-1] if loops else None))
            elif op.prim is copy_p and op.attrs.get("snapshot") and not loops:
                copies.append(op)
            for sub in op.regions:
                owner.update((a, op) for a in sub.args)
                visit(sub, loops + ((op,) if op.prim.loop else ()))

    visit(fn.body, ())
    rows = []
    for op in allocs:
        if op.prim is tape_alloc_p:
            name = op.attrs["tape"]
            value, loop = pushes.get(name, (None, None))
            loc = _origin(value, producer, owner) if value is not None else op.loc
            rows.append(Stored(name, _hint(value, name), Type(op.attrs["kind"], 0, op.attrs.get("bits", 64)).dtype,
                               "per iteration", _line(loop.loc if loop else op.loc),
                               _line(loc), _text(loc)))
        else:
            name, state = op.attrs["name"], op.operands[1]
            rows.append(Stored(name, name.removeprefix("checkpoint_"),
                               state.type.dtype, "per segment",
                               _line(op.loc), _line(op.loc), _text(op.loc)))
        if op.attrs.get("rows"):  # ragged: the flat buffer above, then its table
            rows.append(replace(rows[-1], name=op.attrs["rows"], dtype="int64",
                                value=f"{rows[-1].value} (start, end, shape)"))
    for op in copies:
        operand = op.operands[0]
        loc = op.loc
        rows.append(Stored(names.get(op.result, op.result.hint), f"copy of {operand.hint}",
                           operand.type.dtype, "once", None, _line(loc), _text(loc)))
    return rows


def _origin(value: Value, producer, owner):
    """Where a pushed value comes from: its op, else the loop whose block argument it is."""
    op = producer.get(value) or owner.get(value)
    return op.loc if op is not None else None


def _hint(value: Value | None, name: str) -> str:
    return value.hint if value is not None else name.removeprefix("tape_")


def _line(loc) -> int | None:
    return None if loc is None else loc.line


def _text(loc) -> str:
    return "" if loc is None else loc.text.strip()


def held_arrays(fn: Function) -> list[str]:
    """The variables of derived function `fn` that hold arrays its forward part computes
    (top-level ops before the reverse sweep, loops included) and its reverse sweep reads:
    whole-array code keeps these alive without a tape. Arguments are not among them."""
    ops = fn.body.ops
    start = next((k for k, op in enumerate(ops)
                  if op.prim is comment_p and op.attrs.get("text") == "reverse sweep"), None)
    if start is None:
        return []
    made = {r for op in ops[:start] for r in op.results if r.type.is_array}
    taped = {r for op in walk_ops(fn.body) if op.prim is tape_alloc_p for r in op.results}
    names = value_names(fn)
    read = []
    for op in ops[start:]:
        for inner in [op, *walk_ops_of(op)]:
            for v in inner.operands:
                if v in made and v not in taped and v in names and names[v] not in read:
                    read.append(names[v])
    return read


def walk_ops_of(op: Op):
    for region in op.regions:
        yield from walk_ops(region)


def report(fn: Function, mode: str, arrays: dict | None = None, note: str = "",
           budget: int | None = None, predicted: TapeBytes | None = None) -> TapeReport:
    """The table of `fn`'s stored arrays; sizes from `arrays` (name -> array, as `measure`
    gives them) where known; `budget` and `predicted` (TapeReport's) when given."""
    rows = stored_arrays(fn) if mode != "jvp" else []
    held = dict.fromkeys(held_arrays(fn)) if mode != "jvp" else {}
    if arrays is not None:
        rows = [_sized(r, arrays.get(r.name)) for r in rows]
        held = _owned_bytes({name: arrays.get(name) for name in held})
    return TapeReport(rows, note, mode, budget, predicted, held)


def _owned_bytes(arrays: dict) -> dict:
    """name -> the bytes the array owns: 0 for a view of another array (NumPy's views have
    an array as their base; arrays Numba returns have another object there) and for an
    array already counted under another name; None where there is no array."""
    seen, out = set(), {}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray):
            out[name] = None
        elif isinstance(array.base, np.ndarray) or id(array) in seen:
            out[name] = 0
        else:
            out[name] = int(array.nbytes)
        seen.add(id(array))
    return out


def _sized(row: Stored, array) -> Stored:
    if not isinstance(array, np.ndarray):
        return row
    return replace(row, nbytes=int(array.nbytes), shape=tuple(array.shape))


def measure(python_fn, args) -> dict:
    """Run the generated Python function once on `args` and return its local variables as
    they are when it returns (the tape arrays among them). Exceptions propagate."""
    captured: dict = {}
    code = python_fn.__code__

    def profile(frame, event, _arg):
        if event == "return" and frame.f_code is code:
            captured.update(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        python_fn(*args)
    finally:
        sys.setprofile(previous)
    return captured
