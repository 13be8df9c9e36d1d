"""Smooth scalar functions of math and numpy (sin, exp, log, ...) with their derivatives.

Each entry gives the primitive name, the `math` and `numpy` spellings it prints as (math for
scalars, numpy for arrays), the input domain the tests sample, and the vjp rule as the
elemental partial derivative (Griewank & Walther, table 2.3).
"""

from __future__ import annotations

import ast
import math

from ..ir.core import Const, const
from ..ir.types import Type
from .arith import (
    binop_emitter,
    eq_p,
    is_const,
    ne_p,
    promoted,
    scalar_or_array,
    select_p,
    zero_like,
)
from .registry import PRIMITIVES, call, defprim, defvjp, multiplicative_jvps


def _emitter(math_name, numpy_name):
    def emit(op, args: list[ast.expr]) -> ast.expr:  # math's give Python floats
        scalar = all(not v.type.is_array for v in op.operands + op.results) \
            and not op.result.type.is_float32
        return call(math_name if scalar and math_name else numpy_name, args)

    return emit


def _float_result(*types: Type, **_) -> list[Type]:
    return [Type("float", max(t.ndim for t in types))]


def _function(name, math_name, numpy_name, domain, arity=1, steps=False, vector_name=None):
    """A function of `math` and NumPy spelled `math_name` on numbers, `numpy_name` on arrays
    and on one element of a fused loop (log(0) is -inf); `steps`: piecewise constant
    (derivative zero wherever it exists); `vector_name`: its spelling in a fused loop that
    LLVM may vectorise (Primitive.emit_vector_element)."""
    vector = (lambda op, args: call(vector_name, args)) if vector_name else None
    return defprim(name, infer=_float_result, emit=_emitter(math_name, numpy_name),
                   emit_element=lambda op, args: call(numpy_name, args),
                   emit_vector_element=vector,
                   differentiable=not steps, elementwise=True, broadcast_shape=True,
                   spec={"arity": arity, "domain": [domain] * arity})


# (name, math spelling or None, numpy spelling, sampled domain)
sin_p = _function("sin", "math.sin", "np.sin", (-3, 3))
cos_p = _function("cos", "math.cos", "np.cos", (-3, 3))
tan_p = _function("tan", "math.tan", "np.tan", (-1.2, 1.2))
arcsin_p = _function("arcsin", "math.asin", "np.arcsin", (-0.9, 0.9))
arccos_p = _function("arccos", "math.acos", "np.arccos", (-0.9, 0.9))
arctan_p = _function("arctan", "math.atan", "np.arctan", (-3, 3))
arctan2_p = _function("arctan2", "math.atan2", "np.arctan2", (0.2, 3), arity=2)
sinh_p = _function("sinh", "math.sinh", "np.sinh", (-2, 2))
cosh_p = _function("cosh", "math.cosh", "np.cosh", (-2, 2))
tanh_p = _function("tanh", "math.tanh", "np.tanh", (-2, 2))
exp_p = _function("exp", "math.exp", "np.exp", (-2, 2),
                  vector_name="rt.vector_exp")  # vectorised (runtime_vector.py)
expm1_p = _function("expm1", "math.expm1", "np.expm1", (-2, 2))
log_p = _function("log", "math.log", "np.log", (0.2, 4))
log1p_p = _function("log1p", "math.log1p", "np.log1p", (-0.5, 3))
log2_p = _function("log2", "math.log2", "np.log2", (0.2, 4))
log10_p = _function("log10", "math.log10", "np.log10", (0.2, 4))
sqrt_p = _function("sqrt", "math.sqrt", "np.sqrt", (0.2, 4))
hypot_p = _function("hypot", "math.hypot", "np.hypot", (0.2, 3), arity=2)
fabs_p = _function("fabs", "math.fabs", "np.abs", (0.2, 3))
sign_p = _function("sign", None, "np.sign", (-3, 3), steps=True)
square_p = _function("square", None, "np.square", (-3, 3))
arcsinh_p = _function("arcsinh", "math.asinh", "np.arcsinh", (-3, 3))
arccosh_p = _function("arccosh", "math.acosh", "np.arccosh", (1.2, 4))
arctanh_p = _function("arctanh", "math.atanh", "np.arctanh", (-0.9, 0.9))
exp2_p = _function("exp2", None, "np.exp2", (-2, 2))
cbrt_p = _function("cbrt", None, "np.cbrt", (0.2, 4))
erf_p = _function("erf", "math.erf", "rt.erf", (-2, 2))
erfc_p = _function("erfc", "math.erfc", "rt.erfc", (-2, 2))
# the gamma family: math's on numbers, runtime ufuncs (our own digamma, trigamma) on arrays
lgamma_p = _function("lgamma", "math.lgamma", "rt.lgamma", (0.3, 5))
gamma_p = _function("gamma", "math.gamma", "rt.gamma", (0.3, 4))
digamma_p = _function("digamma", "rt.digamma", "rt.digamma", (0.3, 5))
trigamma_p = _function("trigamma", "rt.trigamma", "rt.trigamma", (0.3, 5))
copysign_p = _function("copysign", "math.copysign", "np.copysign", (-3, 3), arity=2)
floor_p = _function("floor", None, "np.floor", (-3, 3), steps=True)
ceil_p = _function("ceil", None, "np.ceil", (-3, 3), steps=True)
_STEPS = [sign_p, floor_p, ceil_p]
_SMOOTH = [p for p in PRIMITIVES.values() if p.infer is _float_result and p not in _STEPS
           and p is not trigamma_p]  # trigamma: no rules (third derivatives of lgamma)


