"""The package's import graph has no cycles, and the user-facing modules use other modules'
public names only.

Every module of autodiff_compiler is parsed with `ast`; each `import` and `from ... import`
anywhere in it (module level, inside functions, under `if`) is an edge, with relative imports
resolved against the module's package. `from package import name` is an edge to the
submodule `package.name` when there is one, else to `package` itself (its __init__). A cycle
means one stage reaches back into another, which DESIGN.md's one-way flow forbids; a
function-level import hides the cycle from Python but not from this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "autodiff_compiler"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE



def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (__init__ as the package)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE,) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a `from` import names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[:len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `module` imports, anywhere in its source."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in known else base)
    return {t for t in targets if t in known and t != module}


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]], allowed=frozenset()) -> list[list[str]]:
    """One cycle (as a closed path of module names) per strongly connected component with
    more than one module, ignoring the `allowed` edges (Tarjan's algorithm)."""
    edges = {a: sorted(b for b in targets if (a, b) not in allowed)
             for a, targets in graph.items()}
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [_cycle_in(component, edges) for component in components]


def _cycle_in(component: set[str], edges) -> list[str]:
    """A closed path through the component, starting at its first module by name."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        step = next(w for w in edges[path[-1]] if w in component)
        if step in seen:
            return path[path.index(step):] + [step]
        path.append(step)
        seen.add(step)


def test_the_import_graph_has_no_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# The transforms users call: they reach the compiler through pipeline.compile and
# arguments.py, by public names.
USER_FACING = ("api", "jacobians", "kernels", "cli", "specialize", "sweeps")


def private_uses(path: Path) -> list[str]:
    """`from x import _name` and `obj._name` (other than self's) in a module's source."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            found += [f"import {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and not _own(node):
            found.append(f"{ast.unparse(node)} (line {node.lineno})")
    return found


def _own(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def test_user_facing_modules_use_public_names_only():
    uses = {m: private_uses(ROOT / f"{m}.py") for m in USER_FACING}
    assert not any(uses.values()), {m: u for m, u in uses.items() if u}


def test_the_graph_sees_function_level_and_relative_imports():
    graph = import_graph()
    assert f"{PACKAGE}.api" in graph[f"{PACKAGE}.gradcheck"]  # inside a function
    assert f"{PACKAGE}.ir.core" in graph[f"{PACKAGE}.transforms.simplify"]
    assert f"{PACKAGE}.primitives.registry" in graph[f"{PACKAGE}.primitives"]


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles(graph, {("c", "a")}) == []
