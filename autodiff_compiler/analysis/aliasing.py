"""Arrays that share memory, and arrays the reverse sweep would read too late.

NumPy's slices, transposes, reshapes, ravels, new axes and np.diag of a matrix are views: they share the memory of
the array they come from, their root, so a write into the root shows through them. The IR
treats an array as one value that writes change in place, so two things need care.

Which ops make views is each primitive's `view` trait (checked against np.shares_memory by
tests/test_traits.py). A view read after a write into its root is made again where it is read
(transforms/views.py), when it shares memory for every operand. What remains is refused by
`check_views` (every mode) with the line and a caret: such a read of a view that only may
share (a reshape or ravel: NumPy copies non-contiguous arrays), a view entering or leaving a
region, a write into a view, and a write into an array that an `if` picked or a loop carried
(it may be either of two arrays): the compiler cannot follow that sharing, and a program it
misreads would give silently wrong values and derivatives.

The adjoint (`snapshot_overwritten_operands`, reverse mode). The reverse sweep runs after the
whole forward sweep, so it sees an array in the state the last write left it. An operation
whose derivative reads an array's contents (a nonlinear one: x * x, np.max(x), A @ x), or a
view of it, gets a snapshot of the operand (a copy made just before it) when a later write
would overwrite the operand: the arrays version of Tapenade's to-be-recorded analysis
(Hascoet & Pascual, ACM TOMS 2013), recording by copy; the copy is taken before the loops
around the operation that leave the array alone. An operation whose derivative reads its own
result (np.exp, np.tanh, /) keeps that result when the program later writes into it: the
program goes on with a copy. Reads of single elements are recorded by the reverse transform
itself.
"""

from __future__ import annotations

from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.clone import clone_function
from ..ir.core import Function, Op, Region, Value, walk_ops
from ..primitives.indexing import copy_p
from .activity import analyze


def _is_view(op: Op | None) -> bool:
    """Whether op's result may share memory with its first operand (the view trait)."""
    return op is not None and op.prim.is_view(op)


