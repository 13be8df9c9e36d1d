"""Derivatives of derivatives: grad(grad(f)), jacfwd(grad(f)), and gradients called inside
differentiated functions.

The generated code is itself valid input to the transforms (DESIGN.md): when lowering meets
a call of a gradient g (or a call `grad(e, argnums=...)(...)` written inline), g is compiled
for the argument types at hand and the Python function it generated is inlined like any
other helper, its gradients picked from its results. So the composed derivative is one
generated module. A gradient transformed directly (`grad(g)`) is read as the function
`def g_nested(params): return g(params)`, whose text is registered with linecache.
Gradients whose adjoint keeps a tape (loops whose reverse sweep reads stored values) and
forward-mode gradients cannot be inlined yet; they are refused with that reason.
"""

from __future__ import annotations

import itertools
import linecache

from .errors import GradientInputError

_counter = itertools.count()


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


def inlinable(g, types):
    """(generated Python function, number of gradients, with value?, single?) of gradient g
    compiled for argument `types`, to be inlined by the frontend."""
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
    if artifact.adjoint.tape_kinds or artifact.adjoint.budgeted:  # budgeted: makes tapes
        raise TypeError(f"{what}: its adjoint keeps a tape (a loop whose reverse sweep reads "
                        "stored values); differentiating it again is not supported yet")
    return artifact.compiled.python_fn, len(g.argnums), g.with_value, g.single
