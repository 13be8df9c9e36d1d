"""How user code reaches each primitive, and where to sample its inputs: the table that
tests/test_primitives.py turns into derivative tests.

SPECS maps every user-facing primitive (one with derivative rules that user code lowers to)
to its cases. A case is a source template written the way a user would write the call
(`{0}`, `{1}`, ... are the operands), the domain of each operand and the shape combinations
to try:

* an operand domain is a `(low, high)` range of floats to sample from, chosen away from the
  primitive's kinks and singularities, or an `int` meaning "pass this Python int" (indices,
  sizes, integer exponents: not differentiated);
* a shape is `()` for a Python float (0-d) or a tuple of array dimensions;
* `avoid(args)` returns True where a sample lies too close to a kink (ties of min/max,
  zeros of abs, integer quotients of //); such samples are redrawn;
* `prepare(args)` adjusts a sample (e.g. puts a zero into np.prod's input, or makes two
  operands equal) before it is used;
* a template of several lines is a function body whose last line is the value.

COMPOSITES holds user spellings that lower to several primitives (np.clip, np.logaddexp,
np.linalg.norm, np.mean, ...) or to none (float() of a float): tested the same way, but not
counted as any primitive's entry.

INTERNAL names the primitives that only the compiler's own generated code uses (adjoint
helpers, tapes, checkpoints, control flow, CUDA plumbing), each with the reason. Together
with `Primitive.differentiable` (False for comparisons, logic, int/bool casts, array sizes
and creation of constant arrays) it defines which primitives need a SPECS entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# a body prefix turning operand 0 (entries in (-1, 1)) into a well-conditioned matrix `a`
_WELL_POSED = "a = np.copy({0})\nfor i in range(a.shape[0]):\n    a[i, i] += 4.0\n"
# the same for a stack of 3 x 3 matrices (or a 1 x 1 one)
_STACK_POSED = "a = {0} + 4.0 * np.eye({0}.shape[-1])\n"

Shape = tuple
S: Shape = ()        # a Python float
V: Shape = (4,)
M: Shape = (3, 4)
T: Shape = (2, 3, 4)

UNARY = ((S,), (V,), (M,))
ARRAY1 = ((V,), (M,))
SCALAR1 = ((S,),)
SCALAR2 = ((S, S),)
# elementwise binary: equal shapes, scalar with array both ways, (m, n) with (n,) both ways
BINARY = ((S, S), (V, V), (M, M), (S, V), (V, S), (S, M), (M, S), (M, V), (V, M))

GAP = 0.05  # how far samples stay from kinks


@dataclass(frozen=True)
class Case:
    template: str
    domains: tuple            # per operand: (low, high) float range, or an int value
    shapes: tuple             # tuples of per-operand shapes
    avoid: Callable | None = None
    prepare: Callable | None = None

    @property
    def arity(self) -> int:
        return len(self.domains)


# --- sample filters and adjustments ----------------------------------------------------------

def near_tie(k: int = 0, m: int = 1):
    """Operands k and m closer than GAP somewhere (after broadcasting)."""
    return lambda args: bool(np.any(np.abs(np.subtract(args[k], args[m])) < GAP))


def near_value(value: float, k: int = 0):
    return lambda args: bool(np.any(np.abs(np.subtract(args[k], value)) < GAP))


def near_values(*values: float, k: int = 0):
    tests = [near_value(v, k) for v in values]
    return lambda args: any(t(args) for t in tests)


def near_integer_quotient(args) -> bool:
    """x / y within GAP of an integer: where x // y and x % y jump."""
    q = np.divide(args[0], args[1])
    frac = q - np.floor(q)
    return bool(np.any((frac < GAP) | (frac > 1 - GAP)))


def extreme_not_unique(args) -> bool:
    """The largest or smallest entry within GAP of the runner-up."""
    values = np.sort(np.ravel(args[0]))
    return bool(values[-1] - values[-2] < GAP or values[1] - values[0] < GAP)


def one_zero(args):
    """np.prod at an input with one exact zero (its rule is exact there, unlike prod / x)."""
    x = args[0].copy()
    x.flat[1] = 0.0
    return [x, *args[1:]]


def equal_operands(args):
    """The second operand set equal to the first (same shape): a tie of the inputs."""
    return [args[0], np.copy(args[0]) if isinstance(args[0], np.ndarray) else args[0],
            *args[2:]]


# --- the smooth functions of math and numpy (primitives/elementwise.py) ----------------------

def _function(np_name: str, math_name: str | None, domain, arity: int = 1,
              avoid=None) -> tuple[Case, ...]:
    operands = ", ".join(f"{{{k}}}" for k in range(arity))
    shapes = UNARY if arity == 1 else BINARY
    cases = [Case(f"{np_name}({operands})", (domain,) * arity, shapes, avoid)]
    if math_name:
        cases.append(Case(f"{math_name}({operands})", (domain,) * arity,
                          SCALAR1 if arity == 1 else SCALAR2, avoid))
    return tuple(cases)


_SMOOTH = {
    "sin": _function("np.sin", "math.sin", (-3, 3)),
    "cos": _function("np.cos", "math.cos", (-3, 3)),
    "tan": _function("np.tan", "math.tan", (-1.2, 1.2)),
    "arcsin": _function("np.arcsin", "math.asin", (-0.9, 0.9)),
    "arccos": _function("np.arccos", "math.acos", (-0.9, 0.9)),
    "arctan": _function("np.arctan", "math.atan", (-3, 3)),
    # both signs of both operands: all four quadrants (the branch cut x < 0, y = 0 avoided)
    "arctan2": _function("np.arctan2", "math.atan2", (-3, 3), 2,
                         avoid=lambda a: bool(np.any(np.abs(a[0]) < 0.2))),
    "sinh": _function("np.sinh", "math.sinh", (-2, 2)),
    "cosh": _function("np.cosh", "math.cosh", (-2, 2)),
    "tanh": _function("np.tanh", "math.tanh", (-2, 2)),
    "exp": _function("np.exp", "math.exp", (-2, 2)),
    "expm1": _function("np.expm1", "math.expm1", (-2, 2)),
    "log": _function("np.log", "math.log", (0.2, 4)),
    "log1p": _function("np.log1p", "math.log1p", (-0.5, 3)),
    "log2": _function("np.log2", "math.log2", (0.2, 4)),
    "log10": _function("np.log10", "math.log10", (0.2, 4)),
    "sqrt": _function("np.sqrt", "math.sqrt", (0.2, 4)),
    "hypot": _function("np.hypot", "math.hypot", (-3, 3), 2,
                       avoid=lambda a: bool(np.any(np.hypot(a[0], a[1]) < 0.2))),
    "fabs": _function("np.fabs", "math.fabs", (-3, 3), avoid=near_value(0.0)),
    "square": _function("np.square", None, (-3, 3)),
    # sign is not differentiable (Primitive.differentiable is False: zero derivative); the
    # product keeps an active path through the function
    "sign": (Case("np.sign({0}) * {0}", ((-3, 3),), UNARY, near_value(0.0)),),
    "arcsinh": _function("np.arcsinh", "math.asinh", (-3, 3)),
    "arccosh": _function("np.arccosh", "math.acosh", (1.2, 4)),
    "arctanh": _function("np.arctanh", "math.atanh", (-0.9, 0.9)),
    "exp2": _function("np.exp2", None, (-2, 2)),
    "cbrt": _function("np.cbrt", None, (-3, 3), avoid=near_value(0.0)),
    # both signs of both operands; x away from 0 (abs's kink), y away from its sign change
    "copysign": _function("np.copysign", "math.copysign", (-3, 3), 2,
                          avoid=lambda a: near_value(0.0, 0)(a) or near_value(0.0, 1)(a)),
    "erf": (Case("math.erf({0})", ((-2, 2),), SCALAR1),
            Case("scipy.special.erf({0})", ((-2, 2),), UNARY)),
    "erfc": (Case("math.erfc({0})", ((-2, 2),), SCALAR1),
             Case("scipy.special.erfc({0})", ((-2, 2),), UNARY)),
    # both signs (the reflection formulas), away from the poles at 0, -1, -2, ...
    "lgamma": (Case("math.lgamma({0})", ((-2.9, 5),), SCALAR1, near_values(0, -1, -2, -3)),
               Case("scipy.special.gammaln({0})", ((-2.9, 5),), UNARY,
                    near_values(0, -1, -2, -3))),
    "gamma": (Case("math.gamma({0})", ((-2.9, 4),), SCALAR1, near_values(0, -1, -2, -3)),
              Case("scipy.special.gamma({0})", ((0.3, 4),), UNARY)),
    "digamma": (Case("scipy.special.digamma({0})", ((-2.9, 15),), UNARY,
                     near_values(0, -1, -2, -3)),
                Case("scipy.special.psi({0})", ((0.2, 30),), UNARY)),
    # floor and ceil, like sign, are steps (zero derivative away from the integers)
    "floor": (Case("np.floor({0}) * {0}", ((-3, 3),), UNARY, near_values(-2, -1, 0, 1, 2)),),
    "ceil": (Case("np.ceil({0}) * {0}", ((-3, 3),), UNARY, near_values(-2, -1, 0, 1, 2)),),
}

