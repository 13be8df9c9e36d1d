"""The one way through the compiler: `compile` one function, specialised to its argument
types, for one mode and target, to an Artifact.

source -> fence -> SSA frontend -> derivative ad -> dead code removed transforms ->
Python source codegen -> module file and function (backend).

Every transform enters here: grad and value_and_grad, vjp and jacrev, jvp and jacfwd,
hessian and hvp, the CUDA device functions and kernels, and `show`. Each mode runs only its
own transform (a vjp never needs a tangent sweep, nor a grad a forward one), and says with a
`Layout` how the generated function's arguments and results split, so that callers take
outputs, gradients, tangents and tapes by name instead of slicing by position.

    target  mode    generated function
    cpu     primal  args -> outputs...                      the function itself
    cpu     grad    args -> (out, grads...)                    reverse, seeded with 1
    cpu     nested  args -> (out, grads...)     as grad, its tapes made inside (no tape
                                                arguments): the form an outer derivative inlines
    cpu     vjp     (args, out cotangents) -> (outputs..., grads...)   reverse
    cpu     jvp     (args, tangents) -> (outputs..., output tangents...)   forward
    cpu     hvp     (args, tangents) -> (out, grads..., out tangent, grad tangents...)
                                                                forward over reverse
    device  grad    args -> partial or partials...           one tangent sweep each
    device  jvp     (args, tangents) -> (outputs..., output tangents...)
    kernel  vjp     (args, out cotangents, adjoint arrays accumulated into[, tape_overflow])
    kernel  jvp     (args, tangents, arrays receiving the output tangents)
CPU functions whose adjoint tapes are kept take the tapes as trailing arguments and return
them last; Artifact.run hands back the last call's. Those that allocate tapes take the tape
budget in bytes as their last argument (budget.py) and raise TapeMemoryError rather than
allocate past it.
"""

from __future__ import annotations

import ast
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import primitives  # noqa: F401  (registers the primitives)
from .ad.forward import forward_mode, kernel_tangent
from .ad.kernel import _kernel_outputs, kernel_adjoint
from .ad.reverse import reverse_mode
from .ad.tape_size import NO_LIMIT, size_plan
from .analysis.aliasing import check_views
from .backend import cuda as cuda_backend
from .backend.cache import import_module, write_module
from .backend.jit import Compiled
from .budget import resolve as resolve_budget
from .codegen.emit import emit_module, unparse
from .errors import GradientInputError, UnsupportedOperationError
from .frontend.lower import lower_function
from .frontend.reader import read_function
from .frontend.source import ParsedFunction
from .ir.core import Function, walk_ops
from .ir.printer import format_function
from .ir.types import Type
from .ir.verifier import verify
from .tapes import TapeBytes
from .transforms.accumulate import accumulate_in_place
from .transforms.cse import cse
from .transforms.fuse import fuse as fuse_loops
from .transforms.parallel import parallel_loops
from .transforms.precision import float32_code
from .transforms.shape_sources import shape_sources
from .transforms.strength import reduce_strength
from .transforms.views import remake_views_after_writes
from .version import __version__

MODES = {"cpu": ("primal", "grad", "vjp", "jvp", "hvp", "nested"), "device": ("grad", "jvp"),
         "kernel": ("vjp", "vjp_atomic", "jvp")}
logger = logging.getLogger("autodiff_compiler")


@dataclass(frozen=True)
class Layout:
    """How a generated function's arguments and results split, as counts in order.

    Arguments: the primal's `params`, then `seeds` (tangents of the differentiated arguments,
    or cotangents of the outputs), then `receivers` (kernels: arrays the derivative is
    written or accumulated into), then `tapes`, then `budget` (1: the tape budget in bytes).
    Results: `outputs` (the function's own; for hvp its value and gradients), `gradients`
    (one per differentiated argument), `output_tangents`, `gradient_tangents` hvp, then
    `tapes`."""

    params: int
    seeds: int = 0
    receivers: int = 0
    outputs: int = 0
    gradients: int = 0
    output_tangents: int = 0
    gradient_tangents: int = 0
    tapes: int = 0
    budget: int = 0

    @property
    def arguments(self) -> int:
        return self.params + self.seeds + self.receivers + self.tapes + self.budget

    @property
    def results(self) -> int:
        return (self.outputs + self.gradients + self.output_tangents + self.gradient_tangents
                + self.tapes)

    def split(self, results) -> Results:
        """The results of one call (tapes already taken off), by kind."""
        results = tuple(results) if isinstance(results, (tuple, list)) else (results,)
        if len(results) != self.results - self.tapes:
            raise RuntimeError(f"generated code returned {len(results)} values, its layout "
                               f"says {self.results - self.tapes}")
        groups, start = {}, 0
        for kind in ("outputs", "gradients", "output_tangents", "gradient_tangents"):
            count = getattr(self, kind)
            groups[kind] = list(results[start:start + count])
            start += count
        return Results(**groups)


