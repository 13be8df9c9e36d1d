"""Lower a fenced gast function to structured SSA, specialised to its argument types.

SSA is built directly from the structured AST (the structured case of Braun et al., "Simple
and Efficient Construction of Static Single Assignment Form", CC 2013): a map from variable
names to their current value, copied into each branch and loop body; where branches meet, the
names whose value differs become results of the `if` op; names assigned in a loop body and
defined before it become the loop's carried block arguments (not arrays updated with y += v:
NumPy writes those in place, and so does the IR). Loop-carried types are settled
by re-lowering the body until they stop widening (int -> float), as Numba's unification does.

Early returns from branches are lowered by appending the statements that follow the `if` to
the branch that falls through, so every path ends in one `return` and the function's result
is a result of the `if` op.
"""

from __future__ import annotations

from contextlib import contextmanager

import gast

from ..errors import AutodiffSyntaxError, UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.core import Const, Function, Region, Value, const
from ..ir.types import BOOL, F64, I64, Type, promote
from ..primitives.control import if_p, return_p, yield_p
from ..primitives.indexing import (
    constant_array_p,
    copy_p,
    getitem_p,
    setitem_p,
    slice_set_p,
    take_p,
    take_set_p,
)
from . import resolve
from .block_reductions import rewrite_block_reductions
from .expressions import ExpressionLowering
from .jumps import UNDEFINED
from .parameters import bind_entries, entry_name, parameter_entries, replaced
from .python_forms import PythonForms
from .scope import LocalFunction
from .scope import assigned_names as _assigned_names
from .scope import split_docstring as _split_docstring
from .source import ParsedFunction
from .unrolling import RecursionBudget, check_recursion


class Undefined:
    """Marks a name that may be unbound at this point, with why."""

    def __init__(self, reason: str):
        self.reason = reason


class Placeholder:
    """The value a loop's early-return slot holds before the loop (see frontend.jumps)."""