# --- arithmetic (primitives/arith.py) --------------------------------------------------------

_ARITH = {
    "add": (Case("{0} + {1}", ((-3, 3), (-3, 3)), BINARY),
            Case("1.5 + {0}", ((-3, 3),), UNARY)),
    "sub": (Case("{0} - {1}", ((-3, 3), (-3, 3)), BINARY),
            Case("1.5 - {0}", ((-3, 3),), UNARY)),
    "mul": (Case("{0} * {1}", ((-3, 3), (-3, 3)), BINARY),
            Case("{0} * {0}", ((-3, 3),), UNARY)),
    "truediv": (Case("{0} / {1}", ((-3, 3), (0.5, 3)), BINARY),
                Case("1.0 / {0}", ((0.5, 3),), UNARY),
                Case("{0} / {1}", ((-3, 3), 3), ((S, S), (V, S), (M, S)))),
    # piecewise constant: a zero derivative away from the jumps (both signs of x: floor).
    # Times {1}, so the gradient is not identically zero: check_grad's relative error is 1
    # against an exact zero, whose central difference is rounding noise of the stencil sum
    "floordiv": (Case("{0} // {1} * {1}", ((-5, 5), (0.7, 2)), BINARY,
                      near_integer_quotient),),
    "mod": (Case("{0} % {1}", ((-5, 5), (0.7, 2)), BINARY, near_integer_quotient),),
    "pow": (Case("{0} ** {1}", ((0.3, 3), (-2, 2)), BINARY),
            Case("np.power({0}, {1})", ((0.3, 3), (-2, 2)), BINARY),
            Case("pow({0}, {1})", ((0.3, 3), (-2, 2)), SCALAR2),
            Case("math.pow({0}, {1})", ((0.3, 3), (-2, 2)), SCALAR2),
            # integer exponents: any sign of the base; 2 has its own rule
            Case("{0} ** 2", ((-3, 3),), UNARY),
            Case("{0} ** 3", ((-3, 3),), UNARY),
            Case("{0} ** -1", ((0.5, 3),), UNARY),
            Case("{0} ** {1}", ((-3, 3), 3), ((S, S), (V, S), (M, S))),
            Case("{0} ** 0.5", ((0.2, 3),), UNARY),
            Case("2.0 ** {0}", ((-2, 2),), UNARY)),
    "neg": (Case("-{0}", ((-3, 3),), UNARY),),
    # float() of a float lowers to nothing (see COMPOSITES); cast_float is emitted for ints,
    # which carry no derivative
    "cast_float": (Case("{0} * float({1})", ((-3, 3), 3), ((S, S), (V, S))),),
    "min2": (Case("np.minimum({0}, {1})", ((-3, 3), (-3, 3)), BINARY, near_tie()),
             Case("min({0}, {1})", ((-3, 3), (-3, 3)), SCALAR2, near_tie()),
             Case("min({0}, {1}, 0.5)", ((-3, 3), (-3, 3)), SCALAR2,
                  lambda a: near_tie()(a) or near_value(0.5, 0)(a) or near_value(0.5, 1)(a))),
    "max2": (Case("np.maximum({0}, {1})", ((-3, 3), (-3, 3)), BINARY, near_tie()),
             Case("np.maximum({0}, 0.0)", ((-3, 3),), UNARY, near_value(0.0)),
             Case("max({0}, {1})", ((-3, 3), (-3, 3)), SCALAR2, near_tie()),
             Case("max({0}, {1}, 0.5)", ((-3, 3), (-3, 3)), SCALAR2,
                  lambda a: near_tie()(a) or near_value(0.5, 0)(a) or near_value(0.5, 1)(a))),
    "abs": (Case("abs({0})", ((-3, 3),), UNARY, near_value(0.0)),
            Case("np.abs({0})", ((-3, 3),), UNARY, near_value(0.0)),
            Case("np.absolute({0})", ((-3, 3),), UNARY, near_value(0.0))),
    "select": (Case("np.where({0} > {1}, {0}, {1})", ((-3, 3), (-3, 3)), BINARY, near_tie()),
               Case("np.where({0} > 0.0, {0} * {0}, {1})", ((-3, 3), (-3, 3)), BINARY,
                    near_value(0.0)),
               Case("np.where({0} < 0.5, 2.0, {0})", ((-3, 3),), UNARY, near_value(0.5)),
               # a scalar condition choosing between arrays
               Case("np.where({0} > 0.0, {1}, 2.0 * {1})", ((-3, 3), (-3, 3)),
                    ((S, S), (S, V), (S, M)), near_value(0.0))),
}

# --- whole arrays (primitives/arrays.py) ---------------------------------------------------

_MATMUL_SHAPES = (((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 3)), ((3, 4), (4, 2)))