# --- powers and abs (scalar or array spellings of Python's operators) ------------------------
def _fold_pow(b, operands, attrs):
    x, y = operands
    return x if is_const(y, 1) and x.type.is_float else None


pow_p = defprim("pow", infer=promoted, emit=binop_emitter(ast.Pow), fold=_fold_pow,
                elementwise=True, emit_element=lambda op, args: _power_element(op, args),
                broadcast_shape=True, spec={"arity": 2, "domain": [(0.3, 3), (-2, 2)]})
abs_p = defprim("abs", infer=promoted, emit=scalar_or_array("abs", "np.abs"), cheap=True,
                elementwise=True, broadcast_shape=True,
                spec={"arity": 1, "kinks": True})


def _power_element(op, args):
    """x ** n for a literal n >= 0 (a product, for Numba), else NumPy's power: 0.0 ** -1 is
    inf, not ZeroDivisionError."""
    y = op.operands[1]
    if isinstance(y, Const) and y.type.kind == "int" and y.value >= 0:
        return binop_emitter(ast.Pow)(op, args)
    return call("np.power", args)


@defvjp(pow_p)
def _pow_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b.mul(g, _pow_d_base(b, x, y)),
            lambda: b.mul(g, b.mul(op.result, b(log_p, _zero_to_one(b, x)))))


def _pow_d_base(b, x, y):
    """d(x**y)/dx = y * x**(y-1), which is 0 where y == 0 (also at x == 0, where x**-1
    would divide by zero): the exponent y-1 is replaced by 1 there."""
    if isinstance(y, Const):
        if y.value == 0:
            return zero_like(y)
        if y.type.kind == "int" and y.value == 2:
            return b.mul(const(2.0), x)
        return b.mul(y, b(pow_p, x, b.sub(y, const(1, Type(y.type.kind)))))
    one = const(1, Type(y.type.kind))
    exponent = b(select_p, b(ne_p, y, const(0, one.type)), b.sub(y, one), one)
    return b.mul(y, b(pow_p, x, exponent))


def _zero_to_one(b, x):
    """x with 0 replaced by 1 (unless x is a nonzero literal): d(0**y)/dy = 0**y * log(1) = 0,
    since 0**y is constant 0 for y > 0."""
    if isinstance(x, Const) and x.value != 0:
        return x
    kind = Type(x.type.kind)
    return b(select_p, b(eq_p, x, const(0, kind)), const(1, kind), x)


@defvjp(abs_p)
def _abs_vjp(b, op, g):
    """sign(0) = 0: abs has derivative 0 at its kink."""
    (x,) = op.operands
    return (lambda: b.mul(g, b(sign_p, x)),)


def _rule(prim):
    def register(partial):
        @defvjp(prim)
        def rule(b, op, g):
            return (lambda: partial(b, op, g, *op.operands),)

        return partial

    return register


@_rule(sin_p)
def _sin(b, op, g, x):
    return b.mul(g, b(cos_p, x))


@_rule(cos_p)
def _cos(b, op, g, x):
    return b.neg(b.mul(g, b(sin_p, x)))


@_rule(tan_p)
def _tan(b, op, g, x):
    return b.mul(g, b.add(const(1.0), b.mul(op.result, op.result)))


def _one_minus_square(b, x):
    return b(sqrt_p, b.sub(const(1.0), b.mul(x, x)))


@_rule(arcsin_p)
def _arcsin(b, op, g, x):
    return b.div(g, _one_minus_square(b, x))


