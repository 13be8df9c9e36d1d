"""`g.njit`: a gradient as a Numba dispatcher with g's own signature and results.

The generated adjoint takes its tapes as trailing arguments and returns them (so that calls
from Python can reuse them); a jitted caller cannot do that bookkeeping. So each gradient
gets a stub function with an `@overload`: when Numba types a call of it (from the dispatcher
below or from the user's own @njit code), the typing step maps Numba's argument types to the
compiler's, compiles that specialisation through the pipeline, and returns an implementation
that calls the adjoint with empty tapes (the adjoint grows them) and g's tape budget, and
picks g's results out of its result tuple. Argument types the compiled code is not specialised for as given
(float32 or 0-d arrays, int arrays other than int64) are refused at typing time; g itself
converts them.
"""

from __future__ import annotations

import itertools

import numpy as np

from .budget import resolve as resolve_budget
from .ir.types import Type

_DTYPE_NAMES = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_"}
_counter = itertools.count()


def ir_type(nbtype, name: str) -> Type:
    """The compiler's type for one Numba argument type (TypingError where it has none)."""
    from numba.core import errors, types

    if isinstance(nbtype, types.Boolean):
        return Type("bool")
    if isinstance(nbtype, types.Integer):
        return Type("int")
    if isinstance(nbtype, types.Float) and nbtype.bitwidth == 64:
        return Type("float")
    if isinstance(nbtype, types.Array) and nbtype.ndim > 0:
        kind = {types.float64: "float", types.int64: "int", types.boolean: "bool"}.get(
            nbtype.dtype)
        if kind is not None:
            return Type(kind, nbtype.ndim)
    raise errors.TypingError(f"argument '{name}' of type {nbtype} is not supported by the "
                             "jitted gradient (float64, int64 and bool numbers and arrays of "
                             "rank >= 1 are); call the gradient from Python to convert it")


def make_dispatcher(gradfn):
    """A numba.njit dispatcher computing gradfn(*args) for positional arguments."""
    import numba
    from numba.core import errors
    from numba.extending import overload

    spec = gradfn.specializations
    if spec.offset:
        raise TypeError("g.njit is not available for a partial or a bound method: its bound "
                        "arguments are Python objects; jit a plain function of all of them")
    if gradfn.mode != "reverse" or not gradfn.jit:
        raise TypeError("g.njit needs mode='reverse' and jit=True")
    names = list(spec.param_names)
    params = ", ".join(names)
    uid = next(_counter)
    namespace: dict = {"np": np}
    exec(f"def stub_{uid}({params}):\n    raise NotImplementedError\n",  # noqa: S102
         namespace)  # generated wrappers need the gradient's own parameter names
    stub = namespace[f"stub_{uid}"]

    def typer(*nbtypes):
        if len(nbtypes) != len(names):
            raise errors.TypingError(f"{gradfn.__name__} takes {len(names)} arguments")
        types = [ir_type(t, n) for t, n in zip(nbtypes, names)]
        for k in gradfn.argnums:
            if not types[k].is_float:
                raise errors.TypingError(f"cannot differentiate with respect to "
                                         f"'{names[k]}': it is {nbtypes[k]}, not a float")
        artifact = spec.artifact(types, gradfn.argnums, "grad")
        if artifact.primal.copied_params:
            raise errors.TypingError("the function writes into an array argument: call the "
                                     "gradient from Python (it checks that arguments do not "
                                     "share memory)")
        return _implementation(artifact, names, gradfn.with_value, gradfn.single,
                               gradfn.max_tape_bytes)

    exec(f"def typer_{uid}({params}):\n    return typer({params})\n",  # noqa: S102
         {"typer": typer}, namespace)  # Numba wants the stub's own parameter names
    overload(stub, jit_options={"nogil": True})(namespace[f"typer_{uid}"])
    entry = f"def {_safe(gradfn.__name__)}_njit({params}):\n    return stub({params})\n"
    exec(entry, {"stub": stub}, namespace)  # noqa: S102
    return numba.njit(namespace[f"{_safe(gradfn.__name__)}_njit"])


def _implementation(artifact, names: list[str], with_value: bool, single: bool,
                    budget: int | None):
    layout = artifact.layout
    params = ", ".join(names)
    tapes = [f"np.empty({(0,) * t.ndim}, {_DTYPE_NAMES[t.kind]})"
             for t in artifact.adjoint.tape_kinds]
    if artifact.adjoint.budgeted:  # the budget as resolved when the call is typed: an
        # int64, not a literal (Numba would compile the adjoint again for Literal[int])
        tapes.append(f"np.int64({resolve_budget(budget)})")
    call = f"adjoint({', '.join(names + tapes)})"
    grads = [f"out[{layout.outputs + k}]" for k in range(layout.gradients)]
    result = grads[0] if single else f"({', '.join(grads)},)"
    if with_value:
        result = f"(out[0], {result})"
    namespace = {"np": np, "adjoint": artifact.compiled.dispatcher()}
    exec(f"def impl({params}):\n    out = {call}\n    return {result}\n",  # noqa: S102
         namespace)
    return namespace["impl"]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "g"

