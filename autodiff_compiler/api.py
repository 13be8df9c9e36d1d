"""The user-facing transforms: grad and value_and_grad (JAX's names and conventions).

`grad(f)` reads f's source when it is applied (syntax errors surface at decoration) and
compiles one adjoint per signature of argument types on first call, as Numba does. Gradients
have the structure of the differentiated arguments: a float for a float, an array of the same
shape for an array, a tuple for several argnums. Compiling goes through pipeline.compile
(mode "grad", or "jvp" for mode="forward"), by way of specialize.Specializations.
"""

from __future__ import annotations

import functools

from .arguments import flatten, leaf_positions, output, regroup, structure
from .budget import check_budget
from .calls import Plan, direct, eligible, quick_key
from .dtypes import restore_dtypes
from .errors import GradientInputError, TapeMemoryError
from .kernels import device_grad
from .njit import make_dispatcher
from .pickling import reducer
from .pipeline import Artifact
from .specialize import Specializations
from .sweeps import forward_gradient, unit_tangents
from .tapes import TapeBytes, TapeReport, measure, report
from .tracebacks import api_boundary, filter_exception


class Lowered:
    """A derivative compiled for one set of argument types, by `GradFunction.lower`.

    Attributes:
        source: the generated Python module (str).
        ir: the derivative's SSA IR, as text.
        primal_ir: the function's own SSA IR, as text.
        primal, adjoint: the two SSA functions themselves (ir.core.Function).
        path: the file the generated module was written to.
        transform_time: seconds from the function's source to the loaded module.
        compile_time: seconds Numba took (0.0 with jit=False, or when its on-disk cache
            already had the machine code).

    Example:
        >>> def f(x):
        ...     return x * x
        >>> lowered = grad(f, jit=False).lower(3.0)
        >>> lowered.compile_time
        0.0
        >>> "def f_grad(x):" in lowered.source
        True
    """

    def __init__(self, artifact: Artifact, arguments: tuple, compile_time: float):
        self.artifact = artifact
        self.arguments = arguments
        self.source = artifact.source
        self.ir = artifact.ir
        self.primal_ir = artifact.primal_ir
        self.primal = artifact.primal
        self.adjoint = artifact.adjoint
        self.path = artifact.path
        self.transform_time = artifact.transform_time
        self.compile_time = compile_time

    @api_boundary
    def tape(self) -> TapeReport:
        """What the reverse sweep stores for the arguments the code was lowered with.

        The generated source is run once by CPython (not Numba) on those arguments to
        measure the arrays.

        Returns:
            A TapeReport: `rows` (one per array: name, the value it stores, dtype, kept per
            iteration or once, bytes, source line), `nbytes` (the total) and, printed, a
            table.

        Example:
            >>> import numpy as np
            >>> def total(x, n):
            ...     s = 0.0
            ...     for i in range(n):
            ...         s = s * x[i] + x[i]
            ...     return s
            >>> report = grad(total, jit=False).lower(np.ones(100), 100).tape()
            >>> report.nbytes
            800
            >>> print(report)
            name    stores  dtype    kept                            bytes  source line
            tape_s  s       float64  per iteration (loop at line 3)    800  line 3: for i in range(n):
            total 800 bytes taped per call
        """
        arrays = measure(self.artifact.compiled.python_fn,
                         self.artifact.arguments(*self.arguments))
        return report(self.artifact.adjoint, self.artifact.mode, arrays)

    def __repr__(self) -> str:
        return (f"<Lowered {self.artifact.name}: transform {self.transform_time:.3f} s, "
                f"Numba {self.compile_time:.3f} s, {self.path}>")