_ARRAYS = {
    "sum": (Case("np.sum({0})", ((-3, 3),), ARRAY1),
            Case("{0}.sum()", ((-3, 3),), ARRAY1),
            Case("np.sum({0}, axis=0)", ((-3, 3),), ARRAY1),
            Case("np.sum({0}, axis=1)", ((-3, 3),), ((M,),)),
            Case("{0}.sum(axis=1)", ((-3, 3),), ((M,),)),
            Case("np.sum({0}, axis=0, keepdims=True) * {0}", ((-3, 3),), ARRAY1 + ((T,),)),
            Case("{0}.sum(axis=-2)", ((-3, 3),), ((T,),)),
            Case("np.sum({0}, axis=(0, 2)) * np.sum({0}, axis=(0, -1), keepdims=True)[0, :, 0]",
                 ((-3, 3),), ((T,),)),
            Case("np.sum({0}, keepdims=True) * {0}", ((-3, 3),), ARRAY1 + ((T,),)),
            Case("np.sum(np.sum({0}))", ((-3, 3),), ((M,),))),
    "dot": (Case("{0} @ {1}", ((-3, 3), (-3, 3)), _MATMUL_SHAPES),
            Case("np.dot({0}, {1})", ((-3, 3), (-3, 3)), _MATMUL_SHAPES),
            Case("np.matmul({0}, {1})", ((-3, 3), (-3, 3)), _MATMUL_SHAPES),
            Case("{0}.dot({1})", ((-3, 3), (-3, 3)), _MATMUL_SHAPES),
            Case("{0} @ {0}", ((-3, 3),), ((V,), ((4, 4),)))),
    # per batch entry a matrix product; the last shapes are over the BLAS threshold
    "batch_dot": (Case("np.einsum('bij,bjk->bik', {0}, {1})", ((-3, 3), (-3, 3)),
                       ((T, (2, 4, 5)), ((2, 20, 16), (2, 16, 18)))),
                  Case("np.einsum('kab,nkb->nka', {0}, {1})", ((-3, 3), (-3, 3)),
                       (((3, 2, 4), (5, 3, 4)),))),
    "outer": (Case("np.outer({0}, {1})", ((-3, 3), (-3, 3)), (((3,), (4,)),)),
              Case("np.outer({0}, {0})", ((-3, 3),), ((V,),))),
    "logaddexp": (Case("np.logaddexp({0}, {1})", ((-3, 3), (-3, 3)), BINARY),
                  # smooth at x == y (both partials 1/2): no kink to stay away from
                  Case("np.logaddexp({0}, {1})", ((-3, 3), (-3, 3)), ((S, S), (V, V)),
                       prepare=equal_operands)),
    # square matrices made diagonally dominant first, so they are well conditioned
    "solve": (Case(_WELL_POSED + "np.linalg.solve(a, {1})", ((-1, 1), (-3, 3)),
                   (((3, 3), (3,)), ((3, 3), (3, 2)))),
              # stacks: b is one vector for every matrix (1-D) or broadcast stacked matrices
              Case(_STACK_POSED + "np.linalg.solve(a, {1})", ((-1, 1), (-3, 3)),
                   (((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 2)), ((2, 1, 3, 3), (3, 3, 2)),
                    ((3, 3), (2, 3, 1)), ((1, 1), (1,))))),
    "inv": (Case(_WELL_POSED + "np.linalg.inv(a)", ((-1, 1),), (((3, 3),),)),
            Case(_STACK_POSED + "np.linalg.inv(a)", ((-1, 1),), (((2, 3, 3),), ((2, 2, 3, 3),),
                                                                 ((1, 1),)))),
    "det": (Case(_WELL_POSED + "np.linalg.det(a)", ((-1, 1),), (((3, 3),),)),
            Case(_STACK_POSED + "np.linalg.det(a)", ((-1, 1),), (((2, 3, 3),), ((2, 2, 3, 3),),
                                                                 ((1, 1),)))),
    "logabsdet": (Case(_WELL_POSED + "s, logdet = np.linalg.slogdet(a)\nlogdet * s",
                       ((-1, 1),), (((3, 3),),)),
                  Case(_WELL_POSED + "np.linalg.slogdet(-a)[1]", ((-1, 1),), (((4, 4),),)),
                  Case(_STACK_POSED + "s, logdet = np.linalg.slogdet(-a)\nlogdet * s",
                       ((-1, 1),), (((2, 3, 3),), ((2, 2, 3, 3),)))),
    "triu": (Case("np.triu({0})", ((-3, 3),), (((3, 3),), (M,))),
             Case("np.triu({0}, 1) * {0}", ((-3, 3),), ((M,),)),
             Case("np.triu({0}, -1)", ((-3, 3),), ((M,),))),
    "tril": (Case("np.tril({0})", ((-3, 3),), ((M,),)),
             Case("np.tril({0} @ {0}.T, -1)", ((-3, 3),), ((M,),))),
    "trace": (Case("np.trace({0})", ((-3, 3),), (((3, 3),), (M,))),),
    "expand_dims": (Case("{0}[:, None] * {0}[None, :]", ((-3, 3),), ((V,),)),
                    Case("{0}[None, 1:3]", ((-3, 3),), ((V,),))),
    "take": (Case("{0}[np.arange(3)] * {0}[np.arange(1, 4)]", ((-3, 3),), ((V,),)),
             Case("{0}[np.arange(2)]", ((-3, 3),), ((M,),))),
    "diag": (Case("np.diag({0})", ((-3, 3),), (((3, 3),), (V,))),),
    "transpose": (Case("{0}.T", ((-3, 3),), ((M,),)),
                  Case("np.transpose({0})", ((-3, 3),), ((M,),)),
                  Case("{0}.T @ {1}", ((-3, 3), (-3, 3)), (((3, 4), (3,)),))),
    "amax": (Case("np.max({0}, axis=0)", ((-3, 3),), ((M,),), extreme_not_unique),
             Case("np.max({0}, axis=1, keepdims=True) * {0}", ((-3, 3),), ((M,),),
                  extreme_not_unique),
             Case("np.max({0})", ((-3, 3),), ARRAY1, extreme_not_unique),
             Case("np.amax({0})", ((-3, 3),), ARRAY1, extreme_not_unique),
             Case("{0}.max()", ((-3, 3),), ARRAY1, extreme_not_unique),
             Case("np.max({0}, axis=1)", ((-3, 3),), ((T,),), extreme_not_unique),
             Case("np.max({0}, axis=-1, keepdims=True) * {0}", ((-3, 3),), ((T,),),
                  extreme_not_unique)),
    "amin": (Case("np.min({0}, axis=1)", ((-3, 3),), ((M,),), extreme_not_unique),
             Case("{0}.min(axis=0)", ((-3, 3),), ((T,),), extreme_not_unique),
             Case("np.min({0}, axis=(0, 2), keepdims=True) * {0}", ((-3, 3),), ((T,),),
                  extreme_not_unique),
             Case("np.min({0})", ((-3, 3),), ARRAY1, extreme_not_unique),
             Case("np.amin({0})", ((-3, 3),), ARRAY1, extreme_not_unique),
             Case("{0}.min()", ((-3, 3),), ARRAY1, extreme_not_unique)),
    "prod": (Case("np.prod({0})", ((0.5, 1.5),), ARRAY1),
             Case("{0}.prod()", ((0.5, 1.5),), ARRAY1),
             Case("np.prod({0})", ((-1.5, 1.5),), ARRAY1, prepare=one_zero),
             Case("np.prod({0}, axis=0)", ((0.5, 1.5),), ((V,), (M,), (T,))),
             Case("{0}.prod(axis=1, keepdims=True) * {0}", ((0.5, 1.5),), ((M,), (T,))),
             Case("np.prod({0}, axis=-1)", ((-1.5, 1.5),), ((M,), (T,)), prepare=one_zero)),
    "cumsum": (Case("np.cumsum({0})", ((-3, 3),), ARRAY1 + ((T,),)),
               Case("{0}.cumsum()", ((-3, 3),), ((V,),)),
               Case("np.cumsum({0}, axis=0)", ((-3, 3),), ARRAY1 + ((T,),)),
               Case("{0}.cumsum(axis=-1)", ((-3, 3),), ((M,), (T,)))),
    "ravel": (Case("np.ravel({0})", ((-3, 3),), ARRAY1),
              Case("{0}.ravel()", ((-3, 3),), ((M,),)),
              Case("{0}.flatten()", ((-3, 3),), ((M,),))),
    "reshape": (Case("np.reshape({0}, (2, 6))", ((-3, 3),), ((M,),)),
                Case("{0}.reshape(12)", ((-3, 3),), ((M,),)),
                Case("np.reshape({0}, 12)", ((-3, 3),), ((M,),)),
                Case("{0}.reshape((4, 3))", ((-3, 3),), ((M,),)),
                Case("{0}.reshape(3, 4)", ((-3, 3),), (((12,),),)),
                Case("{0}.reshape({1}, 6)", ((-3, 3), 2), (((12,), S),)),
                Case("np.reshape({0}, {1}.shape)", ((-3, 3), (-3, 3)), (((12,), M),))),
    "concatenate": (Case("np.concatenate(({0}, {1}))", ((-3, 3), (-3, 3)),
                         (((3,), (4,)), ((2, 4), (3, 4)))),
                    Case("np.concatenate(({0}, {1}, {0}))", ((-3, 3), (-3, 3)),
                         (((3,), (4,)),)),
                    Case("np.concatenate([{0}, {1}], axis=1)", ((-3, 3), (-3, 3)),
                         (((3, 2), (3, 4)), ((2, 1, 3), (2, 2, 3)))),
                    Case("np.concatenate([{1}, {0}], axis=-1)", ((-3, 3), (-3, 3)),
                         (((2, 3, 1), (2, 3, 2)),)),
                    Case("np.hstack(({0}, {1}))", ((-3, 3), (-3, 3)),
                         (((3,), (4,)), ((3, 2), (3, 4)))),
                    Case("np.vstack([{0}, {1}])", ((-3, 3), (-3, 3)), (((2, 4), (3, 4)),))),
    "stack": (Case("np.stack(({0}, {1}))", ((-3, 3), (-3, 3)), ((V, V), (M, M))),
              Case("np.stack(({0}, {1}, {0}))", ((-3, 3), (-3, 3)), ((V, V),)),
              Case("np.stack([{0}, {1}], axis=1)", ((-3, 3), (-3, 3)), ((V, V), (M, M))),
              Case("np.stack(({0}, {1}), axis=-1)", ((-3, 3), (-3, 3)), ((M, M), (T, T))),
              Case("np.vstack(({0}, {1}, {0}))", ((-3, 3), (-3, 3)), ((V, V),))),
}

# --- element access, slices, creation, writes (primitives/indexing.py) ----------------------

