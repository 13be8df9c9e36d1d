"""The user-facing transforms: grad and value_and_grad (JAX's names and conventions).

`grad(f)` reads f's source when it is applied (syntax errors surface at decoration) and
compiles one adjoint per signature of argument types on first call, as Numba does. Gradients
have the structure of the differentiated arguments: a float for a float, an array of the same
shape for an array, a tuple for several argnums.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from .errors import GradientInputError
from .ir.types import Type
from .pipeline import Artifact, build, parse


def _normalize_argnums(argnums, n_params: int) -> tuple[list[int], bool]:
    single = isinstance(argnums, (int, np.integer))
    nums = [argnums] if single else list(argnums)
    if not nums:
        raise GradientInputError("argnums must name at least one argument")
    for k in nums:
        if not isinstance(k, (int, np.integer)) or not -n_params <= k < n_params:
            raise GradientInputError(f"argnums {k!r} is out of range for a function of "
                                     f"{n_params} arguments")
    nums = [int(k) % n_params for k in nums]
    if len(set(nums)) != len(nums):
        raise GradientInputError("argnums lists an argument twice")
    return nums, single


def _type_of(value, name: str, differentiated: bool):
    """(converted value, IR type) for one argument."""
    if isinstance(value, (bool, np.bool_)):
        kind, value = "bool", bool(value)
    elif isinstance(value, (int, np.integer)):
        kind, value = "int", int(value)
    elif isinstance(value, (float, np.floating)):
        kind, value = "float", float(value)
    else:
        value = np.asarray(value)
        if value.dtype.kind == "f":
            value = value.astype(np.float64, copy=False)
        elif value.dtype.kind in "iu":
            value = value.astype(np.int64, copy=False)
        elif value.dtype.kind != "b":
            raise GradientInputError(f"argument '{name}' has unsupported type "
                                     f"{type(value).__name__} (dtype {value.dtype})")
        if value.ndim == 0:
            return _type_of(value.item(), name, differentiated)
        kind = {"f": "float", "i": "int", "u": "int", "b": "bool"}[value.dtype.kind]
        if differentiated and kind != "float":
            raise GradientInputError(f"cannot differentiate with respect to '{name}': it is "
                                     f"an array of {value.dtype}; pass a float array")
        return value, Type(kind, value.ndim)
    if differentiated and kind != "float":
        raise GradientInputError(f"cannot differentiate with respect to '{name}': it is "
                                 f"{'a bool' if kind == 'bool' else 'an int'} ({value!r}); "
                                 f"pass a float such as {float(value)!r}, or leave it out "
                                 "of argnums")
    return value, Type(kind)


def _output(value):
    if isinstance(value, np.ndarray):
        return value
    return float(value)


class GradFunction:
    """What `grad` / `value_and_grad` return: a callable with the generated code attached."""

    def __init__(self, fn, argnums=0, jit=True, with_value=False, checkpoint=None,
                 mode="reverse"):
        if mode not in ("reverse", "forward"):
            raise GradientInputError("mode must be 'reverse' or 'forward'")
        self.mode = mode
        if checkpoint not in (None, "sqrt", "auto") and not (
                isinstance(checkpoint, int) and checkpoint >= 1):
            raise GradientInputError("checkpoint must be None, a positive int, 'sqrt' or "
                                     "'auto'")
        self.checkpoint = checkpoint
        self.parsed = parse(fn)
        self.fn = self.parsed.fn
        self.signature = inspect.signature(self.fn)
        params = list(self.signature.parameters)
        self.argnums, self.single = _normalize_argnums(argnums, len(params))
        self.param_names = params
        self.jit = jit
        self.with_value = with_value
        self._artifacts: dict[tuple, Artifact] = {}
        self._last: Artifact | None = None
        functools.update_wrapper(self, self.fn)
        self.__autodiff_wrapped__ = self.fn

    def _prepare(self, args, kwargs, argnums=None) -> tuple[list, list[Type]]:
        argnums = self.argnums if argnums is None else argnums
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values, types = [], []
        for k, (name, value) in enumerate(bound.arguments.items()):
            value, t = _type_of(value, name, k in argnums)
            values.append(value)
            types.append(t)
        return values, types

    def lower(self, *args, **kwargs) -> Artifact:
        """Compile (without running) for these arguments; returns the artifact."""
        _, types = self._prepare(args, kwargs)
        return self._artifact(types, mode="jvp" if self.mode == "forward" else "grad")

    def _artifact(self, types: list[Type], argnums=None, mode: str = "grad") -> Artifact:
        argnums = self.argnums if argnums is None else argnums
        key = (tuple(types), tuple(argnums), mode)
        if key not in self._artifacts:
            self._artifacts[key] = build(self.parsed, types, argnums, self.jit, mode,
                                         self.checkpoint)
        self._last = self._artifacts[key]
        return self._last

    def __call__(self, *args, **kwargs):
        values, types = self._prepare(args, kwargs)
        if self.mode == "forward":
            from .jacobians import forward_gradient

            value, result = forward_gradient(self, values, types, self.argnums, self.single)
            return (value, result) if self.with_value else result
        artifact = self._artifact(types)
        value, *grads = artifact.run(*values)
        grads = [_output(g) for g in grads]
        result = grads[0] if self.single else tuple(grads)
        return (_output(value), result) if self.with_value else result

    def _require_last(self) -> Artifact:
        if self._last is None:
            raise RuntimeError(f"{self.__name__} has not been compiled yet: call it, or "
                               "call .lower(*example_args) first")
        return self._last

    @property
    def source(self) -> str:
        """Generated Python source of the most recently used specialisation."""
        return self._require_last().source

    @property
    def ir(self) -> str:
        """SSA IR of the adjoint of the most recently used specialisation."""
        return self._require_last().ir


def _decorator(with_value: bool):
    def transform(fn=None, argnums=0, *, jit=True, checkpoint=None, mode="reverse",
                  target="cpu"):
        if target not in ("cpu", "cuda"):
            raise GradientInputError("target must be 'cpu' or 'cuda'")
        if target == "cuda":
            if with_value or fn is None:
                raise GradientInputError("target='cuda' is supported by grad(f, argnums) only")
            from .kernels import device_grad

            return device_grad(fn, argnums)
        if fn is None:
            return lambda f: GradFunction(f, argnums, jit, with_value, checkpoint, mode)
        if isinstance(fn, (int, tuple, list)):
            raise TypeError("pass argnums by keyword: grad(argnums=(0, 1))")
        return GradFunction(fn, argnums, jit, with_value, checkpoint, mode)

    return transform


grad = _decorator(with_value=False)
grad.__doc__ = """Gradient of a scalar function: grad(f, argnums=0, *, jit=True)(*args).

Usable as @grad, @grad(argnums=(0, 1)) or grad(f, argnums=1). checkpoint=K (or "sqrt")
stores the state of long top-level loops every K steps instead of taping every step; "auto"
does so (every sqrt(steps)) for top-level loops whose inner counted loops record a tape; the
default None tapes everything.
mode="forward" computes the gradient by tangent sweeps instead, one per input entry (cheaper
for few inputs).
target="cuda" returns a numba.cuda device function computing the gradient (kernels.py)."""
grad.__name__ = "grad"
value_and_grad = _decorator(with_value=True)
value_and_grad.__doc__ = """Like grad, but returns (f(*args), gradient)."""
value_and_grad.__name__ = "value_and_grad"
