"""custom_vjp and custom_jvp: derivative rules given by the user (JAX's shapes).

    f = custom_vjp(f); f.defvjp(fwd, bwd)     # fwd(*args) -> (out, residuals)
                                              # bwd(residuals, out_bar) -> one cotangent per arg
    f = custom_jvp(f); f.defjvp(rule)         # rule(primals, tangents) -> (out, out_dot)

Decorating makes a Primitive (primitives/registry.py) whose rules call the user's functions:
a call of f inside a differentiated function lowers to one op of it, which the generated
code writes as a call of f; its vjp rule writes `bwd(fwd(*args)[1], g)[k]` (the residuals are
computed again in the reverse sweep, not taped), its jvp rule `rule(primals, tangents)[1]`.
So the rules are inlined into the generated code and compiled with it; the user's
functions are compiled by Numba (numba.njit) when the derivative is, and may call anything
Numba compiles (njit functions we cannot differentiate). The result type of f is what
Numba infers for it. A custom_jvp rule serves reverse mode too: the cotangent of a number
is g times the tangent for a unit seed (summed over the output's entries), that of an
array one such tangent per entry, in a loop written for its types (custom_rules.py).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import sys

from .custom_rules import Binding, result_type, vjp_from_jvp_source
from .ir.types import Type
from .primitives.indexing import zeros_like_p
from .primitives.registry import Primitive


def _name(kind: str, fn) -> str:
    """A module-level name for one of the user's functions, fixed by its code."""
    code = getattr(fn, "__code__", None)
    text = repr((fn.__qualname__, code.co_code, code.co_consts, code.co_names)) if code \
        else fn.__qualname__
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() else "_" for c in fn.__name__)[:30]
    return f"{kind}_{safe}_{digest}"


def _call(name: str, args: list) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


def _item(value: ast.expr, k: int) -> ast.Subscript:
    return ast.Subscript(value, ast.Constant(k), ast.Load())


class _Custom:
    """What the decorators share: the primal function, its primitive and bindings."""

    __autodiff_custom__ = True

    def __init__(self, fun):
        self.fun = fun
        functools.update_wrapper(self, fun)
        self.bindings = {_name("custom", fun): Binding(fun)}
        self.fun_name = next(iter(self.bindings))
        self.primitive = Primitive(f"{type(self).__name__}({fun.__qualname__})",
                                   infer=self._infer, emit=self._emit_primal,
                                   typed_when_run=True)  # Numba types the user's rules

    def __call__(self, *args):
        return self.fun(*args)

    def _infer(self, *types, **attrs):
        return [result_type(self.fun, types)]

    def _emit_primal(self, op, args):
        return _call(self.fun_name, args)

    def _require(self):
        if self.rule is None:
            method = "defvjp" if isinstance(self, custom_vjp) else "defjvp"
            raise TypeError(f"{self.__name__} has no derivative rule yet: call "
                            f"{self.__name__}.{method}(...) before differentiating it")

    def lowered(self, b, operands):
        """The op a call lowers to (the frontend calls this)."""
        self._require()
        return b.op(self.primitive, *operands).result

    def __reduce__(self):
        module = sys.modules.get(self.__module__)
        if module is not None and getattr(module, self.__qualname__, None) is self:
            return self.__qualname__  # a module-level decorated function: by reference
        return _rebuild, (type(self), self.fun, self._rules())


def _rebuild(cls, fun, rules):
    obj = cls(fun)
    if rules is not None:
        obj._define(*rules)
    return obj


class custom_vjp(_Custom):
    """A function differentiated in reverse mode by the user's own rule (jax.custom_vjp).

    `f = custom_vjp(f)` (or `@custom_vjp`), then `f.defvjp(fwd, bwd)`: fwd(*args) returns
    (out, residuals); bwd(residuals, out_bar) returns one cotangent per argument. Calls of f
    inside differentiated functions use the rules, compiled into the generated code, so their
    bodies may call functions we cannot differentiate (@numba.njit ones).

    Example:
        >>> from autodiff_compiler import grad
        >>> @custom_vjp
        ... def square(x):
        ...     return x * x
        >>> square.defvjp(lambda x: (x * x, x), lambda x, g: (3.0 * x * g,))  # deliberately 3x
        >>> def f(x):
        ...     return square(x) + x
        >>> grad(f, jit=False)(2.0)
        7.0
    """

    def __init__(self, fun):
        super().__init__(fun)
        self.rule = None
        self.fwd_name = self.bwd_name = None

    def defvjp(self, fwd, bwd) -> None:
        """Give f its reverse-mode rule.

        Parameters:
            fwd: fwd(*args) -> (f(*args), residuals).
            bwd: bwd(residuals, out_bar) -> a tuple of one cotangent per argument.

        Returns:
            None.

        Example:
            >>> cube = custom_vjp(lambda x: x ** 3)
            >>> cube.defvjp(lambda x: (x ** 3, x), lambda x, g: (3.0 * x * x * g,))
        """
        self._define(fwd, bwd)

    def _rules(self):
        return None if self.rule is None else self.rule

    def _define(self, fwd, bwd) -> None:
        self.rule = (fwd, bwd)
        self.fwd_name, self.bwd_name = _name("custom_fwd", fwd), _name("custom_bwd", bwd)
        self.bindings.update({self.fwd_name: Binding(fwd), self.bwd_name: Binding(bwd)})
        self.cotangent = Primitive(f"custom_vjp_bwd({self.fun.__qualname__})",
                                   infer=self._infer_cotangent, emit=self._emit_cotangent,
                                   typed_when_run=True)
        self.primitive.vjp = self._vjp

    @staticmethod
    def _infer_cotangent(*types, index):
        return [Type("float", types[index].ndim)]

    def _emit_cotangent(self, op, args):
        residuals = _item(_call(self.fwd_name, args[:-1]), 1)
        return _item(_call(self.bwd_name, [residuals, args[-1]]), op.attrs["index"])

    def _vjp(self, b, op, g):
        def thunk(k):
            return lambda: b.op(self.cotangent, *op.operands, g, attrs={"index": k}).result

        return tuple(thunk(k) if v.type.is_float else None for k, v in enumerate(op.operands))