_INDEXING = {
    "getitem": (Case("{0}[2]", ((-3, 3),), ((V,),)),
                Case("{0}[-1]", ((-3, 3),), ((V,),)),
                Case("{0}[1, 2]", ((-3, 3),), ((M,),)),
                Case("{0}[{1}]", ((-3, 3), 2), ((V, S),)),
                Case("{0}[{1}, {1} + 1]", ((-3, 3), 1), ((M, S),)),
                Case("{0}[1] * {0}[2]", ((-3, 3),), ((V,),))),
    "slice": (Case("{0}[1:3]", ((-3, 3),), ((V,),)),
              Case("{0}[1:]", ((-3, 3),), ((V,),)),
              Case("{0}[:-1]", ((-3, 3),), ((V,),)),
              Case("{0}[::2]", ((-3, 3),), ((V,),)),
              Case("{0}[{1}:{1} + 2]", ((-3, 3), 1), ((V, S),)),
              Case("{0}[1]", ((-3, 3),), ((M,),)),
              Case("{0}[1:3, :]", ((-3, 3),), ((M,),)),
              Case("{0}[:, 1]", ((-3, 3),), ((M,),)),
              Case("{0}[1:3, 2:4]", ((-3, 3),), ((M,),)),
              Case("{0}[1:3] * {0}[0:2]", ((-3, 3),), ((V,),))),
    "copy": (Case("np.copy({0})", ((-3, 3),), ARRAY1),
             Case("{0}.copy()", ((-3, 3),), ARRAY1)),
    "full": (Case("np.full(3, {0})", ((-3, 3),), SCALAR1),
             Case("np.full((2, 3), {0})", ((-3, 3),), SCALAR1),
             Case("np.full({1}.shape, {0})", ((-3, 3), (-3, 3)), ((S, M),))),
    "slice_set": (Case("y = np.zeros(6)\ny[1:5] = {0}\ny[0] = {1}\ny", ((-3, 3), (-3, 3)),
                       ((V, S),)),
                  Case("y = np.copy({0})\ny[:, 1] += {1}\ny[1] = 2.0 * {1}[0]\ny",
                       ((-3, 3), (-3, 3)), (((3, 4), (3,)),))),
    "setitem": (Case("y = np.copy({0})\ny[1] = {1}\ny", ((-3, 3), (-3, 3)), ((V, S),)),
                Case("y = np.copy({0})\ny[1, 2] = {1} * {0}[0, 0]\ny", ((-3, 3), (-3, 3)),
                     ((M, S),)),
                Case("y = np.zeros(4)\ny[2] = {0} * {0}\ny[0] = {0}\ny", ((-3, 3),),
                     SCALAR1),
                Case("y = np.zeros_like({0})\ny[1] = {1}\ny[1] += {1} * {0}[1]\ny * {0}",
                     ((-3, 3), (-3, 3)), ((V, S),))),
    # idx from np.arange: repeated entries (the last write is kept), negative ones (-1 names
    # the last entry), rows of a 2-D array; v an array, a number, or one row for every index
    "take_set": (Case("y = np.copy({0})\ny[np.arange(3) % 2] = {1}\ny", ((-3, 3), (-3, 3)),
                      ((V, (3,)), (V, S))),
                 Case("y = np.copy({0})\ny[np.arange(4) % 2 - 1] = {1}\ny[1] *= {1}[0]\ny",
                      ((-3, 3), (-3, 3)), ((V, (4,)),)),
                 Case("y = np.copy({0})\ny[np.arange(-2, 2)] += {1} * {0}[0]\ny",
                      ((-3, 3), (-3, 3)), ((V, (4,)), (V, S))),
                 Case("y = np.copy({0})\ny[np.arange(5) % 3 - 1] -= {1}\ny", ((-3, 3), (-3, 3)),
                      ((V, (5,)),)),
                 Case("y = np.copy({0})\ny[np.arange(4) % 2] = {1}\ny", ((-3, 3), (-3, 3)),
                      ((M, (4, 4)), (M, (4,)), (M, S))),
                 Case("y = np.copy({0})\ny[np.arange(-1, 2), :] *= {1}\ny",
                      ((-3, 3), (-3, 3)), ((M, (3, 4)), (M, S)))),
}

# --- array building (primitives/shapes.py) -------------------------------------------------

_SHAPES = {
    "pack": (Case("np.array([{0}, {1} - {0}])", ((-3, 3), (-3, 3)), ((S, S),)),
             Case("np.array([[{0}, {1}], [{1}, 2.0 * {0}]])", ((-3, 3), (-3, 3)), ((S, S),)),
             Case("np.array([{0}[0], {0}[2] * {0}[1]])", ((-3, 3),), ((V,),)),
             Case("{0}[[0, 2]] * {0}[[1, 1]]", ((-3, 3),), ((V,), (M,))),
             Case("np.atleast_1d({0}) * {0}", ((-3, 3),), SCALAR1),
             Case("np.append({0}, {1})", ((-3, 3), (-3, 3)), ((V, S), (M, S)))),
    "broadcast_to": (Case("np.broadcast_to({0}, (3, 4))", ((-3, 3),), ((V,), ((3, 1),))),
                     Case("np.broadcast_to({0}, (2, 3, 4)) * 2.0", ((-3, 3),), ((M,),)),
                     Case("np.broadcast_to({0}, {1}.shape)", ((-3, 3), (-3, 3)),
                          (((4,), M),))),
}

def positive_definite(args):
    """Operand 0 made symmetric positive definite: x x^T + 3 I."""
    x = args[0]
    return [x @ x.T + 3.0 * np.eye(x.shape[0]), *args[1:]]


_SHAPES["cumprod"] = (
    Case("np.cumprod({0})", ((0.5, 1.5),), ARRAY1 + ((T,),)),
    Case("{0}.cumprod()", ((-1.5, 1.5),), ((V,), (M,)), prepare=one_zero),
    Case("np.cumprod({0}, axis=0)", ((0.5, 1.5),), ARRAY1 + ((T,),)),
    Case("np.cumprod({0}, 1)", ((-1.5, 1.5),), ((M,), (T,)), prepare=one_zero),
    Case("{0}.cumprod(axis=-1)", ((0.5, 1.5),), ((T,),)),
)

_SHAPES["cholesky"] = (
    # the entries above the diagonal are not read (as NumPy's): their derivative is zero
    Case("L = np.linalg.cholesky({0})\nL", ((-1, 1),), (((3, 3),), ((1, 1),)),
         prepare=positive_definite),
    Case("a = {0} @ {0}.T + 2.0 * np.eye(4)\nL = np.linalg.cholesky(a)\nL @ L.T * 0.5 + L",
         ((-1, 1),), (((4, 4),),)),
)



def separated_spectrum(args):
    """Operand 0 (..., n, n) scaled down and given the diagonal 1.5, 3, ...: the symmetric
    matrix its lower triangle defines has well separated eigenvalues."""
    x = args[0]
    return [0.3 * x + np.diag(1.5 * np.arange(1.0, x.shape[-1] + 1)), *args[1:]]


def separated_singular_values(args):
    """Operand 0 (..., m, n) scaled down plus a rectangular diagonal of 1.5, 3, ...: well
    separated singular values, full rank."""
    x = args[0]
    m, n = x.shape[-2:]
    return [0.3 * x + np.eye(m, n) * 1.5 * np.arange(n, 0, -1.0), *args[1:]]


