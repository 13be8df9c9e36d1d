"""Lowering of the Python that numeric code is written in, beyond arithmetic and loops.

- Lists are tuples of values while lowering: a literal `[a, b - a]`, `rows = []` then
  `rows.append(v)` (which rebinds `rows` to a longer tuple, so branches and loops see a
  change as an assignment), comprehensions and generator expressions over a range with
  constant bounds or over a tuple (unrolled: one value per element). They become arrays
  where NumPy makes them so (`np.array(rows)`, `np.stack(rows)`, `x[[0, 2]]`).
- A `for` loop whose trip count is a constant is unrolled when its body needs it: it
  appends to a list, reads a tuple with the loop's index (`for v in [1, 2, 3]` reads one,
  after frontend.jumps) or reassigns a tuple. Where the count is not known when compiling,
  such a loop is refused at its line; `sum(f(i) for i in range(n))` becomes a loop adding up.
- `def` and `lambda` inside the function are inlined where they are called, reading the
  enclosing function's current values (Python's closures read them at call time too).
- `assert` is checked when the code runs; `print` is kept as a side effect (in reverse
  mode, in the forward sweep).
"""

from __future__ import annotations

import builtins

import gast

from ..ir.core import Const, Region, Value, const
from ..ir.types import Type
from ..primitives.arith import add_p, max2_p, sub_p
from ..primitives.indexing import new_array_p
from ..primitives.shapes import all_p, assert_p, pack_p, print_p
from .resolve import Resolved
from .scope import LocalFunction, RuntimeComprehension, Text
from .unrolling import check_recursion

_UNROLL_LIMIT = 1000  # most elements a list built while compiling may have




