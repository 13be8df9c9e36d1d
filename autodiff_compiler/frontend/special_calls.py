"""scipy.special functions that are compositions of primitives, written so that they do not
overflow: expit as exp(-logaddexp(0, -x)), logsumexp with the maximum subtracted first (its
derivative cancels, as the softmax weights sum to one), xlogy and xlog1py with a neutral
operand where x == 0 (so the branch not taken has a finite derivative too).
"""

from __future__ import annotations

from ..ir.core import Const, Value, const
from ..primitives.arith import add_p, eq_p, mul_p, neg_p, select_p, sub_p, truediv_p
from ..primitives.arrays import logaddexp_p


class SpecialCalls:
    """Mixin for frontend.numpy_more.NumpyMore (which provides bind, reduction, ...)."""

    # --- scipy.special: compositions -----------------------------------------------------
    def np_expit(self, node, spelling, args):
        """1 / (1 + e^-x) as exp(-logaddexp(0, -x)): no overflow for large |x|."""
        x = self.floating(self.unary(node, "scipy.special.expit", args))
        b = self.b
        return b("exp", b(neg_p, b(logaddexp_p, const(0.0), b(neg_p, x))))

    def np_logit(self, node, spelling, args):
        x = self.floating(self.unary(node, "scipy.special.logit", args))
        return self.b(sub_p, self.b("log", x), self.b("log1p", self.b(neg_p, x)))

    def x_log(self, node, name: str, args, log: str, neutral: float):
        """x * log(y) (or log1p), 0 where x == 0; y is replaced by a neutral value there, so
        neither branch's derivative is infinite."""
        x, y = (self.floating(self.check_value(node, v)) for v in
                self.bind(node, f"scipy.special.{name}", args, ("x", "y"), {}).values())
        b = self.b
        zero = b(eq_p, x, const(0.0))
        safe = b(select_p, zero, const(neutral), y)
        return b(select_p, zero, const(0.0), b(mul_p, x, b(log, safe)))

    def np_xlogy(self, node, spelling, args):
        return self.x_log(node, "xlogy", args, "log", 1.0)

    def np_xlog1py(self, node, spelling, args):
        return self.x_log(node, "xlog1py", args, "log1p", 0.0)

    def softmax_arguments(self, node, name: str, args, keepdims=False):
        params = ("a", "axis", "b", "keepdims", "return_sign") if name == "logsumexp" \
            else ("x", "axis")
        given = self.bind(node, f"scipy.special.{name}", args, params, {
            "axis": None, "b": None, "keepdims": const(False), "return_sign": const(False)})
        if given.get("b") is not None or (given.get("return_sign") is not None
                                          and given["return_sign"].value):
            self.error(node, f"scipy.special.{name}: b= and return_sign= are not supported",
                       unsupported=True)
        x = self.array_argument(node, f"scipy.special.{name}", given[params[0]])
        axis = given["axis"]
        axes = self.axes_of(node, None if axis is None else tuple(
            self.constant_int(node, name, a, "axis") for a in
            (axis if isinstance(axis, tuple) else (axis,))), x.type.ndim)
        keep = given.get("keepdims")
        if keep is not None and not isinstance(keep, Const):
            self.error(node, f"scipy.special.{name}: keepdims must be a constant",
                       unsupported=True)
        return x, axes, bool(keep.value) if keep is not None else False

    def log_sum_exp(self, node, x, axes, keepdims: bool) -> Value:
        """max + log(sum(exp(x - max))): the largest entry subtracted first (its derivative
        cancels: the softmax weights sum to one)."""
        b = self.b
        top = self.reduction(node, "max", x, axes, True)
        total = self.reduction(node, "sum", b("exp", b(sub_p, x, top)), axes, True)
        value = b(add_p, b("log", total), top)
        if keepdims:
            return value
        return self.reduction(node, "sum", value, axes, False)  # drops the kept axes

    def np_logsumexp(self, node, spelling, args):
        x, axes, keepdims = self.softmax_arguments(node, "logsumexp", args)
        return self.log_sum_exp(node, x, axes, keepdims)

    def np_softmax(self, node, spelling, args):
        x, axes, _ = self.softmax_arguments(node, "softmax", args)
        b = self.b
        shifted = b("exp", b(sub_p, x, self.reduction(node, "max", x, axes, True)))
        return b(truediv_p, shifted, self.reduction(node, "sum", shifted, axes, True))

    def np_log_softmax(self, node, spelling, args):
        x, axes, _ = self.softmax_arguments(node, "log_softmax", args)
        return self.b(sub_p, x, self.log_sum_exp(node, x, axes, True))
