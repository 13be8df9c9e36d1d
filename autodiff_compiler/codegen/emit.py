"""IR -> Python source: readable, deterministic, inside Numba's nopython subset.

Single-use results of pure ops are inlined into their one use in the same region (up to a
nesting depth, so that long straight-line code does not become one expression too deep to
print or compile); carried loop
values share one Python variable with the loop's results (and with the initial value when
nothing else reads it); every statement group is preceded by a comment naming the source line
it comes from. Expressions are built as stdlib `ast` nodes and printed with `ast.unparse`, so
precedence and parentheses are Python's own.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import math
import os

import numpy as np

from ..errors import UnsupportedOperationError
from ..ir.core import Const, Function, Op, Region, Value, storage_names, walk_ops
from ..ir.names import Namer
from ..primitives.control import comment_p, for_p, fused_p, if_p, return_p, while_p, yield_p
from .loops import emit_fused, name_added_results, reads_arrays_directly

INDENT = "    "
MAX_INLINE_DEPTH = 16  # operators nested in one inlined expression, at most
MAX_BLOCK_DEPTH = 98  # Python's parser allows 100 levels of indentation


class Emitter:
    def __init__(self, fn: Function):
        self.fn = fn
        self.namer = Namer(storage_names(fn))
        self.uses: dict[Value, int] = {}
        self.inlined: set[Value] = set()
        self.producer: dict[Value, Op] = {}
        self.lines: list[str] = []
        self.elements: dict[Value, ast.expr] = {}  # a fused loop's elements of its operands
        self.in_loop_nest: set[Op] = set()  # ops computing one element of a fused loop
        self.in_direct_loop: set[Op] = set()  # those of loops reading arrays directly

    # --- analysis ----------------------------------------------------------------------------
    def prepare(self) -> None:
        for op in walk_ops(self.fn.body):
            for v in op.operands:
                self.uses[v] = self.uses.get(v, 0) + 1
            for r in op.results:
                self.producer[r] = op
            if op.prim is fused_p:
                self.in_loop_nest.update(op.regions[0].ops)
                if reads_arrays_directly(op):
                    self.in_direct_loop.update(op.regions[0].ops)
        self._choose_inlining(self.fn.body)
        for p in self.fn.params:
            self.namer.name(p)
        for op in walk_ops(self.fn.body):
            if op.prim is fused_p:
                name_added_results(self.namer, op)
        self.carried_through = _carried_through(self.fn)
        self._coalesce_loops()

    def _choose_inlining(self, root: Region) -> None:
        """Mark single-use pure results for inlining into their use (same region, no effect
        in between); a second pass adds `if` ops whose branches are single expressions."""
        depth: dict[Value, int] = {}  # operators nested in an inlined value's expression
        for with_ifs in (False, True):
            todo = [root]
            while todo:
                region = todo.pop()
                pending: dict[Value, int] = {}  # value -> index of its defining op
                for index, op in enumerate(region.ops):
                    todo.extend(op.regions)
                    for v in op.operands:
                        if v in pending:
                            self.inlined.add(v)
                            del pending[v]
                    if not op.prim.pure and not (with_ifs and self._expression_if(op)):
                        pending.clear()  # nothing is moved across an effect
                    if not (self._inlinable(op) or (with_ifs and self._expression_if(op))):
                        continue
                    nested = 1 + max((depth.get(v, 0) for v in op.operands
                                      if v in self.inlined), default=0)
                    if nested <= MAX_INLINE_DEPTH:  # else a named temporary
                        pending[op.results[0]] = index
                        depth[op.results[0]] = nested

    def _inlinable(self, op: Op) -> bool:
        return (op.prim.pure and op.prim.emit is not None and not op.regions
                and len(op.results) == 1 and self.uses.get(op.results[0], 0) == 1)

    def _expression_if(self, op: Op) -> bool:
        return (op.prim.branches and len(op.results) == 1
                and self.uses.get(op.results[0], 0) == 1
                and all(self._is_expression(r) for r in op.regions))

    def _coalesce_loops(self) -> None:
        """Give a loop's block args, results and (if read only by the loop) inits one name,
        and let values computed only to be yielded be written straight into their target."""
        for op in walk_ops(self.fn.body):
            if op.prim is for_p:
                body = op.regions[0]
                self.namer.name(body.args[0])
                for init, arg, res in zip(op.operands[3:], body.args[1:], op.results):
                    reusable = self._reusable(init, res)
                    name = self.namer.name(init if reusable else res)
                    self.namer.alias(arg, name)
                    self.namer.alias(res, name)
                self._coalesce_yield(body, body.args[1:], loop=True)
            elif op.prim is while_p:
                before, body = op.regions
                for init, arg, res, test_arg in zip(op.operands, body.args, op.results,
                                                    before.args):
                    reusable = self._reusable(init, res)
                    name = self.namer.name(init if reusable else res)
                    for value in (arg, res, test_arg):
                        self.namer.alias(value, name)
                self._coalesce_yield(body, body.args, loop=True)
            elif op.prim is if_p:
                for region in op.regions:
                    self._coalesce_yield(region, op.results, loop=False)

    def _reusable(self, init, result) -> bool:
        """A loop may keep its carried value in the variable of its initial value when that
        value is read by nothing else and the variable is its own (an op result), or when it
        is an enclosing loop's carried value that this loop's result replaces (the nested
        accumulation `for i: for j: s += ...`)."""
        if self.uses[init] != 1 or init in self.inlined or init.hint != result.hint:
            return False
        producer = self.producer.get(init)
        if producer is not None:
            return not producer.regions
        return self.carried_through.get(init) is result and self.uses[result] == 1

    def _coalesce_yield(self, region: Region, targets, loop: bool) -> None:
        """Write a yielded value straight into its target's variable when nothing reads that
        variable's old value afterwards (an `if` assigns its results last, so it qualifies)."""
        position = {r: k for k, o in enumerate(region.ops) for r in o.results}
        for value, target in zip(region.ops[-1].operands, targets):
            k = position.get(value)
            if k is None or (loop and self.uses[value] != 1) or value in self.inlined \
                    or value in self.namer.names:
                continue
            producer = region.ops[k]
            if producer.regions and not producer.prim.branches or \
                    not producer.regions and len(producer.results) != 1:
                continue
            name = self.namer.name(target)
            later = {r for later_op in region.ops[k + 1:-1] for o in walk_ops(_wrap(later_op))
                     for r in self._reads(o.operands)}
            later |= self._reads([v for v, t in zip(region.ops[-1].operands, targets)
                                  if t is not target])
            if any(self.namer.names.get(r) == name for r in later):
                continue  # the variable's old value is still read after this point
            self.namer.alias(value, name)

    def _reads(self, values) -> set[Value]:
        """Ids of the variables an expression over `values` reads, inlined ones expanded."""
        seen: set[Value] = set()
        todo = list(values)
        while todo:
            v = todo.pop()
            if v in seen:
                continue
            seen.add(v)
            if v in self.inlined:
                op = self.producer[v]
                todo.extend(op.operands)
                todo.extend(o for sub in op.regions for inner in walk_ops(sub)
                            for o in inner.operands)
        return seen

    # --- expressions ----------------------------------------------------------------------------
    def expr(self, v) -> ast.expr:
        if isinstance(v, Const):
            if v.type.is_float32:  # Numba computes float32 with a float literal in float64
                return ast.Call(ast.parse("np.float32", mode="eval").body,
                                [constant(float(v.value))], [])
            return constant(v.value)
        if v in self.elements:
            return copy.deepcopy(self.elements[v])
        if v in self.inlined:
            op = self.producer[v]
            if op.prim.branches:
                return self.choice(op)
            return self._emit_rule(op)(op, [self.expr(o) for o in op.operands])
        return ast.Name(self.namer.name(v), ast.Load())

    def _emit_rule(self, op: Op):
        """How `op` is written: per element inside a fused loop, where NumPy's meaning of
        the operation may need another spelling than Python's on numbers."""
        if op in self.in_direct_loop and op.prim.emit_vector_element is not None:
            return op.prim.emit_vector_element
        if op in self.in_loop_nest and op.prim.emit_element is not None:
            return op.prim.emit_element
        return op.prim.emit

    def target(self, values) -> ast.expr:
        names = [ast.Name(self.namer.name(v), ast.Store()) for v in values]
        return names[0] if len(names) == 1 else ast.Tuple(names, ast.Store())

    def assign(self, values, exprs, depth: int) -> None:
        pairs = [(v, e) for v, e in zip(values, exprs)
                 if not (isinstance(e, ast.Name) and e.id == self.namer.name(v))]
        if not pairs:
            return
        targets = [v for v, _ in pairs]
        value = pairs[0][1] if len(pairs) == 1 else ast.Tuple([e for _, e in pairs], ast.Load())
        self.line(depth, unparse(ast.Assign([self.target(targets)], value)))

    def line(self, depth: int, text: str) -> None:
        for part in text.splitlines():
            self.lines.append(INDENT * depth + part)

    # --- statements ------------------------------------------------------------------------------
    def emit_function(self) -> str:
        self.prepare()
        params = ", ".join(self.namer.name(p) for p in self.fn.params)
        self.line(0, f"def {self.fn.name}({params}):")
        if self.fn.docstring:
            self.line(1, repr(self.fn.docstring))
        self.emit_region(self.fn.body, 1)
        return "\n".join(self.lines) + "\n"

    def emit_region(self, region: Region, depth: int, yield_to=None) -> None:
        if depth > MAX_BLOCK_DEPTH:
            loc = next((op.loc for op in region.ops if op.loc is not None), None)
            raise UnsupportedOperationError(
                f"the code nests more than {MAX_BLOCK_DEPTH} blocks deep once each early "
                "exit (return, break, continue) guards the statements after it, and Python "
                "allows 100 levels: use fewer early exits in one function", loc)
        start = len(self.lines)
        last = None
        for op in region.ops:
            if op.loc is not None and (op.loc.filename, op.loc.line) != last \
                    and not self._silent(op):
                last = (op.loc.filename, op.loc.line)
                self.line(depth, self.comment(op.loc))
            self.emit_op(op, depth, yield_to)
        if len(self.lines) == start or all(ln.strip().startswith("#")
                                           for ln in self.lines[start:]):
            self.line(depth, "pass")

    def comment(self, loc) -> str:
        """`# line N: <source>`, naming the file when it is not the function's own."""
        where = f"line {loc.line}" if loc.filename == self.fn.filename else \
            f"{os.path.basename(loc.filename)}:{loc.line}"
        return f"# {where}: {loc.text.strip()}".rstrip()

    def _is_inlined(self, op: Op) -> bool:
        return len(op.results) == 1 and op.results[0] in self.inlined

    def _silent(self, op: Op) -> bool:
        return self._is_inlined(op) or op.prim is yield_p

    def emit_op(self, op: Op, depth: int, yield_to) -> None:
        structured = _STRUCTURED.get(op.prim)
        if structured is not None:  # region ops, their terminators and comments
            structured(self, op, depth, yield_to)
        elif op.prim.statement:
            stmts = op.prim.emit(op, [self.expr(v) for v in op.operands])
            for stmt in stmts if isinstance(stmts, list) else [stmts]:
                self.line(depth, unparse(stmt))
        elif op.results[0] not in self.inlined:
            self.assign(op.results, [self._emit_rule(op)(op, [self.expr(v)
                                                               for v in op.operands])],
                        depth)

    def emit_yield(self, op: Op, depth: int, yield_to) -> None:
        self.assign(yield_to, [self.expr(v) for v in op.operands], depth)

    def emit_return(self, op: Op, depth: int, yield_to=None) -> None:
        values = [self.expr(v) for v in op.operands]
        value = values[0] if len(values) == 1 else ast.Tuple(values, ast.Load())
        self.line(depth, unparse(ast.Return(value if values else None)))

    def emit_comment(self, op: Op, depth: int, yield_to=None) -> None:
        self.line(depth, "# " + op.attrs["text"])

    def emit_if(self, op: Op, depth: int, yield_to=None) -> None:
        if self._is_inlined(op):
            return
        then_region, else_region = op.regions
        test = self.expr(op.operands[0])
        if self._is_expression(then_region) and self._is_expression(else_region) \
                and len(op.results) == 1:
            self.assign(op.results, [self.choice(op)], depth)
            return
        if not op.results and len(then_region.ops) == 1:  # only a yield: negate
            test = ast.UnaryOp(ast.Not(), test)
            then_region, else_region = else_region, then_region
        self.line(depth, f"if {unparse(test)}:")
        self.emit_region(then_region, depth + 1, op.results)
        if op.results or len(else_region.ops) > 1:
            self.line(depth, "else:")
            self.emit_region(else_region, depth + 1, op.results)

    def choice(self, op: Op) -> ast.expr:
        """A one-result `if` of two expressions: `a and b`, `a or b` or `x if c else y`."""
        test = self.expr(op.operands[0])
        then_value, else_value = (r.ops[-1].operands[0] for r in op.regions)
        if op.results[0].type.kind == "bool":
            if _is_const(then_value, True) and _is_const(else_value, False):
                return test
            if _is_const(then_value, False) and _is_const(else_value, True):
                return ast.UnaryOp(ast.Not(), test)
            if _is_const(else_value, False):
                return ast.BoolOp(ast.And(), [test, self.expr(then_value)])
            if _is_const(then_value, True):
                return ast.BoolOp(ast.Or(), [test, self.expr(else_value)])
        return ast.IfExp(test, self.expr(then_value), self.expr(else_value))

    def _is_expression(self, region: Region) -> bool:
        return all(o.results[0] in self.inlined for o in region.ops[:-1]
                   if len(o.results) == 1) and all(len(o.results) == 1 for o in region.ops[:-1])

    def emit_while(self, op: Op, depth: int, yield_to=None) -> None:
        before, body = op.regions
        self.assign(body.args, [self.expr(v) for v in op.operands], depth)
        test = before.ops[-1].operands[0]
        if self._is_expression(before):
            self.line(depth, f"while {unparse(self.expr(test))}:")
        else:
            self.line(depth, "while True:")
            for inner in before.ops[:-1]:
                self.emit_op(inner, depth + 1, None)
            stop = ast.If(ast.UnaryOp(ast.Not(), self.expr(test)), [ast.Break()], [])
            self.line(depth + 1, unparse(stop))
        self.emit_region(body, depth + 1, body.args)

    def emit_for(self, op: Op, depth: int, yield_to=None) -> None:
        lb, ub, step, *inits = op.operands
        body = op.regions[0]
        self.assign(body.args[1:], [self.expr(v) for v in inits], depth)
        if isinstance(step, Const) and step.value < 0:
            self.emit_descending_for(op, depth)
            return
        bounds = [self.expr(lb), self.expr(ub), self.expr(step)]
        if isinstance(step, Const) and step.value == 1:
            bounds = bounds[1:2] if isinstance(lb, Const) and lb.value == 0 else bounds[:2]
        loop = "rt.prange" if op.attrs.get("parallel") else "range"  # transforms/parallel.py
        header = unparse(ast.Call(ast.Name(loop, ast.Load()), bounds, []))
        self.line(depth, f"for {self.namer.name(body.args[0])} in {header}:")
        self.emit_region(body, depth + 1, body.args[1:])

    def emit_descending_for(self, op: Op, depth: int) -> None:
        """`for i in range(start, stop, -s)` (s a positive constant) as a loop counting up
        from 0 that derives its index, `i = start - s * t`: Numba compiles range(n) loops
        much tighter than loops with a negative step, and the reverse sweep runs every
        counted loop backwards. A start that is more than arithmetic on variables, or that
        reads a variable the body assigns, is evaluated once before the loop."""
        lb, ub, step = op.operands[:3]
        body = op.regions[0]
        stride = -step.value
        start = self.expr(lb)
        if not _is_arithmetic(start) or self._assigned_in(body, lb):
            name = self.namer.fresh(lb.hint)
            self.line(depth, f"{name} = {unparse(start)}")
            start = ast.Name(name, ast.Load())
        count = _difference(start, self.expr(ub))
        if stride != 1:
            count = ast.BinOp(_offset(count, stride - 1), ast.FloorDiv(), constant(stride))
        index = self.namer.name(body.args[0])
        if not self.uses.get(body.args[0]):
            self.line(depth, f"for {index} in range({unparse(count)}):")
            self.emit_region(body, depth + 1, body.args[1:])
            return
        counter = self.namer.fresh(index + "_back")
        steps = ast.Name(counter, ast.Load())
        if stride != 1:
            steps = ast.BinOp(constant(stride), ast.Mult(), steps)
        self.line(depth, f"for {counter} in range({unparse(count)}):")
        self.line(depth + 1, f"{index} = {unparse(ast.BinOp(start, ast.Sub(), steps))}")
        self.emit_region(body, depth + 1, body.args[1:])

    def _assigned_in(self, body: Region, value) -> bool:
        """Whether a variable that the expression of `value` reads is also assigned inside
        `body` (loop variables share names): then it cannot be re-read in every iteration."""
        read = {self.namer.names[r] for r in self._reads([value]) if r in self.namer.names}
        defined = list(body.args)
        defined += [r for op in walk_ops(body) for r in op.results]
        return any(self.namer.names.get(v) in read for v in defined)


