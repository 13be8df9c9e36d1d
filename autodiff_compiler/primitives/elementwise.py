"""Smooth scalar functions of math and numpy (sin, exp, log, ...) with their derivatives.

Each entry gives the primitive name, the `math` and `numpy` spellings it prints as (math for
scalars, numpy for arrays), the input domain the tests sample, and the vjp rule as the
elemental partial derivative (Griewank & Walther, table 2.3).
"""

from __future__ import annotations

import ast
import math

from ..ir.builder import const
from ..ir.types import Type
from .registry import call, defprim, defvjp, multiplicative_jvps

# name: (math spelling or None, numpy spelling, arity, sampled domain)
_FUNCTIONS = {
    "sin": ("math.sin", "np.sin", 1, (-3, 3)),
    "cos": ("math.cos", "np.cos", 1, (-3, 3)),
    "tan": ("math.tan", "np.tan", 1, (-1.2, 1.2)),
    "arcsin": ("math.asin", "np.arcsin", 1, (-0.9, 0.9)),
    "arccos": ("math.acos", "np.arccos", 1, (-0.9, 0.9)),
    "arctan": ("math.atan", "np.arctan", 1, (-3, 3)),
    "arctan2": ("math.atan2", "np.arctan2", 2, (0.2, 3)),
    "sinh": ("math.sinh", "np.sinh", 1, (-2, 2)),
    "cosh": ("math.cosh", "np.cosh", 1, (-2, 2)),
    "tanh": ("math.tanh", "np.tanh", 1, (-2, 2)),
    "exp": ("math.exp", "np.exp", 1, (-2, 2)),
    "expm1": ("math.expm1", "np.expm1", 1, (-2, 2)),
    "log": ("math.log", "np.log", 1, (0.2, 4)),
    "log1p": ("math.log1p", "np.log1p", 1, (-0.5, 3)),
    "log2": ("math.log2", "np.log2", 1, (0.2, 4)),
    "log10": ("math.log10", "np.log10", 1, (0.2, 4)),
    "sqrt": ("math.sqrt", "np.sqrt", 1, (0.2, 4)),
    "hypot": ("math.hypot", "np.hypot", 2, (0.2, 3)),
    "fabs": ("math.fabs", "np.abs", 1, (0.2, 3)),
    "sign": (None, "np.sign", 1, (-3, 3)),
    "square": (None, "np.square", 1, (-3, 3)),
    "arcsinh": ("math.asinh", "np.arcsinh", 1, (-3, 3)),
    "arccosh": ("math.acosh", "np.arccosh", 1, (1.2, 4)),
    "arctanh": ("math.atanh", "np.arctanh", 1, (-0.9, 0.9)),
    "exp2": (None, "np.exp2", 1, (-2, 2)),
    "cbrt": (None, "np.cbrt", 1, (0.2, 4)),
    "erf": ("math.erf", None, 1, (-2, 2)),  # numbers only: NumPy has no erf
    "erfc": ("math.erfc", None, 1, (-2, 2)),
    "floor": (None, "np.floor", 1, (-3, 3)),
    "ceil": (None, "np.ceil", 1, (-3, 3)),
}
# piecewise constant: derivative zero wherever it exists
_STEPS = ("sign", "floor", "ceil")


def _emitter(math_name, numpy_name):
    def emit(op, args: list[ast.expr]) -> ast.expr:
        scalar = all(not v.type.is_array for v in op.operands)
        return call(math_name if scalar and math_name else numpy_name, args)

    return emit


def _float_result(*types: Type, **_) -> list[Type]:
    return [Type("float", max(t.ndim for t in types))]


for _name, (_math, _np, _arity, _domain) in _FUNCTIONS.items():
    defprim(_name, infer=_float_result, emit=_emitter(_math, _np),
            differentiable=_name not in _STEPS,
            spec={"arity": _arity, "domain": [_domain] * _arity})


def _rule(name):
    def register(partial):
        @defvjp(name)
        def rule(b, op, g):
            return (lambda: partial(b, op, g, *op.operands),)

        return partial

    return register


@_rule("sin")
def _sin(b, op, g, x):
    return b.mul(g, b("cos", x))


