"""The documentation: every public function's docstring has parameters, returns and an
example; the examples run (doctest, over every module of the package); docs/api.md is the
one generated from the docstrings.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import autodiff_compiler
from autodiff_compiler import docs
from autodiff_compiler.backend import cache

REPO = Path(__file__).resolve().parent.parent
HAS_CUDA = importlib.util.find_spec("numba.cuda") is not None


def package_modules() -> list[str]:
    names = [autodiff_compiler.__name__]
    for info in pkgutil.walk_packages(autodiff_compiler.__path__, autodiff_compiler.__name__ + "."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


def modules_with_examples() -> list[str]:
    finder = doctest.DocTestFinder()
    found = []
    for name in package_modules():
        module = importlib.import_module(name)
        if any(test.examples for test in finder.find(module, name)):
            found.append(name)
    return found


@pytest.fixture
def keep_cache_dir():
    """set_cache_dir's own example changes the cache directory: put it back."""
    before = cache.cache_dir()
    yield
    cache.set_cache_dir(before)


@pytest.mark.numba
@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name, keep_cache_dir):
    if name == "autodiff_compiler.kernels" and not HAS_CUDA:
        pytest.skip("numba-cuda (the cuda extra)")
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"


def test_the_examples_cover_the_public_functions():
    assert len(modules_with_examples()) >= 8


def test_every_public_name_is_documented():
    names = {name for name, _ in docs.documented()}
    assert set(autodiff_compiler.__all__) - {"config"} <= names
    assert "config.show_internal_frames" in names


def _parameters(obj) -> list[str]:
    params = list(inspect.signature(obj).parameters)
    return [p for p in params if p != "self"]


@pytest.mark.parametrize("name, obj", docs.documented(), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_layout(name, obj):
    doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj)
    assert doc and len(doc.splitlines()[0]) > 10, f"{name} has no summary line"
    if isinstance(obj, property) or inspect.ismodule(obj):
        return
    if inspect.isclass(obj):
        assert ">>> " in doc, f"{name}: no example"
        return
    assert "\nReturns:\n" in doc, f"{name}: no Returns section"
    assert "\nExample:\n" in doc and ">>> " in doc, f"{name}: no example"
    if _parameters(obj):
        assert "\nParameters:\n" in doc, f"{name}: no Parameters section"
        documented = re.findall(r"^    ([*\w][\w, *]*):", doc.split("\nParameters:\n")[1]
                                .split("\nReturns:\n")[0], re.MULTILINE)
        listed = {p.strip().lstrip("*") for entry in documented for p in entry.split(",")}
        for param in _parameters(obj):
            assert param in listed, f"{name}: parameter {param!r} is not documented"


def test_api_md_is_current():
    current = (REPO / "docs" / "api.md").read_text()
    assert current == docs.render(), "docs/api.md is stale: run python -m autodiff_compiler.docs"


def test_docs_check_mode(tmp_path, monkeypatch, capsys):
    assert docs.main(["--check"]) == 0
    monkeypatch.setattr(docs, "API_MD", tmp_path / "api.md")
    (tmp_path / "api.md").write_text("old\n")
    assert docs.main(["--check"]) == 1
    assert "not current" in capsys.readouterr().err
    assert docs.main([]) == 0
    assert docs.main(["--check"]) == 0


def test_api_md_renders_sections():
    text = docs.render()
    assert "### `grad(fn=None, argnums=0, *, jit=True" in text
    assert "**Parameters**\n\n- `fn`: " in text
    assert "```python\n>>> def f(x1, x2):" in text


def test_readme_is_short_and_links_the_docs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 80
    quickstart = ('python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && '
                  ".venv/bin/python -m autodiff_compiler show --ir")
    for command in (quickstart, '.venv/bin/python -m pytest -n 2 -m "numba or not numba"'):
        assert command in readme
    for link in ("docs/api.md", "docs/guide.md", "examples/"):
        assert f"({link}" in readme, link
    for path in re.findall(r"\]\(((?:docs|examples|benchmarks)/[^)#]*)", readme):
        assert (REPO / path).exists(), path


@pytest.mark.numba
def test_readme_example_runs(tmp_path):
    readme = (REPO / "README.md").read_text()
    code = re.search(r"## Example\n\n```python\n(.*?)```", readme, re.DOTALL).group(1)
    assert len(code.strip().splitlines()) <= 12
    path = tmp_path / "readme_example.py"
    path.write_text(code)
    import runpy

    namespace = runpy.run_path(str(path))
    assert namespace["dx"].shape == (1000,)
    x = __import__("numpy").linspace(-1, 1, 1000)
    assert namespace["value"] == pytest.approx(namespace["power_sum"](x, 1000), rel=1e-12)
