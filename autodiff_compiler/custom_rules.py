"""The user's functions behind custom_vjp / custom_jvp, as generated code calls them.

A Binding is one such function, set on the generated module under a fixed name when the
module is loaded: compiled with numba.njit when the derivative is, as it is otherwise (the
generated code names it like any other module-level function). Their result types are what
Numba infers for them. Reverse mode through a custom_jvp rule uses a loop written here per
argument types: the cotangent of operand k is <g, tangent of the output for a unit seed of
operand k> (one rule call per entry of an array operand).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .ir.types import Type

_DISPATCHERS: dict = {}


def _dispatcher(fn):
    import numba

    if fn not in _DISPATCHERS:
        _DISPATCHERS[fn] = fn if hasattr(fn, "py_func") else numba.njit(fn)
    return _DISPATCHERS[fn]


class Binding:
    """A function generated code calls: the user's, or one written for a custom_jvp rule."""

    def __init__(self, fn, source: str | None = None, deps=None):
        self.fn, self.source, self.deps = fn, source, deps or {}
        self._bound: dict = {}

    @classmethod
    def from_source(cls, name: str, source: str, deps: dict) -> Binding:
        return cls(name, source, deps)

    def bind(self, jit: bool):
        """What the generated module holds under this name."""
        if jit not in self._bound:
            if self.source is None:
                self._bound[jit] = _dispatcher(self.fn) if jit else _python(self.fn)
            else:
                namespace = {"np": np, **{k: d.bind(jit) for k, d in self.deps.items()}}
                exec(self.source, namespace)  # noqa: S102 - code written by vjp_from_jvp_source
                fn = namespace[self.fn]
                self._bound[jit] = _dispatcher(fn) if jit else fn
        return self._bound[jit]

    def describe(self) -> str:
        """For the module text: what is set there, and a digest of its code (so that a
        changed rule gives a new module)."""
        if self.source is not None:
            text = self.source + "".join(d.describe() for d in self.deps.values())
            label = "a rule's reverse loop"
        else:
            fn = _python(self.fn)
            code = fn.__code__
            text = repr((code.co_code, code.co_consts, code.co_names))
            label = f"{fn.__module__}.{fn.__qualname__}"
        return f"{label}, code sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _python(fn):
    return getattr(fn, "py_func", fn)


def _numba_type(t: Type):
    from numba.core import types

    scalar = {"float": types.float64, "int": types.int64, "bool": types.boolean}[t.kind]
    return types.Array(scalar, t.ndim, "A") if t.ndim else scalar


def result_type(fn, types) -> Type:
    """The IR type of fn's result for arguments of `types`, as Numba infers it."""
    from numba.core import types as nt

    dispatcher = _dispatcher(fn)
    signature = tuple(_numba_type(t) for t in types)
    try:
        dispatcher.compile(signature)
    except Exception as exc:
        raise TypeError(f"Numba could not compile {_python(fn).__qualname__} for arguments "
                        f"{', '.join(map(str, types))}; the functions given to custom_vjp and "
                        f"custom_jvp must compile with numba.njit:\n{exc}") from exc
    ret = dispatcher.overloads[signature].signature.return_type
    if isinstance(ret, nt.Float):
        return Type("float")
    if isinstance(ret, nt.Boolean):
        return Type("bool")
    if isinstance(ret, nt.Integer):
        return Type("int")
    if isinstance(ret, nt.Array) and isinstance(ret.dtype, (nt.Float, nt.Integer, nt.Boolean)):
        kind = "float" if isinstance(ret.dtype, nt.Float) else \
            "bool" if isinstance(ret.dtype, nt.Boolean) else "int"
        return Type(kind, ret.ndim)
    raise TypeError(f"{_python(fn).__qualname__} returns {ret}: a custom rule's function must "
                    "return one number or array")


def vjp_from_jvp_source(name: str, rule: str, k: int, types, out: Type) -> str:
    """Source of name(x0, ..., g): the cotangent of operand k from the jvp rule."""
    n = len(types)
    xs = [f"x{j}" for j in range(n)]
    lines = [f"def {name}({', '.join(xs + ['g'])}):"]
    for j, t in enumerate(types):
        if j != k:
            lines.append(f"    t{j} = np.zeros_like(x{j}, dtype=np.float64)" if t.ndim
                         else f"    t{j} = 0.0")
    primals = f"({', '.join(xs)},)"

    def tangent_of(seed: str) -> str:
        ts = [seed if j == k else f"t{j}" for j in range(n)]
        return f"{rule}({primals}, ({', '.join(ts)},))[1]"

    pair = "np.sum(g * r)" if out.ndim else "g * r"
    if not types[k].ndim:
        lines += [f"    r = {tangent_of('1.0')}", f"    return {pair}"]
        return "\n".join(lines) + "\n"
    lines += [f"    result = np.zeros(x{k}.shape)",
              "    flat = result.reshape(-1)",
              f"    seed = np.zeros(x{k}.size)",
              f"    for i in range(x{k}.size):",
              "        seed[i] = 1.0",
              f"        r = {tangent_of(f'seed.reshape(x{k}.shape)')}",
              f"        flat[i] = {pair}",
              "        seed[i] = 0.0",
              "    return result"]
    return "\n".join(lines) + "\n"
