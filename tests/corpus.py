"""A corpus of numeric functions written the way a scientist writes them, with test points.

Every function is plain module-level Python inside the subset `grad` supports: float and
int scalars, float arrays read element by element, branches, counted loops, tuple and
augmented assignment, and the scalar functions of `math` and `numpy`. Each entry names the
function, the arguments to evaluate it at and the argnums to differentiate. The arguments
lie in the function's smooth domain and well away (much further than the central-difference
step, 1e-4 relative) from any point where a branch, min/max/abs or floor switches, so the
derivative of the program is the derivative of the mathematical function there and central
differences must agree with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRAVITY = 9.81
N_STEPS = 6
HALF = 0.5


@dataclass(frozen=True)
class Case:
    # One corpus entry: f(*args), differentiated with respect to argnums.

    id: str
    fn: object
    args: tuple
    argnums: int | tuple[int, ...] = 0

    def fresh_args(self) -> tuple:
        # Copies of the arguments (arrays copied), so a test cannot disturb the corpus.
        return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in self.args)


# --------------------------------------------------------------------------------------
# Branches
# --------------------------------------------------------------------------------------


def piecewise(x):
    # A C^0 piecewise function with an if/elif/else chain.
    if x < 0.0:
        y = x * x
    elif x < 1.0:
        y = 2.0 * x - x ** 3
    else:
        y = math.sqrt(x) + 0.5 * x
    return y


def nested_branches(x, y):
    if x > 0.0:
        if y > 0.0:
            r = x * y + math.exp(-y)
        else:
            r = x - y * y
    else:
        if y > 1.0:
            r = x * x * y
        else:
            r = math.sin(x) * (1.0 - y)
    return r * 2.0


def early_return(x, y):
    if x > 2.0:
        return x * y
    t = math.sin(x)
    if t > 0.5:
        return t * y * y
    elif t < -0.5:
        return -t / y
    return t + y


def ternary_clip(x, lo, hi):
    # Clip written with conditional expressions (JAX-style soft limits would be smoother).
    y = lo if x < lo else x  # noqa: FURB136 - written as a scientist would
    y = hi if y > hi else y  # noqa: FURB136
    return y * y + x


def bool_conditions(x, y):
    if x > 0.0 and y < 1.0 or x < -3.0:
        r = x * y + 1.0
    elif not (y > 2.0):
        r = x - y * x
    else:
        r = x / y
    return r


def chained_compare(x, a, b):
    if a < x < b:
        w = (x - a) * (b - x)
    else:
        w = 0.0 * x
    return w * w + x


def smooth_step(t):
    # Hermite smoothstep, flat outside [0, 1].
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


def huber(r, delta):
    if abs(r) <= delta:
        return 0.5 * r * r
    return delta * (abs(r) - 0.5 * delta)


def softplus(x):
    # Numerically stable softplus, log(1 + e^x).
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return np.log1p(np.exp(x))


# --------------------------------------------------------------------------------------
# Counted loops
# --------------------------------------------------------------------------------------


def sum_of_squares(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
    return s


def rosenbrock(x):
    total = 0.0
    for i in range(len(x) - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def horner(coeffs, x):
    # p(x) = c0 + c1 x + ... evaluated from the highest coefficient down (negative step).
    p = 0.0
    for i in range(len(coeffs) - 1, -1, -1):
        p = p * x + coeffs[i]
    return p


def odd_terms(x, n):
    # Sum over a range with a start and a step; n is an inactive int.
    s = 0.0
    for k in range(1, n, 2):
        s += x ** k / k
    return s


def backward_stride(x):
    s = 0.0
    n = x.shape[0]
    for i in range(n - 1, 0, -2):
        s += math.cos(x[i]) * x[i - 1]
    return s


def triangular_sum(x):
    # Nested loop whose inner bound depends on the outer index.
    s = 0.0
    for i in range(len(x)):
        for j in range(i + 1):
            s += x[i] * x[j] / (1.0 + i + j)
    return s


def nested_start_step(x, n):
    s = 0.0
    for i in range(1, n):
        for j in range(i, n, 2):
            s += math.sin(x[i] - x[j]) + x[j] * x[i]
    return s


def data_dependent_bound(x, m):
    # The loop bound comes from an int computed from the data.
    count = int(m * 0.5) + 1
    s = 1.0
    for i in range(count):
        s = s * (1.0 + 0.1 * x[i])
    return s


def logistic_map(r, x0, n):
    x = x0
    for _ in range(n):
        x = r * x * (1.0 - x)
    return x


def fibonacci_like(a0, b0, t):
    a, b = a0, b0
    for _ in range(N_STEPS):
        a, b = b, a + t * b
    return b


def swap_and_combine(a, b):
    # tuple assignment outside a loop
    a, b = b, a * b
    return a * 3.0 + b


def euler_decay(y0, k, h, n):
    # Explicit Euler for y' = -k y + sin(y).
    y = y0
    for _ in range(n):
        y = y + h * (-k * y + math.sin(y))
    return y


def projectile_range(v, angle):
    # Range of a projectile with a module-level constant (g).
    return v * v * math.sin(2.0 * angle) / GRAVITY


def product(x):
    p = 1.0
    for i in range(len(x)):
        p *= x[i]
    return p


def running_max(x):
    m = x[0]
    for i in range(1, len(x)):
        m = max(m, x[i])
    return m * m


def power_series_exp(x, n):
    term = 1.0
    total = 1.0
    for k in range(1, n):
        term = term * x / k
        total += term
    return total


def newton_sqrt(a):
    # Six Newton steps for sqrt(a): differentiating through the iteration.
    y = a
    for _ in range(N_STEPS):
        y = HALF * (y + a / y)
    return y


def kepler(mean_anomaly, ecc):
    # Solve E = M + e sin E by fixed-point iteration.
    e_anom = mean_anomaly
    for _ in range(30):
        e_anom = mean_anomaly + ecc * math.sin(e_anom)
    return e_anom


def continued_fraction(x, n):
    # tan(x) ~ x / (1 - x^2 / (3 - x^2 / (5 - ...))) evaluated from the tail.
    t = 2.0 * n + 1.0
    for k in range(n, 0, -1):
        t = (2.0 * k - 1.0) - x * x / t
    return x / t


def discounted_return(rewards, gamma):
    g = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
    return g


def relu_in_loop(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.0:
            s += x[i] * x[i]
        else:
            s += 0.1 * x[i]
    return s


def ternary_in_loop(x, c):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * c if x[i] > 0.0 else -x[i] / c
    return s


def conditional_accumulate(x, y):
    # A loop-carried value updated in one branch only.
    acc = 0.0
    best = 0.0
    for i in range(len(x)):
        d = x[i] - y
        if d * d < 1.0:
            acc += d * d
        best = max(best, abs(d))
    return acc + best


# --------------------------------------------------------------------------------------
# Arrays (1-D and 2-D) and statistics
# --------------------------------------------------------------------------------------


def quadratic_form(A, x):
    # x^T A x with a 2-D array read by [i, j].
    n = len(x)
    s = 0.0
    for i in range(n):
        for j in range(n):
            s += x[i] * A[i, j] * x[j]
    return s


def matvec_norm(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        row = 0.0
        for j in range(A.shape[1]):
            row += A[i, j] * x[j]
        s += row * row
    return math.sqrt(s)


def logistic_regression_loss(w, X, y):
    # Mean binary cross-entropy of a logistic model (labels in {-1, +1}).
    n = X.shape[0]
    d = X.shape[1]
    loss = 0.0
    for i in range(n):
        z = 0.0
        for j in range(d):
            z += w[j] * X[i, j]
        loss += np.log1p(np.exp(-y[i] * z))
    return loss / n


def gaussian_nll(mu, sigma, data):
    n = len(data)
    s = 0.0
    for i in range(n):
        r = (data[i] - mu) / sigma
        s += 0.5 * r * r
    return s + n * math.log(sigma) + 0.5 * n * math.log(2.0 * math.pi)


def mean_variance(x):
    n = len(x)
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean = mean / n
    var = 0.0
    for i in range(n):
        var += (x[i] - mean) ** 2
    return mean + var / (n - 1)


def logsumexp(x):
    m = x[0]
    for i in range(1, len(x)):
        m = max(m, x[i])
    s = 0.0
    for i in range(len(x)):
        s += math.exp(x[i] - m)
    return m + math.log(s)


def softmax_cross_entropy(logits, label):
    m = logits[0]
    for i in range(len(logits)):
        m = np.maximum(m, logits[i])
    s = 0.0
    for i in range(len(logits)):
        s += np.exp(logits[i] - m)
    return np.log(s) + m - logits[label]


def trapezoid(y, dx):
    n = len(y)
    s = 0.5 * (y[0] + y[n - 1])
    for i in range(1, n - 1):
        s += y[i]
    return s * dx


def spring_chain(pos, k, rest):
    e = 0.0
    for i in range(len(pos) - 1):
        stretch = pos[i + 1] - pos[i] - rest
        e += 0.5 * k * stretch * stretch
    return e


def lennard_jones(coords, eps, sigma):
    # Pairwise energy of points in the plane (coords is n x 2).
    n = coords.shape[0]
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = coords[i, 0] - coords[j, 0]
            dy = coords[i, 1] - coords[j, 1]
            r = np.hypot(dx, dy)
            sr6 = (sigma / r) ** 6
            energy += 4.0 * eps * (sr6 * sr6 - sr6)
    return energy


def linear_interp(table, t):
    # Piecewise-linear interpolation; int() picks the cell, the fraction is active.
    i = int(t)
    frac = t - i
    return table[i] * (1.0 - frac) + table[i + 1] * frac


def periodic_wrap(x, period):
    # Floor division and modulo: the phase within a period.
    cycles = x // period
    phase = x % period
    return math.sin(phase) + 0.1 * cycles * x


def polynomial_powers(c, x):
    s = 0.0
    for k in range(len(c)):
        s += c[k] * x ** k
    return s


def int_conversions(x, n):
    scale = float(n) / 3.0
    m = int(scale * 2.0)
    s = 0.0
    for i in range(m):
        s += x * scale + float(i)
    return s


def min_max_abs(x, y, z):
    a = max(x, y, 0.5 * z)
    b = min(x * y, z, abs(x - 3.0 * y))
    return a * b + abs(z) - np.minimum(x, y)


# --------------------------------------------------------------------------------------
# Scalar functions of math and numpy (every supported one, both spellings)
# --------------------------------------------------------------------------------------


def trig_math(x):
    return math.sin(x) * math.cos(2.0 * x) + math.tan(0.5 * x)


def trig_numpy(x):
    return np.sin(x) * np.cos(2.0 * x) + np.tan(0.5 * x)


def inverse_trig_math(x, y):
    return math.asin(0.5 * x) + math.acos(0.3 * y) + math.atan(x * y) + math.atan2(y, x)


def inverse_trig_numpy(x, y):
    return np.arcsin(0.5 * x) + np.arccos(0.3 * y) + np.arctan(x * y) + np.arctan2(y, x)


def hyperbolic_math(x):
    return math.sinh(x) + math.cosh(0.5 * x) * math.tanh(x)


def hyperbolic_numpy(x):
    return np.sinh(x) + np.cosh(0.5 * x) * np.tanh(x)


def exp_log_math(x):
    return (math.exp(-x) + math.expm1(0.5 * x) + math.log(x) + math.log1p(x * x)
            + math.log2(x + 1.0) + math.log10(3.0 * x))


def exp_log_numpy(x):
    return (np.exp(-x) + np.expm1(0.5 * x) + np.log(x) + np.log1p(x * x)
            + np.log2(x + 1.0) + np.log10(3.0 * x))


def roots_and_norms(x, y):
    return math.sqrt(x * y) + np.sqrt(x + y) + math.hypot(x, y) * np.hypot(y, 1.0)


def powers(x, y):
    return x ** 3 + x ** y + math.pow(x, 1.5) + np.power(y, 2.0) + pow(y, x) + 2.0 ** y


def absolute_values(x, y):
    return math.fabs(x) * np.fabs(y) + np.abs(x - y) + abs(x * y)


def min_max_numpy(x, y):
    return np.maximum(x * x, y) - np.minimum(x, 2.0 * y) + max(x, y) * min(x, y)


def array_api_names(x, y):
    # NumPy 2 spellings (np.asin, np.acos, np.atan, np.atan2, np.pow).
    return np.asin(0.4 * x) + np.acos(0.2 * y) + np.atan(x) + np.atan2(x, y) + np.pow(y, x)


def sigmoid_chain(x):
    s = 1.0 / (1.0 + math.exp(-x))
    return math.tanh(s) * np.sqrt(s)


# --------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------


def _a(*values):
    return np.array(values, dtype=np.float64)


_RNG = np.random.default_rng(20240611)
_X3 = _RNG.normal(size=(12, 3))
_Y12 = np.where(_RNG.normal(size=12) > 0.0, 1.0, -1.0)
_A33 = _a(2.0, 0.3, -0.4, 0.1, 1.5, 0.2, -0.3, 0.6, 3.0).reshape(3, 3)
_A24 = _a(1.0, -0.5, 0.25, 2.0, 0.3, 1.2, -0.7, 0.4).reshape(2, 4)
_COORDS = _a(0.0, 0.0, 1.1, 0.2, 0.3, 1.05, 1.4, 1.3).reshape(4, 2)

CORPUS = [
    # branches
    Case("piecewise_neg", piecewise, (-1.3,)),
    Case("piecewise_mid", piecewise, (0.4,)),
    Case("piecewise_high", piecewise, (2.5,)),
    Case("nested_branches_pp", nested_branches, (0.7, 1.2), (0, 1)),
    Case("nested_branches_pn", nested_branches, (0.7, -0.8), (0, 1)),
    Case("nested_branches_np", nested_branches, (-0.6, 1.7), (0, 1)),
    Case("nested_branches_nn", nested_branches, (-0.6, 0.3), (0, 1)),
    Case("early_return_first", early_return, (2.5, 1.3), (0, 1)),
    Case("early_return_elif", early_return, (1.2, 1.3), (0, 1)),
    Case("early_return_neg", early_return, (-1.1, 1.3), (0, 1)),
    Case("early_return_fallthrough", early_return, (0.2, 1.3), (0, 1)),
    Case("ternary_clip_inside", ternary_clip, (0.3, -1.0, 1.0), (0, 1, 2)),
    Case("ternary_clip_low", ternary_clip, (-2.0, -1.0, 1.0), (0, 1, 2)),
    Case("ternary_clip_high", ternary_clip, (1.7, -1.0, 1.0), (0, 1, 2)),
    Case("bool_and", bool_conditions, (0.8, 0.4), (0, 1)),
    Case("bool_or", bool_conditions, (-3.5, 1.5), (0, 1)),
    Case("bool_not", bool_conditions, (-0.5, 1.5), (0, 1)),
    Case("bool_else", bool_conditions, (-0.5, 2.5), (0, 1)),
    Case("chained_inside", chained_compare, (0.4, 0.1, 1.2), (0, 1, 2)),
    Case("chained_outside", chained_compare, (1.5, 0.1, 1.2), (0, 1, 2)),
    Case("smooth_step_mid", smooth_step, (0.35,)),
    Case("smooth_step_flat", smooth_step, (1.4,)),
    Case("huber_quadratic", huber, (0.3, 1.0), (0, 1)),
    Case("huber_linear", huber, (-2.2, 1.0), (0, 1)),
    Case("softplus_pos", softplus, (1.7,)),
    Case("softplus_neg", softplus, (-2.3,)),
    # loops
    Case("sum_of_squares", sum_of_squares, (_a(0.5, -1.5, 2.0, 3.25),)),
    Case("rosenbrock", rosenbrock, (_a(-1.2, 1.0, 0.8, 1.5, 0.3),)),
    Case("horner", horner, (_a(1.0, -2.0, 0.5, 0.25), 1.3), (0, 1)),
    Case("odd_terms", odd_terms, (0.7, 9)),
    Case("backward_stride", backward_stride, (_a(0.1, 0.9, -0.4, 1.3, 2.0, -0.7, 0.2),)),
    Case("triangular_sum", triangular_sum, (_a(0.3, -1.1, 0.8, 2.0),)),
    Case("nested_start_step", nested_start_step, (_a(0.2, 0.5, -0.3, 1.1, 0.9, -0.6), 6)),
    Case("data_dependent_bound", data_dependent_bound, (_a(0.5, 1.5, -0.5, 2.0, 0.3), 7.0)),
    Case("logistic_map", logistic_map, (2.6, 0.3, 8), (0, 1)),
    Case("fibonacci_like", fibonacci_like, (0.5, 1.0, 0.9), (0, 1, 2)),
    Case("swap_and_combine", swap_and_combine, (1.5, -0.7), (0, 1)),
    Case("euler_decay", euler_decay, (1.5, 0.8, 0.1, 20), (0, 1, 2)),
    Case("projectile_range", projectile_range, (12.0, 0.6), (0, 1)),
    Case("product", product, (_a(1.5, -0.5, 2.0, 0.75, 1.1),)),
    Case("running_max", running_max, (_a(0.3, 1.9, -0.2, 1.2, 0.8),)),
    Case("power_series_exp", power_series_exp, (0.9, 12)),
    Case("newton_sqrt", newton_sqrt, (2.0,)),
    Case("kepler", kepler, (1.1, 0.3), (0, 1)),
    Case("continued_fraction", continued_fraction, (0.6, 6)),
    Case("discounted_return", discounted_return, (_a(1.0, 0.0, -0.5, 2.0, 1.0), 0.9), (0, 1)),
    Case("relu_in_loop", relu_in_loop, (_a(0.5, -1.0, 2.0, -0.3, 0.8),)),
    Case("ternary_in_loop", ternary_in_loop, (_a(0.5, -1.0, 2.0, -0.3), 1.7), (0, 1)),
    Case("conditional_accumulate", conditional_accumulate, (_a(0.2, 1.9, -0.4, 0.7), 0.25),
         (0, 1)),
    # arrays and statistics
    Case("quadratic_form", quadratic_form, (_A33, _a(0.5, -1.0, 2.0)), (0, 1)),
    Case("matvec_norm", matvec_norm, (_A24, _a(0.5, -1.0, 2.0, 0.3)), (0, 1)),
    Case("logistic_regression", logistic_regression_loss, (_a(0.4, -0.2, 0.7), _X3, _Y12),
         (0, 1)),
    Case("gaussian_nll", gaussian_nll, (0.3, 1.4, _a(0.1, 0.9, -0.6, 1.8, 0.4)), (0, 1)),
    Case("mean_variance", mean_variance, (_a(1.0, 2.5, -0.5, 0.75, 3.0),)),
    Case("logsumexp", logsumexp, (_a(0.3, 2.0, -1.0, 1.2),)),
    Case("softmax_cross_entropy", softmax_cross_entropy, (_a(0.3, 2.0, -1.0, 1.2), 1)),
    Case("trapezoid", trapezoid, (_a(0.0, 0.4, 0.9, 1.1, 0.8), 0.25), (0, 1)),
    Case("spring_chain", spring_chain, (_a(0.0, 1.2, 1.9, 3.3), 2.0, 1.0), (0, 1, 2)),
    Case("lennard_jones", lennard_jones, (_COORDS, 1.0, 0.9), (0, 1, 2)),
    Case("linear_interp", linear_interp, (_a(0.0, 1.0, 0.5, 2.0), 1.3), (0, 1)),
    Case("periodic_wrap", periodic_wrap, (7.3, 2.0), (0, 1)),
    Case("polynomial_powers", polynomial_powers, (_a(1.0, -2.0, 0.5, 0.25), 1.3), (0, 1)),
    Case("int_conversions", int_conversions, (0.8, 5)),
    Case("min_max_abs", min_max_abs, (1.0, 0.4, 1.6), (0, 1, 2)),
    Case("min_max_abs_other", min_max_abs, (-0.5, 0.8, -3.0), (0, 1, 2)),
    # scalar functions
    Case("trig_math", trig_math, (0.7,)),
    Case("trig_numpy", trig_numpy, (0.7,)),
    Case("inverse_trig_math", inverse_trig_math, (0.6, 1.3), (0, 1)),
    Case("inverse_trig_numpy", inverse_trig_numpy, (0.6, 1.3), (0, 1)),
    Case("inverse_trig_quadrant", inverse_trig_math, (-0.8, -1.1), (0, 1)),
    Case("hyperbolic_math", hyperbolic_math, (0.8,)),
    Case("hyperbolic_numpy", hyperbolic_numpy, (-0.8,)),
    Case("exp_log_math", exp_log_math, (1.3,)),
    Case("exp_log_numpy", exp_log_numpy, (0.6,)),
    Case("roots_and_norms", roots_and_norms, (1.2, 0.7), (0, 1)),
    Case("powers", powers, (1.4, 0.8), (0, 1)),
    Case("absolute_values", absolute_values, (-1.2, 0.7), (0, 1)),
    Case("min_max_numpy", min_max_numpy, (0.6, 1.1), (0, 1)),
    Case("min_max_numpy_other", min_max_numpy, (1.5, -0.4), (0, 1)),
    Case("sigmoid_chain", sigmoid_chain, (0.4,)),
]
if hasattr(np, "asin"):
    CORPUS.append(Case("array_api_names", array_api_names, (0.9, 1.6), (0, 1)))

CASE_IDS = [case.id for case in CORPUS]
assert len(set(CASE_IDS)) == len(CASE_IDS), "corpus ids must be unique"