class GradFunction:
    """What `grad` and `value_and_grad` return: the gradient as a callable, with the
    generated code attached.

    Call it with the function's arguments. One derivative is compiled per signature of
    argument types (float, int and bool scalars; arrays by dtype and rank), at the first
    call with that signature or by `lower`; `source` and `ir` show the last one used.

    Example:
        >>> def f(x, y):
        ...     return x * y + y
        >>> df = grad(f, argnums=(0, 1))
        >>> df(2.0, 3.0)
        (3.0, 3.0)
        >>> print(df.source[df.source.index("def "):], end="")
        def f_grad(x, y):
            # line 2: return x * y + y
            add = x * y + y
            # reverse sweep
            return (add, y, 1.0 + x)
    """

    __autodiff_transform__ = True  # differentiated again by inlining its code (nested.py)

    def __init__(self, fn, argnums=0, jit=True, with_value=False, checkpoint=None,
                 mode="reverse", boundscheck=False, parallel=False, max_tape_bytes=None):
        if mode not in ("reverse", "forward"):
            raise GradientInputError("mode must be 'reverse' or 'forward'")
        self.mode = mode
        if checkpoint not in (None, "sqrt", "auto") and not (
                isinstance(checkpoint, int) and checkpoint >= 1):
            raise GradientInputError("checkpoint must be None, a positive int, 'sqrt' or "
                                     "'auto'")
        self.checkpoint = checkpoint
        if parallel and not jit:
            raise GradientInputError("parallel=True needs jit=True (Numba's parallel backend)")
        self.max_tape_bytes = check_budget(max_tape_bytes)
        self._options = (fn, argnums, jit, with_value, checkpoint, mode, boundscheck, parallel,
                         max_tape_bytes)
        # "auto": the full tape while it fits in the budget, else sqrt checkpointing
        self.specializations = Specializations(fn, jit, None if checkpoint == "auto"
                                               else checkpoint, bool(boundscheck),
                                               bool(parallel))
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

    @api_boundary
    def lower(self, *args, **kwargs) -> Lowered:
        """Compile for the types of these arguments, without running anything: the
        transform, then Numba (unless jit=False). Calls with arguments of the same types
        then reuse the code.

        Parameters:
            *args, **kwargs: example arguments, as the function takes them (only their
                types and, for `Lowered.tape`, their values matter).

        Returns:
            A Lowered: the generated `source`, its `ir`, `transform_time` and
            `compile_time` in seconds, and `tape()`.

        Example:
            >>> def f(x):
            ...     return x * x
            >>> lowered = grad(f, jit=False).lower(3.0)
            >>> print(lowered.source[lowered.source.index("def "):], end="")
            def f_grad(x):
                # line 2: return x * x
                mul = x * x
                # reverse sweep
                return (mul, x + x)
        """
        values, types = self.specializations.prepare(args, kwargs, self.argnums, trees=True)
        artifact = self.specializations.artifact(types, self.argnums, self._mode)
        arguments = tuple(flatten(values))
        if self.mode == "forward":
            arguments += tuple(unit_tangents(arguments, leaf_positions(types, self.argnums),
                                             None))
        return Lowered(artifact, arguments, artifact.compile(*arguments))

    @api_boundary
    def tape_bytes(self, *args, **kwargs) -> TapeBytes:
        """The bytes the reverse sweep's tapes take in a call with these arguments, computed
        without running the function's loops (from trip counts, bounds and shapes known
        before them); compiles for the argument types like `lower`.

        Parameters:
            *args, **kwargs: arguments, as the function takes them (their values set the
                trip counts and shapes).

        Returns:
            A TapeBytes, an int: the bytes of tapes and checkpoints the call allocates
            (with checkpoint="auto": of the full tape, which the call checkpoints when this
            is over the budget). `growing` lists the lines of loops whose tapes grow as they
            run (counted at their first capacity) and `unknown` those whose tapes are sized
            by values other loops compute (not counted); `bounded` is True when neither.

        Example:
            >>> import numpy as np
            >>> def total(x, n):
            ...     s = 0.0
            ...     for i in range(n):
            ...         s = s * x[i % 3] + 1.0
            ...     return s
            >>> grad(total, jit=False).tape_bytes(np.ones(3), 10 ** 9)
            TapeBytes(8000000000)
        """
        if self.mode == "forward":
            return TapeBytes(0)
        values, types = self.specializations.prepare(args, kwargs, self.argnums, trees=True)
        artifact = self.specializations.artifact(types, self.argnums, self._mode)
        return artifact.tape_bytes(*flatten(values))

    @property
    def njit(self):
        """A Numba dispatcher computing the same results, callable from @njit code
        (njit.py); made on first use."""
        if self._njit is None:
            self._njit = make_dispatcher(self)
        return self._njit

    def __call__(self, *args, **kwargs):
        """The gradient at these arguments (with value_and_grad: (value, gradient))."""
        __tracebackhide__ = True
        # the entry point filters its own errors (tracebacks.py) instead of being wrapped by
        # api_boundary: one Python frame less on every call
        try:
            if not kwargs:  # calls.py: skip the checked path when we may
                if self._direct:
                    try:
                        return self._direct(*args)
                    except Exception:  # noqa: BLE001 - a type it refuses; the checked path
                        self._direct = False  # reports the error, if there is one
                if self._plans:
                    plan = self._plans.get(quick_key(args))
                    if plan is not None:
                        return plan(args)
            return self._checked_call(args, kwargs)
        except Exception as exc:
            filter_exception(exc)
            raise

    def _checked_call(self, args, kwargs):
        """Bind and convert the arguments, compile for their types if needed, call."""
        values, types = self.specializations.prepare(args, kwargs, self.argnums, trees=True)
        artifact = self.specializations.artifact(types, self.argnums, self._mode)
        flat, differentiated = flatten(values), [types[k] for k in self.argnums]
        if self.mode == "forward":
            value, gradients = forward_gradient(artifact, flat,
                                                leaf_positions(types, self.argnums))
            result = structure(regroup(gradients, differentiated), self.single)
            return (value, result) if self.with_value else result
        artifact, results = self._reverse(artifact, types, flat)
        result = restore_dtypes(structure(regroup(results.gradients, differentiated),
                                          self.single), args, kwargs, self)
        if eligible(self, args, kwargs):
            self._remember(args, artifact)
        return (output(results.outputs[0]), result) if self.with_value else result

    def _reverse(self, artifact: Artifact, types, values):
        """(artifact, results) of one reverse call within the tape budget; with
        checkpoint="auto", a tape over it makes the call again with its top-level loops
        checkpointed (nothing was allocated: the generated code checks before)."""
        try:
            return artifact, artifact.call(*values, budget=self.max_tape_bytes)
        except TapeMemoryError as error:
            if self.checkpoint != "auto" or error.kind != "counted":
                raise
        checkpointed = self.specializations.artifact(types, self.argnums, self._mode,
                                                     checkpoint="sqrt")
        return checkpointed, checkpointed.call(*values, budget=self.max_tape_bytes)

    def _remember(self, args, artifact) -> None:
        key = quick_key(args)
        if key is None or (self.checkpoint == "auto" and artifact.adjoint.budgeted):
            return  # "auto" decides at each call which code fits
        if self._direct is None and direct(self, artifact):
            self._direct = self.njit
        elif key not in self._plans:
            self._plans[key] = Plan(artifact, self.with_value, self.single, self.max_tape_bytes)

    def _require_last(self) -> Artifact:
        if self.specializations.last is None:
            raise RuntimeError(f"{self.__name__} has not been compiled yet: call it, or "
                               "call .lower(*example_args) first")
        return self.specializations.last

    @property
    def source(self) -> str:
        """The generated Python module of the most recently used specialisation (str;
        RuntimeError before the first call or `lower`)."""
        return self._require_last().source

    @property
    def ir(self) -> str:
        """The SSA IR of the derivative of the most recently used specialisation (str;
        RuntimeError before the first call or `lower`)."""
        return self._require_last().ir