def _is_arithmetic(node: ast.expr) -> bool:
    """Names, constants and array sizes (`a.shape[k]`) combined by +, - and * (cheap to
    evaluate in every iteration)."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
        return node.value.attr == "shape" and isinstance(node.value.value, ast.Name) \
            and isinstance(node.slice, ast.Constant)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _is_arithmetic(node.operand)
    return (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult))
            and _is_arithmetic(node.left) and _is_arithmetic(node.right))


def _split_offset(node: ast.expr) -> tuple[ast.expr | None, int]:
    """node as (base, k) with node == base + k; base None for an integer constant."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return None, node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        base, k = _split_offset(node.operand)
        if base is None:
            return None, -k
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)) \
            and isinstance(node.right, ast.Constant) and type(node.right.value) is int:
        base, k = _split_offset(node.left)
        sign = 1 if isinstance(node.op, ast.Add) else -1
        return base, k + sign * node.right.value
    return node, 0


def _offset(node: ast.expr | None, k: int) -> ast.expr:
    """node + k, written without a zero or a double sign."""
    if node is not None:
        node, k0 = _split_offset(node)
        k += k0
    if node is None:
        return constant(k)
    if k == 0:
        return node
    op = ast.Add() if k > 0 else ast.Sub()
    return ast.BinOp(node, op, ast.Constant(abs(k)))