class custom_jvp(_Custom):
    """A function differentiated in forward mode (and so in reverse mode) by the user's rule
    (jax.custom_jvp).

    `f = custom_jvp(f)` (or `@custom_jvp`), then `f.defjvp(rule)` with rule(primals,
    tangents) -> (out, out_dot); the rule is compiled into the generated code.

    Example:
        >>> import math
        >>> from autodiff_compiler import grad
        >>> @custom_jvp
        ... def softplus(x):
        ...     return math.log1p(math.exp(x))
        >>> softplus.defjvp(lambda p, t: (math.log1p(math.exp(p[0])),
        ...                               t[0] / (1.0 + math.exp(-p[0]))))
        >>> round(grad(lambda x: softplus(x) * 2.0, jit=False)(0.0), 12)
        1.0
    """

    def __init__(self, fun):
        super().__init__(fun)
        self.rule = None

    def defjvp(self, rule) -> None:
        """Give f its tangent rule.

        Parameters:
            rule: rule(primals, tangents) -> (f(*primals), tangent of the output), primals
                and tangents being tuples.

        Returns:
            None.

        Example:
            >>> double = custom_jvp(lambda x: 2.0 * x)
            >>> double.defjvp(lambda p, t: (2.0 * p[0], 2.0 * t[0]))
        """
        self._define(rule)

    def _rules(self):
        return None if self.rule is None else (self.rule,)

    def _define(self, rule) -> None:
        self.rule = rule
        self.rule_name = _name("custom_jvp_rule", rule)
        self.bindings[self.rule_name] = Binding(rule)
        self.tangent = Primitive(f"custom_jvp_tangent({self.fun.__qualname__})",
                                 infer=self._infer_tangent, emit=self._emit_tangent,
                                 typed_when_run=True)
        self.cotangent = Primitive(f"custom_jvp_cotangent({self.fun.__qualname__})",
                                   infer=self._infer_cotangent, emit=self._emit_cotangent,
                                   typed_when_run=True)
        self.primitive.jvp = self._jvp
        self.primitive.vjp = self._vjp

    def _infer_tangent(self, *types):
        out = result_type(self.fun, types[:len(types) // 2])
        return [Type("float", out.ndim)]

    def _emit_tangent(self, op, args):
        n = len(args) // 2
        primals = ast.Tuple(list(args[:n]), ast.Load())
        tangents = ast.Tuple(list(args[n:]), ast.Load())
        return _item(_call(self.rule_name, [primals, tangents]), 1)

    def _jvp(self, b, op, dots):
        filled = [d if d is not None else b(zeros_like_p, x) for x, d in zip(op.operands, dots)]
        return [b.op(self.tangent, *op.operands, *filled).result]

    @staticmethod
    def _infer_cotangent(*types, index, helper):
        return [Type("float", types[index].ndim)]

    def _emit_cotangent(self, op, args):
        return _call(op.attrs["helper"], args)

    def _helper(self, k: int, types, out: Type) -> tuple[str, Binding]:
        """(name, binding) of the function giving the cotangent of operand k from the rule."""
        name = f"{self.rule_name}_vjp{k}_" + "".join(str(t.ndim) for t in types) + str(out.ndim)
        source = vjp_from_jvp_source(name, self.rule_name, k, types, out)
        return name, Binding.from_source(name, source, {self.rule_name: self.bindings[
            self.rule_name]})

    def lowered(self, b, operands):
        self._require()
        result = b.op(self.primitive, *operands).result
        for k, v in enumerate(operands):
            if v.type.is_float:
                name, binding = self._helper(k, [u.type for u in operands], result.type)
                self.bindings[name] = binding
        return result

    def _vjp(self, b, op, g):
        types = [v.type for v in op.operands]

        def thunk(k):
            name = self._helper(k, types, op.results[0].type)[0]
            return lambda: b.op(self.cotangent, *op.operands, g,
                                attrs={"index": k, "helper": name}).result

        return tuple(thunk(k) if v.type.is_float else None for k, v in enumerate(op.operands))