@dataclass
class Results:
    """One call's results, split by its Layout."""

    outputs: list = field(default_factory=list)
    gradients: list = field(default_factory=list)
    output_tangents: list = field(default_factory=list)
    gradient_tangents: list = field(default_factory=list)


@dataclass
class Artifact:
    """Everything the compiler made for one specialisation: the primal SSA, the derived
    function (`adjoint`, whatever the mode), the module source and, once loaded, the
    callable (a Compiled for the CPU, a numba.cuda device function or kernel)."""

    primal: Function
    adjoint: Function
    source: str
    layout: Layout
    mode: str = "grad"
    target: str = "cpu"
    name: str = ""  # the module's entry function (the derived one unless a wrapper calls it)
    path: object = None
    compiled: object = None
    tapes: list | None = None  # the last call's tape arrays, handed back to the next call
    transform_time: float = 0.0  # seconds from the source to the loaded module
    parallel: bool = False  # compiled with Numba's parallel backend
    sizer: tuple | None = None  # (ad.tape_size.SizePlan, its loaded function), made on demand

    def arguments(self, *args, budget: int | None = None) -> tuple:
        """`args` with the tapes a call passes last (the last call's, else empty ones) and
        the tape budget in bytes (None: the default, budget.default_budget)."""
        kinds = self.adjoint.tape_kinds
        tapes = self.tapes
        if tapes is None:  # empty tapes of each one's type (arrays: rows of the value's rank)
            tapes = [np.empty((0,) * t.ndim, dtype=t.dtype) for t in kinds]
        limit = (resolve_budget(budget),) if self.adjoint.budgeted else ()
        return (*args, *tapes, *limit)

    def compile(self, *args) -> float:
        """Compile the loaded CPU function with Numba for arguments like `args` (as `run`
        takes them) without running it; returns the seconds Numba took (0 without jit)."""
        return self.compiled.compile(self.arguments(*args))

    def run(self, *args, budget: int | None = None) -> tuple:
        """Call the compiled CPU function with the tape budget `budget` (bytes; None: the
        default); tapes that come back are kept for the next call (a call while another
        holds them gets fresh ones)."""
        _check_unshared(self.primal.copied_params, args[:len(self.primal.params)])
        kinds = self.adjoint.tape_kinds
        if not kinds and not self.adjoint.budgeted:
            return self._float32(self.compiled(*args))
        arguments = self.arguments(*args, budget=budget)
        if not kinds:
            return self._float32(self.compiled(*arguments))
        self.tapes = None
        results = self.compiled(*arguments)
        self.tapes = list(results[-len(kinds):])
        return self._float32(results[:-len(kinds)])

    def _float32(self, results):
        """`results` with its float32 numbers as np.float32 (Numba and math functions give
        Python floats; the value is a float32 one)."""
        positions = self._float32_numbers
        if not positions:
            return results
        if not isinstance(results, tuple):
            return np.float32(results)
        return tuple(np.float32(r) if k in positions else r for k, r in enumerate(results))

    @cached_property
    def _float32_numbers(self) -> frozenset:
        """Positions of the results that are float32 numbers."""
        return frozenset(k for k, v in enumerate(self.adjoint.body.ops[-1].operands)
                         if v.type.is_float32 and not v.type.is_array)

    def call(self, *args, budget: int | None = None) -> Results:
        """`run`, with the results split by kind."""
        return self.layout.split(self.run(*args, budget=budget))

    def tape_bytes(self, *args) -> TapeBytes:
        """The bytes of the tapes a call with `args` (as `run` takes them) allocates, from
        sizes known before its loops run (ad.tape_size; computed by CPython, no loop runs)."""
        if self.sizer is None:
            plan = size_plan(self.adjoint)
            function = None
            if plan.function is not None:
                source = emit_module([plan.function], f"{self.adjoint.filename} "
                                     f"({self.adjoint.name})", __version__)
                function = _load_module(source, plan.function.name, plan.function.constants,
                                        jit=False)[0]
            self.sizer = (plan, function)
        plan, function = self.sizer
        nbytes = 0 if function is None else int(function(*self.arguments(*args,
                                                                          budget=NO_LIMIT)))
        return TapeBytes(nbytes, plan.growing, plan.unknown)

    @property
    def ir(self) -> str:
        return format_function(self.adjoint)

    @property
    def primal_ir(self) -> str:
        return format_function(self.primal)


