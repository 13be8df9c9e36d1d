"""The standing fuzzer (benchmarks/fuzz.py) on a few hundred programs in CPython and a
handful with Numba: no wrong derivative, no unlocated error, and nothing refused at run time
(arrays taped in a loop whose shape changes between iterations get ragged tapes)."""

import pytest

from benchmarks import fuzz


def _check(counts, failures):
    assert counts["wrong"] == 0, _describe(failures)
    assert counts["unlocated error"] == 0, _describe(failures)
    assert counts["refused at run time"] == 0, _describe(failures)


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


# programs of seed 1 whose taped slices change shape between iterations (x[i % n:],
# y[:i % n]): refused at run time before ragged tapes, kept here so the generator goes on
# making such programs
RAGGED_SEED, RAGGED_PROGRAMS = 1, (100, 228, 238, 276, 284, 317)


def test_the_generator_still_makes_programs_with_ragged_tapes(tmp_path):
    ragged = 0
    for k in RAGGED_PROGRAMS:
        program = fuzz.program_for(RAGGED_SEED, k)
        f = fuzz.load(program.source, str(tmp_path))
        source = fuzz.value_and_grad(f, argnums=fuzz.ARGNUMS, jit=False).lower(
            *program.args()).source
        ragged += "rt.push_ragged(" in source
        assert fuzz.check(program, str(tmp_path)).outcome in ("ok", "skipped")
    assert ragged >= 4
