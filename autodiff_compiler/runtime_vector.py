"""Functions of fused loops that LLVM can vectorise (through runtime.py, as `rt.<name>`).

Numba's math.exp is LLVM's llvm.exp, which the loop vectoriser widens and the backend then
splits back into one libm call per element (llvmlite has no vector math library); a sum
into a number is never vectorised, since IEEE addition is not associative; nor is Numba's
np.max (a compare-and-branch loop). The functions here are plain Python (NumPy's own
meaning) in the interpreter, with a Numba implementation (`numba.extending.overload`) for
compiled code:

- `vector_exp(x)`: exp in arithmetic only (no call), so a loop of it becomes SIMD code;
- `reassociable_add(acc, x)`: acc + x as one addition that LLVM may reorder (the fast-math
  flag `reassoc` on that instruction alone), so a loop adding into `acc` keeps partial sums
  in vector lanes. Only that addition is reordered: the rest of the function keeps IEEE
  semantics (the flag on the whole function would reorder a user's own loops as well, their
  sequential or compensated sums). The sum's rounding changes as NumPy's pairwise summation
  changes it against a sequential sum;
- `array_max(x)`, `array_min(x)`: np.max/np.min of a whole array as a loop of LLVM's
  NaN-propagating llvm.maximum/llvm.minimum, which LLVM vectorises.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

# Cody-Waite splitting of ln 2 (the constants of fdlibm's e_exp.c): LN2_HI has 32
# significant bits, so k * LN2_HI is exact for |k| < 2**21 and x - k * LN2_HI exact
LOG2_E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
EXP_OVERFLOW = 709.782712893384  # above: exp(x) rounds to inf
EXP_UNDERFLOW = -745.1332191019412  # below: exp(x) rounds to 0


def vector_exp(x):
    """e**x with NumPy's meaning (this is np.exp itself outside compiled code)."""
    return np.exp(x)


def reassociable_add(acc, x):
    """acc + x (compiled: an addition LLVM may reassociate, so a sum loop vectorises)."""
    return acc + x


def array_max(x):
    """np.max(x) (compiled, of float64 arrays: a loop of llvm.maximum, which propagates NaN
    as np.max does and which LLVM vectorises; of +0.0 and -0.0 it takes +0.0)."""
    return np.max(x)


def array_min(x):
    """np.min(x) (compiled, of float64 arrays: a loop of llvm.minimum; see array_max)."""
    return np.min(x)


def _nan_propagating(name: str):
    """An intrinsic a, b -> llvm.<name>(a, b) on float64 (name: maximum or minimum)."""
    @intrinsic
    def extreme(typingctx, a, b):
        if a != types.float64 or b != types.float64:
            return None

        def codegen(context, builder, signature, args):
            double = ir.DoubleType()
            fn = builder.module.declare_intrinsic(f"llvm.{name}", [double],
                                                  ir.FunctionType(double, [double, double]))
            return builder.call(fn, args)

        return types.float64(types.float64, types.float64), codegen

    return extreme


_maximum = _nan_propagating("maximum")
_minimum = _nan_propagating("minimum")
_NO_IDENTITY = "zero-size array to reduction operation {} which has no identity"


@intrinsic
def _bits_as_float(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 `bits`."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _add_reassoc(typingctx, a, b):
    """a + b as an fadd carrying the fast-math flag `reassoc` (and no other)."""
    if a != types.float64 or b != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return types.float64(types.float64, types.float64), codegen


def _exp_float64(x):
    """e**x for a float64 x, to within one ulp of np.exp on normal results, exact at the
    special values (Cody & Waite, "Software Manual for the Elementary Functions", 1980):
    x = k ln2 + r with k = round(x / ln2), r = (x - k LN2_HI) - k LN2_LO (|r| <= ln2 / 2,
    the first subtraction exact); e^r by its Taylor series to degree 13 in Horner's form
    (truncation error below r**14 / 14! < 6e-18 relative); e^x = e^r 2**k with 2**k built
    from its exponent bits, in two factors 2**(k - k // 2) 2**(k // 2), so that results
    near overflow and subnormal results (one rounding, in the last product) are right.
    Every step is arithmetic or a select: a loop of it is vectorised."""
    t = min(max(x, -746.0), 710.0)  # k stays in int range; NaN is selected below
    k = np.floor(t * LOG2_E + 0.5)
    r = (t - k * LN2_HI) - k * LN2_LO
    p = 1.0 / 6227020800.0  # 1 / 13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = (p * r + 1.0) * r + 1.0
    n = np.int64(k)
    half = n >> 1
    y = p * _bits_as_float((half + 1023) << 52) * _bits_as_float((n - half + 1023) << 52)
    y = np.inf if x > EXP_OVERFLOW else y
    y = 0.0 if x < EXP_UNDERFLOW else y
    return x if np.isnan(x) else y


@overload(vector_exp)
def _vector_exp_typed(x):
    if x == types.float64:
        return _exp_float64
    if isinstance(x, types.Integer):
        return lambda x: vector_exp(np.float64(x))
    return lambda x: np.exp(x)  # float32, complex, bool: NumPy's own


@overload(reassociable_add)
def _reassociable_add_typed(acc, x):
    if acc == types.float64 and x == types.float64:
        return lambda acc, x: _add_reassoc(acc, x)
    return lambda acc, x: acc + x


def _extreme_typed(pick, start: float, reduction: str, numpy_fn, ours):
    """The Numba implementation of array_max (pick=_maximum) or array_min: one loop over a
    float64 vector or C-ordered array; np.max/np.min themselves for anything else."""
    message = _NO_IDENTITY.format(reduction)

    def typed(x):
        if not isinstance(x, types.Array) or x.dtype != types.float64 or \
                (x.ndim != 1 and x.layout != "C"):
            return lambda x: numpy_fn(x)
        if x.ndim != 1:
            return lambda x: ours(x.reshape(x.size))  # the loop below, on a view

        def extreme(x):
            if x.size == 0:
                raise ValueError(message)
            best = start
            for i in range(x.shape[0]):
                best = pick(best, x[i])
            return best

        return extreme

    return typed


overload(array_max)(_extreme_typed(_maximum, -np.inf, "maximum", np.max, array_max))
overload(array_min)(_extreme_typed(_minimum, np.inf, "minimum", np.min, array_min))
