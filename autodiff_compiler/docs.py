"""docs/api.md, generated from the public functions' docstrings.

    python -m autodiff_compiler.docs            write docs/api.md
    python -m autodiff_compiler.docs --check    exit 1 if docs/api.md is not current

Docstrings follow one layout: a summary, paragraphs, then sections headed `Parameters:`,
`Returns:`, `Attributes:` and `Example:` (a doctest, run by tests/test_docs.py). Parameter
and attribute entries are `name: description` lines, continued by deeper indentation.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
from pathlib import Path

from . import api, batching, config, custom, errors, gradcheck, jacobians, kernels, tapes
from .backend import cache

REPO = Path(__file__).resolve().parent.parent
API_MD = REPO / "docs" / "api.md"
SECTION_NAMES = ("Parameters:", "Returns:", "Attributes:", "Example:")

#: (heading, [(name as documented, object)]) in the order of docs/api.md
SECTIONS = [
    ("Gradients", [
        ("grad", api.grad),
        ("value_and_grad", api.value_and_grad),
        ("GradFunction", api.GradFunction),
        ("Lowered", api.Lowered),
        ("TapeReport", tapes.TapeReport),
        ("TapeBytes", tapes.TapeBytes),
    ]),
    ("Forward mode, Jacobians and second derivatives", [
        ("jvp", jacobians.jvp),
        ("vjp", jacobians.vjp),
        ("jacfwd", jacobians.jacfwd),
        ("jacrev", jacobians.jacrev),
        ("hessian", jacobians.hessian),
        ("hvp", jacobians.hvp),
    ]),
    ("Your own rules, batching", [
        ("custom_vjp", custom.custom_vjp),
        ("custom_jvp", custom.custom_jvp),
        ("vmap", batching.vmap),
    ]),
    ("Checking gradients", [
        ("check_grad", gradcheck.check_grad),
        ("numerical_grad", gradcheck.numerical_grad),
        ("GradientMismatchError", gradcheck.GradientMismatchError),
    ]),
    ("CUDA", [
        ("grad_kernel", kernels.grad_kernel),
        ("tangent_kernel", kernels.tangent_kernel),
        ("kernels.device_grad", kernels.device_grad),
        ("kernels.device_jvp", kernels.device_jvp),
    ]),
    ("Settings", [
        ("set_cache_dir", cache.set_cache_dir),
        ("config.show_internal_frames", config),
    ]),
    ("Errors", [
        ("AutodiffSyntaxError", errors.AutodiffSyntaxError),
        ("UnsupportedOperationError", errors.UnsupportedOperationError),
        ("GradientInputError", errors.GradientInputError),
        ("CompilationError", errors.CompilationError),
        ("TapeMemoryError", errors.TapeMemoryError),
    ]),
]


def documented() -> list[tuple[str, object]]:
    """Every (name, object) docs/api.md documents, classes' public methods included."""
    entries = []
    for _, items in SECTIONS:
        for name, obj in items:
            entries.append((name, obj))
            entries.extend((f"{name}.{attr}", member) for attr, member in members(obj))
    return entries


def members(obj) -> list[tuple[str, object]]:
    """The public methods and properties a class defines itself (not inherited)."""
    if not inspect.isclass(obj) or issubclass(obj, BaseException):
        return []
    return [(attr, member) for attr, member in vars(obj).items()
            if not attr.startswith("_") and attr not in _COMPILER_HOOKS
            and (callable(member) or isinstance(member, property))]


# methods the compiler itself calls (the frontend lowers a call of a custom rule through it)
_COMPILER_HOOKS = {"lowered"}


def signature(name: str, obj) -> str:
    """The heading of an entry: the call with its parameters, `class X(Base)` or the name."""
    if inspect.ismodule(obj) or isinstance(obj, property):
        return name
    if inspect.isclass(obj):
        bases = [b.__name__ for b in obj.__bases__ if b is not object]
        return f"class {name}" + (f"({', '.join(bases)})" if bases else "")
    parameters = list(inspect.signature(obj).parameters.values())
    if parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    text = str(inspect.Signature(parameters))
    return f"{name}{text}"


def render_docstring(doc: str) -> list[str]:
    """Markdown for one docstring: paragraphs as they are, parameter lists as lists, the
    example as a code block."""
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    section = None
    body: list[str] = []

    def flush():
        while body and not body[-1].strip():
            body.pop()
        if section is None:
            out.extend(body)
        elif section in ("Parameters:", "Attributes:"):
            out.append(f"**{section[:-1]}**")
            out.append("")
            out.extend(_entries(body))
        elif section == "Returns:":
            out.append("**Returns** " + " ".join(line.strip() for line in body if line.strip()))
        else:
            out.append("**Example**")
            out.append("")
            out.append("```python")
            out.extend(textwrap.dedent("\n".join(body)).strip("\n").splitlines())
            out.append("```")
        out.append("")

    for line in lines:
        if line.strip() in SECTION_NAMES and not line.startswith(" "):
            flush()
            section, body = line.strip(), []
        else:
            body.append(line)
    flush()
    while out and not out[-1]:
        out.pop()
    return out


def _entries(body: list[str]) -> list[str]:
    """`name: text` lines (continued by deeper indentation) as a Markdown list."""
    items: list[list[str]] = []
    for line in textwrap.dedent("\n".join(body)).splitlines():
        if not line.strip():
            continue
        if line.startswith(" ") and items:
            items[-1].append(line.strip())
        else:
            items.append([line.strip()])
    out = []
    for item in items:
        name, _, text = item[0].partition(": ")
        out.append(f"- `{name}`: " + " ".join([text] + item[1:]).strip())
    return out


def render() -> str:
    """The text of docs/api.md."""
    out = ["# API reference", "",
           ("Generated from the docstrings by `python -m autodiff_compiler.docs` (do not edit "
            "by hand: tests/test_docs.py checks that this file is current, and runs every "
            "example). Everything here is importable from `autodiff_compiler` except "
            "`kernels.*` (`from autodiff_compiler.kernels import ...`)."), ""]
    for heading, items in SECTIONS:
        out.append(f"- {heading}: " + ", ".join(f"[`{name}`](#{_anchor(name)})"
                                                  for name, _ in items))
    for heading, items in SECTIONS:
        out += ["", f"## {heading}"]
        for name, obj in items:
            out += ["", f"### `{signature(name, obj)}`", "<a id=\"" + _anchor(name) + "\"></a>",
                    ""]
            out += render_docstring(inspect.getdoc(obj) or "")
            for attr, member in members(obj):
                target = member.fget if isinstance(member, property) else member
                out += ["", f"#### `{signature(f'{name}.{attr}', member)}`", ""]
                out += render_docstring(inspect.getdoc(target) or "")
    return "\n".join(out) + "\n"


def _anchor(name: str) -> str:
    return name.lower().replace(".", "-")


def main(argv=None) -> int:
    """Write docs/api.md, or with --check report whether it is current (exit status 1 if
    not)."""
    parser = argparse.ArgumentParser(prog="python -m autodiff_compiler.docs",
                                     description="Generate docs/api.md from the docstrings.")
    parser.add_argument("--check", action="store_true",
                        help="do not write: exit 1 when docs/api.md differs")
    options = parser.parse_args(argv)
    text = render()
    current = API_MD.read_text() if API_MD.exists() else ""
    if options.check:
        if current != text:
            print(f"{API_MD} is not current: run python -m autodiff_compiler.docs",
                  file=sys.stderr)
            return 1
        return 0
    API_MD.parent.mkdir(parents=True, exist_ok=True)
    API_MD.write_text(text)
    print(f"wrote {API_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