class Lowering(PythonForms, ExpressionLowering):
    def __init__(self, parsed: ParsedFunction, arg_types: list[Type], copied_params=(),
                 kernel: bool = False):
        self.kernel = kernel  # a CUDA kernel: returns nothing, writes its output arguments
        self.parsed = parsed
        self.arg_types = arg_types
        self.copied_params = set(copied_params)
        self.call_stack = (parsed.fn,)
        self.recursion = RecursionBudget()
        self.constants: dict = {}
        self.constant_values: dict[Value, str] = {}  # value -> the user's name
        self.env: dict[str, object] = {}
        self.b: Builder | None = None

    # --- helpers ---------------------------------------------------------------------------
    def error(self, node, message: str, unsupported: bool = False):
        cls = UnsupportedOperationError if unsupported else AutodiffSyntaxError
        raise cls(message, self.parsed.loc(node))

    @contextmanager
    def region(self, region: Region, env: dict):
        saved = self.b, self.env
        self.b, self.env = self.b.child(region), env
        try:
            yield
        finally:
            self.b, self.env = saved

    def read_name(self, node, name: str):
        if name == UNDEFINED:
            return Placeholder()
        if name in self.env:
            value = self.env[name]
            if isinstance(value, Undefined):
                self.error(node, f"variable '{name}' may be undefined here: {value.reason}")
            return value
        if name in self.locals:
            self.error(node, f"local variable '{name}' is read before it is assigned")
        found = resolve.lookup_name(self.parsed.fn, name)
        if found.kind == "constant":
            return const(found.value)
        if found.kind == "array":
            return self.constant_array(name, found.value)
        if found.kind == "unknown" and found.value is None:
            self.error(node, f"name '{name}' is not defined")
        return found

    def constant_array(self, name: str, array) -> Value:
        """A global or closure array, read (never written) as a constant of the module."""
        kind = {"b": "bool", "i": "int", "u": "int", "f": "float"}[array.dtype.kind]
        original = name
        for key, known in self.constants.items():
            if known is array:
                name = key
                break
        else:
            name = _fresh(f"{name}_const", self.constants)
            self.constants[name] = array
        value = self.b.op(constant_array_p, attrs={"name": name}, hint=name,
                          result_types=[Type(kind, array.ndim,
                                             32 if array.dtype.name == "float32" else 64)]).result
        self.constant_values[value] = original
        return value

    def cast(self, value: Value, type: Type, exact: bool = False) -> Value:
        """`value` as a `type.kind` value of its rank; a float keeps its precision unless
        `exact` (merged values, x.astype(np.float32)), literals stay weak as float64."""
        if value.type == type or (not exact and value.type.kind == type.kind == "float"):
            return value
        if value.type.ndim != type.ndim:
            raise TypeError(f"cannot merge {value.type} with {type}")
        if isinstance(value, Const):
            convert = {"float": float, "int": int, "bool": bool}[type.kind]
            return const(convert(value.value), type.with_ndim(0) if type.is_float32 else
                         F64 if type.kind == "float" else type)
        name = {"float": "cast_float", "int": "cast_int", "bool": "cast_bool"}[type.kind]
        return self.b(name, value, hint=value.hint,
                      attrs={"bits": 32} if type.is_float32 else None)

    def merge_types(self, node, name: str, values: list[Value]) -> Type:
        if not all(isinstance(v, Value) for v in values):
            self.error(node, f"'{name}' holds a tuple on one path; tuples cannot be merged")
        if len({v.type.ndim for v in values}) > 1:
            self.error(node, f"'{name}' is an array on one path and a scalar on another")
        return promote(*(v.type for v in values))

    # --- function --------------------------------------------------------------------------
    def lower(self) -> Function:
        node = self.parsed.node
        args = node.args
        names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        entries = parameter_entries(names, self.arg_types)
        body = Region(args=[Value(t, entry_name(n, path)) for n, path, t in entries])
        self.env = bind_entries(names, self.arg_types, body.args)
        self.params = list(body.args)
        self.written_params: set = set()
        self.named = {v for v in body.args}
        self.b = Builder(body)
        for k in sorted(self.copied_params):
            self.b.loc = self.parsed.loc(node)
            name, path, _ = entries[k]
            copy = self.b.op(copy_p, body.args[k], hint=entry_name(name, path)).result
            self.env[name] = replaced(self.env[name], path, copy)
        stmts, doc = _split_docstring(node.body)
        self.locals = set(names) | set(_assigned_names(stmts))
        result = self.lower_block(stmts)
        if result is None and not self.kernel:
            self.error(node, "the function must end with 'return <value>'")
        if self.kernel and result:
            self.error(node, "a kernel returns nothing: it writes its outputs into arrays")
        self.b.op(return_p, *(result or ()), result_types=[])
        return Function(node.name, body, self.parsed.filename, doc,
                        [entry_name(n, path) for n, path, _ in entries], self.constants)

    # --- calls of other Python functions ------------------------------------------------------
    def inline_call(self, node, callee, values=None):
        """Lower a call of a user function by lowering its body in place (its own names and
        globals), with the arguments (`values`: lowered already) bound to its parameters.
        Returns what it returns (None for a function that only writes into its arrays)."""
        from .reader import read_function

        check_recursion(self, node, getattr(callee.value, "py_func", callee.value), callee.name)
        try:
            parsed = read_function(callee.value)
        except TypeError as exc:
            self.error(node, f"cannot differentiate through '{callee.name}': {exc}",
                       unsupported=True)
        env = self.bind_arguments(node, parsed, callee.name, values)
        return self.lower_inlined(parsed, parsed.node.body, env, parsed.fn)

    def lower_inlined(self, parsed: ParsedFunction, body, env: dict, key):
        """Lower the statements `body` of an inlined function here: a sub-lowering that
        shares this one's builder, parameters and constants, with the names `env` (`key`
        marks the call against recursion). Returns what the body returns (None for a body
        that only writes into its arrays)."""
        sub = type(self)(parsed, [])
        sub.b, sub.params, sub.written_params = self.b, self.params, self.written_params
        sub.constants, sub.constant_values = self.constants, self.constant_values
        sub.call_stack, sub.recursion = self.call_stack + (key,), self.recursion
        sub.env, sub.named = env, set()
        stmts, _ = _split_docstring(body)
        sub.locals = set(sub.env) | set(_assigned_names(stmts))
        saved_loc = self.b.loc
        try:
            result = sub.lower_block(stmts)
        finally:
            self.b.loc = saved_loc
        if result is None:
            return None
        return result[0] if len(result) == 1 else tuple(result)

    def bind_arguments(self, node, parsed: ParsedFunction, name: str, values=None) -> dict:
        """Parameter name -> value for a call of `parsed` (`values`: the positional
        arguments, lowered already)."""
        fn = parsed.fn
        defaults = [_default(self, node, name, d) for d in fn.__defaults__ or ()]
        kw_defaults = {k: _default(self, node, name, d)
                       for k, d in (fn.__kwdefaults__ or {}).items()}
        return self.bind_parameters(node, parsed.node.args, name, defaults, kw_defaults, values)

    def lower_block(self, stmts) -> tuple | None:
        """Lower statements; return the returned values if every path returns, else None."""
        for k, stmt in enumerate(stmts):
            self.b.loc = self.parsed.loc(stmt)
            if isinstance(stmt, gast.Return):
                return self.lower_return(stmt)
            if isinstance(stmt, gast.If) and _contains_return(stmt):
                return self.lower_returning_if(stmt, list(stmts[k + 1:]))
            self.lower_stmt(stmt)
        return None

    def lower_return(self, stmt) -> tuple:
        if stmt.value is None:
            if self.kernel:
                return ()
            self.error(stmt, "a differentiated function must return a value")
        value = self.expr(stmt.value)
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            self.check_value(stmt.value, v)
        return values

    def lower_stmt(self, stmt) -> None:
        if self.python_statement(stmt):
            return
        if isinstance(stmt, gast.Assign):
            value = self.expr(stmt.value)
            for target in stmt.targets:
                self.assign(target, value)
        elif isinstance(stmt, gast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.expr(stmt.value))
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript) \
                and self.indexes_with_array(stmt.target):
            self.update_through_index(stmt)
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript) \
                and self.is_slice(stmt.target):
            current = self.slice_copy(stmt.target)
            self.store_slice(stmt.target, self.binop(stmt, stmt.op, current,
                                                     self.expr(stmt.value)))
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript):
            array, indices = self.element(stmt.target)
            current = self.b(getitem_p, array, *indices, hint=array.hint + "_i")
            updated = self.binop(stmt, stmt.op, current, self.expr(stmt.value))
            self.store(stmt.target, array, indices, updated)
        elif isinstance(stmt, gast.AugAssign):
            current = self.read_name(stmt.target, stmt.target.id)
            updated = self.binop(stmt, stmt.op, current, self.expr(stmt.value))
            if isinstance(current, Value) and current.type.is_array:
                self.update_in_place(stmt, current, updated)
            else:
                self.assign(stmt.target, updated)
        elif isinstance(stmt, gast.Expr):
            if not isinstance(stmt.value, gast.Constant):
                self.expr(stmt.value)
        elif isinstance(stmt, gast.Pass):
            pass
        elif isinstance(stmt, gast.If):
            self.lower_if(stmt)
        elif isinstance(stmt, gast.For):
            self.lower_for(stmt)
        elif isinstance(stmt, gast.While):
            self.lower_while(stmt)
        else:
            self.error(stmt, f"'{type(stmt).__name__}' statements are not supported")

    def store_slice(self, node, value) -> None:
        """a[i:j] = v, a[:, k] += v: v (a number or an array) written into a slice."""
        array = self.value(node.value)
        value = self.check_value(node, value)
        self.check_writable(node, array)
        layout, operands = self.slice_layout(node, array, self.index_nodes(node, array))
        self.b.op(slice_set_p, array, *operands, self.cast(value, Type(
            array.type.kind, value.type.ndim)), attrs={"layout": layout}, result_types=[])
        if array in self.params:
            self.written_params.add(self.params.index(array))

    def update_in_place(self, stmt, current: Value, updated) -> None:
        """y += v (-=, *=, ...) for an array y: NumPy writes the result into y's memory, so
        every name, view and caller that shares y sees it; lowered as y[...] = y + v."""
        updated = self.check_value(stmt, updated)
        if updated.type.ndim > current.type.ndim or (
                updated.type.kind == "float" and current.type.kind != "float"):
            self.error(stmt, f"'{stmt.target.id}' cannot hold the result in place (NumPy "
                       "refuses a wider shape or a float result in an int or bool array)",
                       unsupported=True)
        name = gast.copy_location(gast.Name(stmt.target.id, gast.Load(), None, None),
                                  stmt.target)
        whole = gast.copy_location(gast.Subscript(name, gast.Slice(None, None, None),
                                                  gast.Store()), stmt.target)
        self.store_slice(whole, updated)

    def update_through_index(self, stmt) -> None:
        """y[idx] += v (-=, *=, ...): y[idx] = y[idx] + v with y[idx] read first, as NumPy
        does, so a repeated index is updated once. The sum has the shape of y[idx] (the write
        fails otherwise): attrs say so, and the reverse sweep needs no shape from them."""
        array, index = self.index_array_target(stmt.target)
        if isinstance(stmt.op, gast.MatMult):
            self.error(stmt, "'@=' through an array of indices is not supported",
                       unsupported=True)
        current = self.b(take_p, array, index, hint=array.hint + "_taken")
        updated = self.binop(stmt, stmt.op, current, self.expr(stmt.value),
                             attrs={"shape_of": 0})
        self.store_through_index(stmt.target, array, index, updated, same_shape=True)

    def store_through_index(self, node, array: Value, index: Value, value,
                            same_shape: bool = False) -> None:
        """y[idx] = v: v (a number, or an array of len(idx) entries or rows, or one row to
        repeat) written at the entries or rows named by idx; NumPy keeps the last of repeated
        writes. `same_shape`: v has the shape of y[idx] (no broadcasting)."""
        value = self.check_value(node, value)
        if value.type.ndim > array.type.ndim:
            self.error(node, "the value written has more axes than the array", unsupported=True)
        self.b.op(take_set_p, array, index, self.cast(value, Type(
            array.type.kind, value.type.ndim)), attrs={"same_shape": same_shape},
            result_types=[])
        if array in self.params:
            self.written_params.add(self.params.index(array))

    def check_writable(self, node, array: Value) -> None:
        if array in self.constant_values:
            self.error(node, f"'{self.constant_values[array]}' is an array from outside the "
                       "function (a global or closure variable), read as a constant: it cannot "
                       "be written; write into a copy np.copy instead", unsupported=True)

    def store(self, node, array: Value, indices, value) -> None:
        value = self.check_value(node, value)
        if value.type.is_array:
            self.error(node, "only single elements can be written (one index per axis)",
                       unsupported=True)
        self.check_writable(node, array)
        self.b.op(setitem_p, array, *indices, self.cast(value, array.type.element),
                  result_types=[])
        if array in self.params:
            self.written_params.add(self.params.index(array))

    def assign(self, target, value) -> None:
        if isinstance(target, gast.Subscript) and self.indexes_with_array(target):
            self.store_through_index(target, *self.index_array_target(target), value)
            return
        if isinstance(target, gast.Subscript) and self.is_slice(target):
            self.store_slice(target, value)
            return
        if isinstance(target, gast.Subscript):
            self.store(target, *self.element(target), value)
            return
        if isinstance(target, gast.Name):
            if isinstance(value, (Placeholder, LocalFunction)):
                self.env[target.id] = value
                return
            self.env[target.id] = self.check_value(target, value, allow_tuple=True)
            if isinstance(value, Value) and not isinstance(value, Const) \
                    and value not in self.named and value.hint not in self.locals:
                value.hint = target.id  # a temporary takes the name it is assigned to  # a temporary takes the name it is assigned to
                self.named.add(value)
            return
        elts = target.elts
        value = self.as_tuple(value) if self.as_tuple(value) is not None else value
        if not isinstance(value, tuple) or len(value) != len(elts):
            self.error(target, f"cannot unpack into {len(elts)} names: the value is not a "
                       f"tuple of {len(elts)}")
        for t, v in zip(elts, value):
            self.assign(t, v)

    # --- branches ----------------------------------------------------------------------------
    def branches(self, test, bodies, lower_body):
        """Lower `bodies` (then, else) in fresh regions; return (cond, regions, envs, outs).
        A constant condition lowers only the branch taken, here (frontend.unrolling): cond
        is then that Const, and outs the taken branch's alone."""
        cond = self.condition(test)
        if isinstance(cond, Const):
            return cond, None, None, lower_body(bodies[0] if cond.value else bodies[1])
        regions, envs, outs = [], [], []
        for body in bodies:
            region, env = Region(), dict(self.env)
            with self.region(region, env):
                outs.append(lower_body(body))
            regions.append(region)
            envs.append(env)
        return cond, regions, envs, outs

    def close_if(self, node, cond, regions, yields: list[list[Value]], hints) -> list[Value]:
        """Cast each branch's yielded values to the merged types and emit the `if` op."""
        types = [self.merge_types(node, h, list(vs)) for h, vs in zip(hints, zip(*yields))]
        for region, values in zip(regions, yields):
            with self.region(region, {}):
                casted = [self.cast(v, t, exact=True) for v, t in zip(values, types)]
                self.b.op(yield_p, *casted, result_types=[])
        op = self.b.op(if_p, cond, regions=regions, result_types=types)
        for value, hint in zip(op.results, hints):
            value.hint = hint
        return op.results

    def lower_if(self, node) -> None:
        before = self.env
        cond, regions, envs, _ = self.branches(node.test, (node.body, node.orelse),
                                               self.lower_block)
        if regions is None:  # a constant condition: the branch taken is lowered in place
            return
        changed = [n for n in _ordered_union(envs) if any(e.get(n) is not before.get(n)
                                                          for e in envs)]
        merged = []
        for name in changed:
            values = [e.get(name) for e in envs]
            if any(v is None or isinstance(v, Undefined) for v in values):
                before[name] = Undefined(f"it is assigned on only one path of the 'if' at "
                                         f"line {self.parsed.loc(node).line}")
            else:
                merged.append(name)
        yields = [[e[n] for n in merged] for e in envs]
        results = self.close_if(node, cond, regions, yields, merged)
        self.env.update(zip(merged, results))

    def lower_returning_if(self, node, rest) -> tuple:
        cond, regions, _, outs = self.branches(
            node.test, (node.body + rest, node.orelse + rest), self.lower_block)
        if regions is None:
            outs = [outs]
        if self.kernel:  # falling off the end of a kernel returns nothing
            outs = [() if out is None else out for out in outs]
        if any(out is None for out in outs):
            self.error(node, "not every path after this 'if' returns a value")
        if len({len(out) for out in outs}) > 1:
            self.error(node, "the branches return different numbers of values")
        if regions is None:
            return outs[0]
        hints = ["result"] * len(outs[0])
        return tuple(self.close_if(node, cond, regions, [list(o) for o in outs], hints))

    # --- loops -------------------------------------------------------------------------------
    def carried_names(self, node, exclude=()) -> tuple[list[str], list[str]]:
        """(names assigned in the loop body, those of them defined before: carried)."""
        rebound = _assigned_names(node.body, augmented=False)
        assigned = [n for n in _assigned_names(node.body) if n in rebound  # y += v: in place
                    or not _is_array(self.env.get(n))]
        carried = [n for n in assigned if n not in exclude and n in self.env
                   and not isinstance(self.env[n], Undefined)]
        for name in carried:
            if isinstance(self.env[name], tuple):
                self.error(node, f"'{name}' holds a tuple and is reassigned in the loop")
        return assigned, carried

    def settle_types(self, node, carried, lower_regions):
        """Lower the loop's regions until the carried types stop widening (int -> float);
        a carried value that starts as a placeholder takes the type it is given."""
        types = [None if isinstance(self.env[n], Placeholder) else self.env[n].type
                 for n in carried]
        for _ in range(4):
            guess = [t or F64 for t in types]
            regions, yields = lower_regions(guess)
            widened = [y.type if t is None and y.type.ndim == 0 else
                       self.merge_types(node, n, [Value(g), y])
                       for n, t, g, y in zip(carried, types, guess, yields)]
            if widened == guess:
                return regions, yields, widened
            types = widened
        self.error(node, "the types of the loop's variables do not settle")

    def close_loop(self, node, name, operands, regions, carried, assigned, yields, types,
                   exclude=()):
        with self.region(regions[-1], {}):
            self.b.op(yield_p, *(self.cast(y, t, exact=True) for y, t in zip(yields, types)),
                      result_types=[])
        inits = [const(0, t) if isinstance(self.env[n], Placeholder) else self.cast(self.env[n], t, exact=True)
                 for n, t in zip(carried, types)]
        op = self.b.op(name, *operands, *inits, regions=regions, result_types=types)
        line = self.parsed.loc(node).line
        for assigned_name in assigned:
            self.env[assigned_name] = Undefined(
                f"it is first assigned inside the loop at line {line}; give it a value "
                "before the loop")
        for target in exclude:
            self.env[target] = Undefined(f"the loop variable of line {line} is not kept after it")
        for carried_name, value in zip(carried, op.results):
            value.hint = carried_name
            self.env[carried_name] = value

    def lower_for(self, node) -> None:
        if not isinstance(node.target, gast.Name):
            self.error(node.target, "the loop variable must be a single name")
        lb, ub, step = self.range_bounds(node.iter)
        target = node.target.id
        assigned, carried = self.carried_names(node, (target,))

        def lower_regions(types):
            region = Region(args=[Value(I64, target)] + [Value(t, n) for n, t in
                                                         zip(carried, types)])
            return [region], self.lower_body(node, region, [target] + carried, carried)

        regions, yields, types = self.settle_types(node, carried, lower_regions)
        self.close_loop(node, "for", [lb, ub, step], regions, carried, assigned, yields, types,
                        (target,))

    def lower_while(self, node) -> None:
        if node.orelse:
            self.error(node, "'while ... else' is not supported; use a flag variable")
        assigned, carried = self.carried_names(node)

        def lower_regions(types):
            before = Region(args=[Value(t, n) for n, t in zip(carried, types)])
            env = dict(self.env)
            env.update(zip(carried, before.args))
            with self.region(before, env):
                self.b.loc = self.parsed.loc(node)
                self.b.op(yield_p, self.condition(node.test), result_types=[])
            body = Region(args=[Value(t, n) for n, t in zip(carried, types)])
            return [before, body], self.lower_body(node, body, carried, carried)

        regions, yields, types = self.settle_types(node, carried, lower_regions)
        self.close_loop(node, "while", [], regions, carried, assigned, yields, types)

    def lower_body(self, node, region: Region, names, carried) -> list[Value]:
        env = dict(self.env)
        env.update(zip(names, region.args))
        before = dict(env)
        with self.region(region, env):
            self.lower_block(node.body)
            yields = [self.env[n] for n in carried]
            self.check_loop_lists(node, before, self.env)
        for name, value in zip(carried, yields):
            if isinstance(value, Undefined):
                self.error(node, f"'{name}' may be undefined at the end of the loop body: "
                           f"{value.reason}")
        return yields

    def range_bounds(self, iterable):
        if not (isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Name)
                and resolve.lookup_name(self.parsed.fn, iterable.func.id).value == "range"
                and iterable.func.id not in self.env):
            self.error(iterable, "for loops must iterate over range(...) for now")
        args = [self.expr(a) for a in iterable.args]
        if not 1 <= len(args) <= 3:
            self.error(iterable, "range() takes 1 to 3 arguments")
        for arg, value in zip(iterable.args, args):
            if not isinstance(value, Value) or value.type != I64 and value.type != BOOL:
                self.error(arg, "range() arguments must be integers")
        if len(args) == 1:
            args = [const(0)] + args
        if len(args) == 2:
            args.append(const(1))
        if isinstance(args[2], Const) and args[2].value == 0:
            self.error(iterable, "range() step must not be zero")
        return args


