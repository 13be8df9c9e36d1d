"""Structured control flow and the tape: ops the transforms and the emitter treat specially.

`if`, `for` and `while` own regions; `yield` ends a nested region, `return` the function.
Tape ops name their storage in attributes (a typed array and a per-region counter), so the
IR stays SSA while the emitted code pushes and pops values (Griewank & Walther, ch. 4: the
sequential tape of a reverse sweep, here one array per taped value).
"""

from __future__ import annotations

import ast

from ..ir.types import dtype_expr
from .registry import defprim, quote, storage_node


def _no_results(*types, **_):
    return []


# structured control flow: operands and block arguments are laid out as
#   if(cond) {then} {else}                      results: the yielded values
#   for(lb, ub, step, *inits) {body(i, *carried)}
#   while(*inits) {cond(*carried)} {body(*carried)}
def _if_flow(op):
    for region in op.regions:
        yield from zip(region.ops[-1].operands, op.results)


def _for_flow(op):
    body = op.regions[0]
    carried = body.args[1:]
    yield from zip(op.operands[3:], carried)
    yield from zip(body.ops[-1].operands, carried)
    yield from zip(carried, op.results)
    yield from zip(op.operands[3:], op.results)  # zero-trip loops


def _while_flow(op):
    carried = op.regions[1].args
    yield from zip(op.operands, carried)
    yield from zip(op.regions[1].ops[-1].operands, carried)
    yield from zip(carried, op.results)
    yield from zip(op.operands, op.results)


if_p = defprim("if", pure=False, region=True, branches=True, flow=_if_flow, region_labels=("then", "else"))
for_p = defprim("for", pure=False, region=True, loop=True, flow=_for_flow,
                region_labels=("body",))
while_p = defprim("while", pure=False, region=True, loop=True, condition_first=True,
                  flow=_while_flow,
                  region_labels=("cond", "body"))
# A loop nest made by loop fusion (transforms/fuse.py), after the derivative: it runs over the
# broadcast shape of its operands, its region computes one element and yields, per result,
# the element stored (attrs["outputs"][k] == ("store",)) or added up over some axes
# (("sum", axes)) or added into operand j in place (("add", j): an adjoint buffer of the
# loop's shape, transforms/accumulate.py; the result is that array after the addition).
# attrs["inputs"] says per operand how the loop reads it: "array" (its element at the loop's
# index, broadcast), "scalar" (as it is), "shape" (only its shape takes part in the
# broadcast) or "target" (not read: added into). The region's arguments are those
# elements, one per operand.
# attrs["parallel"]: the axis whose loop runs outermost, in parallel (prange).
fused_p = defprim("fused", region=True, elementwise=True, differentiable=False,
                  region_labels=("element",))
yield_p = defprim("yield", pure=False, terminator=True)
return_p = defprim("return", pure=False, terminator=True)


def _dtype(op) -> ast.expr:
    """The dtype of the tape an op allocates (attributes kind and, for float32, bits)."""
    return ast.parse(dtype_expr(op.attrs["kind"], op.attrs.get("bits", 64)), mode="eval").body


def _name(identifier: str, ctx=ast.Load) -> ast.Name:
    return ast.Name(identifier, ctx())


def _tape_slot(op) -> ast.Subscript:
    return ast.Subscript(_name(op.attrs["tape"]), _name(op.attrs["counter"]), ast.Load())


def _emit_alloc(op, args):
    """tape = np.empty(capacity) (a second operand: rows of that many directions); with
    `reuse`, the second operand is the last call's tape, taken when it is big enough."""
    if op.attrs.get("rows"):
        return _emit_ragged_alloc(op, args)
    dtype = _dtype(op)
    sizes = list(args[:1] if op.attrs.get("reuse") else args)
    sizes += [ast.Constant(0)] * op.attrs.get("ndim", 0)  # array rows: shaped at the first push
    shape = sizes[0] if len(sizes) == 1 else ast.Tuple(sizes, ast.Load())
    value = ast.Call(ast.parse("np.empty", mode="eval").body, [shape], [ast.keyword("dtype", dtype)])
    if op.attrs.get("reuse"):
        previous = args[1]
        fits = ast.Compare(ast.Subscript(ast.Attribute(previous, "shape", ast.Load()),
                                         ast.Constant(0), ast.Load()), [ast.GtE()], [args[0]])
        value = ast.IfExp(fits, previous, value)
    return ast.Assign([_name(op.attrs["tape"], ast.Store)], value)