_SQUARES = (((3, 3),), ((1, 1),), ((2, 3, 3),), ((2, 2, 3, 3),))
_RECTANGLES = (((4, 3),), ((3, 4),), ((2, 4, 3),), ((1, 1),))
_SHAPES["eigvalsh"] = (
    Case("np.linalg.eigvalsh({0})", ((-1, 1),), _SQUARES, prepare=separated_spectrum),
    Case("w, v = np.linalg.eigh({0})\nw", ((-1, 1),), (((3, 3),),), prepare=separated_spectrum),
    Case("np.linalg.eigvalsh({0}, UPLO='U')", ((-1, 1),), (((3, 3),), ((2, 3, 3),)),
         prepare=separated_spectrum),
)
_SHAPES["eigh_vectors"] = (
    # |v|: the eigenvectors' signs are arbitrary (the squares are not)
    Case("v = np.linalg.eigh({0})[1]\nv * v", ((-1, 1),), _SQUARES, prepare=separated_spectrum),
    Case("w, v = np.linalg.eigh({0}.T)\nnp.abs(v)", ((-1, 1),), (((3, 3),),),
         prepare=separated_spectrum),
    Case("w, v = np.linalg.eigh({0})\n(v * w) @ v.T", ((-1, 1),), (((3, 3),),),
         prepare=separated_spectrum),
)
_SHAPES["svdvals"] = (
    Case("np.linalg.svd({0}, compute_uv=False)", ((-1, 1),), _RECTANGLES + ((
        (2, 2, 3, 3),),), prepare=separated_singular_values),
    Case("u, s, vt = np.linalg.svd({0}, full_matrices=False)\ns", ((-1, 1),), ((M,),),
         prepare=separated_singular_values),
)
_SHAPES["svd_u"] = (
    Case("u = np.linalg.svd({0}, full_matrices=False)[0]\nu * u", ((-1, 1),), _RECTANGLES,
         prepare=separated_singular_values),
    Case("u, s, vt = np.linalg.svd({0}, full_matrices=False)\n(u * s) @ vt", ((-1, 1),),
         (((4, 3),), ((3, 4),)), prepare=separated_singular_values),
)
_SHAPES["svd_vt"] = (
    Case("vt = np.linalg.svd({0}, False)[2]\nvt * vt", ((-1, 1),), _RECTANGLES,
         prepare=separated_singular_values),
    Case("u, s, vt = np.linalg.svd({0}, full_matrices=False)\nnp.abs(u @ vt)", ((-1, 1),),
         (((4, 3),), ((3, 4),)), prepare=separated_singular_values),
)
_TALL = (((4, 3),), ((3, 3),), ((2, 4, 3),), ((2, 2, 3, 2),), ((1, 1),))
_SHAPES["qr_q"] = (
    Case("np.linalg.qr({0})[0]", ((-1, 1),), _TALL, prepare=separated_singular_values),
)
_SHAPES["qr_r"] = (
    Case("q, r = np.linalg.qr({0})\nr", ((-1, 1),), _TALL, prepare=separated_singular_values),
    Case("np.linalg.qr({0}, mode='r') * 2.0", ((-1, 1),), (((4, 3),),),
         prepare=separated_singular_values),
)
_SHAPES["lstsq"] = (
    Case("np.linalg.lstsq({0}, {1})[0]", ((-1, 1), (-3, 3)),
         (((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 3), (3,)), ((1, 1), (1, 2))),
         prepare=separated_singular_values),
    Case("x, res, rank, s = np.linalg.lstsq({0}, {1}, rcond=None)\nx * rank + s[0]",
         ((-1, 1), (-3, 3)), (((5, 3), (5,)),), prepare=separated_singular_values),
)
_SHAPES["keep_residuals"] = (
    # empty where A is square: NumPy's residuals only exist for more rows than columns
    Case("np.linalg.lstsq({0}, {1})[1]", ((-1, 1), (-3, 3)),
         (((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 3), (3, 2))),
         prepare=separated_singular_values),
)

SPECS: dict[str, tuple[Case, ...]] = {**_SMOOTH, **_ARITH, **_ARRAYS, **_INDEXING, **_SHAPES}

# --- user spellings that are not one primitive ---------------------------------------------

COMPOSITES: dict[str, tuple[Case, ...]] = {
    "clip": (Case("np.clip({0}, -0.5, 1.5)", ((-3, 3),), UNARY, near_values(-0.5, 1.5)),
             # x0 below the upper bound: a clipped scalar would make the gradient exactly 0
             Case("np.clip({0}, {1}, 2.0)", ((-3, 1.9), (-1, 1)), BINARY,
                  lambda a: near_tie()(a) or near_value(2.0)(a))),
    "reciprocal": (Case("np.reciprocal({0})", ((0.5, 3),), UNARY),),
    "norm": (Case("np.linalg.norm({0})", ((-3, 3),), ARRAY1),
             Case("np.linalg.norm({0}, axis=1)", ((-3, 3),), ((M,), (T,))),
             Case("np.linalg.norm({0}, axis=0, keepdims=True) * {0}", ((-3, 3),),
                  ARRAY1 + ((T,),))),
    "mean": (Case("np.mean({0})", ((-3, 3),), ARRAY1),
             Case("np.mean({0}, axis=(0, 1))", ((-3, 3),), ((T,),)),
             Case("np.mean({0}, axis=0)", ((-3, 3),), ((M,),)),
             Case("{0}.mean(axis=1)", ((-3, 3),), ((M,),))),
    "float": (Case("float({0}) * {0}", ((-3, 3),), SCALAR1),),
    # start + step * (0, 1, ...): the stop only sets the count (kept away from a count change)
    "var": (Case("np.var({0})", ((-3, 3),), ARRAY1),
            Case("{0}.var(axis=1, keepdims=True) * {0}", ((-3, 3),), ((M,), (T,)))),
    "std": (Case("np.std({0})", ((-3, 3),), ARRAY1),
            Case("np.std({0}, axis=(0, 2))", ((-3, 3),), ((T,),))),
    "flip": (Case("np.flip({0}) * {0}", ((-3, 3),), ARRAY1 + ((T,),)),
             Case("np.flip({0}, axis=1) * {0}", ((-3, 3),), ((M,), (T,)))),
    "squeeze": (Case("np.squeeze({0}[:, None], axis=1) * {0}", ((-3, 3),), ((V,),)),
                Case("{0}[None].squeeze(axis=0) * {0}", ((-3, 3),), ((M,),))),
    "arange_float": (Case("np.arange({0}, 1.55, 0.25) ** 2", ((-0.94, -0.8),), SCALAR1),
                     Case("np.arange(0.5, 2.45, {0}) ** 2", ((0.3, 0.32),), SCALAR1),
                     Case("np.arange(4.0) * {0}", ((-3, 3),), SCALAR1)),
}

def has_ties(args) -> bool:
    """Two entries of operand 0 within GAP of each other (where np.sort's order swaps)."""
    values = np.sort(np.ravel(args[0]))
    return bool(np.any(np.diff(values) < GAP))


def ties_along(args, axis: int) -> bool:
    """Two entries of operand 0 within GAP of each other along `axis` (where a sort or an
    argmax along it swaps)."""
    values = np.sort(args[0], axis=axis)
    return bool(np.any(np.diff(values, axis=axis) < GAP))


def one_exact_zero(args):
    x = np.array(args[0], dtype=float)
    if x.ndim == 0:
        return [0.0, *args[1:]]
    x.flat[1] = 0.0
    return [x, *args[1:]]


_NONZERO = ((0.5, 3),)
_TWO = ((-3, 3), (-3, 3))
_LIST_ROWS = "rows = []\nfor i in range(3):\n    rows.append({0} * (i + 1.0))\n"