def _check_unshared(written: list[int], args) -> None:
    """Refuse an array argument the function writes into that shares memory with another
    argument: NumPy would show the write through the other one; the compiled code, which
    writes into a copy, would not."""
    for k in written:
        for j, other in enumerate(args):
            if j != k and isinstance(other, np.ndarray) and np.shares_memory(args[k], other):
                raise GradientInputError(
                    f"arguments {k} and {j} share memory and the function writes into argument "
                    f"{k}: NumPy would show the write through argument {j}; pass a copy "
                    "(np.copy) of one of them")


def parse(fn, method: bool = False) -> ParsedFunction:
    """Read and fence `fn`, then remove its jumps out of loops (frontend.jumps); method: fn
    is a bound method's function (its self attributes become leading parameters)."""
    return read_function(fn, method)


def compile(parsed: ParsedFunction, types: list[Type], argnums: list[int], mode: str = "grad",
            target: str = "cpu", checkpoint=None, *, jit: bool = True, load: bool = True,
            single: bool = False, boundscheck: bool = False, fuse: bool | None = None,
            parallel: bool = False, max_trip: int | None = None) -> Artifact:
    """Compile `parsed` for argument `types`, differentiated w.r.t. `argnums`, in one mode
    for one target (see the module docstring). checkpoint: reverse-mode checkpointing of long
    loops (cpu grad and vjp). load=False stops at the source (nothing written or imported);
    jit: compile CPU code with Numba on its first call. single: a device gradient of one
    argument returns the partial itself rather than a 1-tuple. boundscheck: Numba checks
    indices (CPU code). fuse: chains of whole-array operations become loop nests
    (transforms/fuse.py; by default for CPU code Numba compiles: the interpreter runs NumPy's
    own loops faster). parallel: Numba's parallel backend; fused loops and race-free counted
    loops (transforms/parallel.py) run with prange. max_trip: kernel adjoints, the most
    iterations a loop whose trip count is known at run time only runs in one thread
    (ad.kernel)."""
    if mode not in MODES.get(target, ()):
        raise ValueError(f"unknown derivative mode {mode!r} for target {target!r}")
    start = time.perf_counter()
    primal = cse(remake_views_after_writes(
        lower_function(parsed, types, kernel=target == "kernel")))
    verify(primal)
    if target == "cpu":
        check_views(primal)
    options = max_trip if target == "kernel" else checkpoint
    derived, layout = _DERIVE[target, mode](primal, list(argnums), options)
    verify(derived)
    derived = float32_code(derived)
    if fuse if fuse is not None else jit and target == "cpu":
        derived = accumulate_in_place(fuse_loops(shape_sources(derived), parallel))
        verify(derived)
    if parallel and target == "cpu":
        derived = parallel_loops(derived)
    if jit and target == "cpu":
        derived = reduce_strength(derived)
    name, extra = derived.name, ""
    if (target, mode) == ("device", "grad"):
        name = primal.name + "_grad"
        extra = gradient_wrapper(name, derived.name, primal.param_names, len(argnums), single)
    else:
        _check_layout(derived, layout)
    origin = f"{parsed.filename}:{parsed.first_line} ({parsed.node.name})"
    source = emit_module([derived], origin, __version__, cuda=target != "cpu", extra=extra)
    artifact = Artifact(primal, derived, source, layout, mode, target, name)
    artifact.parallel = parallel
    if load:
        _LOAD[target](artifact, jit, boundscheck)
    artifact.transform_time = time.perf_counter() - start
    logger.info("%s: %s code for (%s) generated in %.3f s", parsed.node.name, mode,
                ", ".join(str(t) for t in types), artifact.transform_time)
    return artifact