class PythonForms:
    """Mixin for frontend.lower.Lowering."""

    # --- literals and comprehensions -------------------------------------------------------
    def expr_Tuple(self, node):
        values = []
        for element in node.elts:
            if isinstance(element, gast.Starred):  # (*w.shape, 1), [*rows, row]
                inner = self.as_tuple(self.expr(element.value))
                if inner is None:
                    self.error(element, "only a tuple, a list or an array's .shape can be "
                               "unpacked with '*' here", unsupported=True)
                values.extend(inner)
            else:
                values.append(self.check_value(element, self.expr(element), allow_tuple=True))
        return tuple(values)

    expr_List = expr_Tuple

    def as_tuple(self, value):
        """`value` as a tuple (x.shape: its lengths), or None when it is not one."""
        from .numpy_calls import ShapeOf

        if isinstance(value, ShapeOf):
            return tuple(self.shape_of(None, value))
        return value if isinstance(value, tuple) else None

    def expr_ListComp(self, node):
        return self.comprehension(node)

    expr_GeneratorExp = expr_ListComp

    def comprehension(self, node) -> tuple:
        """[elt for target in iterable]: one value per element, the iterable known when
        compiling (a range of constants, a tuple, a list); over another range, a
        RuntimeComprehension that np.array and sum() turn into loops."""
        items = self.comprehension_items(node)
        if items is None and _is_range_call(node.generators[0].iter):
            return RuntimeComprehension(node)
        if items is None:
            self.error(node.generators[0].iter, "a list comprehension is built while "
                       "compiling: it must run over range() of constants or over a tuple or "
                       "list; write a loop that fills an array (np.zeros(n), then x[i] = ...)",
                       unsupported=True)
        gen = node.generators[0]
        values = []
        for item in items:
            saved = self.env
            self.env = dict(saved)
            try:
                self.assign(gen.target, item)
                values.append(self.check_value(node.elt, self.expr(node.elt), allow_tuple=True))
            finally:
                self.env = saved
        return tuple(values)

    def comprehension_items(self, node):
        if len(node.generators) != 1 or node.generators[0].ifs:
            self.error(node, "only comprehensions with one 'for' and no 'if' are supported",
                       unsupported=True)
        return self.constant_items(node.generators[0].iter)

    def constant_items(self, iterable):
        """The elements of `iterable` when their number is known while compiling (range() of
        constants, a tuple, a list, enumerate/zip of those), else None."""
        if isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name) \
                and iterable.func.id not in self.env:
            found = self.expr(iterable.func)
            if isinstance(found, Resolved) and found.kind == "builtin" and \
                    found.value == "range":
                return self.builtin_items(iterable, "range")
            for builtin in (builtins.enumerate, builtins.zip):
                if isinstance(found, Resolved) and found.value is builtin:
                    return self.builtin_items(iterable, builtin.__name__)
        value = self.as_tuple(self.expr(iterable))
        return None if value is None else list(value)

    def builtin_items(self, node, name: str):
        if name == "range":
            with self.region(Region(), dict(self.env)):  # lowered only to see constants
                bounds = [self.expr(a) for a in node.args]
            if not bounds or not all(isinstance(v, Const) and v.type.kind == "int"
                                     for v in bounds):
                return None
            steps = range(*(v.value for v in bounds))
            self.check_unroll(node, len(steps))
            return [const(k) for k in steps]
        parts = [self.constant_items(a) for a in node.args]
        if any(p is None for p in parts) or not parts:
            return None
        if name == "enumerate":
            return [(const(k), v) for k, v in enumerate(parts[0])]
        return [tuple(row) for row in zip(*parts)]

    def check_unroll(self, node, count: int) -> None:
        if count > _UNROLL_LIMIT:
            self.error(node, f"a list of {count} elements would be built while compiling "
                       f"(at most {_UNROLL_LIMIT}); fill an array in a loop instead",
                       unsupported=True)

    def sum_of(self, node, start=None) -> Value:
        """sum(elt for i in range(n)) with any n: a loop adding up; of a tuple: its sum."""
        arg = node.args[0]
        items = self.expr(arg)
        if isinstance(items, RuntimeComprehension):
            return self.summing_loop(node, arg, start)
        items = self.as_tuple(items)
        if items is None:
            value = self.check_value(arg, self.expr(arg))
            if value.type.is_array:
                self.error(node, "sum() of an array: use np.sum (Python's sum adds the rows)",
                           unsupported=True)
            self.error(node, "sum() takes a list, a tuple or a generator expression")
        total = start if start is not None else const(0)
        for item in items:
            total = self.b(add_p, total, self.check_value(arg, item))
        return total

    def summing_loop(self, node, gen, start) -> Value:
        """`total = start; for target in iterable: total = total + elt` lowered as a loop."""
        total = f"__sum_{id(node)}"
        step = gast.Assign([_name(total, store=True)],
                           gast.BinOp(_name(total), gast.Add(), gen.elt), None)
        start = start if start is not None else const(0)
        return self.generated_loop(node, gen, step, {total: start})[total]

    def filled_array(self, node, gen) -> Value:
        """np.array([elt for i in range(a, b)]) with bounds known at run time: a new array
        of max(b - a, 0) numbers written in a loop (`out[i - a] = elt`)."""
        iterable = gen.generators[0].iter
        if len(iterable.args) > 2 or not isinstance(gen.generators[0].target, gast.Name):
            self.error(iterable, "np.array of a comprehension over range() with a step "
                       "(or several loop variables) is not supported: fill an array in a loop",
                       unsupported=True)
        bounds = [self.integer(a) for a in iterable.args]
        begin, end = ([const(0)] + bounds)[-2:]
        count = self.b(max2_p, self.b(sub_p, end, begin), const(0))
        out = self.b.op(new_array_p, count, attrs={"fill": 0.0}, hint="filled").result
        names = {f"__filled_{id(node)}": out, f"__begin_{id(node)}": begin,
                 f"__end_{id(node)}": end}
        filled, first, last = names
        index = gast.BinOp(_name(gen.generators[0].target.id), gast.Sub(), _name(first))
        step = gast.Assign([gast.Subscript(_name(filled), index, gast.Store())], gen.elt, None)
        loop_range = gast.Call(_name("range"), [_name(first), _name(last)], [])
        return self.generated_loop(node, gen, step, names, loop_range)[filled]

    def generated_loop(self, node, gen, step, names: dict, iterable=None) -> dict:
        """Lower `for target in iterable: step` (the comprehension's own iterable unless
        given), with `names` bound to values first; their values after the loop. The loop's
        variable is not kept (a comprehension has its own scope)."""
        comprehension = gen.generators[0]
        targets = _target_names(comprehension.target)
        shadowed = {n: self.env[n] for n in targets if n in self.env}
        self.env.update(names)
        loop = gast.For(comprehension.target, iterable or comprehension.iter, [step], [], None)
        for made in gast.walk(loop):
            if not hasattr(made, "lineno") or made.lineno is None:
                gast.copy_location(made, node)
        saved_locals = self.locals
        self.locals = self.locals | set(names)
        try:
            self.lower_for(loop)
        finally:
            self.locals = saved_locals
        results = {n: self.env.pop(n) for n in names}
        for name in targets:
            self.env.pop(name, None)
        self.env.update(shadowed)
        return results

    # --- np.array of numbers, lists and arrays -----------------------------------------------
    def array_of(self, node, value, copy: bool = True):
        """np.array(value): a number stays a number (NumPy's 0-d array), a tuple of numbers
        becomes a 1-D array, a tuple of equal arrays (or tuples) is stacked."""
        from .numpy_calls import ShapeOf

        if isinstance(value, ShapeOf):
            value = self.as_tuple(value)
        if isinstance(value, RuntimeComprehension):
            return self.filled_array(node, value.node)
        if isinstance(value, Value):
            if value.type.is_array and copy:
                return self.b.op("copy", value, hint=value.hint).result
            return value
        if not isinstance(value, tuple):
            self.check_value(node, value)
        if not value:
            self.error(node, "an empty list has no type here: use np.zeros(0)",
                       unsupported=True)
        parts = [self.array_of(node, v, copy=False) for v in value]
        ranks = {p.type.ndim for p in parts}
        if len(ranks) != 1:
            self.error(node, "np.array of a list that mixes numbers and arrays (or arrays "
                       "of different ranks) is not supported", unsupported=True)
        kind = "float" if any(p.type.kind == "float" for p in parts) else \
            "int" if any(p.type.kind == "int" for p in parts) else "bool"  # NumPy's dtype
        if ranks == {0}:
            return self.b(pack_p, *[self.cast(p, Type(kind)) for p in parts], hint="packed")
        rank = ranks.pop()
        return self.b("stack", *[self.cast(p, Type(kind, rank)) for p in parts],
                      attrs={"axis": 0})

    def index_array(self, node, value):
        """An index that is a list of numbers (`x[[0, 2]]`): an array of them."""
        if isinstance(value, tuple):
            return self.array_of(node, value)
        return value

    # --- statements --------------------------------------------------------------------------
    def python_statement(self, stmt) -> bool:
        """Lower `stmt` if it is one of the forms of this module; whether it was."""
        if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
            call = stmt.value
            if isinstance(call.func, gast.Attribute) and call.func.attr == "append" and \
                    isinstance(call.func.value, gast.Name) and \
                    isinstance(self.env.get(call.func.value.id), tuple):
                if len(call.args) != 1 or call.keywords:
                    self.error(call, "list.append takes one value")
                name = call.func.value.id
                item = self.check_value(call.args[0], self.expr(call.args[0]), allow_tuple=True)
                self.env[name] = self.env[name] + (item,)
                return True
            if isinstance(call.func, gast.Name) and call.func.id == "print" and \
                    call.func.id not in self.env:
                self.lower_print(call)
                return True
            return False
        if isinstance(stmt, gast.Assert):
            self.lower_assert(stmt)
            return True
        if isinstance(stmt, gast.FunctionDef):
            self.env[stmt.name] = LocalFunction(stmt, stmt.name)
            return True
        return bool(isinstance(stmt, gast.For) and self.unrolls(stmt))

    def lower_print(self, call) -> None:
        if call.keywords:
            self.error(call.keywords[0].value, "print(): keywords (sep=, end=) are not "
                       "supported", unsupported=True)
        parts, operands = [], []
        for arg in call.args:
            value = self.expr(arg)
            if isinstance(value, Text):
                parts.append(value.value)
                continue
            for item in (value if isinstance(value, tuple) else (value,)):
                operands.append(self.check_value(arg, item))
                parts.append(None)
        self.b.op(print_p, *operands, attrs={"parts": tuple(parts)}, result_types=[])

    def lower_assert(self, stmt) -> None:
        message = None
        if stmt.msg is not None:
            text = self.expr(stmt.msg)
            if not isinstance(text, Text):
                self.error(stmt.msg, "the message of an assert must be a string constant",
                           unsupported=True)
            message = text.value
        test = self.value(stmt.test)
        if test.type.is_array:
            self.error(stmt.test, "the truth of an array is ambiguous: assert np.all(...) "
                       "or np.any(...)", unsupported=True)
        self.b.op(assert_p, self.condition(stmt.test) if test.type.kind != "bool" else test,
                  attrs={"message": message}, result_types=[])

    def all_or_any(self, node, name: str, args) -> Value:
        from ..primitives.shapes import any_p

        if len(args) != 1 or node.keywords:
            self.error(node, f"np.{name} takes one array (no axis)", unsupported=True)
        x = self.check_value(node, args[0])
        if not x.type.is_array:
            return self.condition(node.args[0])
        return self.b(all_p if name == "all" else any_p, x)

    # --- unrolled loops ------------------------------------------------------------------------
    def unrolls(self, node) -> bool:
        """Unroll `for target in range(constants)` when its body needs it (see the module
        docstring); whether it did."""
        if not isinstance(node.target, gast.Name) or not self.needs_unroll(node):
            return False
        items = self.constant_items(node.iter)
        if items is None:
            self.error(node, "this loop builds or reads a list, so it runs while compiling: "
                       "its range() must have constant bounds; fill an array instead "
                       "(np.zeros(n), then x[i] = ...)", unsupported=True)
        for item in items:
            self.b.loc = self.parsed.loc(node)
            self.assign(node.target, item)
            if self.lower_block(node.body) is not None:
                self.error(node, "a return inside an unrolled loop is not supported")
        return True

    def needs_unroll(self, node) -> bool:
        tuples = {n for n, v in self.env.items() if isinstance(v, tuple)}
        todo = list(node.body)
        while todo:
            n = todo.pop()
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                    n.func.attr == "append" and isinstance(n.func.value, gast.Name) and \
                    n.func.value.id in tuples:
                return True
            if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and \
                    n.value.id in tuples:
                return True
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and n.id in tuples:
                return True
            todo.extend(gast.iter_child_nodes(n))
        return False

    def check_loop_lists(self, node, before: dict, after: dict) -> None:
        """A list made before a loop that is not unrolled must not change in it: the loop
        runs once in the compiled code, the list is built while compiling."""
        for name, value in before.items():
            if isinstance(value, tuple) and after.get(name) is not value:
                self.error(node, f"the list '{name}' changes in a loop whose trip count is "
                           "not known when compiling; fill an array instead (np.zeros(n), "
                           "then x[i] = ...)", unsupported=True)

    # --- nested functions ----------------------------------------------------------------------
    def expr_Lambda(self, node):
        return LocalFunction(node, "<lambda>")

    def inline_local(self, node, fn: LocalFunction):
        """A call of a nested def or lambda: its body lowered here, its parameters bound to
        the arguments, other names read from the enclosing function's current values."""
        check_recursion(self, node, fn.node, fn.name)
        bound = self.bind_parameters(node, fn.node.args, fn.name, [
            self.expr(d) for d in fn.node.args.defaults], {
            a.id: self.expr(d) for a, d in zip(fn.node.args.kwonlyargs,
                                               fn.node.args.kw_defaults) if d is not None})
        if isinstance(fn.node, gast.Lambda):
            saved = self.env
            self.env = {**saved, **bound}
            try:
                return self.expr(fn.node.body)
            finally:
                self.env = saved
        return self.lower_inlined(self.parsed, fn.node.body, {**self.env, **bound}, fn.node)

    def bind_parameters(self, node, args, name: str, defaults: list, kw_defaults: dict,
                        values=None) -> dict:
        """Parameter name -> value for a call `node` of a function with parameters `args`
        (gast.arguments): positional arguments (`values` when lowered already), then
        keywords, then defaults."""
        params = [a.id for a in args.posonlyargs + args.args]
        keyword_params = params[len(args.posonlyargs):] + [a.id for a in args.kwonlyargs]
        if any(isinstance(a, gast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            self.error(node, f"{name}(): *args and **kwargs in calls are not supported",
                       unsupported=True)
        if values is None:
            values = [self.check_value(a, self.expr(a), allow_tuple=True) for a in node.args]
        if len(values) > len(params):
            self.error(node, f"{name}() takes {len(params)} positional arguments, got "
                       f"{len(values)}")
        bound = dict(zip(params, values))
        for keyword in node.keywords:
            if keyword.arg not in keyword_params or keyword.arg in bound:
                self.error(keyword.value, f"{name}() got an unexpected or repeated keyword "
                           f"argument '{keyword.arg}'")
            bound[keyword.arg] = self.check_value(keyword.value, self.expr(keyword.value),
                                                  allow_tuple=True)
        for param, default in zip(params[len(params) - len(defaults):], defaults):
            bound.setdefault(param, default)
        for param, default in kw_defaults.items():
            bound.setdefault(param, default)
        missing = [p for p in params + [a.id for a in args.kwonlyargs] if p not in bound]
        if missing:
            self.error(node, f"{name}() is missing the argument '{missing[0]}'")
        for param, value in bound.items():
            if not isinstance(value, (Value, tuple)):
                self.error(node, f"{name}(): the value of '{param}' is not a number, an "
                           "array or a tuple of them", unsupported=True)
        return bound




def _is_range_call(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
        node.func.id == "range"


def _name(identifier: str, store: bool = False):
    return gast.Name(identifier, gast.Store() if store else gast.Load(), None, None)


def _target_names(target) -> list[str]:
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    return []