@_rule(arccos_p)
def _arccos(b, op, g, x):
    return b.neg(b.div(g, _one_minus_square(b, x)))


@_rule(arctan_p)
def _arctan(b, op, g, x):
    return b.div(g, b.add(const(1.0), b.mul(x, x)))


@_rule(sinh_p)
def _sinh(b, op, g, x):
    return b.mul(g, b(cosh_p, x))


@_rule(cosh_p)
def _cosh(b, op, g, x):
    return b.mul(g, b(sinh_p, x))


@_rule(tanh_p)
def _tanh(b, op, g, x):
    return b.mul(g, b.sub(const(1.0), b.mul(op.result, op.result)))


@_rule(exp_p)
def _exp(b, op, g, x):
    return b.mul(g, op.result)


@_rule(expm1_p)
def _expm1(b, op, g, x):
    return b.mul(g, b.add(op.result, const(1.0)))


@_rule(log_p)
def _log(b, op, g, x):
    return b.div(g, x)


@_rule(log1p_p)
def _log1p(b, op, g, x):
    return b.div(g, b.add(const(1.0), x))


@_rule(log2_p)
def _log2(b, op, g, x):
    return b.div(g, b.mul(x, const(math.log(2.0))))


@_rule(log10_p)
def _log10(b, op, g, x):
    return b.div(g, b.mul(x, const(math.log(10.0))))


@_rule(sqrt_p)
def _sqrt(b, op, g, x):
    return b.div(b.mul(const(0.5), g), op.result)


@_rule(fabs_p)
def _fabs(b, op, g, x):
    return b.mul(g, b(sign_p, x))


@_rule(square_p)
def _square(b, op, g, x):
    return b.mul(g, b.mul(const(2.0), x))


@_rule(arcsinh_p)
def _arcsinh(b, op, g, x):
    return b.div(g, b(sqrt_p, b.add(b.mul(x, x), const(1.0))))


@_rule(arccosh_p)
def _arccosh(b, op, g, x):
    return b.div(g, b(sqrt_p, b.sub(b.mul(x, x), const(1.0))))


@_rule(arctanh_p)
def _arctanh(b, op, g, x):
    return b.div(g, b.sub(const(1.0), b.mul(x, x)))


@_rule(exp2_p)
def _exp2(b, op, g, x):
    return b.mul(g, b.mul(op.result, const(math.log(2.0))))


@_rule(cbrt_p)
def _cbrt(b, op, g, x):
    return b.div(g, b.mul(const(3.0), b.mul(op.result, op.result)))


def _gaussian(b, x):
    """2 / sqrt(pi) * exp(-x^2), the derivative of erf."""
    return b.mul(const(2.0 / math.sqrt(math.pi)), b(exp_p, b.neg(b.mul(x, x))))


@_rule(erf_p)
def _erf(b, op, g, x):
    return b.mul(g, _gaussian(b, x))


@_rule(erfc_p)
def _erfc(b, op, g, x):
    return b.neg(b.mul(g, _gaussian(b, x)))


@_rule(lgamma_p)
def _lgamma(b, op, g, x):
    return b.mul(g, b(digamma_p, x))


@_rule(gamma_p)
def _gamma(b, op, g, x):
    return b.mul(g, b.mul(op.result, b(digamma_p, x)))


@_rule(digamma_p)
def _digamma(b, op, g, x):
    return b.mul(g, b(trigamma_p, x))


for _step in _STEPS:
    defvjp(_step)(lambda b, op, g: (None,))


def _sum_of_squares(b, x, y):
    return b.add(b.mul(x, x), b.mul(y, y))


@defvjp(arctan2_p)
def _arctan2_vjp(b, op, g):
    y, x = op.operands
    return (
        lambda: b.div(b.mul(g, x), _sum_of_squares(b, x, y)),
        lambda: b.neg(b.div(b.mul(g, y), _sum_of_squares(b, x, y))),
    )


@defvjp(hypot_p)
def _hypot_vjp(b, op, g):
    x, y = op.operands
    return (lambda: b.div(b.mul(g, x), op.result), lambda: b.div(b.mul(g, y), op.result))


@defvjp(copysign_p)
def _copysign_vjp(b, op, g):
    """|x| with y's sign: d/dx = sign(x) * copysign(1, y) (0 at x == 0, as abs); the sign
    of y is piecewise constant."""
    x, y = op.operands
    return (lambda: b.mul(g, b.mul(b(sign_p, x), b(copysign_p, const(1.0), y))), None)


multiplicative_jvps(_SMOOTH + _STEPS + [pow_p, abs_p])
