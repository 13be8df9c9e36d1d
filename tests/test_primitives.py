"""Every primitive's derivative rules, driven by the table in tests/primitive_specs.py.

* Coverage: every primitive of the registry that user code can differentiate through (the
  `Primitive.differentiable` ones not listed in INTERNAL) has a reverse rule, a forward rule,
  a printer (`emit`) and a SPECS entry; SPECS and INTERNAL name only existing primitives.
  A reverse rule is `prim.vjp`, or `prim.reverse` where the transform differentiates the op
  as a whole (setitem, if, for); a forward rule is `prim.jvp`, or `prim.forward` (getitem,
  copy, full, setitem).
* For each case of SPECS and COMPOSITES and each of its shape combinations, a generated
  module-level function `f(x0, x1, ...)` returning the template's value (array values are
  reduced by `np.sum(value * W)` with fixed random weights W, so every entry matters):
  - the primitive occurs in the lowered function (the template reaches it);
  - check_grad (reverse mode against fourth-order central differences) < 1e-7;
  - jvp along random tangents == <grad, tangents> to 1e-10, relative to sum |grad * t|
    (forward mode against reverse mode: rounding only);
  - the values returned by jvp and value_and_grad equal the plain function's.
  All in CPython (jit=False); the tests marked numba compile a few cases with Numba and
  compare with CPython.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from checks import copies
from primitive_specs import COMPOSITES, INTERNAL, SPECS, Case, M, T, V

import autodiff_compiler.ad.forward
import autodiff_compiler.ad.reverse  # noqa: F401  (and their reverse rules)
from autodiff_compiler import check_grad, jvp, value_and_grad
from autodiff_compiler.ir.core import walk_ops
from autodiff_compiler.primitives import PRIMITIVES

SEED = 20240611
GRAD_TOL = 1e-7       # against central differences
JVP_RTOL = 1e-10      # forward against reverse
VALUE_RTOL = 1e-12    # generated code's value against the plain function's
JIT_RTOL = 1e-12      # Numba against CPython


# --------------------------------------------------------------------------------------------
# coverage of the registry
# --------------------------------------------------------------------------------------------


def _needs_rules(name: str) -> bool:
    """User code can differentiate through it: differentiable and not compiler-internal."""
    return PRIMITIVES[name].differentiable and name not in INTERNAL


def _has_reverse_rule(name: str) -> bool:
    return PRIMITIVES[name].vjp is not None or PRIMITIVES[name].reverse is not None


def _has_forward_rule(name: str) -> bool:
    return PRIMITIVES[name].jvp is not None or PRIMITIVES[name].forward is not None


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_coverage(name):
    if not _needs_rules(name):
        assert name not in SPECS or not PRIMITIVES[name].differentiable, \
            f"{name} is INTERNAL but has a SPECS entry"
        return
    prim = PRIMITIVES[name]
    missing = [what for what, ok in (("a reverse rule (vjp)", _has_reverse_rule(name)),
                                     ("a forward rule (jvp)", _has_forward_rule(name)),
                                     ("a printer (emit)", prim.emit is not None),
                                     ("a SPECS entry", name in SPECS)) if not ok]
    assert not missing, f"primitive {name!r} lacks {', '.join(missing)}"


def test_tables_name_existing_primitives():
    assert not set(SPECS) - set(PRIMITIVES), "SPECS names unknown primitives"
    assert not set(INTERNAL) - set(PRIMITIVES), "INTERNAL names unknown primitives"
    assert not set(SPECS) & set(INTERNAL), "a primitive is both in SPECS and INTERNAL"
    assert not set(COMPOSITES) & set(PRIMITIVES), "COMPOSITES names a primitive"
    for table in (SPECS, COMPOSITES):
        for name, cases in table.items():
            assert cases, f"{name} has no cases"
            for case in cases:
                assert isinstance(case, Case)
                for shapes in case.shapes:
                    assert len(shapes) == case.arity, f"{name}: {case.template} {shapes}"


# --------------------------------------------------------------------------------------------
# generated test functions
# --------------------------------------------------------------------------------------------


def _case_id(name: str, case: Case, shapes) -> str:
    tag = "x".join("s" if s == () else "(" + ",".join(map(str, s)) + ")" for s in shapes)
    prepared = f"+{case.prepare.__name__}" if case.prepare else ""
    return f"{name}:{case.template.replace(chr(10), '; ')}:{tag}{prepared}"


def _params(table: dict, check_reach: bool):
    return [pytest.param(name, case, shapes, check_reach, id=_case_id(name, case, shapes))
            for name, cases in table.items() for case in cases for shapes in case.shapes]


def _draw(case: Case, shapes, seed: int) -> list:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        args = []
        for domain, shape in zip(case.domains, shapes):
            if isinstance(domain, int):
                assert shape == (), "int operands are Python ints"
                args.append(domain)
            elif shape == ():
                args.append(float(rng.uniform(*domain)))
            else:
                args.append(rng.uniform(*domain, size=shape))
        if case.prepare is not None:
            args = case.prepare(args)
        if case.avoid is None or not case.avoid(args):
            return args
    raise AssertionError(f"no sample of {case.template} away from its kinks")


def _body(case: Case) -> tuple[list[str], str, str]:
    names = [f"x{k}" for k in range(case.arity)]
    lines = case.template.format(*names).split("\n")
    return lines[:-1], lines[-1], ", ".join(names)


def _module_source(case: Case, out_shape=(), weights=None) -> str:
    """The test function: the template's value, reduced by `np.sum(value * W)` when it is an
    array (out_shape)."""
    body, expr, params = _body(case)
    lines = ["import math", "", "import numpy as np", "import scipy.special", ""]
    if out_shape != ():
        lines.append(f"W = np.array({weights.tolist()!r})")
        expr = f"np.sum(({expr}) * W)"
    lines += ["", "", f"def f({params}):", *("    " + line for line in body),
              f"    return {expr}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("primitive_cases")


def _load(source: str, directory: Path):
    name = f"primitive_case_{zlib.crc32(source.encode()):08x}"
    if name not in sys.modules:
        path = directory / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].f


def _instance(name: str, case: Case, shapes, directory: Path):
    """(f, args, argnums) for one case and shape combination."""
    seed = SEED ^ zlib.crc32(_case_id(name, case, shapes).encode())
    args = _draw(case, shapes, seed)
    out_shape = np.shape(_load(_module_source(case), directory)(*copies(args)))
    rng = np.random.default_rng(seed + 1)
    weights = rng.uniform(0.5, 1.5, out_shape) * rng.choice([-1.0, 1.0], out_shape)
    f = _load(_module_source(case, out_shape, weights), directory)
    argnums = tuple(k for k, a in enumerate(args) if isinstance(a, (float, np.ndarray)))
    return f, args, argnums



def _close(a, b, rtol) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.maximum(
        np.maximum(np.abs(a), np.abs(b)), 1e-300)))


def _primitives_of(gf, args) -> set[str]:
    return {op.prim.name for op in walk_ops(gf.lower(*args).primal.body)}


def _run_case(name, case, shapes, check_reach, directory):
    f, args, argnums = _instance(name, case, shapes, directory)
    expected = f(*copies(args))

    vg = value_and_grad(f, argnums=argnums, jit=False)
    value, grads = vg(*copies(args))
    context = (f"\n{name}: {case.template!r} at {args}\ntest function:\n"
               f"{inspect.getsource(f)}generated:\n{vg.source}")
    if check_reach:
        assert name in _primitives_of(vg, args), \
            f"{case.template!r} does not lower to {name!r}{context}"
    assert _close(value, expected, VALUE_RTOL), f"value {value} != {expected}{context}"

    error = check_grad(f, *copies(args), argnums=argnums, jit=False)
    assert error < GRAD_TOL, f"gradient off central differences by {error:.3g}{context}" \
        f"\ngrad: {grads}"

    rng = np.random.default_rng(SEED)
    tangents = [rng.standard_normal(np.shape(a)) if k in argnums else 0 for k, a in
                enumerate(args)]
    tangents = [float(t) if np.ndim(t) == 0 and k in argnums else t
                for k, t in enumerate(tangents)]
    primal_out, tangent_out = jvp(f, copies(args), tangents, jit=False)
    assert _close(primal_out, expected, VALUE_RTOL), f"jvp value {primal_out} != {expected}"
    terms = [np.asarray(g) * np.asarray(tangents[k]) for g, k in zip(grads, argnums)]
    reference = sum(float(np.sum(t)) for t in terms)
    scale = sum(float(np.sum(np.abs(t))) for t in terms)
    assert abs(tangent_out - reference) <= JVP_RTOL * scale + 1e-300, \
        f"jvp {tangent_out!r} != <grad, tangent> {reference!r}{context}"


@pytest.mark.parametrize(("name", "case", "shapes", "check_reach"), _params(SPECS, True))
def test_primitive(name, case, shapes, check_reach, module_dir):
    _run_case(name, case, shapes, check_reach, module_dir)


@pytest.mark.parametrize(("name", "case", "shapes", "check_reach"), _params(COMPOSITES, False))
def test_composite(name, case, shapes, check_reach, module_dir):
    _run_case(name, case, shapes, check_reach, module_dir)


# --------------------------------------------------------------------------------------------
# Numba against CPython
# --------------------------------------------------------------------------------------------

_JIT_CASES = [
    ("sin", SPECS["sin"][0], (M,)),
    ("pow", SPECS["pow"][0], (M, (4,))),
    ("dot", SPECS["dot"][0], ((3, 4), (4,))),
    ("amax", SPECS["amax"][0], (M,)),
    ("slice", SPECS["slice"][6], (M,)),
    ("select", SPECS["select"][0], (M, (4,))),
    ("concatenate", SPECS["concatenate"][0], ((2, 4), (3, 4))),
    ("setitem", SPECS["setitem"][1], (M, ())),
    ("take_set", SPECS["take_set"][1], (V, (4,))),
    ("take_set", SPECS["take_set"][4], (M, (4, 4))),
    # Python's and NumPy's spellings composed of primitives
    ("pack", SPECS["pack"][3], (M,)),
    ("broadcast_to", SPECS["broadcast_to"][1], (M,)),
    ("list_append", COMPOSITES["list_append"][0], (M,)),
    ("assert_print", COMPOSITES["assert_print"][1], (V,)),
    ("np.repeat", COMPOSITES["np.repeat"][1], (T,)),
    ("np.tile", COMPOSITES["np.tile"][1], (M,)),
    ("np.roll", COMPOSITES["np.roll"][1], (M,)),
    ("np.diagonal", COMPOSITES["np.diagonal"][1], ((4, 2),)),
    ("np.sort", COMPOSITES["np.sort"][2], (V,)),
    ("norm_ord", COMPOSITES["norm_ord"][7], (M,)),
    ("np.sinc", COMPOSITES["np.sinc"][1], (V,)),
    ("np.einsum", COMPOSITES["np.einsum"][4], (T, (2, 4, 3))),
    ("stacked_matmul", COMPOSITES["stacked_matmul"][0], (T, (2, 4, 3))),
    ("np.cross", COMPOSITES["np.cross"][0], ((4, 3), (4, 3))),
    ("cholesky", SPECS["cholesky"][1], ((4, 4),)),
    ("cumprod", SPECS["cumprod"][3], (T,)),
    ("cumprod", SPECS["cumprod"][1], (M,)),
    ("digamma", SPECS["digamma"][0], (M,)),
    ("lgamma", SPECS["lgamma"][0], ((),)),
    ("scipy.special.logsumexp", COMPOSITES["scipy.special.logsumexp"][4], (T,)),
]


@pytest.mark.numba
@pytest.mark.parametrize(("name", "case", "shapes"), _JIT_CASES,
                         ids=[_case_id(*c) for c in _JIT_CASES])
def test_numba_matches_cpython(name, case, shapes, module_dir):
    assert shapes in case.shapes
    f, args, argnums = _instance(name, case, shapes, module_dir)
    value, grads = value_and_grad(f, argnums=argnums, jit=False)(*copies(args))
    jit_value, jit_grads = value_and_grad(f, argnums=argnums, jit=True)(*copies(args))
    assert _close(jit_value, value, JIT_RTOL)
    for g, jg in zip(grads, jit_grads):
        assert _close(jg, g, JIT_RTOL)
    tangents = [np.ones(np.shape(a)) if np.ndim(a) else 1.0 for a in args]
    out, dot = jvp(f, copies(args), tangents, jit=False)
    jit_out, jit_dot = jvp(f, copies(args), tangents, jit=True)
    assert _close(jit_out, out, JIT_RTOL) and _close(jit_dot, dot, JIT_RTOL)


def test_math_erf_of_an_array_is_refused():
    from autodiff_compiler import grad
    from autodiff_compiler.errors import UnsupportedOperationError

    def f(x):
        return np.sum(math.erf(x) * x)

    with pytest.raises(UnsupportedOperationError, match="NumPy has no such function"):
        grad(f, jit=False)(np.linspace(-2.0, 2.0, 7))
