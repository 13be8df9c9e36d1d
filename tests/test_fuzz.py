"""The standing fuzzer (benchmarks/fuzz.py) on a few hundred programs in CPython and a
handful with Numba: no wrong derivative, no unlocated error, and nothing refused at run time
except the documented limit (an array taped in a loop whose shape changes between
iterations)."""

import pytest

from benchmarks import fuzz

KNOWN_LIMIT = "has another shape than in the loop's first iteration"


def _check(counts, failures):
    assert counts["wrong"] == 0, _describe(failures)
    assert counts["unlocated error"] == 0, _describe(failures)
    for _, result, _ in failures:
        if result.outcome == "refused at run time":
            assert KNOWN_LIMIT in result.detail, _describe(failures)


def _describe(failures) -> str:
    return "\n\n".join(f"program {k}: {r.outcome} in {r.check}: {r.detail}\n{p}"
                       for k, r, p in failures)


def test_a_few_hundred_programs_in_cpython():
    counts, failures = fuzz.run(250, seed=0, numba_every=0, report=lambda text: None, shrink=0)
    _check(counts, failures)
    assert counts["ok"] >= 200  # the checks ran, most programs are compared in full


@pytest.mark.numba
def test_a_handful_of_programs_with_numba():
    counts, failures = fuzz.run(6, seed=0, first=1000, numba_every=1,
                                report=lambda text: None, shrink=0)
    _check(counts, failures)
    assert counts["compared with Numba"] == 6


def test_a_failure_is_minimised(tmp_path):
    """The minimiser deletes statements while the same failure remains."""
    program = fuzz.Program(
        "import math\n\nimport numpy as np\n\n\ndef f(a, b, x, n):\n    s = a * b\n"
        "    t = math.sin(a)\n    u = t * x[0]\n    s = s + u * 0.0\n    return s\n",
        0.313, 0.513, fuzz.np.array([0.213]), 1)
    failure = fuzz.Result("ok")  # the property kept: the program still passes
    small = fuzz.minimise(program, failure, str(tmp_path), numba=False)
    assert small.source.count("\n") < program.source.count("\n")
    assert fuzz.check(small, str(tmp_path)).outcome == "ok"
