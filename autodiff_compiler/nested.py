"""Derivatives of derivatives: grad(grad(f)), jacfwd(grad(f)), and gradients called inside
differentiated functions.

The generated code is itself valid input to the transforms (DESIGN.md): when lowering meets
a call of a gradient g (or a call `grad(e, argnums=...)(...)` written inline), g is compiled
for the argument types at hand and the Python function it generated is inlined like any
other helper, its gradients picked from its results. So the composed derivative is one
generated module. A gradient transformed directly (`grad(g)`) is read as the function
`def g_nested(params): return g(params)`, whose text is registered with linecache.
A gradient of a function with loops is not inlined: its call becomes ops whose derivative
rules are Hessian-vector products of the same function, made by its forward-over-reverse
code (GradientCall below), which is exact whether or not its adjoint keeps a tape.
Forward-mode gradients cannot be inlined yet; they are refused with that reason.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import os
import weakref

from .budget import default_budget
from .errors import GradientInputError
from .ir.core import walk_ops
from .ir.types import Type
from .primitives.registry import Primitive

_counter = itertools.count()
_RULE_PRIMITIVES: weakref.WeakSet = weakref.WeakSet()  # those of GradientCall (below)


def wrapper(g):
    """A plain function calling the gradient g, with g's parameters (cached on g)."""
    fn = getattr(g, "_nested_wrapper", None)
    if fn is not None:
        return fn
    params = ", ".join(g.param_names)
    name = "".join(c if c.isalnum() else "_" for c in g.__name__) + "_nested"
    filename = f"<autodiff_compiler nested {name} {next(_counter)}>"
    text = f"def {name}({params}):\n    return inner({params})\n"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = {"inner": g}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - the text above
    fn = namespace[name]
    g._nested_wrapper = fn
    return fn


def in_generated_code(exc, fn) -> bool:
    """Whether a refusal met while inlining the generated function `fn` lies in that code or
    in this package's runtime (not in a function of the user's that it calls)."""
    filename = exc.loc.filename if exc.loc is not None else ""
    return filename == fn.__code__.co_filename or \
        os.path.abspath(filename).startswith(_PACKAGE_DIR)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def differentiated_name(g, default: str) -> str:
    """The name of the function the gradient g differentiates."""
    return getattr(getattr(g, "fn", None), "__name__", default)


def inlinable(g, types):
    """(generated Python function, number of gradients, with value?, single?, rule) of
    gradient g compiled for argument `types`, to be inlined by the frontend; rule is None,
    or (function None) a GradientCall whose ops stand for the call (a function with loops)."""
    what = f"cannot differentiate through the gradient {g.__name__}"
    if g.mode != "reverse":
        raise TypeError(f"{what}: it is computed in forward mode")
    if g.specializations.offset:
        raise TypeError(f"{what}: it is of a partial or a bound method")
    if len(types) != len(g.param_names):
        raise TypeError(f"{what}: it takes {len(g.param_names)} arguments, got {len(types)}")
    for k in g.argnums:
        if not types[k].is_float:
            raise GradientInputError(f"{what}: argument {k} is {types[k]}, not a float")
    # the NumPy form (not fused loops), which the frontend reads as it reads the user's code
    artifact = g.specializations.artifact(list(types), g.argnums, "grad", fuse=False)
    if any(op.prim in _RULE_PRIMITIVES for op in walk_ops(artifact.primal.body)):
        raise TypeError(f"{what}: it differentiates a gradient of a function with loops; a "
                        "third derivative through a loop is not supported")
    count = len(g.argnums)
    if artifact.adjoint.tape_kinds or any(op.prim.loop for op in walk_ops(artifact.primal.body)):
        rule = GradientCall(g, list(types))
        return None, count, g.with_value, g.single, rule
    return artifact.compiled.python_fn, count, g.with_value, g.single, None