@_rule("cos")
def _cos(b, op, g, x):
    return b.neg(b.mul(g, b("sin", x)))


@_rule("tan")
def _tan(b, op, g, x):
    return b.mul(g, b.add(const(1.0), b.mul(op.result, op.result)))


def _one_minus_square(b, x):
    return b("sqrt", b.sub(const(1.0), b.mul(x, x)))


@_rule("arcsin")
def _arcsin(b, op, g, x):
    return b.div(g, _one_minus_square(b, x))


@_rule("arccos")
def _arccos(b, op, g, x):
    return b.neg(b.div(g, _one_minus_square(b, x)))


@_rule("arctan")
def _arctan(b, op, g, x):
    return b.div(g, b.add(const(1.0), b.mul(x, x)))


@_rule("sinh")
def _sinh(b, op, g, x):
    return b.mul(g, b("cosh", x))


@_rule("cosh")
def _cosh(b, op, g, x):
    return b.mul(g, b("sinh", x))


@_rule("tanh")
def _tanh(b, op, g, x):
    return b.mul(g, b.sub(const(1.0), b.mul(op.result, op.result)))


@_rule("exp")
def _exp(b, op, g, x):
    return b.mul(g, op.result)


@_rule("expm1")
def _expm1(b, op, g, x):
    return b.mul(g, b.add(op.result, const(1.0)))


@_rule("log")
def _log(b, op, g, x):
    return b.div(g, x)


@_rule("log1p")
def _log1p(b, op, g, x):
    return b.div(g, b.add(const(1.0), x))


@_rule("log2")
def _log2(b, op, g, x):
    return b.div(g, b.mul(x, const(math.log(2.0))))


@_rule("log10")
def _log10(b, op, g, x):
    return b.div(g, b.mul(x, const(math.log(10.0))))


@_rule("sqrt")
def _sqrt(b, op, g, x):
    return b.div(b.mul(const(0.5), g), op.result)


@_rule("fabs")
def _fabs(b, op, g, x):
    return b.mul(g, b("sign", x))


@_rule("square")
def _square(b, op, g, x):
    return b.mul(g, b.mul(const(2.0), x))


@_rule("arcsinh")
def _arcsinh(b, op, g, x):
    return b.div(g, b("sqrt", b.add(b.mul(x, x), const(1.0))))


@_rule("arccosh")
def _arccosh(b, op, g, x):
    return b.div(g, b("sqrt", b.sub(b.mul(x, x), const(1.0))))


@_rule("arctanh")
def _arctanh(b, op, g, x):
    return b.div(g, b.sub(const(1.0), b.mul(x, x)))


@_rule("exp2")
def _exp2(b, op, g, x):
    return b.mul(g, b.mul(op.result, const(math.log(2.0))))


@_rule("cbrt")
def _cbrt(b, op, g, x):
    return b.div(g, b.mul(const(3.0), b.mul(op.result, op.result)))


def _gaussian(b, x):
    """2 / sqrt(pi) * exp(-x^2), the derivative of erf."""
    return b.mul(const(2.0 / math.sqrt(math.pi)), b("exp", b.neg(b.mul(x, x))))


@_rule("erf")
def _erf(b, op, g, x):
    return b.mul(g, _gaussian(b, x))


@_rule("erfc")
def _erfc(b, op, g, x):
    return b.neg(b.mul(g, _gaussian(b, x)))


for _name in _STEPS:
    defvjp(_name)(lambda b, op, g: (None,))


def _sum_of_squares(b, x, y):
    return b.add(b.mul(x, x), b.mul(y, y))


@defvjp("arctan2")
def _arctan2_vjp(b, op, g):
    y, x = op.operands
    return (
        lambda: b.div(b.mul(g, x), _sum_of_squares(b, x, y)),
        lambda: b.neg(b.div(b.mul(g, y), _sum_of_squares(b, x, y))),
    )


@defvjp("hypot")
def _hypot_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b.div(b.mul(g, x), op.result), lambda: b.div(b.mul(g, y), op.result))


multiplicative_jvps(list(_FUNCTIONS))