def load(artifact: Artifact, jit: bool = True, boundscheck: bool = False) -> Artifact:
    """Write, import and wrap an artifact compiled with load=False (as compile(load=True)
    does); returns it."""
    _LOAD[artifact.target](artifact, jit, boundscheck)
    return artifact


# --- one derivative per (target, mode): (derived function, its layout) ----------------------

def _outputs(fn: Function) -> int:
    return len(fn.body.ops[-1].operands)


def _cpu_primal(primal, argnums, checkpoint):
    return primal, Layout(len(primal.params), outputs=_outputs(primal))


def _cpu_reverse(seeded: bool, reuse_tapes: bool = True):
    def derive(primal, argnums, checkpoint):
        adjoint = reverse_mode(primal, argnums, seeded=seeded, checkpoint=checkpoint,
                               reuse_tapes=reuse_tapes, budget=True)
        outputs = _outputs(primal)
        return adjoint, Layout(len(primal.params), seeds=outputs if seeded else 0,
                               outputs=outputs, gradients=len(argnums),
                               tapes=len(adjoint.tape_kinds), budget=int(adjoint.budgeted))

    return derive


def _forward(primal, argnums, checkpoint):
    outputs = _outputs(primal)
    return forward_mode(primal, argnums), Layout(len(primal.params), seeds=len(argnums),
                                                 outputs=outputs, output_tangents=outputs)


def _cpu_hvp(primal, argnums, checkpoint):  # tangents do not go through checkpoints
    adjoint = reverse_mode(primal, argnums, budget=True)
    verify(adjoint)
    n = len(argnums)
    hvp = forward_mode(adjoint, argnums, name=f"{primal.name}_hvp")
    return hvp, Layout(len(primal.params), seeds=n, outputs=1, gradients=n, output_tangents=1,
                       gradient_tangents=n, budget=int(hvp.budgeted))


def _device_grad(primal, argnums, checkpoint):
    """The tangent code, which needs no tape (threads cannot grow one); the gradient is
    the wrapper of gradient_wrapper around it."""
    jvp_fn = forward_mode(primal, argnums, name=primal.name + "_jvp")
    return jvp_fn, Layout(len(primal.params), gradients=len(argnums))


def _kernel_vjp(block_sums: bool):
    """vjp: parameter adjoints summed per block; vjp_atomic: one atomic add per thread."""
    def derive(primal, argnums, max_trip):
        adjoint = kernel_adjoint(primal, argnums, block_sums=block_sums, max_trip=max_trip)
        seeds = len(_kernel_outputs(primal, argnums))
        # bounded thread-local tapes: their overflow flag is the last receiver
        receivers = len(adjoint.params) - len(primal.params) - seeds
        return adjoint, Layout(len(primal.params), seeds=seeds, receivers=receivers)

    return derive


def _kernel_jvp(primal, argnums, checkpoint):
    outputs = _kernel_outputs(primal, argnums)
    return (kernel_tangent(primal, argnums, outputs),
            Layout(len(primal.params), seeds=len(argnums), receivers=len(outputs)))


_DERIVE = {
    ("cpu", "primal"): _cpu_primal, ("cpu", "grad"): _cpu_reverse(False),
    ("cpu", "vjp"): _cpu_reverse(True), ("cpu", "jvp"): _forward, ("cpu", "hvp"): _cpu_hvp,
    ("cpu", "nested"): _cpu_reverse(False, reuse_tapes=False),
    ("device", "grad"): _device_grad, ("device", "jvp"): _forward,
    ("kernel", "vjp"): _kernel_vjp(True), ("kernel", "vjp_atomic"): _kernel_vjp(False),
    ("kernel", "jvp"): _kernel_jvp,
}


def _check_layout(fn: Function, layout: Layout) -> None:
    """The derived function has the arguments and results its layout says."""
    if len(fn.params) != layout.arguments or _outputs(fn) != layout.results:
        raise AssertionError(f"{fn.name}: {len(fn.params)} arguments and {_outputs(fn)} "
                             f"results, but its layout is {layout}")


