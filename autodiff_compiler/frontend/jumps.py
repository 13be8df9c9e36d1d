"""Structured jump elimination: break, continue and return inside loops become flags.

The AST is rewritten before lowering, innermost loop first (Erosa & Hendren, "Taming
Control Flow: A Structured Approach to Eliminating Goto Statements", ICCL 1994):
- `break` sets a flag that the loop condition tests; `continue` sets a flag reset at the top of
  each iteration; `return v` inside a loop stores v, sets a flag and leaves the loop, and the
  loop is followed by `if flag: return v`, which is again an early return one level out.
- Statements after a conditional jump are guarded by `if not flags:`.
- A `for` over range() that can be left early becomes a `while` with its own counter.
Loops over arrays (`for v in x`, `enumerate(x)`, `zip(x, y)`) are rewritten as loops over
range(len(...)) reading the elements, so the same machinery covers them.
"""

from __future__ import annotations

import builtins
import copy
import itertools

import gast

UNDEFINED = "__undefined__"  # name of the placeholder a return value starts from


def _name(identifier: str, store: bool = False):
    return gast.Name(identifier, gast.Store() if store else gast.Load(), None, None)


def _assign(identifier: str, value, like):
    node = gast.Assign([_name(identifier, store=True)], value, None)
    return gast.copy_location(node, like)


def _const(value):
    return gast.Constant(value, None)


def _any_flag(flags: list[str]):
    tests = [_name(f) for f in flags]
    return tests[0] if len(tests) == 1 else gast.BoolOp(gast.Or(), tests)


def _not(test):
    return gast.UnaryOp(gast.Not(), test)


def _jumps_here(node) -> set[type]:
    """Kinds of jump in `node` that leave or continue *this* loop level."""
    found: set[type] = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (gast.Break, gast.Continue, gast.Return)):
            found.add(type(n))
        elif not isinstance(n, (gast.For, gast.While, gast.FunctionDef)) or n is node:
            todo.extend(c for c in gast.iter_child_nodes(n) if isinstance(c, gast.stmt))
    return found