# NumPy's and Python's spellings that lower to compositions of primitives
# (frontend/numpy_more.py, frontend/python_forms.py)
COMPOSITES.update({
    "np.add": (Case("np.add({0}, {1})", _TWO, BINARY),),
    "np.subtract": (Case("np.subtract({0}, {1})", _TWO, BINARY),),
    "np.multiply": (Case("np.multiply({0}, {1})", _TWO, BINARY),),
    "np.divide": (Case("np.divide({0}, {1})", ((-3, 3), (0.5, 3)), BINARY),
                  Case("np.true_divide({0}, {1})", ((-3, 3), (0.5, 3)), BINARY)),
    "np.negative": (Case("np.negative({0}) + np.positive({0}) * 3.0", ((-3, 3),), UNARY),),
    "np.mod": (Case("np.mod({0}, {1})", ((-5, 5), (0.7, 2)), BINARY, near_integer_quotient),
               Case("np.remainder({0}, {1})", ((-5, 5), (0.7, 2)), BINARY,
                    near_integer_quotient),
               Case("np.floor_divide({0}, {1}) * {1}", ((-5, 5), (0.7, 2)), BINARY,
                    near_integer_quotient)),
    # C's fmod: the sign of x, both signs of both operands
    "np.fmod": (Case("np.fmod({0}, {1})", ((-5, 5), (0.7, 2)), BINARY, near_integer_quotient),
                Case("np.fmod({0}, -{1})", ((-5, 5), (0.7, 2)), ((V, V), (S, S)),
                     near_integer_quotient)),
    "np.deg2rad": (Case("np.deg2rad({0}) + np.radians({0}) * 2.0", ((-3, 3),), UNARY),
                   Case("np.rad2deg({0}) + np.degrees({0}) * 2.0", ((-3, 3),), UNARY)),
    "np.real": (Case("np.real({0}) + 2.0 * np.conj({0}) + np.conjugate({0}) + np.imag({0})",
                     ((-3, 3),), UNARY),
                Case("{0}.real + 2.0 * {0}.imag", ((-3, 3),), SCALAR1),
                Case("np.broadcast_to({0}, (2, 3))", ((-3, 3),), SCALAR1)),
    "np.logaddexp2": (Case("np.logaddexp2({0}, {1})", _TWO, BINARY),),
    "np.nan_to_num": (Case("np.nan_to_num({0})", ((-3, 3),), UNARY),
                      Case("np.nan_to_num({0} / {1}, posinf=5.0)", ((-3, 3), (0.5, 2)),
                           ((V, V),))),
    "np.sinc": (Case("np.sinc({0})", ((-3, 3),), UNARY),
                Case("np.sinc({0})", ((-3, 3),), ((V,), (M,)), prepare=one_exact_zero)),
    "np.heaviside": (Case("np.heaviside({0}, {1}) * {1}", _TWO, BINARY, near_value(0.0)),
                     Case("np.heaviside(0.0 * {0}, {1}) + {0}", _TWO, ((V, V), (V, S)))),
    "np.expand_dims": (Case("np.expand_dims({0}, 0) * {0}", ((-3, 3),), ARRAY1),
                       Case("np.expand_dims({0}, axis=(0, -1))", ((-3, 3),), ARRAY1),
                       Case("np.expand_dims({0}, 1)", ((-3, 3),), ((M,), (T,)))),
    "np.atleast_2d": (Case("np.atleast_2d({0}) * 2.0", ((-3, 3),), UNARY),
                      Case("np.atleast_3d({0}) * 2.0", ((-3, 3),), UNARY + ((T,),))),
    "np.flipud": (Case("np.flipud({0}) * {0}", ((-3, 3),), ARRAY1 + ((T,),)),
                  Case("np.fliplr({0}) * {0}", ((-3, 3),), ((M,), (T,)))),
    "np.rot90": (Case("np.rot90({0})", ((-3, 3),), ((M,), (T,))),
                 Case("np.rot90({0}, 2)", ((-3, 3),), ((M,),)),
                 Case("np.rot90({0}, k=3)", ((-3, 3),), ((M,),)),
                 Case("np.rot90({0}, -1, axes=(1, 2))", ((-3, 3),), ((T,),))),
    "np.roll": (Case("np.roll({0}, 1) * {0}", ((-3, 3),), ARRAY1),
                Case("np.roll({0}, -2, axis=1)", ((-3, 3),), ((M,), (T,))),
                Case("np.roll({0}, {1}, 0)", ((-3, 3), 6), ((V, S), (M, S)))),
    "np.repeat": (Case("np.repeat({0}, 2)", ((-3, 3),), ARRAY1),
                  Case("np.repeat({0}, 3, axis=1)", ((-3, 3),), ((M,), (T,))),
                  Case("{0}.repeat({1}, axis=0)", ((-3, 3), 2), ((M, S),))),
    "np.tile": (Case("np.tile({0}, 2)", ((-3, 3),), ARRAY1),
                Case("np.tile({0}, (2, 1, 2))", ((-3, 3),), ((V,), (M,))),
                Case("np.tile({0}, ({1}, 2))", ((-3, 3), 3), ((M, S),))),
    "np.append": (Case("np.append({0}, {1})", _TWO, ((V, V), (M, V))),
                  Case("np.append({0}, {1}, axis=0)", _TWO, (((2, 4), M),)),
                  Case("np.append({0}, [{1}, 2.0 * {1}])", _TWO, ((V, S),))),
    "np.split": (Case("a, b = np.split({0}, 2)\na * 2.0 + b", ((-3, 3),), ((V,), ((4, 3),))),
                 Case("p = np.array_split({0}, 3)\nnp.sum(p[0]) + 2.0 * np.sum(p[1]) + "
                      "3.0 * np.sum(p[2])", ((-3, 3),), (((5,),), ((7, 2),))),
                 Case("a, b, c = np.split({0}, (1, 3), axis=1)\n"
                      "np.sum(a) + 2.0 * np.sum(b) + 3.0 * np.sum(c)", ((-3, 3),), ((M,),))),
    "np.diagonal": (Case("np.diagonal({0}) * 2.0", ((-3, 3),), (((3, 3),), (M,), ((4, 2),))),
                    Case("np.diagonal({0}, 1)", ((-3, 3),), (((3, 3),), (M,), ((4, 2),))),
                    Case("{0}.diagonal(offset=-1)", ((-3, 3),), (((3, 3),), (M,), ((4, 2),))),
                    Case("np.diagonal({0}, 0, 1, 0)", ((-3, 3),), ((M,),)),
                    Case("np.trace({0}, 1) + np.trace({0}, offset=-2)", ((-3, 3),),
                         (((3, 3),), (M,), ((4, 2),)))),
    "np.sort": (Case("np.sort({0}) * np.arange(4.0)", ((-3, 3),), ((V,),), has_ties),
                Case("np.sort({0}, axis=None)", ((-3, 3),), ((M,),), has_ties),
                Case("{0}[np.argsort({0})] * {0}[np.argmax({0})] + {0}[np.argmin({0})]",
                     ((-3, 3),), ((V,),), has_ties),
                Case("np.ravel({0})[np.argmax({0})]", ((-3, 3),), ((M,),), has_ties)),
    "np.average": (Case("np.average({0})", ((-3, 3),), ARRAY1),
                   Case("np.average({0}, weights={1})", ((-3, 3), (0.5, 2)), ((V, V), (M, M))),
                   Case("np.average({0}, axis=1, weights={1})", ((-3, 3), (0.5, 2)),
                        ((M, (4,)), (T, (3,)))),
                   Case("np.average({0}, 0, {1})", ((-3, 3), (0.5, 2)), ((M, (3,)), (M, M)))),
    "ddof": (Case("np.var({0}, ddof=1)", ((-3, 3),), ARRAY1),
             Case("np.std({0}, axis=0, ddof=1)", ((-3, 3),), ((M,),)),
             Case("{0}.var(axis=(0, 2), ddof=2)", ((-3, 3),), ((T,),))),
    "norm_ord": (Case("np.linalg.norm({0}, 1)", ((-3, 3),), ((V,),), near_value(0.0)),
                 Case("np.linalg.norm({0}, ord=np.inf)", ((-3, 3),), ((V,),),
                      lambda a: near_value(0.0)(a) or extreme_not_unique([np.abs(a[0])])),
                 Case("np.linalg.norm({0}, -np.inf)", ((-3, 3),), ((V,),),
                      lambda a: near_value(0.0)(a) or extreme_not_unique([np.abs(a[0])])),
                 Case("np.linalg.norm({0}, 3)", ((-3, 3),), ((V,),), near_value(0.0)),
                 Case("np.linalg.norm({0}, 2)", ((-3, 3),), ((V,),)),
                 Case("np.linalg.norm({0}, ord=1, axis=1)", ((-3, 3),), ((M,),),
                      near_value(0.0)),
                 Case("np.linalg.norm({0}, 'fro')", ((-3, 3),), ((M,),)),
                 Case("np.linalg.norm({0}, 1) + np.linalg.norm({0}, np.inf)", _NONZERO,
                      ((M,),), lambda a: extreme_not_unique([np.sum(a[0], 0)])
                      or extreme_not_unique([np.sum(a[0], 1)])),
                 Case("np.linalg.norm({0}, -1, keepdims=True) * {0}", _NONZERO, ((M,),),
                      lambda a: extreme_not_unique([np.sum(a[0], 0)]))),
    "matrix_norm": (Case("np.linalg.norm({0}, 2)", ((-1, 1),), (((4, 3),), ((3, 3),)),
                         prepare=separated_singular_values),
                    Case("np.linalg.norm({0}, 'nuc')", ((-1, 1),), (((3, 4),),),
                         prepare=separated_singular_values),
                    Case("np.linalg.norm({0}, ord=-2, axis=(2, 1), keepdims=True) * {0}",
                         ((-1, 1),), (((2, 4, 3),),), prepare=separated_singular_values),
                    Case("np.linalg.norm({0}, 'nuc', (-2, -1))", ((-1, 1),), (((2, 4, 3),),),
                         prepare=separated_singular_values)),
    "positional_options": (Case("np.sum({0}, 1) + np.mean({0}, 0)[0]", ((-3, 3),), ((M,),)),
                           Case("np.max({0}, 0, keepdims=True) * {0}", ((-3, 3),), ((M,),),
                                extreme_not_unique),
                           Case("np.concatenate(({0}, {1}), 1)", _TWO, ((M, M),)),
                           Case("np.cumsum({0}, 1, dtype=float)", ((-3, 3),), ((M,),)),
                           Case("np.sum({0}, axis=None, dtype=np.float64)", ((-3, 3),),
                                ((M,),))),
    "np.array": (Case("np.array({0}) * np.asarray({0})", ((-3, 3),), UNARY),
                 Case("np.array([{0}, 2.0 * {0}, {0} * {0}])", ((-3, 3),), ((V,), (M,))),
                 Case("np.array([[{0}, {1}], [{1}, {0}]], dtype=float)", _TWO, ((V, V),)),
                 Case("np.array({0}.shape) * {0}[0]", ((-3, 3),), ((V,),))),
    "list_comprehension": (
        Case("np.sum([{0}[i] * (i + 1) for i in range(3)])", ((-3, 3),), ((V,),)),
        Case("np.array([{0}[i] ** 2 for i in range(4)])", ((-3, 3),), ((V,),)),
        Case("np.stack([{0} * k for k in (1.0, 2.0, 3.0)], axis=1)", ((-3, 3),), ARRAY1),
        Case("sum({0}[i] * {0}[i] for i in range({1}))", ((-3, 3), 3), ((V, S),)),
        Case("np.array([{0}[i] ** 2 for i in range({1})]) * 2.0", ((-3, 3), 3), ((V, S),)),
        Case("np.sum([{0}[i] * i for i in range(1, {1})])", ((-3, 3), 4), ((V, S),)),
        Case("np.array([{0}[i] for i in range({1}, 2)])", ((-3, 3), 3), ((V, S),)),
        Case("sum([{0}, 2.0 * {0}], 1.0)", ((-3, 3),), UNARY),
        Case("np.array([w * v for w, v in zip((1.0, 2.0), ({0}, {1}))])", _TWO, ((S, S),))),
    "list_append": (Case(_LIST_ROWS + "np.stack(rows)", ((-3, 3),), ARRAY1),
                    Case(_LIST_ROWS + "np.array(rows)", ((-3, 3),), ((V,),)),
                    Case(_LIST_ROWS + "sum(rows)", ((-3, 3),), UNARY),
                    Case("t = 0.0\nfor c in [1.0, 2.0, 3.0]:\n    t = t + c * {0}\nt",
                         ((-3, 3),), UNARY)),
    "tuple_unpacking": (Case("n, m = {0}.shape\n{0} * n + m", ((-3, 3),), ((M,),)),
                        Case("z = np.zeros((*{0}.shape, 2))\nz[:, :, 1] = {0}\nz",
                             ((-3, 3),), ((M,),)),
                        Case("a, b = ({0}, {1})\na * b", _TWO, BINARY)),
    "nested_def": (Case("def h(v, w=2.0):\n    return v * w + {1}\nh({0}) + h({0}, w=3.0)",
                        _TWO, BINARY),
                   Case("h = lambda v: v * {1}\nh({0}) + h(2.0 * {0})", _TWO, BINARY),
                   Case("def sq(v):\n    s = 0.0 * v\n    for k in range(2):\n"
                        "        s = s + v * v\n    return s\nsq({0}) * {1}", _TWO, ((V, S),))),
    "assert_print": (Case("assert {0}.shape[0] > 0, 'empty'\n{0} * 2.0", ((-3, 3),), ARRAY1),
                     Case("assert np.all({0} < 10.0)\nassert {0}.ndim == 1\n{0} * {0}",
                          ((-3, 3),), ((V,),))),
    "np.einsum": (Case("np.einsum('ij,jk->ik', {0}, {1})", _TWO, ((M, (4, 2)),)),
                  Case("np.einsum('ij,kj', {0}, {1})", _TWO, ((M, (2, 4)),)),
                  Case("np.einsum('i,j->ji', {0}, {1})", _TWO, (((3,), (4,)),)),
                  Case("np.einsum('ij,jk,kl->il', {0}, {1}, {0})", _TWO, (((3, 3), (3, 3)),)),
                  Case("np.einsum('bij,bjk->bki', {0}, {1})", _TWO, ((T, (2, 4, 3)),)),
                  Case("np.einsum('ii', {0}) + np.einsum('ij->j', {0})[0]", ((-3, 3),),
                       (((3, 3),),)),
                  Case("np.einsum('ijk->kij', {0}) * 2.0", ((-3, 3),), ((T,),)),
                  Case("np.einsum('ij,ij', {0}, {1}) + np.einsum('ij,ij->', {0}, {0})", _TWO,
                       ((M, M),))),
    "np.tensordot": (Case("np.tensordot({0}, {1}, axes=1)", _TWO, ((T, (4, 2)),)),
                     Case("np.tensordot({0}, {1})", _TWO, ((T, (3, 4)), (M, M))),
                     Case("np.tensordot({0}, {1}, ([0, 2], [1, 0]))", _TWO, ((T, (4, 2)),)),
                     Case("np.tensordot({0}, {1}, axes=0)", _TWO, ((V, (2,)),))),
    "stacked_matmul": (Case("{0} @ {1}", _TWO, ((T, (4, 2)), (T, (2, 4, 3)), ((3, 4), (2, 4, 3)),
                                                 (T, (4,)), ((3,), T), ((1, 3, 4), (2, 4, 2)))),
                       Case("np.matmul({0}, {1})", _TWO, ((T, (2, 4, 1)),))),
    "np.dot_nd": (Case("np.dot({0}, {1})", _TWO, ((S, M), (V, S), (T, (4, 2)), (M, (2, 4, 3)))),
                  Case("np.inner({0}, {1})", _TWO, ((V, V), (M, M), (T, (5, 4)), (S, V)))),
    "np.kron": (Case("np.kron({0}, {1})", _TWO, (((3,), (2,)), ((2, 3), (3, 2)))),),
    "np.cross": (Case("np.cross({0}, {1})", _TWO, (((3,), (3,)), ((4, 3), (4, 3)), ((3,), (4, 3)))),),
    "np.take_along_axis": (
        Case("np.take_along_axis({0}, np.argsort({0}), axis=0)", ((-3, 3),), ((V,),), has_ties),
        Case("np.take_along_axis({0}, np.arange(12).reshape(3, 4) % 3, 1)", ((-3, 3),),
             ((M,),)),
        Case("np.take_along_axis({0}, (np.arange(8).reshape(2, 4) % 3), axis=0)",
             ((-3, 3),), ((M,),)),
        Case("np.take_along_axis({0}, np.arange(24).reshape(2, 3, 4) % 2, -2)", ((-3, 3),),
             ((T,),))),
    "sort_axis": (
        Case("np.sort({0}, axis=0)", ((-3, 3),), ((M,), (T,)), lambda a: ties_along(a, 0)),
        Case("np.sort({0}, -2, kind='stable') + np.sort({0})", ((-3, 3),), ((T,),),
             lambda a: ties_along(a, -2) or ties_along(a, -1)),
        Case("np.argsort({0}, axis=1) + {0}.argsort(axis=-1)", ((-3, 3),), ((M,), (T,)),
             lambda a: ties_along(a, 1) or ties_along(a, -1)),
        Case("np.take_along_axis({0}, np.argsort({0}, axis=0), axis=0)", ((-3, 3),), ((T,),),
             lambda a: ties_along(a, 0))),
    "partition": (
        Case("np.partition({0}, 1, axis=0)[1]", ((-3, 3),), ((M,), (T,)),
             lambda a: ties_along(a, 0)),
        Case("np.partition({0}, (0, -1))[:, -1] + np.partition({0}, 0)[:, 0]", ((-3, 3),),
             ((M,),), lambda a: ties_along(a, -1)),
        Case("np.take_along_axis({0}, np.argpartition({0}, 2, axis=1), 1)[:, 2]",
             ((-3, 3),), ((M,),), lambda a: ties_along(a, 1))),
    "arg_extreme_axis": (
        Case("np.argmax({0}, axis=-1) + 2 * {0}.argmin(axis=-1)", ((-3, 3),), ((M,), (T,)),
             lambda a: ties_along(a, -1)),
        Case("np.argmax({0}, axis=1) - {0}.argmin(1)", ((-3, 3),), ((T,),),
             lambda a: ties_along(a, 1)),
        Case("np.take_along_axis({0}, np.argmax({0}, axis=0, keepdims=True), axis=0)",
             ((-3, 3),), ((M,), (T,)), lambda a: ties_along(a, 0)),
        Case("np.argmin({0}, keepdims=True) + np.argmax({0}, axis=None)", ((-3, 3),),
             ((V,), (M,)), has_ties),
        Case("np.amax({0}, axis=(0, 2), keepdims=True) * np.amin({0}, -1, keepdims=True)",
             ((-3, 3),), ((T,),), has_ties)),
    "squeeze_all": (
        Case("np.squeeze(np.reshape({0}, (3, 1, 4))[None] * 2.0)", ((-3, 3),), ((M,),)),
        Case("np.reshape({0}, (1, 12, 1)).squeeze() + np.squeeze(np.zeros((1, 1)))",
             ((-3, 3),), ((M,),)),
        Case("np.squeeze(np.reshape({0}, (1, 1)) + 1.0)", ((-3, 3),), (((1,),),))),
    "ellipsis_newaxis": (
        Case("{0}[..., 1:] * 2.0", ((-3, 3),), ((M,), (T,))),
        Case("{0}[np.newaxis] * {0}[..., np.newaxis, :]", ((-3, 3),), ((V,), (M,))),
        Case("y = np.zeros_like({0})\ny[..., 0] = {0}[..., 1]\ny[0, ...] += {0}[1]\ny",
             ((-3, 3),), ((M,),))),
    "fancy_gather": (
        Case("{0}[np.arange(3), np.array([0, 3, 1])]", ((-3, 3),), ((M,),)),
        Case("{0}[[0, 2], [-1, 1]] * {0}[0, [1, 3]]", ((-3, 3),), ((M,),)),
        Case("{0}[[0, 2, 0], [-1, 1, -1]]", ((-3, 3),), ((M,),)),
        Case("{0}[np.array([[0], [2]]), np.array([1, 3, 1])]", ((-3, 3),), ((M,),)),
        Case("{0}[[0, 1], 2, [3, 0]]", ((-3, 3),), ((T,),))),
    "np.diff": (Case("np.diff({0})", ((-3, 3),), ((V,), (M,))),
                Case("np.diff({0}, n=2, axis=-1)", ((-3, 3),), ((M,), (T,))),
                Case("np.diff({0}, 1, 0) * 2.0", ((-3, 3),), ((M,),))),
    "clip_keywords": (
        Case("np.clip({0}, a_min=-1.0, a_max=1.0)", ((-3, 3),), UNARY,
             near_values(-1.0, 1.0)),
        Case("np.clip({0}, None, 0.5) + {0}.clip(min=-0.5)", ((-3, 3),), ARRAY1,
             near_values(-0.5, 0.5)),
        Case("np.triu({0}, k=1) + np.tril({0}, k=-1) * 2.0", ((-3, 3),), ((M,),))),
    "numpy_forms": (
        Case("np.take({0}, [0, 2, 2]) + np.take({0}, np.array([1, 0, 3]), axis=0)",
             ((-3, 3),), ((V,),)),
        Case("np.take({0}, np.array([[0, 1], [2, 0]]), axis=0)", ((-3, 3),), ((M,),)),
        Case("np.vdot({0}, {1})", _TWO, ((V, V), (M, M))),
        Case("np.trapezoid({0}) + np.trapezoid({0}, dx=0.5, axis=0)[0]", ((-3, 3),),
             ((M,),)),
        Case("np.trapezoid({0}, np.cumsum(np.abs({1})))", _TWO, ((V, V), (M, (4,)))),
        Case("a, b = np.meshgrid({0}, {1})\nc, d = np.meshgrid({0}, {1}, indexing='ij')\n"
             "np.sum(a * b) + c * 2.0 + d", _TWO, (((3,), (4,)),)),
        Case("np.median({0})", ((-3, 3),), ((V,), ((5,),), (M,)), has_ties),
        Case("np.linspace({0}, {1}, num=4) + np.linspace(start={0}, stop=1.0, num=4)", _TWO,
             ((S, S),))),
    "scipy.special.expit": (Case("scipy.special.expit({0})", ((-8, 8),), UNARY),
                            # far out, where 1 / (1 + exp(-x)) would overflow
                            Case("scipy.special.expit({0} - 800.0) + scipy.special.expit("
                                 "{0} + 800.0) * {0}", ((-3, 3),), UNARY),
                            Case("scipy.special.logit({0})", ((0.05, 0.95),), UNARY)),
    "scipy.special.xlogy": (Case("scipy.special.xlogy({0}, {1})", ((-3, 3), (0.2, 3)), BINARY),
                            Case("scipy.special.xlog1py({0}, {1})", ((-3, 3), (-0.5, 3)),
                                 BINARY),
                            Case("scipy.special.xlogy({0} * 0.0, {1}) + {0}", ((-3, 3), (0.0, 3)),
                                 ((V, V),))),
    "scipy.special.logsumexp": (
        Case("scipy.special.logsumexp({0})", ((-30, 30),), ARRAY1 + ((T,),)),
        Case("scipy.special.logsumexp({0}, axis=1)", ((-3, 3),), ((M,), (T,))),
        Case("scipy.special.logsumexp({0}, axis=(0, 2), keepdims=True) * {0}", ((-3, 3),),
             ((T,),)),
        Case("scipy.special.softmax({0})", ((-3, 3),), ARRAY1),
        Case("scipy.special.softmax({0}, axis=-1)", ((-3, 3),), ((M,), (T,))),
        Case("scipy.special.log_softmax({0}, axis=0)", ((-3, 3),), ((M,),)),
        Case("scipy.special.log_softmax({0})", ((-3, 3),), ((V,),))),
    "astype": (Case("{0}.astype(float) * {0}", ((-3, 3),), ARRAY1),
               Case("np.float64({0}) * float({0})", ((-3, 3),), SCALAR1)),
})