def _transform(fn, argnums, jit, checkpoint, mode, target, with_value: bool,
               boundscheck: bool = False, parallel: bool = False, max_tape_bytes=None):
    if target not in ("cpu", "cuda"):
        raise GradientInputError("target must be 'cpu' or 'cuda'")
    if target == "cuda":
        if parallel:
            raise GradientInputError("parallel=True is for target='cpu' (Numba's threads)")
        if with_value or fn is None:
            raise GradientInputError("target='cuda' is supported by grad(f, argnums) only")
        return device_grad(fn, argnums)
    if fn is None:
        return api_boundary(
            lambda f: GradFunction(f, argnums, jit, with_value, checkpoint, mode, boundscheck,
                                   parallel, max_tape_bytes))
    if isinstance(fn, (int, tuple, list)):
        raise TypeError("pass argnums by keyword: grad(argnums=(0, 1))")
    return GradFunction(fn, argnums, jit, with_value, checkpoint, mode, boundscheck, parallel,
                        max_tape_bytes)


@api_boundary
def grad(fn=None, argnums=0, *, jit=True, checkpoint=None, mode="reverse", target="cpu",
         boundscheck=False, parallel=False, max_tape_bytes=None):
    """The gradient of a scalar function, as a function of the same arguments.

    Usable as `grad(f)`, `grad(f, argnums=1)`, `@grad` or `@grad(argnums=(0, 1))`. The
    function's source is read and checked now (unsupported code is refused with its line
    and a caret); the derivative is compiled at the first call for each signature of
    argument types.

    Parameters:
        fn: a Python function returning one float (None: return a decorator).
        argnums: the position of the argument to differentiate, or a tuple of positions.
        jit: compile the generated code with Numba (False: run it in CPython).
        checkpoint: None (tape every loop iteration), a positive int K or "sqrt" (store
            the state of long top-level loops every K, or sqrt(steps), iterations and
            recompute in between), or "auto" (the full tape when it fits in the tape
            budget, else "sqrt").
        mode: "reverse" (one sweep for all inputs) or "forward" (one tangent sweep per
            input entry: cheaper for few inputs).
        target: "cpu", or "cuda" for a numba.cuda device function returning the partials.
        boundscheck: compile with Numba's bounds checks: an index out of range raises
            IndexError as it does with jit=False (docs/guide.md, "Errors at run time").
        parallel: compile with Numba's parallel backend: fused whole-array loops whose
            iterations write distinct entries run on NUMBA_NUM_THREADS threads (prange).
        max_tape_bytes: the tape budget of one call in bytes (None: half of the physical
            memory available when first called); tapes that would pass it raise
            TapeMemoryError before they are allocated (or, with checkpoint="auto", the loop
            is checkpointed).

    Returns:
        A GradFunction: called with f's arguments it returns the gradient, a float for a
        float argument, an array of its shape for an array, a tuple for several argnums.

    Example:
        >>> def f(x1, x2):
        ...     return (x1 + x2) * (x1 - x2)
        >>> grad(f)(3.0, 2.0)
        6.0
        >>> grad(f, argnums=(0, 1))(3.0, 2.0)
        (6.0, -4.0)
    """
    return _transform(fn, argnums, jit, checkpoint, mode, target, with_value=False,
                      boundscheck=boundscheck, parallel=parallel,
                      max_tape_bytes=max_tape_bytes)


@api_boundary
def value_and_grad(fn=None, argnums=0, *, jit=True, checkpoint=None, mode="reverse",
                   boundscheck=False, parallel=False, max_tape_bytes=None):
    """Like `grad`, but the result also gives the function's value: (f(*args), gradient),
    both from one call of the generated code.

    Parameters:
        fn, argnums, jit, checkpoint, mode, boundscheck, parallel, max_tape_bytes: as for
            `grad` (target is "cpu").

    Returns:
        A GradFunction returning (value, gradient).

    Example:
        >>> import numpy as np
        >>> def sum_of_squares(x):
        ...     s = 0.0
        ...     for i in range(len(x)):
        ...         s += x[i] ** 2
        ...     return s
        >>> value_and_grad(sum_of_squares)(np.array([2.0, 3.0]))
        (13.0, array([4., 6.]))
    """
    return _transform(fn, argnums, jit, checkpoint, mode, "cpu", with_value=True,
                      boundscheck=boundscheck, parallel=parallel,
                      max_tape_bytes=max_tape_bytes)


# both may be called inside differentiated code: the gradient is made while compiling
grad.__autodiff_factory__ = value_and_grad.__autodiff_factory__ = True