class JumpEliminator:
    def __init__(self, fn, node):
        self.fn = fn
        self.taken = {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}
        self.taken |= set(fn.__globals__) | {a.id for a in gast.walk(node.args)
                                              if isinstance(a, gast.Name)}

    def fresh(self, base: str) -> str:
        """A name used nowhere in the function or its globals: base, base_1, ..."""
        name = base
        for k in itertools.count(1):
            if name not in self.taken:
                break
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    # --- walking ----------------------------------------------------------------------------
    def block(self, stmts: list) -> list:
        """Rewrite every loop in `stmts` (and below), innermost first."""
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.If):
                stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
                out.append(stmt)
            elif isinstance(stmt, (gast.For, gast.While)):
                stmt.body = self.block(stmt.body)
                out.extend(self.loop(stmt))
            elif isinstance(stmt, gast.FunctionDef):  # a nested def: its own loops
                stmt.body = self.block(stmt.body)
                out.append(stmt)
            else:
                out.append(stmt)
        return out

    def loop(self, loop) -> list:
        prelude = []
        if isinstance(loop, gast.For):
            loop, prelude = self.over_sequence(loop)
        kinds = set().union(*(_jumps_here(s) for s in loop.body)) if loop.body else set()
        if not kinds:
            return prelude + [loop]
        flags = {kind: self.fresh(name) for kind, name in
                 ((gast.Break, "broke"), (gast.Continue, "skip"), (gast.Return, "returned"))
                 if kind in kinds}
        value = self.fresh("return_value") if gast.Return in kinds else None
        body, _ = self.guard(loop.body, flags, value)
        if gast.Continue in flags:
            body.insert(0, _assign(flags[gast.Continue], _const(False), loop))
        exits = [flags[k] for k in (gast.Break, gast.Return) if k in flags]
        before = [_assign(f, _const(False), loop) for f in exits]
        if value is not None:
            before.append(_assign(value, _name(UNDEFINED), loop))
        if exits:
            loop, setup = self.as_while(loop, body, _not(_any_flag(exits)))
            before += setup
        else:
            loop.body = body
        after = []
        if value is not None:
            ret = gast.copy_location(gast.Return(_name(value)), loop)
            after.append(gast.copy_location(gast.If(_name(flags[gast.Return]), [ret], []), loop))
        return prelude + before + [loop] + after

    def guard(self, stmts: list, flags: dict, value) -> tuple[list, bool]:
        """Replace jumps by flag assignments; guard what follows a conditional jump."""
        out = []
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, (gast.Break, gast.Continue)):
                out.append(_assign(flags[type(stmt)], _const(True), stmt))
                return out, True
            if isinstance(stmt, gast.Return):
                out.append(_assign(value, stmt.value or _const(None), stmt))
                out.append(_assign(flags[gast.Return], _const(True), stmt))
                return out, True
            if isinstance(stmt, gast.If) and _jumps_here(stmt):
                stmt.body, _ = self.guard(stmt.body, flags, value)
                stmt.orelse, _ = self.guard(stmt.orelse, flags, value)
                out.append(stmt)
                rest, _ = self.guard(stmts[k + 1:], flags, value)
                if rest:
                    test = _not(_any_flag(list(flags.values())))
                    out.append(gast.copy_location(gast.If(test, rest, []), stmts[k + 1]))
                return out, False
            out.append(stmt)
        return out, False

    # --- loop shapes ------------------------------------------------------------------------
    def as_while(self, loop, body: list, keep_going):
        """The loop as a `while` that also stops when `keep_going` is false."""
        if isinstance(loop, gast.While):
            loop.test = gast.BoolOp(gast.And(), [keep_going, loop.test])
            loop.body = body
            return loop, []
        args = list(loop.iter.args)
        lower, upper, step = ([_const(0)] + args + [_const(1)])[:3] if len(args) == 1 else \
            (args + [_const(1)])[:3]
        counter, stop, stride = (self.fresh(loop.target.id + "_next"), self.fresh("stop"),
                                 self.fresh("step"))
        setup = [_assign(counter, lower, loop), _assign(stop, upper, loop),
                 _assign(stride, step, loop)]
        sign = _constant_sign(step)
        ascending = gast.Compare(_name(counter), [gast.Lt()], [_name(stop)])
        descending = gast.Compare(_name(counter), [gast.Gt()], [_name(stop)])
        if sign is None:
            positive = gast.Compare(_name(stride), [gast.Gt()], [_const(0)])
            in_range = gast.IfExp(positive, ascending, descending)
        else:
            in_range = ascending if sign > 0 else descending
        advance = _assign(counter, gast.BinOp(_name(counter), gast.Add(), _name(stride)), loop)
        body = [_assign(loop.target.id, _name(counter), loop)] + body + [advance]
        test = gast.BoolOp(gast.And(), [keep_going, in_range])
        return gast.copy_location(gast.While(test, body, []), loop), setup

    def over_sequence(self, loop):
        """`for v in x`, `enumerate(x)`, `zip(x, y)` -> `for k in range(len(...))`."""
        it = loop.iter
        call = it.func.id if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) \
            else None
        if call == "range" and self._is_builtin("range"):
            return loop, []
        prelude, reads = [], []
        index = self.fresh("k")
        if call == "enumerate" and self._is_builtin(call) and len(it.args) == 1 \
                and isinstance(loop.target, gast.Tuple) and len(loop.target.elts) == 2:
            seqs, targets = [it.args[0]], [loop.target.elts[1]]
            index = loop.target.elts[0].id if isinstance(loop.target.elts[0], gast.Name) \
                else index
        elif call == "zip" and self._is_builtin(call) and isinstance(loop.target, gast.Tuple) \
                and len(loop.target.elts) == len(it.args) >= 2:
            seqs, targets = list(it.args), list(loop.target.elts)
        elif call is None or call not in ("enumerate", "zip"):
            seqs, targets = [it], [loop.target]
        else:
            return loop, []  # refused when lowered
        names = []
        for seq in seqs:
            if isinstance(seq, gast.Name):
                names.append(seq.id)
            else:
                names.append(self.fresh("seq"))
                prelude.append(_assign(names[-1], seq, loop))
        lengths = [gast.Call(_name("len"), [_name(n)], []) for n in names]
        length = lengths[0] if len(lengths) == 1 else gast.Call(_name("min"), lengths, [])
        for target, seq in zip(targets, names):
            element = gast.Subscript(_name(seq), _name(index), gast.Load())
            reads.append(gast.copy_location(gast.Assign([target], element, None), loop))
        rng = gast.copy_location(gast.Call(_name("range"), [length], []), it)
        new = gast.For(_name(index, store=True), rng, reads + loop.body, loop.orelse, None)
        return gast.copy_location(new, loop), prelude

    def _is_builtin(self, name: str) -> bool:
        return self.fn.__globals__.get(name, getattr(builtins, name)) is getattr(builtins, name)


def _constant_sign(node):
    if isinstance(node, gast.Constant) and isinstance(node.value, (int, float)):
        return (node.value > 0) - (node.value < 0)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _constant_sign(node.operand)
        return None if inner is None else -inner
    return None


def eliminate_jumps(fn, node: gast.FunctionDef) -> gast.FunctionDef:
    """A copy of `node` without break/continue/return inside loops and with range loops only."""
    node = copy.deepcopy(node)
    node.body = JumpEliminator(fn, node).block(node.body)
    return node