# --- primitives only the compiler's generated code uses --------------------------------------

INTERNAL: dict[str, str] = {
    "tape_value": "a tape handed back to the caller for reuse by the next call",
    "sum_to_shape": "adjoint of broadcasting along axes of length one",
    "take_add": "adjoint of fancy indexing: adds repeated indices up",
    "take_last": "adjoint of a write through an array of indices: the kept writes' cotangents",
    "eye_like": "adjoint of np.trace: an identity of the matrix's shape",
    "matmul": "batched matrix products in the rules of np.linalg on stacks",
    "checked": "the rules of qr and lstsq: an operand checked for a defined derivative",
    "residuals_cotangent": "adjoint of np.linalg.lstsq's residuals (zero where empty)",
    # adjoint and tangent helpers, emitted by vjp/jvp rules
    "spread": "adjoint of np.sum: the cotangent spread back over the summed axes",
    "sum_leading": "adjoint of broadcasting: sums a cotangent over leading axes",
    "reverse_cumsum": "adjoint of np.cumsum",
    "prod_of_others": "partials of np.prod (products of the other entries)",
    "prod_of_others_tangent": "tangent of prod_of_others, for Hessians of np.prod",
    "reshape_like": "adjoint of ravel/reshape: back to the operand's shape",
    "cumprod_grad": "adjoint of np.cumprod (runtime loops)",
    "trigamma": "derivative of digamma (third derivatives of lgamma are refused)",
    "cumprod_tangent": "tangent of np.cumprod (runtime loops)",
    "sum_all": "adjoint of np.full's fill value",
    "index_add": "adjoint of an element read: scatter-add into an adjoint buffer",
    "slice_add": "adjoint of a slice read: scatter-add into an adjoint buffer",
    "array_add": "whole-array accumulation into an adjoint buffer",
    # tapes and checkpoints of the reverse sweep
    "tape_alloc": "tape storage of the reverse sweep",
    "tape_push": "tape storage of the reverse sweep",
    "tape_grow": "tape storage of the reverse sweep",
    "tape_reserve": "tape storage of the reverse sweep",
    "tape_load": "tape storage of the reverse sweep",
    "tape_charge": "tape budget check before an allocation (ad.tape)",
    "counter_init": "tape counter of the reverse sweep",
    "counter_advance": "tape counter of the reverse sweep",
    "counter_retreat": "tape counter of the reverse sweep",
    "checkpoint_alloc": "checkpoint storage (ad.checkpoint)",
    "checkpoint_save": "checkpoint storage (ad.checkpoint)",
    "checkpoint_restore": "checkpoint storage (ad.checkpoint)",
    "checkpoint_load": "checkpoint storage (ad.checkpoint)",
    "comment": "source-line comments in generated code",
    # structured control flow: differentiated by the transforms themselves (reverse_if,
    # reverse_for, ForwardTransform.op_if, ...), not by rules; tested by test_control_flow.py
    "if": "structured control flow, handled by the transforms",
    "for": "structured control flow, handled by the transforms",
    "while": "structured control flow, handled by the transforms",
    "yield": "terminator of a nested region",
    "return": "terminator of the function",
    # non-differentiable plumbing (exempt by Primitive.differentiable as well)
    "trip_count": "loop trip counts of the reverse sweep",
    "grid": "cuda.grid thread index (an int; tested by test_cuda_*.py)",
    "atomic_add": "adjoint accumulation of CUDA kernels",
    "block_sum": "a CUDA kernel's shared-memory block sum (tested by test_cuda_block_sums.py)",
}