def _difference(a: ast.expr, b: ast.expr) -> ast.expr:
    """a - b with integer offsets folded: (n - 1) - (-1) is n, (m - 1) - (d - 1) is m - d."""
    a_base, a_k = _split_offset(a)
    b_base, b_k = _split_offset(b)
    if a_base is not None and b_base is not None and ast.dump(a_base) == ast.dump(b_base):
        a_base = b_base = None
    if b_base is None:
        base = a_base
    elif a_base is None:
        base = ast.UnaryOp(ast.USub(), b_base)
    else:
        base = ast.BinOp(a_base, ast.Sub(), b_base)
    return _offset(base, a_k - b_k)


def _carried_through(fn: Function) -> dict:
    """Block argument id -> the value its loop body yields at the same position."""
    pairs = {}
    for op in walk_ops(fn.body):
        if op.prim.loop:
            body = op.regions[-1]
            args = body.args[1:] if op.prim is for_p else body.args
            pairs.update((a, y) for a, y in zip(args, body.ops[-1].operands))
    return pairs


def _is_const(value, constant) -> bool:
    return isinstance(value, Const) and value.value is constant


def _wrap(op: Op) -> Region:
    return Region(ops=[op])


def unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


def constant(value) -> ast.expr:
    if isinstance(value, float) and not math.isfinite(value):
        return ast.parse("math.nan" if math.isnan(value) else
                         ("-math.inf" if value < 0 else "math.inf"), mode="eval").body
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


