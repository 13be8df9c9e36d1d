"""Long generated functions compile: straight-line code thousands of lines long, long chains
of updates of one variable (inlined expressions stay shallow), and long runs of early exits
(the walks that serve the reverse sweep are iterative); code nested deeper than Python
allows is refused with the user's line, not a RecursionError or an IndentationError."""

import importlib.util
import sys

import numpy as np
import pytest

from autodiff_compiler import check_grad, grad
from autodiff_compiler.errors import UnsupportedOperationError

STATEMENTS = [
    "s = s + x[{a}] * x[{b}]",
    "s += np.sin(x[{a}]) * {c}.0",
    "y[{a}] = y[{a}] * 0.5 + x[{b}]",
    "v = v * 0.99 + np.cos(x) * 0.01",
    "t = s * 0.001 + y[{b}]",
    "s = s * 0.999 + t * 0.001",
]


def _straight_line(n: int) -> list[str]:
    lines = ["s = 0.0", "t = 0.0", "y = x * 1.0", "v = x * 1.0"]
    for k in range(n):
        shape = STATEMENTS[k % len(STATEMENTS)]
        lines.append(shape.format(a=k % 5, b=(k * 3 + 1) % 5, c=1 + k % 3))
    return lines + ["return s + np.sum(y * v) + t"]


def _load(tmp_path, name: str, body: list[str], params: str = "x"):
    path = tmp_path / f"{name}.py"
    text = "import numpy as np\n\n\ndef f(" + params + "):\n" + \
        "".join(f"    {line}\n" for line in body)
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


X = np.linspace(0.1, 0.5, 5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_200_statement_function(tmp_path, mode):
    f = _load(tmp_path, f"straight200_{mode}", _straight_line(200))
    assert check_grad(f, X.copy(), jit=False) < 1e-7
    np.testing.assert_allclose(grad(f, jit=False, mode=mode)(X.copy()),
                               grad(f, jit=False)(X.copy()), rtol=1e-12)


def test_a_200_step_update_chain_in_forward_mode(tmp_path):
    """Every step's value is read once, by the next step: inlining all of them would nest
    200 operators in one expression."""
    f = _load(tmp_path, "chain200", ["v = x * 1.0"] +
              ["v = v * 0.99 + np.sin(x) * 0.01"] * 200 + ["return np.sum(v)"])
    np.testing.assert_allclose(grad(f, jit=False, mode="forward")(X.copy()),
                               grad(f, jit=False)(X.copy()), rtol=1e-12)


def test_a_2000_line_function(tmp_path):
    f = _load(tmp_path, "straight2000", _straight_line(2000))
    assert check_grad(f, X.copy(), jit=False) < 1e-7


def test_a_5000_line_function(tmp_path):
    f = _load(tmp_path, "straight5000", _straight_line(5000))
    g = grad(f, jit=False)(X.copy())
    h = 1e-6
    for i in range(X.size):
        e = np.zeros(X.size)
        e[i] = h
        assert g[i] == pytest.approx((f(X + e) - f(X - e)) / (2 * h), rel=1e-6, abs=1e-8)


def test_ninety_early_exits_in_one_loop(tmp_path):
    body = ["s = x * 1.0", "for i in range(3):"]
    for k in range(90):
        body += ["    s = s * y + 0.01", f"    if s > {5.0 + k}:", "        break"]
    f = _load(tmp_path, "breaks90", body + ["return s"], params="x, y")
    assert check_grad(f, 0.3, 1.2, argnums=(0, 1), jit=False) < 1e-7


def test_code_nested_deeper_than_python_allows_is_refused_at_the_users_line(tmp_path):
    body = ["s = x * 1.0"]
    for k in range(150):
        body += ["s = s * y + 0.01", f"if s > {5.0 + k}:", "    return s * 2.0"]
    f = _load(tmp_path, "returns150", body + ["return s"], params="x, y")
    with pytest.raises(UnsupportedOperationError, match="early exit") as info:
        grad(f, argnums=(0, 1), jit=False)(0.3, 1.2)
    assert "returns150.py" in str(info.value)


def test_the_recursion_limit_is_not_raised():
    assert sys.getrecursionlimit() <= 3000  # the tests above ran within the usual limit


@pytest.mark.numba
def test_a_2000_line_function_with_numba(tmp_path):
    """Element reads only (Numba takes minutes on 2000 lines of whole-array updates)."""
    body = ["s = 0.0"] + [f"s = s + x[{k % 5}] * x[{(k + 1) % 5}]" for k in range(2000)]
    f = _load(tmp_path, "straight2000_numba", body + ["return s"])
    np.testing.assert_allclose(grad(f, jit=True)(X.copy()), grad(f, jit=False)(X.copy()),
                               rtol=1e-10)
