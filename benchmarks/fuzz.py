"""A standing differential fuzzer: `python -m benchmarks.fuzz --count N --seed S`.

Random programs (tests/program_generator.py, with its extended constructs: NumPy on whole
arrays, in-place array and slice updates, helpers that write their arguments) are
differentiated w.r.t. a, b and x, and each is checked four ways:
- reverse mode against fourth-order central differences (two step sizes must agree, else the
  program is skipped as ill-conditioned), its value against f's, x never mutated;
- forward mode against reverse mode;
- checkpointed reverse mode (checkpoint=2) against plain reverse mode;
- Numba (jit=True) against CPython (jit=False), on every `--numba-every`-th program.
Each program lands in one outcome: ok, skipped (f itself raises or is ill-conditioned),
refused (a located error before running: AutodiffSyntaxError, UnsupportedOperationError,
GradientInputError with file:line), and the failures: wrong (some check disagrees), refused
at run time (an exception from generated code), unlocated error (any other exception,
Numba refusing generated code included). Every failure is minimised (statements deleted
while the same failure remains) and printed as a reproducer.

Program k of seed S is drawn from random.Random(f"{S}:{k}"), so a failure replays alone:
`--seed S --first k --count 1`.
"""

from __future__ import annotations

import argparse
import ast
import math
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from program_generator import Program, generate, load

from autodiff_compiler import numerical_grad, value_and_grad
from autodiff_compiler.errors import (
    AutodiffSyntaxError,
    CompilationError,
    GradientInputError,
    UnsupportedOperationError,
)
from autodiff_compiler.gradcheck import relative_error

ARGNUMS = (0, 1, 2)
GRAD_TOL = 1e-6
MODE_TOL = 1e-9
VALUE_REL = 1e-12
NOISE = 1e-8
HUGE = 1e6
OTHER_STEP = 3e-4
FAILURES = ("wrong", "refused at run time", "unlocated error")
OUTCOMES = ("ok", "skipped", "refused", *FAILURES)
REFUSALS = (AutodiffSyntaxError, UnsupportedOperationError, GradientInputError)


@dataclass
class Result:
    outcome: str
    check: str = ""  # which check (or stage) decided the outcome
    detail: str = ""


def _distance(u, v) -> float:
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q)), initial=0.0))
               for p, q in zip(u, v))


def _agree(u, v, tol) -> bool:
    return _distance(u, v) < NOISE or relative_error(u, v) < tol


def _located(exc: Exception) -> bool:
    loc = getattr(exc, "loc", None)
    return loc is not None or (isinstance(exc, SyntaxError) and exc.lineno is not None)


def _compile(fn, args, **options):
    """(gradient function, None) or (None, Result) when compiling refuses or fails."""
    g = value_and_grad(fn, argnums=ARGNUMS, **options)
    stage = ", ".join(f"{k}={v!r}" for k, v in options.items())
    try:
        g.lower(*args)
    except REFUSALS as exc:
        outcome = "refused" if _located(exc) or isinstance(exc, GradientInputError) \
            else "unlocated error"
        return None, Result(outcome, stage, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001  (every other exception is a finding)
        return None, Result("unlocated error", stage, f"{type(exc).__name__}: {exc}")
    return g, None


def _run(g, args, stage):
    try:
        return g(*args), None
    except CompilationError as exc:
        return None, Result("unlocated error", stage, f"Numba: {str(exc)[:400]}")
    except Exception as exc:  # noqa: BLE001
        return None, Result("refused at run time", stage, f"{type(exc).__name__}: {exc}")


def check(program: Program, directory: str, numba: bool = False) -> Result:
    """The outcome of one program (see the module docstring)."""
    try:
        f = load(program.source, directory)
        expected = float(f(*program.args()))
    except Exception as exc:  # noqa: BLE001  (f itself fails: nothing to compare)
        return Result("skipped", "primal", f"f raises {type(exc).__name__}")
    if not math.isfinite(expected):
        return Result("skipped", "primal", "f is not finite")
    numeric = numerical_grad(f, *program.args(), argnums=ARGNUMS)
    flat = np.concatenate([np.ravel(g) for g in numeric])
    if not (np.all(np.isfinite(flat)) and np.max(np.abs(flat)) < HUGE):
        return Result("skipped", "conditioning", "huge or non-finite central differences")
    other = numerical_grad(f, *program.args(), argnums=ARGNUMS, step=OTHER_STEP)
    if not _agree(numeric, other, GRAD_TOL / 10):
        return Result("skipped", "conditioning", "central differences disagree")

    stages = [("reverse", {"jit": False, "checkpoint": None}),
              ("forward", {"jit": False, "mode": "forward"}),
              ("checkpoint", {"jit": False, "checkpoint": 2})]
    if numba:
        stages.append(("numba", {"jit": True, "checkpoint": None}))
    results = {}
    for name, options in stages:
        g, refused = _compile(f, program.args(), **options)
        if refused is not None:
            return refused if name == "reverse" or refused.outcome != "refused" else \
                Result("wrong", f"{name} vs reverse", f"only {name} refuses: {refused.detail}")
        args = program.args()
        got, failed = _run(g, args, name)
        if failed is not None:
            return failed
        results[name] = got
        if not np.array_equal(args[2], program.x):
            return Result("wrong", name, f"x was mutated: {args[2]} != {program.x}")
    value, reverse = results["reverse"]
    if not abs(value - expected) <= VALUE_REL * max(abs(expected), 1e-300):
        return Result("wrong", "value", f"value_and_grad gives {value!r}, f gives {expected!r}")
    if not _agree(reverse, numeric, GRAD_TOL):
        return Result("wrong", "reverse vs central differences",
                      f"relative error {relative_error(reverse, numeric):.3g}\n"
                      f"  reverse: {reverse}\n  numeric: {numeric}")
    for name in results:
        if name != "reverse" and not _agree(results[name][1], reverse, MODE_TOL):
            return Result("wrong", f"{name} vs reverse",
                          f"{name}: {results[name][1]}\n  reverse: {reverse}")
    return Result("ok")


# --- minimising a failure ----------------------------------------------------------------

def _statement_lists(tree: ast.Module) -> list[list]:
    """The statement lists of f's body (nested blocks included), outermost first."""
    f = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "f")
    lists, todo = [], [f.body]
    while todo:
        body = todo.pop(0)
        lists.append(body)
        for stmt in body:
            for field in ("body", "orelse"):
                inner = getattr(stmt, field, None)
                if inner:
                    todo.append(inner)
    return lists