# --- ragged storage (ad.tape): a flat buffer `name` and a table `rows` of (start, end, *shape)
def _ragged_alloc(name: str, rows: str, count: ast.expr, ndim: int, dtype: ast.expr):
    """buffer = np.empty(0, dtype); rows = np.empty((count, ndim + 2), dtype=np.int64)."""
    (buffer, table) = quote("""
        NAME = np.empty(0, dtype=DTYPE)
        ROWS = np.empty((COUNT, COLUMNS), dtype=np.int64)
        """, NAME=name, DTYPE=dtype, ROWS=rows, COUNT=count, COLUMNS=ast.Constant(ndim + 2))
    return buffer, table


def _ragged_push(name: str, rows: str, index: ast.expr, value: ast.expr) -> ast.stmt:
    """Append `value` to the buffer (growing it) and record it in row `index`."""
    (push,) = quote("NAME = rt.push_ragged(NAME, ROWS, INDEX, VALUE)", NAME=name, ROWS=rows,
                    INDEX=index, VALUE=value)
    return push


def _ragged_view(name: str, rows: str, index: ast.expr, ndim: int) -> ast.expr:
    """The value of row `index`: buffer[start:end] reshaped (a view)."""
    row = [ast.Subscript(_name(rows), ast.Tuple([index, ast.Constant(column)], ast.Load()),
                         ast.Load()) for column in range(ndim + 2)]
    flat = ast.Subscript(_name(name), ast.Slice(row[0], row[1]), ast.Load())
    if ndim == 1:
        return flat
    return ast.Call(ast.Attribute(flat, "reshape", ast.Load()),
                    [ast.Tuple(row[2:], ast.Load())], [])


def _emit_ragged_alloc(op, args):
    """A ragged tape: its flat buffer (the last call's when reused: pushes grow it) and its
    table, one row per push the tape has room for."""
    dtype = _dtype(op)
    buffer, table = _ragged_alloc(op.attrs["tape"], op.attrs["rows"], args[0],
                                  op.attrs["ndim"], dtype)
    if op.attrs.get("reuse"):
        previous_buffer, previous_table = args[1:3]
        buffer.value = previous_buffer
        fits = ast.Compare(ast.Subscript(ast.Attribute(previous_table, "shape", ast.Load()),
                                         ast.Constant(0), ast.Load()), [ast.GtE()], [args[0]])
        table.value = ast.IfExp(fits, previous_table, table.value)
    return [buffer, table]


def _emit_load(op, args):
    """tape[k]; of a ragged tape, the view tape[start:end].reshape(shape) its table gives."""
    if not op.attrs.get("rows"):
        return _tape_slot(op)
    return _ragged_view(op.attrs["tape"], op.attrs["rows"], _name(op.attrs["counter"]),
                        op.attrs["ndim"])