def _default(lowering, node, name: str, value):
    """A helper's default value as an IR constant (numbers, tuples of numbers)."""
    if isinstance(value, tuple):
        return tuple(_default(lowering, node, name, v) for v in value)
    if isinstance(value, (bool, int, float)):
        return const(value)
    lowering.error(node, f"{name}(): only defaults that are numbers (or tuples of them) are "
                   f"supported, not {type(value).__name__}", unsupported=True)




def _contains_return(node) -> bool:
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, gast.Return):
            return True
        if not isinstance(n, (gast.FunctionDef, gast.Lambda)) or n is node:
            todo.extend(gast.iter_child_nodes(n))
    return False


def _fresh(name: str, taken) -> str:
    """`name`, or `name_2`, `name_3`, ... : the first not in `taken` (deterministic, so the
    generated source does not change between runs)."""
    k, fresh = 1, name
    while fresh in taken:
        k += 1
        fresh = f"{name}_{k}"
    return fresh


def _is_array(value) -> bool:
    return isinstance(value, Value) and value.type.is_array




def _ordered_union(envs) -> list[str]:
    names: dict[str, None] = {}
    for env in envs:
        names.update(dict.fromkeys(env))
    return list(names)


def lower_function(parsed: ParsedFunction, arg_types: list[Type], kernel: bool = False
                   ) -> Function:
    """Lower `parsed` for `arg_types`. Array arguments the function writes into are copied on
    entry (lowering again once they are known), so the caller's arrays are never changed and
    gradients are taken w.r.t. the values passed in. A kernel writes its outputs in place."""
    if kernel:
        parsed = rewrite_block_reductions(parsed)
    lowering = Lowering(parsed, arg_types, kernel=kernel)
    fn = lowering.lower()
    if lowering.written_params and not kernel:
        fn = Lowering(parsed, arg_types, lowering.written_params).lower()
        fn.copied_params = sorted(lowering.written_params)
    return fn