class Program:
    """Positions of the ops of a function in program order (pre-order), the span of each op's
    regions, producers of values and the writes into each array."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.position: dict[Op, int] = {}
        self.end: dict[Op, int] = {}
        self.producer: dict[Value, Op] = {}
        self.arg_owner: dict[Value, Op] = {}
        self.region_of: dict[Op, Region] = {op: fn.body for op in fn.body.ops}
        order = list(walk_ops(fn.body))
        for k, op in enumerate(order):
            self.position[op] = k
            self.producer.update((r, op) for r in op.results)
            for region in op.regions:
                self.arg_owner.update((a, op) for a in region.args)
                self.region_of.update((inner, region) for inner in region.ops)
        for op in reversed(order):  # inner ops come later in pre-order: their ends are known
            inner = [self.end[i] for region in op.regions for i in region.ops]
            self.end[op] = max(inner, default=self.position[op])
        self.loops = [op for op in order if op.prim.loop]
        self.writes: dict[Value, list[Op]] = {}
        for op in order:
            if op.prim.writes:
                self.writes.setdefault((self.root(op.operands[0])), []).append(op)

    def root(self, v: Value) -> Value:
        """The array whose memory a view `v` shares (v itself when it is not a view)."""
        op = self.producer.get(v)
        while _is_view(op):
            v = op.operands[0]
            op = self.producer.get(v)
        return v

    def inside(self, loop: Op, position: int) -> bool:
        return self.position[loop] < position <= self.end[loop]

    def written_between(self, array: Value, made: int, read: int) -> Op | None:
        """A write into `array`'s root that runs after position `made` and before the read at
        position `read`: later in program order, or anywhere in a loop around the read that
        does not also hold `made` (the next iteration's read comes after it)."""
        for write in self.writes.get((self.root(array)), ()):
            at = self.position[write]
            if made < at < read:
                return write
            if any(self.inside(loop, at) and self.inside(loop, read)
                   and not self.inside(loop, made) for loop in self.loops):
                return write
        return None

    def snapshot_site(self, op: Op, array: Value) -> Op:
        """Where a copy of `array` for `op` goes: before the outermost loop around op that
        neither writes the array nor makes it (its contents stay the same through that loop,
        so one copy serves every iteration), else right before op."""
        at = self.position[op]
        writes = [self.position[w] for w in self.writes.get((self.root(array)), ())]
        made = self.producer.get(array) or self.arg_owner.get(array)
        site = op
        for loop in sorted((lp for lp in self.loops if self.inside(lp, at)),
                           key=lambda lp: -self.position[lp]):
            if any(self.inside(loop, w) for w in writes) or made is loop or \
                    made is not None and self.inside(loop, self.position[made]):
                break
            site = loop
        return site

    def written_after(self, array: Value, op: Op) -> bool:
        """Whether a write into `array`'s root can run after `op`: later in program order,
        or anywhere in a loop around op that does not also make the array (the next
        iteration's writes run after op, even those before it in the loop's body)."""
        at = self.position[op]
        root = self.root(array)
        maker = self.producer.get(root) or self.arg_owner.get(root)
        made = self.position[maker] if maker is not None else -1
        for write in self.writes.get(root, ()):
            w = self.position[write]
            if w > at or any(self.inside(loop, w) and self.inside(loop, at)
                             and not self.inside(loop, made) for loop in self.loops):
                return True
        return False


def check_views(fn: Function) -> None:
    """Refuse the sharing of memory the IR cannot follow (see the module docstring)."""
    program = Program(fn)
    for op in walk_ops(fn.body):
        if op.prim.writes:
            _check_write_target(program, op)
        for v in op.operands:
            made = program.producer.get(v)
            if not _is_view(made) or (program.root(v)) not in program.writes:
                continue
            if op.prim.terminator or op.regions:
                raise UnsupportedOperationError(
                    "a view of an array that is written cannot enter or leave a loop or an "
                    "if; copy it np.copy where it is made", made.loc)
            write = program.written_between(v, program.position[made],
                                            program.position[op])
            if write is not None:
                raise UnsupportedOperationError(
                    f"'{v.hint}' is a view{_line(made, ' made at')} of an array written "
                    f"after it{_line(write, ' at')}: NumPy's view would show the new values "
                    "here; copy it np.copy where it is made if the old ones are meant",
                    op.loc)


def _line(op: Op, what: str) -> str:
    return f"{what} line {op.loc.line}" if op.loc is not None else ""


def _check_write_target(program: Program, op: Op) -> None:
    target = op.operands[0]
    made = program.producer.get(target)
    if _is_view(made):
        raise UnsupportedOperationError(
            f"'{target.hint}' is a view{_line(made, ' made at')} of another array: writing "
            "into it would change that array too; write into that array directly, or copy "
            "the view np.copy first", op.loc)
    if target in program.arg_owner or (made is not None and made.regions
                                           and not _fresh_in_every_branch(program, made,
                                                                          target)):
        raise UnsupportedOperationError(
            f"'{target.hint}' may be one of several arrays (picked by an if, or carried "
            "around a loop): writing into it is not supported; write into a copy "
            "(np.copy) made after the if or before the write", op.loc)


def _fresh_in_every_branch(program: Program, op: Op, result: Value) -> bool:
    """Whether every branch of an `if` yields, for `result`, an array it made itself (so the
    result shares memory with nothing else)."""
    if not op.prim.branches:
        return False
    k = op.results.index(result)
    for region in op.regions:
        yielded = region.ops[-1].operands[k]
        made = program.producer.get(yielded)
        if made is None or _is_view(made) or made.regions \
                or program.region_of.get(made) is not region:
            return False
    return True


def snapshot_overwritten_operands(fn: Function, wrt: list[int]) -> Function:
    """A copy of `fn` in which each operation whose derivative reads an array that a later
    write overwrites reads a copy of that array taken before it (just before, or before the
    loops around it that leave the array alone; views: the view is copied)."""
    fn = clone_function(fn)
    activity = analyze(fn, wrt)
    _copy_overwritten_results(fn, activity)
    program = Program(fn)
    taken: dict[tuple[int, int], Value] = {}
    for op in list(walk_ops(fn.body)):
        if op.regions or op.prim.terminator \
                or not any(activity.active(r) for r in op.results) and not op.prim.writes:
            continue
        for k, operand in enumerate(op.operands):
            reads = op.prim.reads_contents(op, operand) or (k == 0 and _is_view(op))
            if not reads or not program.written_after(operand, op):
                continue
            if k == 0 and op.prim.element_read and _is_view(op):  # a slice: copy the part
                op.attrs = dict(op.attrs, copy=True)
                continue
            site = program.snapshot_site(op, operand)
            if (site, operand) not in taken:
                region = program.region_of[site]
                snapshot = Op(copy_p, [operand],
                              [Value(operand.type, operand.hint + "_then")], [],
                              {"snapshot": True}, op.loc)
                region.ops.insert(region.ops.index(site), snapshot)
                taken[(site, operand)] = snapshot.result
            op.operands[k] = taken[(site, operand)]
    return fn


def _copy_overwritten_results(fn: Function, activity) -> None:
    """Give the program a copy of each array result that a later write changes and that the
    op's own derivative reads, so the derivative sees the result as the op made it."""
    program = Program(fn)
    written = _written(program)
    for op in list(walk_ops(fn.body)):
        if op.regions or op.prim.writes or op.prim.vjp is None:
            continue
        for result in op.results:
            if result.type.is_array and result in written and activity.active(result) \
                    and _derivative_reads(op, result):
                _continue_with_copy(fn, program, op, result)


def _written(program: Program) -> set[Value]:
    """The arrays the program writes into: themselves, or as what an `if` yields for a
    result that is written (outer ifs come first in pre-order)."""
    written = set(program.writes)
    for op in walk_ops(program.fn.body):
        if op.prim.branches:
            for k, result in enumerate(op.results):
                if result in written:
                    written.update(region.ops[-1].operands[k] for region in op.regions)
    return written


def _derivative_reads(op: Op, result: Value) -> bool:
    """Whether op's vjp rule reads `result` (built once into a scratch region)."""
    seen = []

    def note(v):
        seen.append(v is result)
        return v

    builder = Builder(Region(), op.loc, resolve=note)
    for entry in op.prim.vjp(builder, op, Value(result.type, "g")):
        if callable(entry):
            entry()
    return any(seen)


def _continue_with_copy(fn: Function, program: Program, op: Op, result: Value) -> None:
    """Insert `copy = copy(result)` right after op and make every later use read the copy."""
    region = program.region_of[op]
    copied = Op(copy_p, [result], [Value(result.type, result.hint)], [], {},
                op.loc)
    for user in walk_ops(fn.body):
        user.operands = [copied.result if v is result else v for v in user.operands]
    region.ops.insert(region.ops.index(op) + 1, copied)