def _emit_push(op, args):
    """tape[k] = value; an array's rows take its shape at the first push of a run (k == 0),
    and a value of another shape later is refused. A ragged tape's push appends the value
    to its flat buffer (growing it) and records where and of which shape
    (runtime.push_ragged)."""
    if op.attrs.get("rows"):
        push = _ragged_push(op.attrs["tape"], op.attrs["rows"], _name(op.attrs["counter"]),
                            args[0])
        if not op.attrs.get("budget"):
            return push
        grown = quote("rt.ragged_grown_bytes(TAPE, ROWS, COUNTER, VALUE)", TAPE=op.attrs["tape"],
                      ROWS=op.attrs["rows"], COUNTER=op.attrs["counter"], VALUE=args[0])
        return _charge(op, grown[0].value) + [push]  # what the buffer grows by, before
    slot = _tape_slot(op)
    slot.ctx = ast.Store()
    push = ast.Assign([slot], args[0])
    if not op.attrs.get("ndim"):
        return push
    message = (f"{op.attrs['where']}: '{op.attrs['hint']}' has another shape than in the "
               "loop's first iteration; the reverse sweep tapes it as rows of one shape")
    (check,) = quote("""
        if TAPE.shape[1:] != VALUE.shape:
            if COUNTER != 0:
                raise ValueError(MESSAGE)
            TAPE = np.empty((TAPE.shape[0],) + VALUE.shape, dtype=TAPE.dtype)
        """, TAPE=op.attrs["tape"], COUNTER=op.attrs["counter"], VALUE=args[0],
        MESSAGE=ast.Constant(message))
    if op.attrs.get("budget"):  # the rows' bytes are known now, before they are allocated
        nbytes = quote("TAPE.shape[0] * VALUE.nbytes", TAPE=op.attrs["tape"],
                       VALUE=args[0])[0].value
        check.body[1:1] = _charge(op, nbytes)
    return [check, push]


def _emit_grow(op, args):
    """Grow every tape of a region when the next entries (one, or the operand's count) would
    not fit: checked once per region run (grow) or once before an inner loop (reserve)."""
    tapes, counter = op.attrs["tapes"], op.attrs["counter"]
    needed = ast.BinOp(_name(counter), ast.Add(), args[0] if args else ast.Constant(1))
    (check,) = quote("if NEEDED > FIRST.shape[0]:\n    pass", NEEDED=needed, FIRST=tapes[0])
    check.body = [quote("TAPE = rt.grow(TAPE, NEEDED)", TAPE=t, NEEDED=needed)[0]
                  for t in tapes]
    if op.attrs.get("budget"):  # what the tapes would grow by, charged before they grow
        grown = [quote("rt.grown_bytes(TAPE, NEEDED)", TAPE=t, NEEDED=needed)[0].value
                 for t in tapes]
        total = grown[0]
        for more in grown[1:]:
            total = ast.BinOp(total, ast.Add(), more)
        check.body[:0] = _charge(op, total)
    return check


def _charge(op, nbytes: ast.expr) -> list[ast.stmt]:
    """Add `nbytes` to the call's tape total; over the budget, raise TapeMemoryError naming
    the loop (attrs "budget" and "total": the variables of the budget and the total, "loop":
    the loop's location, "kind"). The budget is named, not an operand: the activity analysis
    reads a push's last operand as the value it stores."""
    loc = op.attrs["loop"]
    return quote("""
        TOTAL += NBYTES
        if TOTAL > BUDGET:
            raise rt.TapeMemoryError(FILE, LINE, COL, TEXT, KIND, TOTAL, BUDGET)
        """, TOTAL=op.attrs["total"], NBYTES=nbytes, BUDGET=op.attrs["budget"],
        FILE=ast.Constant(loc.filename), LINE=ast.Constant(loc.line),
        COL=ast.Constant(loc.col), TEXT=ast.Constant(loc.text),
        KIND=ast.Constant(op.attrs["kind"]))


def _emit_charge(op, args):
    """Before an allocation: its bytes (operand 0; times the bytes of a row, attribute
    "row", or of the array operand 1) counted against the budget."""
    nbytes = args[0]
    if op.attrs.get("row"):
        nbytes = ast.BinOp(nbytes, ast.Mult(), ast.Constant(op.attrs["row"]))
    if len(args) == 2:
        nbytes = ast.BinOp(nbytes, ast.Mult(),
                           ast.Attribute(args[1], "nbytes", ast.Load()))
    return _charge(op, nbytes)


def _emit_counter(delta):
    """counter = 0, counter += 1 or counter -= 1 (by the operand, when there is one: a
    reverse loop reading its tape in push order steps back over a whole run, ad.order)."""
    def emit(op, args):
        target = _name(op.attrs["counter"], ast.Store)
        if delta == 0:
            return ast.Assign([target], ast.Constant(0))
        step = args[0] if args else ast.Constant(1)
        return ast.AugAssign(target, ast.Add() if delta > 0 else ast.Sub(), step)

    return emit


