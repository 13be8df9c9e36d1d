"""Primitives of NumPy's array-building and ordering functions, and the effects user code
keeps (assert, print).

- `pack`: numbers to a 1-D array (`np.array([a, b - a])`, the index of `x[[0, 2]]`); its
  adjoint reads the cotangent's entries back.
- `broadcast_to`: np.broadcast_to, a read-only view of its operand; its adjoint sums the
  cotangent over the broadcast axes, as any broadcasting op's does.
- `argsort`, `argmax`, `argmin`, `all`, `any`: integer or boolean results, no derivative
  (np.sort is x[argsort(x)], so its derivative is that of the gather).
- `cumprod`: np.cumprod by runtime loops along the middle axis of (before, along, after), as
  the frontend reshapes any axis; its adjoint and tangent are exact with zeros (no division).
- `assert_`, `print_`: statements with no results and no derivative, run where the program
  runs them (in reverse mode, the forward sweep), as Python would.
"""

from __future__ import annotations

import ast

from ..ir.core import const
from ..ir.types import Type, promote
from .arrays import unbroadcast
from .indexing import getitem_p
from .registry import call, defprim, defvjp, dotted, set_linear_jvp


def _emit_pack(op, args):
    return call("np.array", [ast.List(list(args), ast.Load())])


pack_p = defprim("pack", infer=lambda *t, **_: [Type(promote(*t).kind, 1)], emit=_emit_pack,
                 cheap=True, linear=True, fresh_array=True, spec={})


@defvjp(pack_p)
def _pack_vjp(b, op, g):
    return tuple((lambda k=k: b(getitem_p, g, const(k))) for k in range(len(op.operands)))


def _pack_jvp(b, op, dots):
    if all(d is None for d in dots):
        return [None]
    return [b(pack_p, *[d if d is not None else const(0.0) for d in dots])]


pack_p.jvp = _pack_jvp


def _emit_broadcast_to(op, args):
    return call("np.broadcast_to", [args[0], ast.Tuple(list(args[1:]), ast.Load())])


broadcast_to_p = defprim("broadcast_to", infer=lambda t, *dims, **_: [Type(t.kind, len(dims))],
                         emit=_emit_broadcast_to, cheap=True, view=True, dims_shape=True,
                         spec={"array": True})


@defvjp(broadcast_to_p)
def _broadcast_to_vjp(b, op, g):
    return (lambda: unbroadcast(b, g, op.operands[0]),) + (None,) * (len(op.operands) - 1)


set_linear_jvp(broadcast_to_p)


# --- np.cumprod: runtime loops along axis 1 of (before, along, after), or of x flattened ---
def _running(t: Type, *rest, axis=None, **_) -> list[Type]:
    return [Type("float", 1 if axis is None else t.ndim)]


def _emit_scan(whole: str, middle: str):
    return lambda op, a: call(middle if op.attrs.get("axis") is not None else whole, a)


cumprod_p = defprim("cumprod", infer=_running, emit=_emit_scan("np.cumprod", "rt.cumprod_middle"),
                    spec={"arity": 1, "array": True})
cumprod_grad_p = defprim("cumprod_grad", infer=lambda x, g, **_: [Type("float", x.ndim)],
                         emit=_emit_scan("rt.cumprod_grad", "rt.cumprod_grad_middle"))
cumprod_tangent_p = defprim("cumprod_tangent", infer=_running,
                            emit=_emit_scan("rt.cumprod_tangent", "rt.cumprod_tangent_middle"))


@defvjp(cumprod_p)
def _cumprod_vjp(b, op, g):
    return (lambda: b(cumprod_grad_p, op.operands[0], g, attrs=op.attrs),)


def _cumprod_jvp(b, op, dots):
    if dots[0] is None:
        return [None]
    return [b(cumprod_tangent_p, op.operands[0], dots[0], attrs=op.attrs)]


cumprod_p.jvp = _cumprod_jvp


def _integer_result(name: str, ndim: int, kind: str = "int"):
    return defprim(name, infer=lambda t, **_: [Type(kind, ndim)], differentiable=False,
                   emit=lambda op, a: call(f"np.{name}", a))


argsort_p = defprim("argsort", infer=lambda t, **_: [Type("int", 1)], differentiable=False,
                    emit=lambda op, a: ast.Call(dotted("np.argsort"), list(a), [
                        ast.keyword("kind", ast.Constant("mergesort"))]))
argmax_p = _integer_result("argmax", 0)
argmin_p = _integer_result("argmin", 0)
# along axis 1 of (before, along, after), as the frontend reshapes any axis (runtime loops;
# argsort is stable, argmax/argmin take the first of equal entries, as NumPy's do)
argsort_middle_p = defprim("argsort_middle", infer=lambda t, **_: [Type("int", 3)],
                           differentiable=False, emit=lambda op, a: call("rt.argsort_middle", a))
argmax_middle_p = defprim("argmax_middle", infer=lambda t, **_: [Type("int", 2)],
                          differentiable=False, emit=lambda op, a: call("rt.argmax_middle", a))
argmin_middle_p = defprim("argmin_middle", infer=lambda t, **_: [Type("int", 2)],
                          differentiable=False, emit=lambda op, a: call("rt.argmin_middle", a))
all_p = _integer_result("all", 0, "bool")
any_p = _integer_result("any", 0, "bool")


def _emit_assert(op, args):
    message = op.attrs.get("message")
    return ast.Assert(args[0], None if message is None else ast.Constant(message))


assert_p = defprim("assert_", infer=lambda *t, **_: [], emit=_emit_assert, pure=False,
                   statement=True, differentiable=False)


def _emit_print(op, args):
    """print(...) with the string constants (attr `parts`: a string, or None for the next
    operand) in their places."""
    operands = iter(args)
    parts = [ast.Constant(p) if p is not None else next(operands) for p in op.attrs["parts"]]
    return ast.Expr(call("print", parts))


print_p = defprim("print_", infer=lambda *t, **_: [], emit=_emit_print, pure=False,
                  statement=True, differentiable=False)