# --- the device gradient: a wrapper calling the tangent code per argument -----------------

def gradient_wrapper(name: str, jvp_name: str, params: list[str], count: int,
                     single: bool) -> str:
    """A device function calling the tangent code once per differentiated argument (a unit
    seed each) and returning the partials, built as a Python AST."""
    def load(n):
        return ast.Name(n, ast.Load())

    body = []
    for k in range(count):
        seeds = [ast.Constant(1.0 if j == k else 0.0) for j in range(count)]
        call = ast.Call(load(jvp_name), [load(p) for p in params] + seeds, [])
        store = ast.Tuple([ast.Name("value", ast.Store()), ast.Name(f"d{k}", ast.Store())],
                          ast.Store())
        body.append(ast.Assign([store], call))
    partials = [load(f"d{k}") for k in range(count)]
    body.append(ast.Return(partials[0] if single else ast.Tuple(partials, ast.Load())))
    return unparse(_function_def(name, params, body)) + "\n"


def _function_def(name: str, params: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params],
                              kwonlyargs=[], kw_defaults=[], defaults=[])
    node = ast.FunctionDef(name, arguments, body, decorator_list=[], returns=None)
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        node.type_params = []
    return node


# --- loading: module file, import, compiled callable ----------------------------------------

def _scipy_installed() -> bool:
    try:
        import scipy.linalg.cython_lapack  # noqa: F401
    except ImportError:
        return False
    return True


def _check_lapack(fn: Function) -> None:
    """Numba compiles np.linalg's factorisations through SciPy's LAPACK bindings: without
    SciPy, refuse them at the user's line now rather than fail inside Numba later."""
    for op in walk_ops(fn.body):
        if op.prim.lapack and not _scipy_installed():
            raise UnsupportedOperationError(
                "compiling this np.linalg function with Numba needs SciPy (Numba calls LAPACK "
                "through it): install scipy, or pass jit=False", op.loc)


def _load_cpu(artifact: Artifact, jit: bool, boundscheck: bool = False) -> None:
    if jit:
        _check_lapack(artifact.adjoint)
    # Globals and closure arrays are read as constants: copied now, so both modes see their
    # values at compile time (Numba freezes them into the machine code); the source names
    # their digests, so other values make another module (and Numba cache entry). A custom
    # rule's function is bound for the mode instead.
    checked = "-boundscheck" if boundscheck and jit else ""  # Numba's cache ignores the flag
    checked += "-parallel" if artifact.parallel and jit else ""
    function, artifact.path, rules = _load_module(artifact.source, artifact.name,
                                                  artifact.adjoint.constants, jit, checked)
    # Numba's cache does not see changes of the functions it calls: none where rules are
    artifact.compiled = Compiled(function, artifact.path, jit, boundscheck, cache=not rules,
                                 parallel=artifact.parallel)


def _load_module(source: str, name: str, constants: dict, jit: bool, tag: str = ""):
    """(function `name` of the written and imported module, its path, whether it calls
    custom rules), its constants set."""
    values, rules = {}, False
    for constant, value in constants.items():
        if isinstance(value, np.ndarray):
            values[constant] = np.array(value, copy=True)
        else:
            values[constant], rules = value.bind(jit), True
    path = write_module(source, name, __version__ + tag)
    module = import_module(path, source)
    for constant, value in values.items():
        setattr(module, constant, value)
    return getattr(module, name), path, rules


def _load_device(artifact: Artifact, jit: bool, boundscheck: bool = False) -> None:
    """A device function; the tangent code a gradient wrapper calls is one as well."""
    module = cuda_backend.load(artifact.source, artifact.name)
    derived = artifact.adjoint.name
    module.__dict__[derived] = cuda_backend.device(getattr(module, derived))
    entry = getattr(module, artifact.name)
    artifact.compiled = entry if artifact.name == derived else cuda_backend.device(entry)


def _load_kernel(artifact: Artifact, jit: bool, boundscheck: bool = False) -> None:
    module = cuda_backend.load(artifact.source, artifact.name)
    artifact.compiled = cuda_backend.kernel(getattr(module, artifact.name))


_LOAD = {"cpu": _load_cpu, "device": _load_device, "kernel": _load_kernel}