comment_p = defprim("comment", infer=_no_results, pure=False, statement=True)
tape_alloc_p = defprim("tape_alloc", infer=_no_results, emit=_emit_alloc, pure=False, statement=True)
tape_push_p = defprim("tape_push", infer=_no_results, emit=_emit_push, pure=False, statement=True,
                      stores="tape")
tape_grow_p = defprim("tape_grow", infer=_no_results, emit=_emit_grow, pure=False, statement=True)
tape_reserve_p = defprim("tape_reserve", infer=_no_results, emit=_emit_grow, pure=False, statement=True)
tape_load_p = defprim("tape_load", infer=None, emit=_emit_load, pure=False,
                      loads="tape")
tape_value_p = defprim("tape_value", infer=None, emit=lambda op, a: _name(op.attrs["tape"]))
tape_charge_p = defprim("tape_charge", infer=_no_results, emit=_emit_charge, pure=False,
                       statement=True)
counter_init_p = defprim("counter_init", infer=_no_results, emit=_emit_counter(0), pure=False, statement=True)
counter_advance_p = defprim("counter_advance", infer=_no_results, emit=_emit_counter(1), pure=False, statement=True)
counter_retreat_p = defprim("counter_retreat", infer=_no_results, emit=_emit_counter(-1), pure=False, statement=True)


# --- checkpoints ad.checkpoint: one slot per segment for each saved value or array (an
# array whose shape may change from segment to segment: ragged storage, attribute `rows`) ---
def _emit_checkpoint_alloc(op, args):
    count, template = args
    kind = op.operands[1].type
    if op.attrs.get("rows"):
        return list(_ragged_alloc(op.attrs["name"], op.attrs["rows"], count, kind.ndim,
                                  ast.Attribute(template, "dtype", ast.Load())))
    if kind.is_array:
        shape = ast.BinOp(ast.Tuple([count], ast.Load()), ast.Add(),
                          ast.Attribute(template, "shape", ast.Load()))
        dtype = ast.Attribute(template, "dtype", ast.Load())
    else:
        shape, dtype = count, ast.parse(dtype_expr(kind.kind, kind.bits), mode="eval").body
    value = ast.Call(ast.parse("np.empty", mode="eval").body, [shape],
                     [ast.keyword("dtype", dtype)])
    return ast.Assign([_name(op.attrs["name"], ast.Store)], value)


def _slot(op, index):
    if op.attrs.get("rows"):
        return _ragged_view(op.attrs["name"], op.attrs["rows"], index, op.attrs["ndim"])
    return ast.Subscript(_name(op.attrs["name"]), index, ast.Load())


def _emit_checkpoint_save(op, args):
    if op.attrs.get("rows"):
        return _ragged_push(op.attrs["name"], op.attrs["rows"], args[0], args[1])
    slot = _slot(op, args[0])
    slot.ctx = ast.Store()
    return ast.Assign([slot], args[1])


def _emit_checkpoint_restore(op, args):
    whole = ast.Tuple([ast.Slice() for _ in range(op.operands[1].type.ndim)], ast.Load())
    target = ast.Subscript(args[1], whole.elts[0] if len(whole.elts) == 1 else whole,
                           ast.Store())
    return ast.Assign([target], _slot(op, args[0]))


checkpoint_alloc_p = defprim("checkpoint_alloc", infer=_no_results, emit=_emit_checkpoint_alloc, pure=False,
        statement=True)
checkpoint_save_p = defprim("checkpoint_save", infer=_no_results, emit=_emit_checkpoint_save,
                            pure=False, statement=True, stores="name")
checkpoint_restore_p = defprim(
    "checkpoint_restore", infer=_no_results, emit=_emit_checkpoint_restore, pure=False,
    statement=True, flow=lambda op: [(storage_node(op.attrs["name"]), op.operands[1])])
checkpoint_load_p = defprim("checkpoint_load", infer=None, emit=lambda op, a: _slot(op, a[0]),
                            pure=False, loads="name")
