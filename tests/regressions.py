"""Control-flow regressions: while loops, break, continue, return inside loops, array iteration.

Module-level functions (the compiler reads their source), each with test points. Several are
the shapes that other AD tools got wrong: NVIDIA Warp #1694 (a pre-loop value used after a
dynamic loop lost its adjoint), Google Tangent #66 (logsumexp with a max-finding loop), and
Warp's documented wrong case of `prod *= x[i]` in a dynamic loop. The test points lie well
away (much further than the central-difference step) from any point where a comparison that
decides a branch or a trip count switches, so central differences see the same control path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------
# while loops
# --------------------------------------------------------------------------------------


def while_counted(x, n):
    # A while loop with its own counter: the trip count is the int argument n.
    s = 0.0
    i = 0
    while i < n:
        s = s * 0.5 + math.sin(x[i]) * x[i]
        i += 1
    return s * s


def while_doubling(x):
    # The trip count depends on the differentiated input: piecewise constant in x.
    y = x
    while y < 10.0:
        y = y * 1.5 + 0.25 * y * y
    return y


def newton_cbrt(a):
    # Newton's method for x**3 = a, stopped by a tolerance break. d/da = 1 / (3 a^(2/3)).
    x = (a + 2.0) / 3.0  # >= cbrt(a) by AM-GM, so the iteration decreases monotonically
    k = 0
    while k < 100:
        dx = (x * x * x - a) / (3.0 * x * x)
        x = x - dx
        if abs(dx) < 1e-13 * x:
            break
        k += 1
    return x


def heron_sqrt(a, n):
    # Heron's fixed-point iteration in a for loop, returning as soon as it has converged.
    x = a
    for k in range(n):
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < 1e-12 * x_new:
            return x_new
        x = x_new
    return x


def warp_1694(x, n):
    # NVIDIA Warp #1694: a value defined before a runtime-bound loop and used after it.
    scale = x[0] * x[1] + 1.0
    s = 0.0
    k = 0
    while k < n:
        s = s + x[k] * x[k]
        k += 1
    return scale * s


def while_updated_scalar(x, n):
    # A scalar defined before the while loop, updated inside, and used after it.
    g = math.exp(x[0])
    k = 1
    while k < n:
        g = g * x[k] + math.cos(g)
        k += 1
    return g * x[0] + g * g


def logsumexp(x):
    # Google Tangent #66: a max-finding loop followed by a sum loop. Gradient: softmax(x).
    m = x[0]
    for i in range(1, len(x)):
        if x[i] > m:  # noqa: PLR1730 - the max-finding loop is the point
            m = x[i]
    s = 0.0
    for i in range(len(x)):
        s += math.exp(x[i] - m)
    return m + math.log(s)


def product(x):
    # `prod *= x[i]` in a loop, no array writes: must tape prod, never divide by x[i].
    prod = 1.0
    for i in range(len(x)):
        prod *= x[i]
    return prod


def while_return(x, a):
    # return from inside a while loop.
    s = x
    k = 0
    while k < 100:
        s = s * 1.5 + a
        if s > 50.0:
            return math.log(s) * s
        k += 1
    return s


def while_and(x, limit):
    # A while loop whose condition is an `and` of an int and a float comparison.
    s = 0.0
    i = 0
    while i < len(x) and s < limit:
        s = s + x[i] * x[i] + 0.5 * s * x[i]
        i += 1
    return s * (s + 1.0)


def while_true_break(a):
    # `while True`: the break is the only way out. Fixed point of y = a cos(y).
    y = 0.0
    y_next = 0.0
    while True:
        y_next = a * math.cos(y)
        if abs(y_next - y) < 1e-14:
            break
        y = y_next
    return y_next


# --------------------------------------------------------------------------------------
# break and continue in for loops
# --------------------------------------------------------------------------------------


def for_break(x):
    # Stop at the first negative entry.
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0.0:
            break
        s = s * 0.5 + x[i] ** 2
    return s * x[0]


def for_continue(x):
    # Skip the small entries.
    s = 0.0
    for i in range(len(x)):
        if abs(x[i]) < 0.5:
            continue
        s = s * x[i] + math.exp(x[i])
    return s


def break_and_continue(x, limit):
    # Skip negative entries; stop once the running value passes limit.
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0.0:
            continue
        s = s + math.sqrt(x[i]) * s + x[i]
        if s > limit:
            break
    return s * s


def nested_inner_break(a):
    # break leaves only the inner of two nested loops: each row stops at its first negative.
    s = 0.0
    for i in range(a.shape[0]):
        r = 0.0
        for j in range(a.shape[1]):
            if a[i, j] < 0.0:
                break
            r = r * a[i, j] + 1.0
        s = s + r * r
    return s


def warp_1552_argmax(c, x):
    # NVIDIA Warp #1552: an argmax-style reduction over a 2-D loop nest that skips entries with
    # `continue`. The gradient must follow the entry that actually won.
    best = -1e20
    for p in range(c.shape[0]):
        for q in range(c.shape[1]):
            if c[p, q] == 0.0:
                continue
            v = x * c[p, q] * (p + q + 2)
            if v > best:  # noqa: PLR1730 - the argmax-style loop is the point
                best = v
    return best * best


def outer_break_inner_continue(a, limit):
    # continue in the inner loop, break in the outer one.
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] < 0.0:
                continue
            s = s + a[i, j] * (1.0 + 0.5 * s)
        if s > limit:
            break
    return s


def while_continue(x):
    # continue inside a while loop (the counter moves before the jump).
    s = 0.0
    i = 0
    while i < len(x):
        v = x[i]
        i += 1
        if v < 0.0:
            continue
        s = s * v + math.sqrt(v)
    return s


def nested_while_return(x, a):
    # return from the inner of two nested while loops.
    s = x
    i = 0
    while i < 10:
        j = 0
        while j < 10:
            s = s * a + 0.5
            if s > 20.0:
                return s * x
            j += 1
        i += 1
    return s


def nested_return(x, y, threshold):
    # return from inside the inner of two nested loops.
    s = 0.0
    for i in range(len(x)):
        for j in range(len(y)):
            s = s + x[i] * y[j]
            if s > threshold:
                return s * x[i]
    return -s


def loop_alias_init(a, n):
    # A loop-carried value that starts as the differentiated argument itself (`x = a`), with
    # `a` also read inside the loop: both paths from a must reach the gradient.
    x = a
    for k in range(n):
        x = 0.5 * (x + a / x)
    return x


def named_element_recurrence(x):
    # An array element bound to a name, feeding a recurrence with a loop-carried adjoint.
    s = 0.0
    for i in range(len(x)):
        v = x[i]
        s = s * 0.5 + 2.0 * v
    return s


# --------------------------------------------------------------------------------------
# loops over arrays
# --------------------------------------------------------------------------------------


def for_values(x):
    s = 0.0
    for v in x:
        s = s * 0.5 + math.sin(v) * v
    return s


def for_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s * 0.1 + (i + 1) * v * v
    return s


def for_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s * a * 0.1 + a * math.exp(b)
    return s


def zip_break(x, y):
    # zip with a break on a combination of both arrays.
    s = 0.0
    for a, b in zip(x, y):
        if a * b < 0.0:
            break
        s = s + a * b + 0.5 * s * a
    return s


def enumerate_break(x, limit):
    # enumerate with two ways to stop: an int condition on the index, a float one on the value.
    s = 0.0
    for i, v in enumerate(x):
        if i >= limit:
            break
        if v < 0.0:
            break
        s = s + v * v * (i + 1) + s * v
    return s


# --------------------------------------------------------------------------------------
# whole arrays made before an if or a loop and read inside it (their adjoints were lost)
# --------------------------------------------------------------------------------------


def array_kept_by_one_branch(x, c):
    y = x * 2.0
    if c > 0.0:
        y = y + x * x
    return np.sum(y * y)


def array_read_whole_in_a_branch(x, c):
    z = x * 2.0
    s = 0.0
    if c > 0.0:
        s = np.sum(z * z)
    return s + np.sum(z)


def array_of_a_loop_body_read_in_its_if(x):
    s = 0.0
    for i in range(3):
        z = x * float(i + 1)
        if i > 0:
            s += np.sum(z * z)
    return s


def array_read_in_nested_branches(x, c):
    z = x * 2.0
    s = 0.0
    if c > 0.0:
        w = z * x
        if c > 0.5:
            s = np.sum(w * z)
        else:
            s = np.sum(w)
    return s + np.sum(z)


def branch_arrays_written_after(x, c):
    if c > 0.0:
        y = x * 2.0
    else:
        y = np.sin(x)
    y[0] = 1.0
    return np.sum(y * y)


def branch_arrays_read_by_element(x, c):
    if c > 0.0:
        y = x * 2.0
    else:
        y = np.sin(x)
    return y[1] * y[2] + np.sum(y)


def branch_array_read_in_a_loop(x, c):
    y = x * 2.0
    if c > 0.0:
        y = y * x
    s = 0.0
    for i in range(2):
        s += np.sum(y * y)
    return s


def array_read_whole_in_a_loop(x):
    z = np.sin(x)
    s = 0.0
    for i in range(3):
        s += np.dot(z, x) * i
    return s


def array_read_whole_in_a_while(x):
    z = x * 2.0
    s = 0.0
    k = 0
    while k < 3:
        s += np.sum(z * z) * k
        k += 1
    return s


# --------------------------------------------------------------------------------------
# Test points
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    # f(*args), differentiated w.r.t. argnums; `expected`, if given, is the analytic gradient.

    id: str
    fn: object
    args: tuple
    argnums: int | tuple[int, ...] = 0
    expected: object = None

    def fresh_args(self) -> tuple:
        return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in self.args)


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def _product_grad(x):
    return np.array([np.prod(np.delete(x, k)) for k in range(len(x))])


V5 = np.array([0.3, -1.2, 0.8, 1.7, -0.4])
POSITIVE = np.array([0.7, 1.3, 0.4, 2.1, 0.9, 1.1])
WITH_NEGATIVE = np.array([0.7, 1.3, 0.4, -2.1, 0.9, 1.1])
MIXED = np.array([0.9, 0.2, -1.3, 0.1, 0.75, -0.3, 1.4])
GRID = np.array([[0.5, 1.2, -0.3, 0.8], [1.1, 0.4, 0.7, 0.9], [-0.6, 1.5, 0.2, 0.3]])
ONE_ZERO = np.array([1.5, -0.5, 0.0, 2.0, 0.75])
TWO_ZEROS = np.array([1.5, 0.0, 3.0, 0.0])

CASES = [
    Case("while_counted", while_counted, (V5, 5)),
    Case("while_counted_partial", while_counted, (V5, 3)),
    Case("while_counted_none", while_counted, (V5, 0)),
    Case("while_doubling_small", while_doubling, (0.3,)),
    Case("while_doubling_large", while_doubling, (4.5,)),
    Case("while_doubling_no_trip", while_doubling, (12.0,)),
    Case("newton_cbrt_2", newton_cbrt, (2.0,), expected=lambda a: 1.0 / (3.0 * a ** (2 / 3))),
    Case("newton_cbrt_0.3", newton_cbrt, (0.3,), expected=lambda a: 1.0 / (3.0 * a ** (2 / 3))),
    Case("newton_cbrt_27", newton_cbrt, (27.0,), expected=lambda a: 1.0 / 27.0),
    Case("heron_sqrt_2", heron_sqrt, (2.0, 50), expected=lambda a, n: 0.5 / math.sqrt(a)),
    Case("heron_sqrt_9", heron_sqrt, (9.0, 50), expected=lambda a, n: 1.0 / 6.0),
    Case("heron_sqrt_0.2", heron_sqrt, (0.2, 50), expected=lambda a, n: 0.5 / math.sqrt(a)),
    Case("heron_sqrt_3_steps", heron_sqrt, (2.0, 3)),  # falls through: no return taken
    Case("loop_alias_init", loop_alias_init, (0.5, 1), expected=lambda a, n: 0.5),
    Case("loop_alias_init_3", loop_alias_init, (2.0, 3)),
    Case("named_element_recurrence", named_element_recurrence, (V5,),
         expected=lambda x: 2.0 * 0.5 ** np.arange(len(x) - 1, -1, -1)),
    Case("warp_1694", warp_1694, (POSITIVE, 4)),
    Case("warp_1694_zero_trips", warp_1694, (POSITIVE, 0)),
    Case("while_updated_scalar", while_updated_scalar, (V5 * 0.5, 5)),
    Case("logsumexp", logsumexp, (V5,), expected=_softmax),
    Case("logsumexp_max_first", logsumexp, (np.array([2.0, 0.5, -1.0, 1.2]),),
         expected=_softmax),
    Case("product", product, (V5,), expected=_product_grad),
    Case("product_one_zero", product, (ONE_ZERO,), expected=_product_grad),
    Case("product_two_zeros", product, (TWO_ZEROS,), expected=_product_grad),
    Case("while_return_early", while_return, (2.0, 1.0)),
    Case("while_return_x", while_return, (2.0, 1.0), argnums=(0, 1)),
    Case("while_and_by_limit", while_and, (POSITIVE, 3.0)),
    Case("while_and_by_length", while_and, (POSITIVE, 1e6)),
    Case("while_true_break", while_true_break, (0.5,)),  # analytic check: test_control_flow
    Case("for_break", for_break, (WITH_NEGATIVE,)),
    Case("for_break_never", for_break, (POSITIVE,)),
    Case("for_continue", for_continue, (MIXED,)),
    Case("break_and_continue", break_and_continue, (MIXED, 2.5)),
    Case("break_and_continue_no_break", break_and_continue, (MIXED, 1e6)),
    Case("nested_inner_break", nested_inner_break, (GRID,)),
    Case("warp_1552_argmax", warp_1552_argmax,
         (np.array([[1.0, 0.0, 0.4], [0.0, 0.7, 0.0]]), 1.3), argnums=(0, 1)),
    Case("warp_1552_argmax_negative_x", warp_1552_argmax,
         (np.array([[1.0, 0.0, 0.4], [0.0, 0.7, 0.0]]), -0.8), argnums=(0, 1)),
    Case("outer_break_inner_continue", outer_break_inner_continue, (GRID, 2.0)),
    Case("outer_break_inner_continue_no_break", outer_break_inner_continue, (GRID, 1e6)),
    Case("while_continue", while_continue, (MIXED,)),
    Case("nested_while_return", nested_while_return, (1.0, 1.3), argnums=(0, 1)),
    Case("nested_while_return_never", nested_while_return, (0.1, 0.5), argnums=(0, 1)),
    Case("nested_return", nested_return, (POSITIVE[:3], POSITIVE[3:], 4.0), argnums=(0, 1)),
    Case("nested_return_never", nested_return, (POSITIVE[:3], POSITIVE[3:], 1e6),
         argnums=(0, 1)),
    Case("for_values", for_values, (V5,)),
    Case("for_enumerate", for_enumerate, (V5,)),
    Case("for_zip", for_zip, (V5, POSITIVE[:5]), argnums=(0, 1)),
    Case("zip_break", zip_break, (POSITIVE, WITH_NEGATIVE), argnums=(0, 1)),
    Case("enumerate_break_index", enumerate_break, (POSITIVE, 3)),
    Case("enumerate_break_value", enumerate_break, (WITH_NEGATIVE, 10)),
    Case("array_kept_by_one_branch_taken", array_kept_by_one_branch, (V5, 1.0)),
    Case("array_kept_by_one_branch_not_taken", array_kept_by_one_branch, (V5, -1.0)),
    Case("array_read_whole_in_a_branch", array_read_whole_in_a_branch, (V5, 1.0)),
    Case("array_of_a_loop_body_read_in_its_if", array_of_a_loop_body_read_in_its_if, (V5,)),
    Case("array_read_in_nested_branches", array_read_in_nested_branches, (V5, 1.0)),
    Case("array_read_in_nested_branches_inner_else", array_read_in_nested_branches,
         (V5, 0.3)),
    Case("branch_arrays_written_after", branch_arrays_written_after, (V5, 1.0)),
    Case("branch_arrays_written_after_else", branch_arrays_written_after, (V5, -1.0)),
    Case("branch_arrays_read_by_element", branch_arrays_read_by_element, (V5, 1.0)),
    Case("branch_arrays_read_by_element_else", branch_arrays_read_by_element, (V5, -1.0)),
    Case("branch_array_read_in_a_loop", branch_array_read_in_a_loop, (V5, 1.0)),
    Case("branch_array_read_in_a_loop_else", branch_array_read_in_a_loop, (V5, -1.0)),
    Case("array_read_whole_in_a_loop", array_read_whole_in_a_loop, (V5,)),
    Case("array_read_whole_in_a_while", array_read_whole_in_a_while, (V5,)),
]
