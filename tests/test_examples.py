"""The examples in examples/ run, at small sizes, and print and save what they say they do.

Each example runs as a program (`python examples/NAME.py --small`), as a newcomer runs it,
with a fresh cache directory. Figures are checked when matplotlib is installed; without it
(and with a stand-in matplotlib that fails to import) the examples must still run and say
how to get it. The CUDA examples run on Numba's CUDA simulator.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_SCIPY = importlib.util.find_spec("scipy") is not None
needs_scipy = pytest.mark.skipif(not HAS_SCIPY, reason="scipy (the examples extra)")

pytestmark = pytest.mark.numba  # each example compiles with Numba


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache directory for the module's runs (the examples share nothing else)."""
    return tmp_path_factory.mktemp("examples_cache")


def run_example(name: str, cache: Path, *args: str, env=None, timeout=240):
    environment = dict(os.environ, XDG_CACHE_HOME=str(cache), **(env or {}))
    environment.pop("NO_COLOR", None)
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--small", *args],
                            cwd=REPO, env=environment, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def number_after(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text)
    assert match, f"no {label!r} in:\n{text}"
    return float(match.group(1))


def check_png(out: str, path: Path) -> None:
    """The figure was saved (matplotlib installed) or the example said why not."""
    if HAS_MATPLOTLIB:
        assert f"to {path}" in out, out
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    else:
        assert "matplotlib is not installed" in out and not path.exists()


def test_sgd_mlp(cache, tmp_path):
    png = tmp_path / "loss.png"
    out = run_example("sgd_mlp", cache, "--plot", str(png))
    assert number_after(out, "relative error") < 1e-7
    assert "(textbook threshold 1e-7: OK" in out
    losses = [float(v) for v in re.findall(r"^epoch +\d+ +loss ([0-9.]+)$", out, re.MULTILINE)]
    assert len(losses) >= 3 and losses[-1] < losses[0] - 0.1, out
    assert number_after(out, "training accuracy") > 70.0
    check_png(out, png)


@needs_scipy
def test_fit_scipy(cache):
    out = run_example("fit_scipy", cache)
    assert number_after(out, "relative error") < 1e-7
    exact = re.search(r"^jac=True, value_and_grad +(\d+) +(\d+) .* ms +([0-9.]+) +"
                      r"([0-9.]+)  ([0-9.]+)  ([0-9.]+)$", out, re.MULTILINE)
    approx = re.search(r"^jac=None, finite differences +(\d+) +(\d+) ", out, re.MULTILINE)
    assert exact and approx, out
    assert int(approx.group(2)) > int(exact.group(2))  # finite differences evaluate more
    omega, alpha, beta = (float(exact.group(k)) for k in (4, 5, 6))
    assert 0.0 < omega < 0.2 and 0.0 < alpha < 0.3 and 0.6 < beta < 0.95 and alpha + beta < 1.0
    assert out.rstrip().endswith("OK")


@needs_scipy
def test_ode_inverse(cache, tmp_path):
    png = tmp_path / "fit.png"
    out = run_example("ode_inverse", cache, "--plot", str(png))
    assert number_after(out, "relative error") < 1e-7
    plain = number_after(out, "tape every step    tape")
    checkpointed = number_after(out, 'checkpoint="sqrt"  tape')
    assert 0 < checkpointed < plain / 3
    assert number_after(out, "largest relative error of the fitted rates:") < 10.0
    check_png(out, png)
    assert out.rstrip().endswith("OK")


def test_newton_hessian(cache):
    out = run_example("newton_hessian", cache)
    assert "minimum [1. 1.]" in out
    assert "[[802.0, -400.0], [-400.0, 200.0]] (exact" in out
    assert number_after(out, "max |hvp(v) - hessian @ v| =") < 1e-10
    assert out.rstrip().endswith("OK")


def _blocked(tmp_path: Path, package: str) -> dict:
    """PYTHONPATH with a stand-in `package` that fails to import, as if not installed."""
    stub = tmp_path / "blocked" / package
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(f"raise ImportError('{package} is blocked by a test')\n")
    return {"PYTHONPATH": str(stub.parent)}


def test_examples_run_without_matplotlib(cache, tmp_path):
    png = tmp_path / "loss.png"
    out = run_example("sgd_mlp", cache, "--plot", str(png), env=_blocked(tmp_path, "matplotlib"))
    assert 'matplotlib is not installed: no loss curve saved (pip install -e ".[plots]"' in out
    assert not png.exists()


def test_scipy_examples_say_what_they_need(cache, tmp_path):
    environment = dict(os.environ, XDG_CACHE_HOME=str(cache), **_blocked(tmp_path, "scipy"))
    for name in ("fit_scipy", "ode_inverse"):
        result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--small"],
                                cwd=REPO, env=environment, capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 2
        assert 'needs scipy: pip install -e ".[examples]"' in result.stdout


@pytest.mark.skipif(importlib.util.find_spec("numba.cuda") is None, reason="numba-cuda")
@pytest.mark.parametrize("name", ["cuda_per_sample_loss", "cuda_stencil"])
def test_cuda_examples_on_the_simulator(cache, name):
    environment = dict(os.environ, XDG_CACHE_HOME=str(cache), NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=REPO,
                            env=environment, capture_output=True, text=True, timeout=240,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("OK")