HEADER = '''"""Generated by autodiff_compiler {version} from {origin}. Do not edit: regenerate."""
import math

import numpy as np

from autodiff_compiler import runtime as rt
'''


def emit_module(functions: list[Function], origin: str, version: str, cuda: bool = False,
                extra: str = "") -> str:
    """The module text (importing numba.cuda for kernels and device functions; `extra` is
    appended verbatim). Constant arrays are set on the module after import; their content
    hashes are written here so that changed constants give a new module (and Numba cache)."""
    parts = [HEADER.format(version=version, origin=origin)]
    if cuda:
        parts.append("from numba import cuda\n\nfrom autodiff_compiler import cuda_runtime as gpu\n")
    constants = {k: v for fn in functions for k, v in sorted(fn.constants.items())}
    for name, array in constants.items():
        if not isinstance(array, np.ndarray):  # a custom rule's function (custom_rules.py)
            parts.append(f"{name} = None  # set on import: {array.describe()}\n")
            continue
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]
        parts.append(f"{name} = None  # set on import: {array.dtype}{list(array.shape)}, "
                     f"sha256 {digest}\n")
    for fn in functions:
        parts.append("\n\n" + Emitter(fn).emit_function())
    if extra:
        parts.append("\n\n" + extra)
    return "".join(parts)


def value_names(fn: Function) -> dict[Value, str]:
    """The variable each value of `fn` gets in its emitted source (as emit_module names
    them; values inlined into an expression have none)."""
    emitter = Emitter(fn)
    emitter.emit_function()
    return {v: n for v, n in emitter.namer.names.items() if v not in emitter.inlined}


# how each region op, terminator and comment is written (other ops: their primitive's emit)
_STRUCTURED = {
    yield_p: Emitter.emit_yield,
    return_p: Emitter.emit_return,
    comment_p: Emitter.emit_comment,
    if_p: Emitter.emit_if,
    for_p: Emitter.emit_for,
    while_p: Emitter.emit_while,
    fused_p: emit_fused,
}