def _candidates(source: str):
    """Sources with one statement of f deleted (a block left empty holds `pass`)."""
    tree = ast.parse(source)
    count = sum(len(body) for body in _statement_lists(tree))
    for k in range(count):
        tree = ast.parse(source)
        flat = [(body, i) for body in _statement_lists(tree) for i in range(len(body))]
        body, i = flat[k]
        if isinstance(body[i], ast.Return) and body is _statement_lists(tree)[0]:
            continue  # f's final return stays
        del body[i]
        if not body:
            body.append(ast.Pass())
        yield ast.unparse(tree) + "\n"


CANDIDATE_SECONDS = 10


class _TooLong(BaseException):  # not an Exception: check() must not catch it
    pass


def _too_long(signum, frame):
    raise _TooLong


def minimise(program: Program, failure: Result, directory: str, numba: bool,
             max_tries: int = 300) -> Program:
    """Delete statements of f while the program keeps failing the same way."""
    def same(candidate: Program) -> bool:
        # a deletion may make a loop endless (its counter's update gone): such a candidate
        # is dropped after CANDIDATE_SECONDS
        previous = signal.signal(signal.SIGALRM, _too_long)
        signal.alarm(CANDIDATE_SECONDS)
        try:
            result = check(candidate, directory, numba)
        except _TooLong:
            return False
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        return result.outcome == failure.outcome and result.check == failure.check

    current, tries, shrunk = program, 0, True
    while shrunk and tries < max_tries:
        shrunk = False
        for source in _candidates(current.source):
            tries += 1
            candidate = Program(source, program.a, program.b, program.x, program.n)
            if same(candidate):
                current, shrunk = candidate, True
                break
            if tries >= max_tries:
                break
    return current


# --- driving a run ------------------------------------------------------------------------

def program_for(seed: int, k: int) -> Program:
    rng = random.Random(f"{seed}:{k}")
    return generate(rng, budget=rng.randint(8, 20), max_depth=3, extended=True)


def run(count: int, seed: int = 0, first: int = 0, numba_every: int = 0, report=print,
        shrink: int = 3, seconds: float | None = None) -> tuple[Counter, list]:
    """Check programs first .. first+count-1 of `seed`; (outcome counts, failures). The
    first `shrink` failures of each kind (outcome and check) are minimised; with `seconds`,
    the run stops after that long (counts["programs"] says how many ran)."""
    counts: Counter = Counter()
    failures = []
    kinds: Counter = Counter()
    stop = None if seconds is None else time.perf_counter() + seconds
    with tempfile.TemporaryDirectory(prefix="adc_fuzz_") as directory:
        for k in range(first, first + count):
            if stop is not None and time.perf_counter() > stop:
                break
            counts["programs"] += 1
            if counts["programs"] % 250 == 0:
                report(f"... {counts['programs']} programs: {dict(counts)}")
            program = program_for(seed, k)
            numba = bool(numba_every) and k % numba_every == 0
            result = check(program, directory, numba)
            counts[result.outcome] += 1
            if result.check == "numba" or numba:
                counts["compared with Numba"] += 1
            if result.outcome in FAILURES:
                kinds[result.outcome, result.check] += 1
                if kinds[result.outcome, result.check] > shrink:
                    failures.append((k, result, program))
                    report(f"=== program {k} (seed {seed}): {result.outcome} in "
                           f"{result.check}: {result.detail.splitlines()[0][:160]}")
                    continue
                small = minimise(program, result, directory, numba)
                failures.append((k, result, small))
                report(f"\n=== program {k} (seed {seed}): {result.outcome} in {result.check}\n"
                       f"{result.detail}\n--- minimised reproducer ---\n{small}")
    return counts, failures


def _print(text: str) -> None:
    print(text, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="programs to check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0, help="index of the first program")
    parser.add_argument("--numba-every", type=int, default=50,
                        help="compare Numba with CPython on every k-th program (0: never)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop after this long (the summary says how many ran)")
    parser.add_argument("--shrink", type=int, default=3,
                        help="minimise the first N failures of each kind (the rest as drawn)")
    options = parser.parse_args(argv)
    start = time.perf_counter()
    counts, failures = run(options.count, options.seed, options.first, options.numba_every, _print,
                           shrink=options.shrink,
                           seconds=None if options.minutes is None else 60 * options.minutes)
    elapsed = time.perf_counter() - start
    print(f"\n{counts['programs']} programs (seed {options.seed}, first {options.first}) "
          f"in {elapsed:.0f} s:")
    for outcome in (*OUTCOMES, "compared with Numba"):
        print(f"  {outcome:22s} {counts.get(outcome, 0)}")
    kinds = Counter((result.outcome, result.check) for _, result, _ in failures)
    for (outcome, where), number in sorted(kinds.items()):
        print(f"    {outcome} in {where}: {number}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