class GradientCall:
    """A call of a gradient whose function loops. Its code is not inlined: the outer
    transform would have to differentiate the tape's pushes and pops (a tape that grows, in a
    while loop or a loop whose bounds are set in an enclosing loop, is rebound to a new
    array, which cannot be differentiated as array writes), and the inner loop's element
    reads of an array the outer code carries around its own loop (q in a trajectory, y in a
    descent) are refused by the outer reverse sweep. The call lowers to one op per result
    (the value, each gradient), which generated code writes as a call of the gradient's code
    (its "nested" form, which makes its own tapes), set on the module. Their derivatives are
    Hessian-vector products, made by the "hvp" code of the same function w.r.t. all its
    float arguments (forward over reverse, which keeps the tape as it is): for the gradient
    of argument a,
        vjp:  x_j_bar += H[j, a] @ w     (the hvp with tangent w on argument a, 0 elsewhere;
                                         H is symmetric, so this is d(grad_a)/dx_j transposed)
        jvp:  grad_a_dot = sum_j H[a, j] @ x_j_dot   (the hvp with the operands' tangents)
    and for the value: x_j_bar += value_bar * grad_j, value_dot = sum_j <grad_j, x_j_dot>.
    So the composition is exact. The rule ops call compiled code and have no derivatives
    themselves: a third derivative through such a gradient is refused."""

    def __init__(self, g, types):
        from .custom_rules import Binding

        self.types = types
        self.argnums = list(g.argnums)
        self.floats = [k for k, t in enumerate(types) if t.is_float]
        nested = g.specializations.artifact(types, self.argnums, "nested")
        hvp = g.specializations.artifact(types, self.floats, "hvp")
        label = "".join(c if c.isalnum() else "_" for c in g.__name__)
        uid = next(_counter)
        self.call_name, self.hvp_name = f"call_{label}_{uid}", f"call_{label}_hvp_{uid}"
        self.bindings = {self.call_name: Binding(nested.compiled.python_fn),
                         self.hvp_name: Binding(hvp.compiled.python_fn)}
        # the tape budget the inner code checks its tapes against (budget.py): the default,
        # as an argument of each call when the code takes one
        self.budgets = {name: [ast.Constant(default_budget())] if artifact.layout.budget else []
                        for name, artifact in ((self.call_name, nested), (self.hvp_name, hvp))}
        name = g.__name__
        # not pure: a call of a whole gradient is taped, not recomputed in the reverse sweep
        self.result_p = Primitive(f"gradient_call({name})", infer=self._infer_result,
                                  emit=self._emit_result, vjp=self._vjp, jvp=self._jvp,
                                  pure=False)
        # named for the message that refuses to differentiate them (no rules)
        refused = "(a third derivative through a function with loops is not supported)"
        self.cotangent_p = Primitive(f"the cotangent of the gradient of {name} {refused}",
                                     infer=self._infer_operand, emit=self._emit_cotangent)
        self.tangent_p = Primitive(f"the tangent of the gradient of {name} {refused}",
                                   infer=self._infer_result, emit=self._emit_tangent)
        _RULE_PRIMITIVES.update((self.result_p, self.cotangent_p, self.tangent_p))

    def lowered(self, b, operands, with_value: bool) -> list:
        """(value, gradients...) of the call, as ops of this gradient's primitives (the
        value None unless `with_value`)."""
        def result(index, hint):
            return b.op(self.result_p, *operands, attrs={"index": index}, hint=hint).result

        value = result(0, "value") if with_value else None
        return [value] + [result(r, "grad") for r in range(1, 1 + len(self.argnums))]

    def _infer_result(self, *types, index, **_):
        return [Type("float", 0 if index == 0 else self.types[self.argnums[index - 1]].ndim)]

    def _infer_operand(self, *types, operand, **_):
        return [Type("float", self.types[operand].ndim)]

    def _emit_result(self, op, args):
        call = _call(self.call_name, args, self.budgets[self.call_name])
        return _item(call, op.attrs["index"])

    def _tangents(self, args, given: dict) -> list:
        """The hvp's tangent arguments: given[k] for float argument k, else zeros."""
        return [given.get(k) or (_call("np.zeros_like", [args[k]]) if self.types[k].ndim
                                 else ast.Constant(0.0)) for k in self.floats]

    def _emit_cotangent(self, op, args):
        index, operand = op.attrs["index"], op.attrs["operand"]
        primals, g = args[:len(self.types)], args[-1]
        n = len(self.floats)
        if index == 0:  # value_bar * gradient of the operand
            picked = _item(_call(self.hvp_name, primals + self._tangents(primals, {}),
                                 self.budgets[self.hvp_name]),
                           1 + self.floats.index(operand))
            return ast.BinOp(g, ast.Mult(), picked)
        seeded = {self.argnums[index - 1]: g}
        return _item(_call(self.hvp_name, primals + self._tangents(primals, seeded),
                             self.budgets[self.hvp_name]),
                     2 + n + self.floats.index(operand))

    def _emit_tangent(self, op, args):
        index = op.attrs["index"]
        primals = args[:len(self.types)]
        given = dict(zip(op.attrs["dotted"], args[len(self.types):]))
        n = len(self.floats)
        pick = 1 + n if index == 0 else 2 + n + self.floats.index(self.argnums[index - 1])
        return _item(_call(self.hvp_name, primals + self._tangents(primals, given),
                            self.budgets[self.hvp_name]), pick)

    def _vjp(self, b, op, g):
        def thunk(k):
            return lambda: b.op(self.cotangent_p, *op.operands, g,
                                attrs={"index": op.attrs["index"], "operand": k},
                                hint="call_bar").result

        return tuple(thunk(k) if k in self.floats else None for k in range(len(op.operands)))

    def _jvp(self, b, op, dots):
        dotted = [k for k, d in enumerate(dots) if d is not None]
        given = [dots[k] for k in dotted]
        return [b.op(self.tangent_p, *op.operands, *given,
                     attrs={"index": op.attrs["index"], "dotted": tuple(dotted)},
                     hint="call_dot").result]


def _call(name: str, args: list, budget: list = ()) -> ast.Call:
    func = ast.Name(name, ast.Load())
    if "." in name:
        module, attr = name.split(".")
        func = ast.Attribute(ast.Name(module, ast.Load()), attr, ast.Load())
    return ast.Call(func, list(args) + list(budget), [])


def _item(value, k: int) -> ast.Subscript:
    return ast.Subscript(value, ast.Constant(k), ast.Load())
