"""The primitives' traits against NumPy itself, and the architecture they make possible.

* The view trait: for every case of the spec table (tests/primitive_specs.py), and for the
  spellings that make views (slices, rows, transposes, new axes, reshapes, np.diag), the
  template is lowered and the op that makes its result is found; NumPy's own result on the
  sample operands shares memory with operand 0 (np.shares_memory) exactly when that op's
  primitive says it may (`Primitive.is_view`), and always when it says it always does. A
  primitive whose NumPy result is a view but which lacks the trait would let a write show
  through unseen (a silently wrong value), so the list can never fall out of step.
* The linear trait: a primitive that says its derivative never reads its float operands is
  affine in them, checked on the spec cases built of linear ops only.
* The broadcast_shape trait: a primitive that says its result has the broadcast shape of its
  array operands (analysis.shapes relies on it to keep a loop's tape in rows of one shape)
  gives exactly that shape in NumPy, on every case of the spec table.
* Passes ask traits: no pass outside frontend/ and primitives/ compares a primitive's name.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from primitive_specs import SPECS

from autodiff_compiler.frontend.lower import lower_function
from autodiff_compiler.frontend.reader import read_function
from autodiff_compiler.ir.types import Type
from autodiff_compiler.primitives import PRIMITIVES

PACKAGE = Path(__file__).resolve().parents[1] / "autodiff_compiler"

# spellings that make (or may make) views, beyond the spec table: (template, shapes)
VIEW_SPELLINGS = [
    ("{0}[1:3]", [(5,), (4, 3)]),
    ("{0}[::2]", [(5,), (4, 3)]),
    ("{0}[1]", [(4, 3), (2, 3, 4)]),
    ("{0}[:, 1]", [(4, 3)]),
    ("{0}[None, :]", [(4,)]),
    ("{0}.T", [(4, 3)]),
    ("np.transpose({0})", [(4, 3)]),
    ("{0}.reshape(2, 6)", [(3, 4)]),
    ("{0}.T.reshape(12)", [(3, 4)]),  # reshape of a non-contiguous array: a copy
    ("np.ravel({0})", [(3, 4)]),
    ("{0}.T.ravel()", [(3, 4)]),
    ("np.diag({0})", [(3, 3), (4,)]),
    ("np.copy({0})", [(4,)]),
    ("{0} * 1.0", [(4,)]),
]


def _cases():
    params = []
    for name, cases in SPECS.items():
        for case in cases:
            if "\n" in case.template:
                continue
            for shapes in case.shapes:
                if shapes and shapes[0] != () and not isinstance(case.domains[0], int):
                    params.append(pytest.param(case.template, case.domains, shapes,
                                               id=f"{name}:{case.template}:{shapes}"))
    for template, shapes in VIEW_SPELLINGS:
        for shape in shapes:
            params.append(pytest.param(template, ((-1, 1),), (shape,),
                                       id=f"view:{template}:{shape}"))
    return params


def _sample(domains, shapes, rng):
    args = []
    for domain, shape in zip(domains, shapes):
        if isinstance(domain, int):
            args.append(domain)
        elif shape == ():
            args.append(float(rng.uniform(*domain)))
        else:
            args.append(rng.uniform(*domain, size=shape))
    return args


def _function(template: str, arity: int, tmp_path: Path, tag: str):
    names = ", ".join(f"x{k}" for k in range(arity))
    source = (f"import math\n\nimport numpy as np\nimport scipy.special\n\n\ndef f({names}):\n"
              f"    return {template.format(*[f'x{k}' for k in range(arity)])}\n")
    path = tmp_path / f"view_case_{tag}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module.f


def _type(value) -> Type:
    if isinstance(value, int):
        return Type("int")
    if isinstance(value, float):
        return Type("float")
    return Type("float", value.ndim)


@pytest.mark.parametrize("template,domains,shapes", _cases())
def test_view_trait_matches_numpy(template, domains, shapes, tmp_path):
    rng = np.random.default_rng(7)
    args = _sample(domains, shapes, rng)
    f = _function(template, len(args), tmp_path, str(abs(hash((template, shapes)))))
    result = f(*args)
    if not isinstance(result, np.ndarray):
        return  # a number shares no memory
    numpy_view = bool(np.shares_memory(result, args[0]))
    fn = lower_function(read_function(f), [_type(a) for a in args])
    chain = _view_chain(fn, fn.body.ops[-1].operands[0])
    names = " of ".join(op.prim.name for op in chain) or "ops that are not views"
    if not chain:
        assert not numpy_view, f"{template}: NumPy's result is a view of x0, but the " \
                               "lowered code makes it by ops that are not views of x0"
        return
    assert numpy_view or not all(op.prim.always_view(op) for op in chain), \
        f"{template}: {names} say they always view x0; NumPy copied"


def _view_chain(fn, value) -> list:
    """The view ops that make `value` from parameter 0 (outermost first), or [] when it is
    not made from x0 by views alone."""
    producers = {id(r): op for op in fn.body.ops for r in op.results}
    chain = []
    while value is not fn.params[0]:
        op = producers.get(id(value))
        if op is None or not op.prim.is_view(op):
            return []
        chain.append(op)
        value = op.operands[0]
    return chain


def test_every_spec_primitive_declares_its_view_trait():
    """A primitive with a spec has a definite answer: a bool, "maybe", or a predicate."""
    for name in SPECS:
        view = PRIMITIVES[name].view
        assert view in (False, True, "maybe") or callable(view), name


# --- passes ask traits, never names ---------------------------------------------------------
_PASSES = ("ir", "analysis", "ad", "transforms", "codegen", "backend")


def _name_dispatch_sites(path: Path) -> list[str]:
    """Comparisons of a primitive's name (`prim.name == ...`, `... .name in (...)`) in a
    module, outside error messages and the printer's own text."""
    tree = ast.parse(path.read_text())
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Attribute) and side.attr == "name" and \
                        isinstance(side.value, ast.Attribute) and side.value.attr == "prim":
                    sites.append(f"{path.name}:{node.lineno}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "getattr":
            text = ast.unparse(node)
            if "prim.name" in text:
                sites.append(f"{path.name}:{node.lineno}")
    return sites


def test_passes_dispatch_on_primitives_not_names():
    sites = [site for package in _PASSES for path in sorted((PACKAGE / package).glob("*.py"))
             for site in _name_dispatch_sites(path)]
    assert not sites, f"passes compare primitive names: {sites}"


def test_builder_calls_outside_the_frontend_name_no_primitive_by_string():
    """Derivative rules and passes build ops from handles (`b(add_p, x, y)`), never from
    name strings; the frontend's table is the one place names become primitives."""
    call = re.compile(r"\b(?:b|inner|self\.b|builder)(?:\.op)?\(\s*\"([a-z_0-9]+)\"")
    found = []
    for package in (*_PASSES, "primitives"):
        for path in sorted((PACKAGE / package).glob("*.py")):
            for match in call.finditer(path.read_text()):
                if match.group(1) in PRIMITIVES:
                    found.append(f"{path.name}: {match.group(0)}")
    assert not found, found


def _linear_in_floats(f, shapes, domains) -> bool:
    """f(a + t*(b - a)) - f(a) == t * (f(b) - f(a)) for random a, b and t: affine in its
    float operands (ints and masks held fixed)."""
    rng = np.random.default_rng(3)
    a, b = _sample(domains, shapes, rng), _sample(domains, shapes, rng)
    b = [y if isinstance(y, (np.ndarray, float)) else x for x, y in zip(a, b)]
    t = 0.37
    mixed = [x + t * (y - x) if isinstance(x, (np.ndarray, float)) else x for x, y in zip(a, b)]
    left = np.asarray(f(*mixed)) - np.asarray(f(*a))
    right = t * (np.asarray(f(*b)) - np.asarray(f(*a)))
    return np.allclose(left, right, rtol=1e-9, atol=1e-12)


def _composed_of_linear_ops(f, args, prim) -> bool:
    """Whether f lowers to `prim` and ops that are linear or carry no derivative only (so f
    must be affine in its float arguments when `prim` is linear)."""
    fn = lower_function(read_function(f), [_type(a) for a in args])
    ops = [op for op in fn.body.ops if not op.prim.terminator]
    return any(op.prim is prim for op in ops) and \
        all(op.prim.linear or not op.prim.differentiable for op in ops)


@pytest.mark.parametrize("name", sorted(n for n in SPECS if PRIMITIVES[n].linear))
def test_linear_trait_holds(name, tmp_path):
    """A primitive that says its derivative never reads its float operands is affine in them
    (snapshots of its operands before later writes are skipped on that word). Checked on
    the spec cases made of linear ops only."""
    for case in SPECS[name]:
        if "\n" in case.template:
            continue
        for shapes in case.shapes:
            f = _function(case.template, case.arity, tmp_path,
                          "lin" + str(abs(hash((case.template, shapes)))))
            args = _sample(case.domains, shapes, np.random.default_rng(1))
            if _composed_of_linear_ops(f, args, PRIMITIVES[name]):
                assert _linear_in_floats(f, shapes, case.domains), f"{name}: {case.template}"


def _broadcast_cases():
    params = []
    for name, cases in SPECS.items():
        if not PRIMITIVES[name].broadcast_shape:
            continue
        for case in cases:
            if "\n" in case.template or any(isinstance(d, int) for d in case.domains):
                continue
            params += [pytest.param(case.template, case.domains, shapes,
                                    id=f"{name}:{case.template}:{shapes}")
                       for shapes in case.shapes]
    return params


@pytest.mark.parametrize("template,domains,shapes", _broadcast_cases())
def test_broadcast_shape_trait_matches_numpy(template, domains, shapes, tmp_path):
    args = _sample(domains, shapes, np.random.default_rng(5))
    f = _function(template, len(args), tmp_path, str(abs(hash((template, shapes)))))
    arrays = [a.shape for a in args if isinstance(a, np.ndarray)]
    assert np.shape(f(*args)) == (np.broadcast_shapes(*arrays) if arrays else ())
