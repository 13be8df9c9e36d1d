"""The user-facing transforms: grad and value_and_grad (JAX's names and conventions).

`grad(f)` reads f's source when it is applied (syntax errors surface at decoration) and
compiles one adjoint per signature of argument types on first call, as Numba does. Gradients
have the structure of the differentiated arguments: a float for a float, an array of the same
shape for an array, a tuple for several argnums. Compiling goes through pipeline.compile
(mode "grad", or "jvp" for mode="forward"), by way of specialize.Specializations.
"""

from __future__ import annotations

import functools

from .arguments import output, structure
from .calls import Plan, direct, eligible, quick_key
from .dtypes import restore_dtypes
from .errors import GradientInputError
from .kernels import device_grad
from .njit import make_dispatcher
from .pickling import reducer
from .pipeline import Artifact
from .specialize import Specializations
from .sweeps import forward_gradient


class GradFunction:
    """What `grad` / `value_and_grad` return: a callable with the generated code attached."""

    __autodiff_transform__ = True  # differentiated again by inlining its code (nested.py)

    def __init__(self, fn, argnums=0, jit=True, with_value=False, checkpoint=None,
                 mode="reverse", boundscheck=False):
        if mode not in ("reverse", "forward"):
            raise GradientInputError("mode must be 'reverse' or 'forward'")
        self.mode = mode
        if checkpoint not in (None, "sqrt", "auto") and not (
                isinstance(checkpoint, int) and checkpoint >= 1):
            raise GradientInputError("checkpoint must be None, a positive int, 'sqrt' or "
                                     "'auto'")
        self.checkpoint = checkpoint
        self._options = (fn, argnums, jit, with_value, checkpoint, mode, boundscheck)
        self.specializations = Specializations(fn, jit, checkpoint, bool(boundscheck))
        self.parsed = self.specializations.parsed
        self.fn = self.parsed.fn
        self.signature = self.specializations.signature
        self.param_names = self.specializations.param_names
        self.argnums, self.single = self.specializations.argnums(argnums)
        self.jit = jit
        self.with_value = with_value
        self._njit = self._direct = None  # _direct: False once it failed
        self._plans: dict = {}
        functools.update_wrapper(self, self.fn)
        self.__autodiff_wrapped__ = self.fn

    def __reduce__(self):  # f and the options; compiled code is made again (pickling.py)
        return reducer(GradFunction, self._options[0], self._options[1:], {})

    @property
    def _mode(self) -> str:  # the pipeline's mode
        return "jvp" if self.mode == "forward" else "grad"

    def lower(self, *args, **kwargs) -> Artifact:
        """Compile (without running) for these arguments; returns the artifact."""
        _, types = self.specializations.prepare(args, kwargs, self.argnums)
        return self.specializations.artifact(types, self.argnums, self._mode)

    @property
    def njit(self):
        """A Numba dispatcher computing the same results, callable from @njit code
        (njit.py); made on first use."""
        if self._njit is None:
            self._njit = make_dispatcher(self)
        return self._njit

    def __call__(self, *args, **kwargs):
        if self._direct and not kwargs:  # calls.py: skip the checked path when we may
            try:
                return self._direct(*args)
            except Exception:  # noqa: BLE001 - a type it refuses; the checked path reports
                self._direct = False
        if not kwargs and self._plans:
            plan = self._plans.get(quick_key(args))
            if plan is not None:
                return plan(args)
        values, types = self.specializations.prepare(args, kwargs, self.argnums)
        artifact = self.specializations.artifact(types, self.argnums, self._mode)
        if self.mode == "forward":
            value, result = forward_gradient(artifact, values, self.argnums, self.single)
            return (value, result) if self.with_value else result
        results = artifact.call(*values)
        result = restore_dtypes(structure(results.gradients, self.single), args, kwargs,
                                self)
        if eligible(self, args, kwargs):
            self._remember(args, artifact)
        return (output(results.outputs[0]), result) if self.with_value else result

    def _remember(self, args, artifact) -> None:
        key = quick_key(args)
        if key is None:
            return
        if self._direct is None and direct(self, artifact):
            self._direct = self.njit
        elif key not in self._plans:
            self._plans[key] = Plan(artifact, self.with_value, self.single)

    def _require_last(self) -> Artifact:
        if self.specializations.last is None:
            raise RuntimeError(f"{self.__name__} has not been compiled yet: call it, or "
                               "call .lower(*example_args) first")
        return self.specializations.last

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
                  target="cpu", boundscheck=False):
        if target not in ("cpu", "cuda"):
            raise GradientInputError("target must be 'cpu' or 'cuda'")
        if target == "cuda":
            if with_value or fn is None:
                raise GradientInputError("target='cuda' is supported by grad(f, argnums) only")
            return device_grad(fn, argnums)
        if fn is None:
            return lambda f: GradFunction(f, argnums, jit, with_value, checkpoint, mode,
                                          boundscheck)
        if isinstance(fn, (int, tuple, list)):
            raise TypeError("pass argnums by keyword: grad(argnums=(0, 1))")
        return GradFunction(fn, argnums, jit, with_value, checkpoint, mode, boundscheck)

    transform.__autodiff_factory__ = True  # may be called inside differentiated code
    return transform


grad = _decorator(with_value=False)
grad.__doc__ = """Gradient of a scalar function: grad(f, argnums=0, *, jit=True)(*args).

Usable as @grad, @grad(argnums=(0, 1)) or grad(f, argnums=1). checkpoint=K (or "sqrt")
stores the state of long top-level loops every K steps instead of taping every step; "auto"
does so (every sqrt(steps)) for top-level loops whose inner counted loops record a tape; the
default None tapes everything.
mode="forward" computes the gradient by tangent sweeps instead, one per input entry (cheaper
for few inputs).
boundscheck=True compiles with Numba's bounds checks: an index out of range raises IndexError
as it does with jit=False (README, "Errors at run time").
target="cuda" returns a numba.cuda device function computing the gradient (kernels.py)."""
grad.__name__ = "grad"
value_and_grad = _decorator(with_value=True)
value_and_grad.__doc__ = """Like grad, but returns (f(*args), gradient)."""
value_and_grad.__name__ = "value_and_grad"
